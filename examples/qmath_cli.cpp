// SPDX-License-Identifier: Apache-2.0
// examples/qmath_cli.cpp: the qmath command-line tool: a tour of the float formats, and quantization of .npy files.
//
//   qmath formats                      bits of a few values in every format, round-trip error and bulk speed
//   qmath quantize IN.npy OUT.npy      float32 tensor -> integer codes, plus a JSON file of the parameters
//   qmath dequantize IN.npy OUT.npy    integer codes -> float32, with those parameters
//   qmath compare [FILES]              every format / scheme / calibrator on built-in workloads or the files' tensors
//   qmath diff A.npy B.npy             max |a - b| of two float32 tensors (exit 1 above --tolerance)
//   qmath                              the formats tour, with a hint about the subcommands on stderr
// Errors in quantize / dequantize / compare / diff print one line `qmath: <message>` and exit with status 2.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "qmath/convert.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "command_line.hpp"
#include "compare.hpp"
#include "json_params.hpp"
#include "text_table.hpp"

namespace {

using qmath_cli::compare::best_seconds;
using qmath_cli::format;
using qmath_cli::TextTable;
using align = TextTable::align;

// ---- Part 1: what the bits of one value look like in each format ---------------------------------------------

/// One format seen through the scalar API: a float goes in, a code comes out, and decoding the code gives the
/// value the format actually stores. Codes are widened to 32 bits so that one table can hold every format.
struct ScalarFormat {
  qmath::FloatLayout layout;
  std::uint32_t (*encode)(float);
  float (*decode)(std::uint32_t);
};

// fp16 and bf16 overflow to infinity (IEEE); fp8 saturates to its largest finite value (ONNX Cast's default).
const ScalarFormat kScalarFormats[] = {
    {qmath::kFloat32Layout, [](float x) { return qmath::f32_bits(x); },
     [](std::uint32_t code) { return qmath::f32_from_bits(code); }},
    {qmath::kFloat16Layout, [](float x) -> std::uint32_t { return qmath::f32_to_f16_bits(x); },
     [](std::uint32_t code) { return qmath::f16_bits_to_f32(static_cast<std::uint16_t>(code)); }},
    {qmath::kBFloat16Layout, [](float x) -> std::uint32_t { return qmath::f32_to_bf16_bits(x); },
     [](std::uint32_t code) { return qmath::bf16_bits_to_f32(static_cast<std::uint16_t>(code)); }},
    {qmath::kE4M3FNLayout, [](float x) -> std::uint32_t { return qmath::f32_to_e4m3fn(x); },
     [](std::uint32_t code) { return qmath::e4m3fn_to_f32(static_cast<std::uint8_t>(code)); }},
    {qmath::kE5M2Layout, [](float x) -> std::uint32_t { return qmath::f32_to_e5m2(x); },
     [](std::uint32_t code) { return qmath::e5m2_to_f32(static_cast<std::uint8_t>(code)); }},
};

// 9 significant digits print any float exactly enough to read it back, so rounding in the formats shows.
std::string stored_value(float value) {
  if (std::isnan(value)) return std::signbit(value) ? "-nan" : "nan";
  return format("%.9g", static_cast<double>(value));
}

void print_bit_layouts() {
  const float values[] = {6.25f, 1.0f, -0.1f, 65504.0f, 1e-6f, 448.0f, 1e5f,
                          std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};

  std::printf("== Bits of a few values: sign|exponent|mantissa, and the value each format stores ==\n");
  std::printf("   (fp16/bf16 overflow to inf; fp8 saturates to its max finite value, as ONNX Cast does)\n\n");
  TextTable table({{"value", align::left},
                   {"format", align::left},
                   {"sign|exponent|mantissa", align::left},
                   {"hex", align::left},
                   {"stored value", align::right}});
  bool table_has_rows = false;
  for (float value : values) {
    if (table_has_rows) table.add_blank_row();
    table_has_rows = true;
    bool first = true;
    for (const ScalarFormat& f : kScalarFormats) {
      const std::uint32_t code = f.encode(value);
      const int hex_digits = qmath::total_bits(f.layout) / 4;
      table.add_row({first ? format("%g", static_cast<double>(value)) : "", f.layout.name,
                     qmath::bit_string(code, f.layout), format("0x%0*x", hex_digits, static_cast<unsigned>(code)),
                     stored_value(f.decode(code))});
      first = false;
    }
  }
  table.print(stdout);

  // Integers have no exponent: int8 is plain two's complement, the target of int8 quantization.
  std::printf("\nint8 (two's complement):");
  for (std::int8_t value : {std::int8_t{123}, std::int8_t{-123}, std::int8_t{127}, std::int8_t{-128}})
    std::printf("  %d -> %s", value, qmath::integer_bit_string(value).c_str());
  std::printf("\n");
}

// ---- Part 2: round-trip error and bulk speed over many values -------------------------------------------------

/// One format seen through the bulk pointer API (the one to use on tensors: it dispatches to SIMD at run time).
template <class Code>
struct BulkFormat {
  using CodeType = Code;
  const char* name;
  void (*encode)(const float* src, Code* dst, std::size_t n);
  void (*decode)(const Code* src, float* dst, std::size_t n);
};

const BulkFormat<std::uint16_t> kBulkF16{
    "fp16", [](const float* src, std::uint16_t* dst, std::size_t n) { qmath::convert_f32_to_f16(src, dst, n); },
    [](const std::uint16_t* src, float* dst, std::size_t n) { qmath::convert_f16_to_f32(src, dst, n); }};
const BulkFormat<std::uint16_t> kBulkBF16{
    "bf16", [](const float* src, std::uint16_t* dst, std::size_t n) { qmath::convert_f32_to_bf16(src, dst, n); },
    [](const std::uint16_t* src, float* dst, std::size_t n) { qmath::convert_bf16_to_f32(src, dst, n); }};

constexpr qmath::fp8_format kE4M3FN = qmath::fp8_format::e4m3fn;
constexpr qmath::fp8_format kE5M2 = qmath::fp8_format::e5m2;
const BulkFormat<std::uint8_t> kBulkE4M3FN{
    "fp8_e4m3fn",
    [](const float* src, std::uint8_t* dst, std::size_t n) { qmath::convert_f32_to_fp8(src, dst, n, kE4M3FN); },
    [](const std::uint8_t* src, float* dst, std::size_t n) { qmath::convert_fp8_to_f32(src, dst, n, kE4M3FN); }};
const BulkFormat<std::uint8_t> kBulkE5M2{
    "fp8_e5m2",
    [](const float* src, std::uint8_t* dst, std::size_t n) { qmath::convert_f32_to_fp8(src, dst, n, kE5M2); },
    [](const std::uint8_t* src, float* dst, std::size_t n) { qmath::convert_fp8_to_f32(src, dst, n, kE5M2); }};

// The formats have different code types (16 or 8 bits), so they are visited rather than stored in one array.
template <class Visitor>
void for_each_bulk_format(Visitor&& visit) {
  visit(kBulkF16);
  visit(kBulkBF16);
  visit(kBulkE4M3FN);
  visit(kBulkE5M2);
}

struct Distribution {
  const char* name;
  std::vector<float> samples;
};

// A fixed seed makes the error table reproducible run to run (with the same standard library).
std::vector<Distribution> make_distributions(std::size_t n) {
  std::mt19937 rng(20240601);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> student(3.0f);  // heavy tails, like activations with outliers
  Distribution gauss{"N(0,1)", std::vector<float>(n)};
  Distribution heavy{"student-t(3)", std::vector<float>(n)};
  for (float& x : gauss.samples) x = normal(rng);
  for (float& x : heavy.samples) x = student(rng);
  return {gauss, heavy};
}

struct RoundTripError {
  double mse = 0, max_abs = 0, sqnr_db = 0;
};

/// Error of x -> format -> fp32 against x. SQNR = 10 log10(sum x^2 / sum (x - x')^2): signal over noise power.
template <class Code>
RoundTripError round_trip_error(const BulkFormat<Code>& f, const std::vector<float>& x) {
  std::vector<Code> codes(x.size());
  std::vector<float> back(x.size());
  f.encode(x.data(), codes.data(), x.size());
  f.decode(codes.data(), back.data(), x.size());

  double signal = 0, noise = 0, max_abs = 0;  // sums in double: a million float terms would lose digits
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double err = static_cast<double>(x[i]) - static_cast<double>(back[i]);
    signal += static_cast<double>(x[i]) * x[i];
    noise += err * err;
    max_abs = std::max(max_abs, std::abs(err));
  }
  RoundTripError result;
  result.mse = noise / static_cast<double>(x.size());
  result.max_abs = max_abs;
  result.sqnr_db = noise > 0 ? 10.0 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
  return result;
}

