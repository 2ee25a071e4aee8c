// SPDX-License-Identifier: Apache-2.0
// tools/qmath/formats.cpp: `qmath formats` (and `qmath` alone): the bits of a few values in every float format,
// round-trip error over a million samples, and bulk conversion speed on this CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "qmath/convert.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "text_table.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace {

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

}  // namespace

int run_format_tour() {
  print_bit_layouts();
  const std::vector<Distribution> distributions = make_distributions(std::size_t{1} << 20);
  print_round_trip_errors(distributions);
  print_conversion_speed(distributions.front().samples);
  return 0;
}

void add_formats(CLI::App& app, RunState&) {
  CLI::App* sub = app.add_subcommand("formats", "bits of fp32 / fp16 / bf16 / fp8 values, round-trip error and conversion speed");
  sub->callback([] { run_format_tour(); });
}

}  // namespace qmath_tool
