// SPDX-License-Identifier: Apache-2.0
// tools/qmath/dequantize.cpp: `qmath dequantize IN.npy OUT.npy`: integer codes -> float32, with the parameters
// quantize wrote (or given with --scale / --zero-point).
#include <cstdio>
#include <string>
#include <vector>

#include "codes.hpp"
#include "params_file.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/quant/quantize.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace {

struct DequantizeOptions {
  std::string in_path, out_path, params_path, dtype, profile, granularity;
  std::int64_t axis = 0, group_size = 0;
  std::string scales, zero_points;
  CLI::Option *params_option = nullptr, *dtype_option = nullptr, *profile_option = nullptr,
              *granularity_option = nullptr, *axis_option = nullptr, *group_size_option = nullptr;
};

void run_dequantize(const DequantizeOptions& o) {
  const bool explicit_params = !o.scales.empty() || !o.zero_points.empty();
  if (explicit_params && (o.scales.empty() || o.zero_points.empty())) throw cli_error("--scale and --zero-point go together");
  if (explicit_params && o.params_option->count()) throw cli_error("give --params or --scale/--zero-point, not both");
  if (!explicit_params)
    for (const CLI::Option* option : {o.profile_option, o.dtype_option, o.granularity_option, o.axis_option, o.group_size_option})
      if (option->count())
        throw cli_error(option->get_name() + " goes with --scale/--zero-point; a parameters file holds its own");
  const std::string params_source =
      explicit_params ? std::string("--scale/--zero-point") : o.params_path.empty() ? params_path_for(o.in_path) : o.params_path;
  check_readable_file(o.in_path, "the input");
  std::vector<std::pair<std::string, std::string>> inputs = {{"input", o.in_path}};
  if (!explicit_params) inputs.emplace_back("parameters file", params_source);
  check_outputs(inputs, {{"the output", o.out_path}});

  const qmath::NpyArray in = qmath::read_npy(o.in_path);
  ParamsFile params;
  GranularitySpec spec;
  bool full_code_range = false;
  if (explicit_params) {
    params.dtype = o.dtype_option->count() ? o.dtype : code_type_of(in, o.in_path);
    params.profile = o.profile.empty() ? "pytorch" : o.profile;
    params.scale = parse_scales(o.scales);
    params.zero_point = parse_zero_points(o.zero_points);
    spec.kind = o.granularity.empty() ? "tensor" : o.granularity;
    spec.axis = o.axis;
    spec.axis_given = o.axis_option->count() > 0;
    spec.group_size = o.group_size;
    spec.group_size_given = o.group_size_option->count() > 0;
    full_code_range = true;
  } else {
    params = read_params_file(params_source);
    if (params.scheme != "affine" && params.scheme != "symmetric" && params.scheme != "explicit")
      throw cli_error("'" + params_source + "': unknown scheme '" + params.scheme + "'");
    spec.kind = params.granularity;
    spec.axis = params.axis;
    spec.axis_given = params.axis != 0;
    spec.group_size = params.group_size;
    spec.group_size_given = params.group_size != 0;
    spec.axis_name = "\"axis\" of '" + params_source + "'";
    spec.group_size_name = "\"group_size\" of '" + params_source + "'";
  }
  const std::string where = explicit_params ? std::string("--dtype") : "'" + params_source + "'";
  const qmath::profile profile = parse_profile(params.profile, explicit_params ? "--profile" : where);
  const qmath::TensorShape shape = qmath::shape_of(in);
  const qmath::Granularity granularity = resolve_granularity(spec, shape.dims.size(), o.in_path);

  Outputs outputs;
  visit_code_type(params.dtype, where, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const char* container = qmath::npy_dtype<unpacked_t<Q>>::kDescr;
    if (in.dtype != container)
      throw cli_error("'" + o.in_path + "' holds " + in.dtype + " data, but " + params.dtype + " codes come as " +
                      container + " (parameters from " + params_source + ")");
    qmath::QParams<Q> p;
    p.granularity = granularity;
    p.numerics = profile;
    p.scale = params.scale;
    p.zero_point.clear();
    for (std::size_t i = 0; i < params.zero_point.size(); ++i)
      p.zero_point.push_back(to_int32(params.zero_point[i], "zero_point[" + std::to_string(i) + "]"));
    if (!full_code_range) {
      p.qmin = to_int32(params.qmin, "qmin");
      p.qmax = to_int32(params.qmax, "qmax");
    }
    const std::vector<typename qmath::int_traits<Q>::storage> stored = pack_codes<Q>(in.values<unpacked_t<Q>>(), o.in_path);
    std::vector<float> y(in.size());
    qmath::dequantize(stored.data(), shape, p, y.data());
    outputs.write(o.out_path, [&](const std::string& temporary) { qmath::write_npy(temporary, y, in.shape, in.fortran_order); });
  });
  outputs.commit();
  std::printf("qmath dequantize: wrote %s (float32, %s) from %s codes, %s; parameters from %s\n", o.out_path.c_str(),
              describe_tensor(in).c_str(), params.dtype.c_str(), describe_granularity(spec, params.scale.size()).c_str(),
              params_source.c_str());
}

}  // namespace

void add_dequantize(CLI::App& app, RunState&) {
  auto o = std::make_shared<DequantizeOptions>();
  CLI::App* sub = app.add_subcommand("dequantize", "integer codes (.npy) -> float32 .npy, with their parameters");
  sub->add_option("IN", o->in_path, "codes: int8, uint8, int16, uint16 or int32 .npy")->required();
  sub->add_option("OUT", o->out_path, "float32, same shape and order")->required();
  o->params_option = sub->add_option("--params", o->params_path, "the parameters quantize wrote (default: IN with .json for .npy)");
  sub->add_option("--scale", o->scales, "or explicit scales S[,S...]");
  sub->add_option("--zero-point", o->zero_points, "and zero points Z[,Z...]");
  o->profile_option = sub->add_option("--profile", o->profile, "with --scale: whose numerics (default pytorch)")
                          ->check(CLI::IsMember({"pytorch", "onnx", "tflite"}));
  o->dtype_option = sub->add_option("--dtype", o->dtype, "with --scale: the codes' type (int4 / uint4: 4-bit codes in int8 / uint8)")
                        ->check(CLI::IsMember({"int8", "uint8", "int16", "uint16", "int32", "int4", "uint4"}));
  o->granularity_option = sub->add_option("--granularity", o->granularity, "with --scale, as for quantize")
                              ->check(CLI::IsMember({"tensor", "channel", "group"}));
  o->axis_option = sub->add_option("--axis", o->axis, "with --scale, as for quantize");
  o->group_size_option = sub->add_option("--group-size", o->group_size, "with --scale, as for quantize");
  sub->callback([o] { run_dequantize(*o); });
}

}  // namespace qmath_tool