void print_round_trip_errors(const std::vector<Distribution>& distributions) {
  std::printf("\n== Round-trip error against fp32, %zu samples per distribution ==\n\n",
              distributions.front().samples.size());
  TextTable table({{"distribution", align::left},
                   {"format", align::left},
                   {"MSE", align::right},
                   {"max |err|", align::right},
                   {"SQNR dB", align::right}});
  for (const Distribution& d : distributions) {
    if (&d != &distributions.front()) table.add_blank_row();
    bool first = true;
    for_each_bulk_format([&](const auto& f) {
      const RoundTripError e = round_trip_error(f, d.samples);
      table.add_row({first ? d.name : "", f.name, format("%.3e", e.mse), format("%.3e", e.max_abs),
                     format("%.2f", e.sqnr_db)});
      first = false;
    });
  }
  table.print(stdout);
  std::printf("   (a float keeps a relative precision, so SQNR hardly changes when the values spread wider)\n");
}

std::string isa_list(qmath::isa set) {
  std::string text;
  for (qmath::isa one : qmath::kAllIsas)
    if (qmath::has(set, one)) text += std::string(text.empty() ? "" : " ") + qmath::isa_name(one);
  return text;
}

void print_conversion_speed(const std::vector<float>& samples) {
  // 16M elements (64 MiB of fp32) is far larger than any cache, so this measures streaming from memory, as
  // converting a model's weights does. Tiling the samples is enough: the kernels' speed does not depend on them.
  const std::size_t n = std::size_t{1} << 24;
  std::vector<float> x(n), back(n);  // allocated and zeroed here, so page faults are not timed
  for (std::size_t i = 0; i < n; ++i) x[i] = samples[i % samples.size()];

  const qmath::isa path = qmath::kernels::active_convert_kernels().path;
#if defined(QMATH_RUNTIME_DISPATCH)
  const char* dispatch = "run-time dispatch";
#else
  const char* dispatch = "header-only, chosen by compiler flags";
#endif
  std::printf("\n== Bulk conversion speed, %zu elements (%zu MiB of fp32) ==\n", n, n * sizeof(float) >> 20);
  std::printf("   path: %s (%s; QMATH_ISA=scalar forces the reference)\n", qmath::isa_name(path), dispatch);
  std::printf("   compiled in: %s; this CPU runs: %s\n", isa_list(qmath::kernels::compiled_isas()).c_str(),
              isa_list(qmath::supported_isas()).c_str());
  std::printf("   GB/s counts the fp32 side: 4 bytes per element read when encoding, written when decoding\n\n");

  TextTable table({{"format", align::left}, {"encode GB/s", align::right}, {"decode GB/s", align::right}});
  const double gigabytes = static_cast<double>(n * sizeof(float)) / 1e9;
  for_each_bulk_format([&](const auto& f) {
    using Code = typename std::remove_reference_t<decltype(f)>::CodeType;
    std::vector<Code> codes(n);
    const double encode_s = best_seconds([&] { f.encode(x.data(), codes.data(), n); }, 5, 0.2);
    const double decode_s = best_seconds([&] { f.decode(codes.data(), back.data(), n); }, 5, 0.2);
    table.add_row({f.name, format("%.2f", gigabytes / encode_s), format("%.2f", gigabytes / decode_s)});
  });
  table.print(stdout);
}

