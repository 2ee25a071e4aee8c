// SPDX-License-Identifier: Apache-2.0
// tools/qmath/quantize.cpp: `qmath quantize IN.npy OUT.npy`: float32 tensor -> integer codes, and a JSON file of
// the parameters (chosen from the data's min / max per slot of the granularity, or given with --scale).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "codes.hpp"
#include "params_file.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace {

struct QuantizeOptions {
  std::string in_path, out_path, params_path, dtype = "int8", profile = "pytorch", scheme, granularity = "tensor";
  std::int64_t axis = 0, group_size = 0;
  std::string scales, zero_points;
  bool narrow_range = false, reduce_range = false;
  CLI::Option *axis_option = nullptr, *group_size_option = nullptr;
};

void run_quantize(const QuantizeOptions& o) {
  const std::string params_path = o.params_path.empty() ? params_path_for(o.out_path) : o.params_path;
  check_readable_file(o.in_path, "the input");
  check_outputs({{"input", o.in_path}}, {{"the output", o.out_path}, {"the parameters file", params_path}});
  ParamsFile record;
  record.dtype = o.dtype;
  const qmath::profile profile = parse_profile(o.profile, "--profile");
  record.profile = qmath::profile_name(profile);
  const bool explicit_params = !o.scales.empty() || !o.zero_points.empty();
  if (explicit_params && (o.scales.empty() || o.zero_points.empty())) throw cli_error("--scale and --zero-point go together");
  if (explicit_params && !o.scheme.empty())
    throw cli_error("--scheme chooses parameters from the data; it does not apply with --scale");
  record.scheme = explicit_params ? "explicit" : o.scheme.empty() ? "affine" : o.scheme;
  const qmath::scheme scheme = explicit_params ? qmath::scheme::affine : parse_scheme(record.scheme);
  GranularitySpec spec;
  spec.kind = o.granularity;
  spec.axis = o.axis;
  spec.axis_given = o.axis_option->count() > 0;
  spec.group_size = o.group_size;
  spec.group_size_given = o.group_size_option->count() > 0;
  const std::vector<float> explicit_scales = explicit_params ? parse_scales(o.scales) : std::vector<float>{};
  std::vector<std::int32_t> explicit_zero_points;
  if (explicit_params)
    for (std::int64_t z : parse_zero_points(o.zero_points)) explicit_zero_points.push_back(to_int32(z, "--zero-point"));

  const qmath::NpyArray in = qmath::read_npy(o.in_path);
  if (!in.holds<float>()) throw cli_error("'" + o.in_path + "' holds " + in.dtype + " data; quantize needs float32 (<f4)");
  const qmath::TensorShape shape = qmath::shape_of(in);
  const qmath::Granularity granularity = resolve_granularity(spec, shape.dims.size(), o.in_path);
  record.granularity = spec.kind;
  record.axis = spec.axis;
  record.group_size = spec.group_size;
  const std::vector<float> x = in.values<float>();

  Outputs outputs;
  visit_code_type(record.dtype, "--dtype", [&](auto tag) {
    using Q = typename decltype(tag)::type;
    qmath::QParams<Q> p;
    if (explicit_params) {
      p.granularity = granularity;
      p.scale = explicit_scales;
      p.zero_point = explicit_zero_points;
      p.numerics = profile;
      qmath::code_range<Q>(o.narrow_range, o.reduce_range, p.qmin, p.qmax);
    } else {
      qmath::ChooseOptions options;
      options.kind = scheme;
      options.numerics = profile;
      options.narrow_range = o.narrow_range;
      options.reduce_range = o.reduce_range;
      try {
        p = qmath::choose_qparams<Q>(x.data(), shape, granularity, options);
      } catch (const qmath::error& e) {
        // The hint only where it applies: a slot whose range is +-Inf has no parameters to choose.
        bool infinite = false;
        for (float v : x) infinite = infinite || std::isinf(v);
        throw cli_error(std::string(e.what()) + (infinite ? " ('" + o.in_path + "' holds +-Inf: give --scale and "
                                                                                 "--zero-point to quantize it)"
                                                           : std::string()));
      }
    }
    std::vector<typename qmath::int_traits<Q>::storage> stored(qmath::int_traits<Q>::storage_size(x.size()));
    qmath::quantize(x.data(), shape, p, stored.data());
    const std::vector<unpacked_t<Q>> codes = unpack_codes<Q>(stored, x.size());
    record.qmin = p.qmin;
    record.qmax = p.qmax;
    record.scale = p.scale;
    record.zero_point.assign(p.zero_point.begin(), p.zero_point.end());
    outputs.write(o.out_path, [&](const std::string& temporary) {
      qmath::write_npy(temporary, qmath::npy_dtype<unpacked_t<Q>>::kDescr, in.shape, in.fortran_order, codes.data(),
                       codes.size() * sizeof(codes[0]));
    });
  });
  outputs.write(params_path, [&](const std::string& temporary) { write_params_file(temporary, record); });
  outputs.commit();

  const bool unpacked = record.dtype == "int4" || record.dtype == "uint4";
  std::printf("qmath quantize: wrote %s (%s codes%s, %s; %s; %s %s) and parameters %s\n", o.out_path.c_str(),
              record.dtype.c_str(), unpacked ? (record.dtype == "int4" ? ", one per int8" : ", one per uint8") : "",
              describe_tensor(in).c_str(), describe_granularity(spec, record.scale.size()).c_str(),
              record.profile.c_str(), record.scheme.c_str(), params_path.c_str());
}

}  // namespace

void add_quantize(CLI::App& app, RunState&) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* sub = app.add_subcommand("quantize", "float32 .npy -> integer codes (.npy) and a JSON file of the parameters");
  sub->add_option("IN", o->in_path, "float32 .npy (C or Fortran order)")->required();
  sub->add_option("OUT", o->out_path, "the codes, same shape and order (int4 / uint4 one per int8 / uint8)")->required();
  sub->add_option("--dtype", o->dtype, "code type")
      ->check(CLI::IsMember({"int8", "uint8", "int16", "uint16", "int32", "int4", "uint4"}))
      ->capture_default_str();
  sub->add_option("--profile", o->profile, "whose rounding and parameter rules")
      ->check(CLI::IsMember({"pytorch", "onnx", "tflite"}))
      ->capture_default_str();
  sub->add_option("--scheme", o->scheme, "how min / max become scale and zero point (default affine)")
      ->check(CLI::IsMember({"affine", "symmetric"}));
  sub->add_flag("--narrow-range", o->narrow_range, "drop the lowest code (int8: [-127, 127])");
  sub->add_flag("--reduce-range", o->reduce_range, "one bit less (int8: [-64, 63]), as PyTorch does for x86 activations");
  sub->add_option("--granularity", o->granularity, "one parameter pair per tensor, per index on the axis, or per group")
      ->check(CLI::IsMember({"tensor", "channel", "group"}))
      ->capture_default_str();
  o->axis_option = sub->add_option("--axis", o->axis, "the channel / group axis; negative counts from the end (default 0)");
  o->group_size_option = sub->add_option("--group-size", o->group_size, "indices per group (with --granularity group)");
  sub->add_option("--scale", o->scales, "explicit scales S[,S...], one per slot, instead of min / max");
  sub->add_option("--zero-point", o->zero_points, "explicit zero points Z[,Z...], with --scale");
  sub->add_option("--params", o->params_path, "where to write the parameters (default: OUT with .json for .npy)");
  sub->callback([o] { run_quantize(*o); });
}

}  // namespace qmath_tool