int run_format_tour() {
  print_bit_layouts();
  const std::vector<Distribution> distributions = make_distributions(std::size_t{1} << 20);
  print_round_trip_errors(distributions);
  print_conversion_speed(distributions.front().samples);
  return 0;
}

// ---- Part 3: quantize and dequantize .npy files ---------------------------------------------------------------

using qmath_cli::cli_error;
using qmath_cli::ParamsFile;
using qmath_cli::CommandLine;
using qmath_cli::parse_command_line;

const char kUsage[] =
    "usage: qmath <subcommand> [arguments]\n"
    "  formats      bits of fp32/fp16/bf16/fp8 values, round-trip error and conversion speed (the default)\n"
    "  quantize     IN.npy OUT.npy: float32 tensor -> integer codes, and a JSON file of the parameters\n"
    "  dequantize   IN.npy OUT.npy: integer codes -> float32 tensor, with those parameters\n"
    "  compare      [FILES]: error, size and speed of every format and scheme, on built-in workloads or on\n"
    "               the tensors of .npy / .safetensors files (`qmath compare --help`)\n"
    "  diff         A.npy B.npy: max and mean |a - b| of two float32 tensors\n"
    "  help         this text\n"
    "\n"
    "qmath quantize IN.npy OUT.npy [options]\n"
    "  IN.npy holds float32 (C or Fortran order); OUT.npy gets the codes, same shape and order. Without\n"
    "  --scale, the parameters come from the data's min/max in each slot of the granularity.\n"
    "  --dtype int8|uint8|int16|uint16|int32|int4|uint4    code type (default int8). int4/uint4 codes are\n"
    "                                  written unpacked, one code per element, as an int8/uint8 .npy\n"
    "  --profile pytorch|onnx|tflite   whose rounding and parameter rules to follow (default pytorch)\n"
    "  --scheme affine|symmetric       how min/max become scale and zero point (default affine)\n"
    "  --narrow-range                  drop the lowest code (int8: [-127, 127])\n"
    "  --reduce-range                  one bit less (int8: [-64, 63]), as PyTorch does for x86 activations\n"
    "  --granularity tensor|channel|group   one parameter pair per tensor, per index on the axis, or per\n"
    "                                  group of G indices on the axis (default tensor)\n"
    "  --axis N                        the channel/group axis; negative counts from the end (default 0)\n"
    "  --group-size G                  indices per group (needed with --granularity group)\n"
    "  --scale S[,S...] --zero-point Z[,Z...]   explicit parameters, one pair per slot, instead of min/max\n"
    "  --params P.json                 where to write the parameters (default: OUT with .json for .npy)\n"
    "\n"
    "qmath dequantize IN.npy OUT.npy [options]\n"
    "  IN.npy holds codes (int8, uint8, int16, uint16 or int32); OUT.npy gets float32, same shape and order.\n"
    "  --params P.json                 the parameters quantize wrote (default: IN with .json for .npy)\n"
    "  --scale S[,S...] --zero-point Z[,Z...]   or explicit parameters, with --profile, --granularity,\n"
    "                                  --axis and --group-size as for quantize\n"
    "  --dtype int4|uint4              with --scale: the int8/uint8 codes are 4-bit codes\n"
    "\n"
    "qmath diff A.npy B.npy [--tolerance T]\n"
    "  A and B hold float32 of the same shape and order; exits with status 1 when max |a - b| > T.\n"
    "\n"
    "Errors print one line `qmath: <message>` on stderr and exit with status 2.\n";

void expect_two_paths(const CommandLine& cl, const std::string& subcommand, const char* names) {
  if (cl.positional.size() != 2)
    throw cli_error(subcommand + " takes " + names + ", got " + std::to_string(cl.positional.size()) +
                    " path(s) (see `qmath help`)");
}

// The parameters file sits next to the .npy it belongs to: x.npy -> x.json.
std::string params_path_for(const std::string& npy_path) {
  const std::string suffix = ".npy";
  const bool has_suffix =
      npy_path.size() > suffix.size() && npy_path.compare(npy_path.size() - suffix.size(), suffix.size(), suffix) == 0;
  return (has_suffix ? npy_path.substr(0, npy_path.size() - suffix.size()) : npy_path) + ".json";
}

std::int64_t parse_integer(const std::string& text, const std::string& what) {
  std::int64_t value = 0;
  if (!qmath_cli::json_detail::parse_int64(text, value)) throw cli_error("bad integer '" + text + "' for " + what);
  return value;
}

std::int32_t to_int32(std::int64_t value, const std::string& what) {
  if (value < std::numeric_limits<std::int32_t>::min() || value > std::numeric_limits<std::int32_t>::max())
    throw cli_error(what + " = " + std::to_string(value) + " is out of the int32 range");
  return static_cast<std::int32_t>(value);
}

std::vector<std::string> split_list(const std::string& text, const std::string& what) {
  std::vector<std::string> items;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t comma = text.find(',', begin);
    items.push_back(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
    if (items.back().empty()) throw cli_error("empty entry in the list '" + text + "' of " + what);
    if (comma == std::string::npos) return items;
    begin = comma + 1;
  }
}

std::vector<float> parse_scales(const std::string& text) {
  std::vector<float> scales;
  for (const std::string& item : split_list(text, "--scale")) {
    float value = 0;
    if (!qmath_cli::json_detail::parse_finite_float(item, value))
      throw cli_error("bad number '" + item + "' in --scale (expected finite floats)");
    scales.push_back(value);
  }
  return scales;
}

std::vector<std::int64_t> parse_zero_points(const std::string& text) {
  std::vector<std::int64_t> zero_points;
  for (const std::string& item : split_list(text, "--zero-point"))
    zero_points.push_back(parse_integer(item, "--zero-point"));
  return zero_points;
}

qmath::profile parse_profile(const std::string& name, const std::string& where) {
  if (name == "pytorch") return qmath::profile::pytorch;
  if (name == "onnx") return qmath::profile::onnx;
  if (name == "tflite") return qmath::profile::tflite;
  throw cli_error("unknown profile '" + name + "' in " + where + " (pytorch, onnx or tflite)");
}

qmath::scheme parse_scheme(const std::string& name) {
  if (name == "affine") return qmath::scheme::affine;
  if (name == "symmetric") return qmath::scheme::symmetric;
  throw cli_error("unknown scheme '" + name + "' in --scheme (affine or symmetric)");
}

// ---- Code types -------------------------------------------------------------------------------------------

template <class Q>
struct CodeTag {
  using type = Q;
};

/// One code per element as the .npy holds it: 4-bit codes widen to int8 / uint8, the others are themselves.
template <class Q>
using unpacked_t = std::conditional_t<qmath::int_traits<Q>::kPacked,
                                      std::conditional_t<qmath::int_traits<Q>::kSigned, std::int8_t, std::uint8_t>, Q>;

const char* const kDtypeNames = "int8, uint8, int16, uint16, int32, int4 or uint4";

/// Calls visit(CodeTag<Q>{}) for the code type named `dtype`.
template <class Visitor>
void visit_code_type(const std::string& dtype, const std::string& where, Visitor&& visit) {
  if (dtype == "int8")
    visit(CodeTag<std::int8_t>{});
  else if (dtype == "uint8")
    visit(CodeTag<std::uint8_t>{});
  else if (dtype == "int16")
    visit(CodeTag<std::int16_t>{});
  else if (dtype == "uint16")
    visit(CodeTag<std::uint16_t>{});
  else if (dtype == "int32")
    visit(CodeTag<std::int32_t>{});
  else if (dtype == "int4")
    visit(CodeTag<qmath::int4>{});
  else if (dtype == "uint4")
    visit(CodeTag<qmath::uint4>{});
  else
    throw cli_error("unknown dtype '" + dtype + "' in " + where + " (" + kDtypeNames + ")");
}

/// The code type a .npy of codes holds, when nothing says it is 4-bit.
std::string code_type_of(const qmath::NpyArray& a, const std::string& path) {
  if (a.dtype == "|i1") return "int8";
  if (a.dtype == "|u1") return "uint8";
  if (a.dtype == "<i2") return "int16";
  if (a.dtype == "<u2") return "uint16";
  if (a.dtype == "<i4") return "int32";
  throw cli_error("'" + path + "' holds " + a.dtype + " data, not codes (int8, uint8, int16, uint16 or int32)");
}

template <class Q>
std::vector<unpacked_t<Q>> unpack_codes(const std::vector<typename qmath::int_traits<Q>::storage>& stored,
                                        std::size_t count) {
  if constexpr (!qmath::int_traits<Q>::kPacked) {
    return stored;
  } else {
    std::vector<unpacked_t<Q>> codes(count);
    for (std::size_t i = 0; i < count; ++i) {
      const unsigned nibble = (i % 2 == 0) ? (stored[i / 2] & 0x0Fu) : (stored[i / 2] >> 4);
      // Sign-extend for int4: nibble 8..15 is -8..-1.
      codes[i] = static_cast<unpacked_t<Q>>(qmath::int_traits<Q>::kSigned ? static_cast<int>(nibble ^ 8u) - 8
                                                                          : static_cast<int>(nibble));
    }
    return codes;
  }
}

template <class Q>
std::vector<typename qmath::int_traits<Q>::storage> pack_codes(const std::vector<unpacked_t<Q>>& codes,
                                                               const std::string& path) {
  if constexpr (!qmath::int_traits<Q>::kPacked) {
    (void)path;
    return codes;
  } else {
    std::vector<std::uint8_t> stored(qmath::int_traits<Q>::storage_size(codes.size()), 0);
    for (std::size_t i = 0; i < codes.size(); ++i) {
      const int code = codes[i];
      if (code < qmath::int_traits<Q>::kMin || code > qmath::int_traits<Q>::kMax)
        throw cli_error("'" + path + "': code " + std::to_string(code) + " at element " + std::to_string(i) +
                        " is outside the " + qmath::int_traits<Q>::kName + " range [" +
                        std::to_string(qmath::int_traits<Q>::kMin) + ", " + std::to_string(qmath::int_traits<Q>::kMax) +
                        "]");
      const unsigned nibble = static_cast<unsigned>(code) & 0x0Fu;
      stored[i / 2] = static_cast<std::uint8_t>(stored[i / 2] | (i % 2 == 0 ? nibble : nibble << 4));
    }
    return stored;
  }
}

// ---- Granularity --------------------------------------------------------------------------------------------

/// A granularity as given on the command line or in a parameters file, before it meets the tensor.
struct GranularitySpec {
  std::string kind = "tensor";
  std::int64_t axis = 0;
  bool axis_given = false;
  std::int64_t group_size = 0;
  bool group_size_given = false;
  std::string axis_name = "--axis", group_size_name = "--group-size";  ///< how messages call the fields
};

/// Checks the spec against a tensor of `rank` dims; the axis comes back normalized to [0, rank).
qmath::Granularity resolve_granularity(GranularitySpec& g, std::size_t rank, const std::string& tensor_path) {
  const bool per_tensor = g.kind == "tensor", per_channel = g.kind == "channel", per_group = g.kind == "group";
  if (!per_tensor && !per_channel && !per_group)
    throw cli_error("unknown granularity '" + g.kind + "' (tensor, channel or group)");
  if (per_tensor && g.axis_given) throw cli_error(g.axis_name + " needs granularity channel or group");
  if (!per_group && g.group_size_given) throw cli_error(g.group_size_name + " needs granularity group");
  if (per_tensor) return qmath::per_tensor();
  const auto r = static_cast<std::int64_t>(rank);
  if (g.axis < -r || g.axis >= r)
    throw cli_error(g.axis_name + " " + std::to_string(g.axis) + " is out of range for '" + tensor_path + "' of rank " +
                    std::to_string(rank) +
                    (rank == 0 ? std::string(" (a 0-d array has no axis)")
                               : " (use " + std::to_string(-r) + ".." + std::to_string(r - 1) + ")"));
  if (g.axis < 0) g.axis += r;
  if (per_channel) return qmath::per_channel(static_cast<int>(g.axis));
  if (!g.group_size_given || g.group_size <= 0)
    throw cli_error("granularity group needs " + g.group_size_name + " > 0");
  return qmath::per_group(static_cast<int>(g.axis), g.group_size);
}

GranularitySpec granularity_from_command_line(const CommandLine& cl) {
  GranularitySpec g;
  g.kind = cl.value_or("--granularity", "tensor");
  g.axis_given = cl.has("--axis");
  if (g.axis_given) g.axis = parse_integer(cl.value_or("--axis", ""), "--axis");
  g.group_size_given = cl.has("--group-size");
  if (g.group_size_given) g.group_size = parse_integer(cl.value_or("--group-size", ""), "--group-size");
  return g;
}

std::string describe_granularity(const GranularitySpec& g, std::size_t slots) {
  if (g.kind == "tensor") return "per tensor";
  const std::string scales = std::to_string(slots) + (slots == 1 ? " scale" : " scales");
  if (g.kind == "channel") return "per channel on axis " + std::to_string(g.axis) + ", " + scales;
  return "per group of " + std::to_string(g.group_size) + " on axis " + std::to_string(g.axis) + ", " + scales;
}

std::string describe_tensor(const qmath::NpyArray& a) {
  std::string dims;
  for (std::size_t k = 0; k < a.shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(a.shape[k]);
  return "shape [" + dims + "], " + (a.fortran_order ? "Fortran order" : "C order");
}

// ---- Subcommands ----------------------------------------------------------------------------------------------

int run_quantize(int argc, char** argv) {
  const CommandLine cl = parse_command_line(argc, argv, "quantize",
                                            {"--params", "--profile", "--dtype", "--scheme", "--granularity", "--axis",
                                             "--group-size", "--scale", "--zero-point"},
                                            {"--narrow-range", "--reduce-range"});
  if (cl.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  expect_two_paths(cl, "quantize", "IN.npy OUT.npy");
  const std::string in_path = cl.positional[0], out_path = cl.positional[1];
  const std::string params_path = cl.value_or("--params", params_path_for(out_path));
  if (params_path == out_path || params_path == in_path)
    throw cli_error("the parameters file '" + params_path + "' would overwrite a .npy argument");

  ParamsFile record;
  record.dtype = cl.value_or("--dtype", "int8");
  visit_code_type(record.dtype, "--dtype", [](auto) {});  // an unknown name fails before reading anything
  const qmath::profile profile = parse_profile(cl.value_or("--profile", "pytorch"), "--profile");
  record.profile = qmath::profile_name(profile);
  const bool explicit_params = cl.has("--scale") || cl.has("--zero-point");
  if (explicit_params && !(cl.has("--scale") && cl.has("--zero-point")))
    throw cli_error("--scale and --zero-point go together");
  if (explicit_params && cl.has("--scheme"))
    throw cli_error("--scheme chooses parameters from the data; it does not apply with --scale");
  record.scheme = explicit_params ? "explicit" : cl.value_or("--scheme", "affine");
  const qmath::scheme scheme = explicit_params ? qmath::scheme::affine : parse_scheme(record.scheme);
  GranularitySpec spec = granularity_from_command_line(cl);
  const std::vector<float> explicit_scales =
      explicit_params ? parse_scales(cl.value_or("--scale", "")) : std::vector<float>{};
  std::vector<std::int32_t> explicit_zero_points;
  if (explicit_params)
    for (std::int64_t z : parse_zero_points(cl.value_or("--zero-point", "")))
      explicit_zero_points.push_back(to_int32(z, "--zero-point"));

  const qmath::NpyArray in = qmath::read_npy(in_path);
  if (!in.holds<float>())
    throw cli_error("'" + in_path + "' holds " + in.dtype + " data; quantize needs float32 (<f4)");
  const qmath::TensorShape shape = qmath::shape_of(in);
  const qmath::Granularity granularity = resolve_granularity(spec, shape.dims.size(), in_path);
  record.granularity = spec.kind;
  record.axis = spec.axis;
  record.group_size = spec.group_size;
  const std::vector<float> x = in.values<float>();

  visit_code_type(record.dtype, "--dtype", [&](auto tag) {
    using Q = typename decltype(tag)::type;
    qmath::QParams<Q> p;
    if (explicit_params) {
      p.granularity = granularity;
      p.scale = explicit_scales;
      p.zero_point = explicit_zero_points;
      p.numerics = profile;
      qmath::code_range<Q>(cl.has("--narrow-range"), cl.has("--reduce-range"), p.qmin, p.qmax);
    } else {
      qmath::ChooseOptions options;
      options.kind = scheme;
      options.numerics = profile;
      options.narrow_range = cl.has("--narrow-range");
      options.reduce_range = cl.has("--reduce-range");
      try {
        p = qmath::choose_qparams<Q>(x.data(), shape, granularity, options);
      } catch (const qmath::error& e) {  // the only data-dependent failure: a slot whose min or max is +-Inf
        throw cli_error(std::string(e.what()) + " ('" + in_path +
                        "' holds +-Inf: give --scale and --zero-point to quantize it)");
      }
    }
    std::vector<typename qmath::int_traits<Q>::storage> stored(qmath::int_traits<Q>::storage_size(x.size()));
    qmath::quantize(x.data(), shape, p, stored.data());
    const std::vector<unpacked_t<Q>> codes = unpack_codes<Q>(stored, x.size());
    qmath::write_npy(out_path, qmath::npy_dtype<unpacked_t<Q>>::kDescr, in.shape, in.fortran_order, codes.data(),
                     codes.size() * sizeof(codes[0]));
    record.qmin = p.qmin;
    record.qmax = p.qmax;
    record.scale = p.scale;
    record.zero_point.assign(p.zero_point.begin(), p.zero_point.end());
  });
  qmath_cli::write_params_file(params_path, record);

  const bool unpacked = record.dtype == "int4" || record.dtype == "uint4";
  std::printf("qmath quantize: wrote %s (%s codes%s, %s; %s; %s %s) and parameters %s\n", out_path.c_str(),
              record.dtype.c_str(), unpacked ? (record.dtype == "int4" ? ", one per int8" : ", one per uint8") : "",
              describe_tensor(in).c_str(), describe_granularity(spec, record.scale.size()).c_str(),
              record.profile.c_str(), record.scheme.c_str(), params_path.c_str());
  return 0;
}

int run_dequantize(int argc, char** argv) {
  const CommandLine cl = parse_command_line(
      argc, argv, "dequantize",
      {"--params", "--profile", "--dtype", "--granularity", "--axis", "--group-size", "--scale", "--zero-point"}, {});
  if (cl.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  expect_two_paths(cl, "dequantize", "IN.npy OUT.npy");
  const std::string in_path = cl.positional[0], out_path = cl.positional[1];
  const bool explicit_params = cl.has("--scale") || cl.has("--zero-point");
  if (explicit_params && !(cl.has("--scale") && cl.has("--zero-point")))
    throw cli_error("--scale and --zero-point go together");
  if (explicit_params && cl.has("--params")) throw cli_error("give --params or --scale/--zero-point, not both");
  if (!explicit_params)
    for (const char* option : {"--profile", "--dtype", "--granularity", "--axis", "--group-size"})
      if (cl.has(option))
        throw cli_error(std::string(option) + " goes with --scale/--zero-point; a parameters file holds its own");

  const qmath::NpyArray in = qmath::read_npy(in_path);
  ParamsFile params;
  GranularitySpec spec;
  std::string params_source;
  bool full_code_range = false;
  if (explicit_params) {
    params.dtype = cl.has("--dtype") ? cl.value_or("--dtype", "") : code_type_of(in, in_path);
    params.profile = cl.value_or("--profile", "pytorch");
    params.scale = parse_scales(cl.value_or("--scale", ""));
    params.zero_point = parse_zero_points(cl.value_or("--zero-point", ""));
    spec = granularity_from_command_line(cl);
    full_code_range = true;
    params_source = "--scale/--zero-point";
  } else {
    params_source = cl.value_or("--params", params_path_for(in_path));
    params = qmath_cli::read_params_file(params_source);
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
  const qmath::Granularity granularity = resolve_granularity(spec, shape.dims.size(), in_path);

  visit_code_type(params.dtype, where, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const char* container = qmath::npy_dtype<unpacked_t<Q>>::kDescr;
    if (in.dtype != container)
      throw cli_error("'" + in_path + "' holds " + in.dtype + " data, but " + params.dtype + " codes come as " +
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
    const std::vector<typename qmath::int_traits<Q>::storage> stored =
        pack_codes<Q>(in.values<unpacked_t<Q>>(), in_path);
    std::vector<float> y(in.size());
    qmath::dequantize(stored.data(), shape, p, y.data());
    qmath::write_npy(out_path, y, in.shape, in.fortran_order);
  });

  std::printf("qmath dequantize: wrote %s (float32, %s) from %s codes, %s; parameters from %s\n", out_path.c_str(),
              describe_tensor(in).c_str(), params.dtype.c_str(),
              describe_granularity(spec, params.scale.size()).c_str(), params_source.c_str());
  return 0;
}

int run_diff(int argc, char** argv) {
  const CommandLine cl = parse_command_line(argc, argv, "diff", {"--tolerance"}, {});
  if (cl.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  expect_two_paths(cl, "diff", "A.npy B.npy");
  const bool has_tolerance = cl.has("--tolerance");
  const std::string tolerance_text = cl.value_or("--tolerance", "");
  double tolerance = 0;
  if (has_tolerance) {
    char* end = nullptr;
    tolerance = tolerance_text.empty() || std::isspace(static_cast<unsigned char>(tolerance_text[0]))
                    ? -1.0
                    : std::strtod(tolerance_text.c_str(), &end);
    if (end != tolerance_text.c_str() + tolerance_text.size() || !std::isfinite(tolerance) || tolerance < 0.0)
      throw cli_error("bad --tolerance '" + tolerance_text + "' (expected a finite number >= 0)");
  }
  const qmath::NpyArray a = qmath::read_npy(cl.positional[0]), b = qmath::read_npy(cl.positional[1]);
  for (const qmath::NpyArray* array : {&a, &b})
    if (!array->holds<float>())
      throw cli_error("'" + cl.positional[array == &a ? 0 : 1] + "' holds " + array->dtype +
                      " data; diff needs float32 (<f4)");
  if (a.shape != b.shape || a.fortran_order != b.fortran_order)
    throw cli_error("the arrays differ in shape or order: " + describe_tensor(a) + " vs " + describe_tensor(b));
  const std::vector<float> x = a.values<float>(), y = b.values<float>();
  double max_error = 0, sum_error = 0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool both_nan = std::isnan(x[i]) && std::isnan(y[i]);
    const bool same_inf = std::isinf(x[i]) && x[i] == y[i];
    const double error = both_nan || same_inf ? 0.0 : std::fabs(static_cast<double>(x[i]) - static_cast<double>(y[i]));
    const double counted = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;  // NaN vs a number
    if (counted > max_error) {
      max_error = counted;
      worst = i;
    }
    sum_error += counted;
  }
  const double mean_error = x.empty() ? 0.0 : sum_error / static_cast<double>(x.size());
  const bool within = !has_tolerance || max_error <= tolerance;
  std::printf(
      "qmath diff: max |a - b| = %.9g (element %zu), mean %.9g over %zu elements%s\n", max_error, worst, mean_error,
      x.size(),
      !has_tolerance ? "" : (std::string(within ? ", within" : ", ABOVE") + " tolerance " + tolerance_text).c_str());
  return within ? 0 : 1;
}

/// Runs a file subcommand; every error becomes one line on stderr and exit status 2.
int run_reporting_errors(int (*subcommand)(int, char**), int argc, char** argv) {
  try {
    return subcommand(argc, argv);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "qmath: %s\n", message.c_str());
  } catch (...) {
    std::fprintf(stderr, "qmath: unexpected error\n");
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::fprintf(stderr,
                   "qmath: no subcommand, running `qmath formats` (subcommands: formats, compare, quantize, "
                   "dequantize, diff, help)\n");
      return run_format_tour();
    }
    const std::string command = argv[1];
    if (command == "help" || command == "--help" || command == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (command == "quantize") return run_reporting_errors(run_quantize, argc, argv);
    if (command == "dequantize") return run_reporting_errors(run_dequantize, argc, argv);
    if (command == "compare") return run_reporting_errors(qmath_cli::compare::run, argc, argv);
    if (command == "diff") return run_reporting_errors(run_diff, argc, argv);
    if (command != "formats") {
      std::fprintf(stderr, "qmath: unknown subcommand '%s' (try `qmath help`)\n", argv[1]);
      return 2;
    }
    if (argc > 2) {
      std::fprintf(stderr, "qmath formats: unknown option '%s' (it takes none)\n", argv[2]);
      return 2;
    }
    return run_format_tour();
  } catch (const std::exception& e) {  // e.g. std::bad_alloc for the 64 MiB buffers: report it, do not abort
    std::fprintf(stderr, "qmath: %s\n", e.what());
    return 1;
  }
}
