// SPDX-License-Identifier: Apache-2.0
// examples/compare.hpp: `qmath compare`: every format, scheme and calibrator of qmath on the user's tensors (or on
// built-in workloads), one row each: bits per element, bytes, error, clip rate and encode / decode speed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "qmath/calib/histogram.hpp"
#include "qmath/calib/mse_sweep.hpp"
#include "qmath/convert.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/io/safetensors.hpp"
#include "qmath/metrics.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "command_line.hpp"
#include "text_table.hpp"

namespace qmath_cli {
namespace compare {

/// One float32 tensor to measure: from a file, or a built-in workload.
struct Tensor {
  std::string source;  ///< file name, or "built-in"
  std::string name;
  qmath::TensorShape shape;
  std::vector<float> values;
};

/// One format applied to one tensor (or pooled over many: tensor == "(all)").
struct Row {
  std::string source, tensor, method;
  std::uint64_t elements = 0;
  double bits = 0;  ///< code bits plus parameter bits, summed over elements
  qmath::ErrorStats error;
  double encode_seconds = 0, decode_seconds = 0;  ///< 0 when not timed
  double min_sqnr_db = 0, max_sqnr_db = 0;        ///< over the pooled tensors
  std::string note;                               ///< why a row has no numbers

  double bits_per_element() const { return elements == 0 ? 0.0 : bits / static_cast<double>(elements); }
  std::uint64_t bytes() const { return static_cast<std::uint64_t>(std::ceil(bits / 8.0)); }
  double encode_gbs() const { return encode_seconds > 0 ? 4.0 * static_cast<double>(elements) / encode_seconds / 1e9 : 0; }
  double decode_gbs() const { return decode_seconds > 0 ? 4.0 * static_cast<double>(elements) / decode_seconds / 1e9 : 0; }
};

struct Options {
  int channel_axis = 0;   ///< per-channel parameters along this axis (the output axis of [out, in] weights)
  int group_axis = -1;    ///< groups run along this axis (the input axis)
  bool timing = true;
  bool include_vectors = false;
};

// ---- Built-in workloads ---------------------------------------------------------------------------------------

/// [256, 1024] matrices. Rows stand for output channels: each gets its own spread (log-uniform over [1/2, 2]), as
/// the rows of trained weights do, so that per-channel parameters have something to win.
inline std::vector<Tensor> builtin_workloads(std::size_t rows = 256, std::size_t cols = 1024) {
  std::mt19937 rng(20261122);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::exponential_distribution<float> exponential(1.0f);
  std::uniform_real_distribution<float> log2_spread(-1.0f, 1.0f);
  const auto make = [&](const char* name, const std::function<float(std::size_t col)>& draw) {
    Tensor t{"built-in", name, qmath::TensorShape{{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}},
             std::vector<float>(rows * cols)};
    for (std::size_t r = 0; r < rows; ++r) {
      const float spread = std::exp2(log2_spread(rng));
      for (std::size_t c = 0; c < cols; ++c) t.values[r * cols + c] = spread * draw(c);
    }
    return t;
  };
  // LLM-like: a handful of input features (columns) carry 20-50x larger values in every row, as the outlier
  // features of large transformers do (LLM.int8()).
  std::vector<float> feature_gain(cols, 1.0f);
  const float gains[] = {20.0f, 30.0f, 40.0f, 50.0f};
  const std::size_t outlier_columns[] = {7, cols / 3, cols / 2 + 5, cols - 11};
  for (std::size_t k = 0; k < 4; ++k) feature_gain[outlier_columns[k] % cols] = gains[k];
  return {
      make("gaussian", [&](std::size_t) { return normal(rng); }),
      make("laplace", [&](std::size_t) { return (uniform(rng) < 0 ? -1.0f : 1.0f) * exponential(rng); }),
      make("uniform", [&](std::size_t) { return uniform(rng); }),
      make("llm-outliers", [&](std::size_t c) { return feature_gain[c] * normal(rng); }),
      make("relu", [&](std::size_t) { return std::max(0.0f, normal(rng)); }),
  };
}

// ---- Files ----------------------------------------------------------------------------------------------------

inline std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t k = 0; k < dims.size(); ++k) text += (k ? ", " : "") + std::to_string(dims[k]);
  return text + "]";
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string base_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Every tensor of a .npy or .safetensors file, widened to float32.
inline std::vector<Tensor> read_tensors(const std::string& path) {
  std::vector<Tensor> out;
  if (ends_with(path, ".npy")) {
    const qmath::NpyArray a = qmath::read_npy(path);
    std::string stem = base_name(path);
    stem.resize(stem.size() - 4);
    out.push_back({path, stem, qmath::shape_of(a), a.to_float()});
  } else if (ends_with(path, ".safetensors")) {
    const qmath::SafetensorsFile f = qmath::read_safetensors(path);
    for (const qmath::SafetensorsTensor& t : f.tensors)
      out.push_back({path, t.name, qmath::TensorShape{t.shape}, t.to_float()});
  } else {
    throw cli_error("compare: '" + path + "' is neither a .npy nor a .safetensors file");
  }
  return out;
}

// ---- Methods --------------------------------------------------------------------------------------------------

/// Best time of a few runs of `work`: the minimum is the least disturbed by other processes. Stops after `max_runs`
/// or once `budget_s` seconds are spent, so that a slow (scalar or emulated) path stays bearable.
template <class Work>
double best_seconds(Work&& work, int max_runs = 3, double budget_s = 0.05) {
  using clock = std::chrono::steady_clock;
  double best = std::numeric_limits<double>::infinity(), spent = 0;
  for (int run = 0; run < max_runs && spent < budget_s; ++run) {
    const auto start = clock::now();
    work();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    best = std::min(best, seconds);
    spent += seconds;
  }
  return best;
}

/// Integer codes with parameters p: error from quantization_error, speed from quantize / dequantize alone.
template <class Q>
Row measure_integer(const Tensor& t, const qmath::QParams<Q>& p, bool affine, const Options& o) {
  Row r;
  const std::size_t n = t.values.size();
  r.elements = n;
  r.error = qmath::quantization_error(t.values.data(), t.shape, p);
  constexpr int kBits = qmath::int_traits<Q>::kBits;
  // Each slot stores an fp32 scale, and an affine one a zero point of the code type (as ONNX stores them).
  r.bits = static_cast<double>(kBits) * static_cast<double>(n) +
           static_cast<double>(p.scale.size()) * (32.0 + (affine ? kBits : 0));
  if (o.timing) {
    std::vector<typename qmath::int_traits<Q>::storage> codes(qmath::int_traits<Q>::storage_size(n));
    std::vector<float> back(n);
    r.encode_seconds = best_seconds([&] { qmath::quantize(t.values.data(), t.shape, p, codes.data()); });
    r.decode_seconds = best_seconds([&] { qmath::dequantize(codes.data(), t.shape, p, back.data()); });
  }
  return r;
}

/// fp16 / bf16 as they are (no scale).
inline Row measure_float(const Tensor& t, qmath::float_format f, const Options& o) {
  Row r;
  const std::size_t n = t.values.size();
  r.elements = n;
  r.error = qmath::float_format_error(t.values.data(), n, f);
  r.bits = static_cast<double>(qmath::float_format_bits(f)) * static_cast<double>(n);
  if (o.timing) {
    std::vector<std::uint16_t> codes(n);
    std::vector<float> back(n);
    const bool half = f == qmath::float_format::f16;
    r.encode_seconds = best_seconds([&] {
      if (half) qmath::convert_f32_to_f16(t.values.data(), codes.data(), n, qmath::overflow_mode::saturate);
      else qmath::convert_f32_to_bf16(t.values.data(), codes.data(), n, qmath::bf16_rounding::nearest_even,
                                      qmath::overflow_mode::saturate);
    });
    r.decode_seconds = best_seconds([&] {
      if (half) qmath::convert_f16_to_f32(codes.data(), back.data(), n);
      else qmath::convert_bf16_to_f32(codes.data(), back.data(), n);
    });
  }
  return r;
}

/// fp8 with one fp32 scale per tensor that maps the largest |x| onto the format's largest finite value, as fp8
/// training and inference recipes do: unscaled, trained weights (|w| ~ 0.01-0.1) would sit in fp8's subnormals.
inline Row measure_scaled_fp8(const Tensor& t, qmath::fp8_format f8, const Options& o) {
  Row r;
  const std::size_t n = t.values.size();
  r.elements = n;
  r.bits = 8.0 * static_cast<double>(n) + 32.0;
  const qmath::float_format f = f8 == qmath::fp8_format::e4m3fn ? qmath::float_format::e4m3fn : qmath::float_format::e5m2;
  float amax = 0.0f;
  for (float v : t.values)
    if (std::isfinite(v)) amax = std::max(amax, std::fabs(v));
  // In double, so that a tiny amax cannot make the scale subnormal and its inverse infinite.
  const double ratio = static_cast<double>(amax) / qmath::float_format_max(f);
  const bool usable = ratio >= std::numeric_limits<float>::min() && std::isfinite(1.0 / ratio);
  const float scale = usable ? static_cast<float>(ratio) : 1.0f;
  const float inverse = usable ? static_cast<float>(1.0 / ratio) : 1.0f;
  std::vector<float> scaled(n), back(n);
  std::vector<std::uint8_t> codes(n);
  const auto encode = [&] {
    for (std::size_t i = 0; i < n; ++i) scaled[i] = t.values[i] * inverse;
    qmath::convert_f32_to_fp8(scaled.data(), codes.data(), n, f8);
  };
  const auto decode = [&] {
    qmath::convert_fp8_to_f32(codes.data(), back.data(), n, f8);
    for (std::size_t i = 0; i < n; ++i) back[i] *= scale;
  };
  encode();
  decode();
  qmath::ErrorAccumulator acc;
  for (std::size_t i = 0; i < n; ++i) acc.add(t.values[i], back[i]);
  r.error = acc.stats();
  if (o.timing) {
    r.encode_seconds = best_seconds(encode);
    r.decode_seconds = best_seconds(decode);
  }
  return r;
}

/// Per-tensor calibration of a symmetric int8 range; the histogram is built once per tensor and shared.
struct Calibration {
  qmath::HistogramObserver histogram;
  explicit Calibration(const Tensor& t) { histogram.update(t.values.data(), t.values.size()); }
};

struct Method {
  std::string name;
  std::function<Row(const Tensor&, Calibration&, const Options&)> run;
};

inline std::vector<Method> methods() {
  using qmath::scheme;
  const qmath::ChooseOptions symmetric{scheme::symmetric};
  const qmath::ChooseOptions affine{scheme::affine};
  const auto channel = [](const Options& o) { return qmath::per_channel(o.channel_axis); };
  const auto group = [](const Options& o, std::int64_t size) { return qmath::per_group(o.group_axis, size); };
  std::vector<Method> m;
  m.push_back({"fp16", [](const Tensor& t, Calibration&, const Options& o) {
                 return measure_float(t, qmath::float_format::f16, o);
               }});
  m.push_back({"bf16", [](const Tensor& t, Calibration&, const Options& o) {
                 return measure_float(t, qmath::float_format::bf16, o);
               }});
  m.push_back({"fp8 e4m3fn, tensor scale", [](const Tensor& t, Calibration&, const Options& o) {
                 return measure_scaled_fp8(t, qmath::fp8_format::e4m3fn, o);
               }});
  m.push_back({"fp8 e5m2, tensor scale", [](const Tensor& t, Calibration&, const Options& o) {
                 return measure_scaled_fp8(t, qmath::fp8_format::e5m2, o);
               }});
  const auto integer = [&](std::string name, auto code, qmath::ChooseOptions opts,
                           std::function<qmath::Granularity(const Options&)> granularity) {
    using Q = decltype(code);
    m.push_back({std::move(name), [opts, granularity](const Tensor& t, Calibration&, const Options& o) {
                   const qmath::Granularity g = granularity(o);
                   const auto p = qmath::choose_qparams<Q>(t.values.data(), t.shape, g, opts);
                   return measure_integer(t, p, opts.kind == scheme::affine, o);
                 }});
  };
  const auto tensor = [](const Options&) { return qmath::per_tensor(); };
  integer("int8 sym, tensor", std::int8_t{}, symmetric, tensor);
  integer("int8 affine, tensor", std::int8_t{}, affine, tensor);
  integer("int8 sym, channel", std::int8_t{}, symmetric, channel);
  integer("int8 affine, channel", std::int8_t{}, affine, channel);

  // Calibrators: a clipping range for per-tensor symmetric int8.
  const auto calibrated = [&](std::string name, std::function<qmath::Range(const Tensor&, Calibration&)> range) {
    m.push_back({std::move(name), [symmetric, range](const Tensor& t, Calibration& c, const Options& o) {
                   const qmath::Range r = range(t, c);
                   return measure_integer(t, qmath::choose_qparams<std::int8_t>(r.min, r.max, symmetric), false, o);
                 }});
  };
  calibrated("int8 sym, tensor, percentile 99.99",
             [](const Tensor&, Calibration& c) { return c.histogram.percentile_range(99.99); });
  calibrated("int8 sym, tensor, percentile 99.999",
             [](const Tensor&, Calibration& c) { return c.histogram.percentile_range(99.999); });
  // torch's L2 search on torch 1.13's histogram (integer-truncated histc edges, pytorch#83672), and the same
  // search on a histogram whose bins cover the data's range exactly.
  calibrated("int8 sym, tensor, histogram L2 (torch)", [symmetric](const Tensor&, Calibration& c) {
    return c.histogram.l2_range<std::int8_t>(symmetric);
  });
  calibrated("int8 sym, tensor, histogram L2 (exact)", [symmetric](const Tensor&, Calibration& c) {
    return c.histogram.l2_range<std::int8_t>(symmetric, qmath::histogram_edges::exact);
  });
  calibrated("int8 sym, tensor, entropy (KL)", [symmetric](const Tensor&, Calibration& c) {
    return c.histogram.entropy_range<std::int8_t>(symmetric);
  });
  calibrated("int8 sym, tensor, MSE sweep", [symmetric](const Tensor& t, Calibration&) {
    return qmath::mse_sweep_range<std::int8_t>(t.values.data(), t.values.size(), symmetric);
  });

  integer("int4 sym, channel", qmath::int4{}, symmetric, channel);
  integer("int4 sym, group 128", qmath::int4{}, symmetric, [group](const Options& o) { return group(o, 128); });
  integer("int4 sym, group 32", qmath::int4{}, symmetric, [group](const Options& o) { return group(o, 32); });
  integer("int4 affine, group 32", qmath::int4{}, affine, [group](const Options& o) { return group(o, 32); });
  return m;
}

/// Pools rows of one method over tensors: sums of energies and counts, so SQNR is the whole model's. `total` is
/// how many tensors the source has: a method that failed on some says on how many it was pooled.
inline Row pool(const std::vector<const Row*>& rows, const std::string& source, std::size_t total) {
  Row p;
  p.source = source;
  p.tensor = "(all)";
  p.method = rows.front()->method;
  if (rows.size() < total) p.method += " [" + std::to_string(rows.size()) + " of " + std::to_string(total) + " tensors]";
  p.min_sqnr_db = std::numeric_limits<double>::infinity();
  p.max_sqnr_db = -std::numeric_limits<double>::infinity();
  std::vector<qmath::ErrorStats> parts;
  for (const Row* r : rows) {
    p.elements += r->elements;
    p.bits += r->bits;
    p.encode_seconds += r->encode_seconds;
    p.decode_seconds += r->decode_seconds;
    parts.push_back(r->error);
    p.min_sqnr_db = std::min(p.min_sqnr_db, r->error.sqnr_db);
    p.max_sqnr_db = std::max(p.max_sqnr_db, r->error.sqnr_db);
  }
  p.error = qmath::pool_error_stats(parts);
  return p;
}

// ---- Output ---------------------------------------------------------------------------------------------------

inline std::string number(double v, const char* pattern) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  return format(pattern, v);
}

inline void print_table(const std::vector<Row>& rows, bool pooled, bool timing) {
  using align = TextTable::align;
  std::vector<TextTable::Column> columns{{"format", align::left},      {"bits/elem", align::right},
                                         {"bytes", align::right},      {"MSE", align::right},
                                         {"SQNR dB", align::right}};
  if (pooled) columns.push_back({"SQNR min..max", align::right});
  columns.insert(columns.end(), {{"max |err|", align::right}, {"clip %", align::right}});
  if (timing) columns.insert(columns.end(), {{"enc GB/s", align::right}, {"dec GB/s", align::right}});
  TextTable table(columns);
  for (const Row& r : rows) {
    if (!r.note.empty()) {
      table.add_row({r.method + " (failed: " + r.note + ")"});
      continue;
    }
    std::vector<std::string> cells{r.method, number(r.bits_per_element(), "%.3f"), std::to_string(r.bytes()),
                                   number(r.error.mse, "%.3e"), number(r.error.sqnr_db, "%.2f")};
    if (pooled) cells.push_back(number(r.min_sqnr_db, "%.1f") + ".." + number(r.max_sqnr_db, "%.1f"));
    cells.push_back(number(r.error.max_abs_error, "%.3e"));
    cells.push_back(number(100.0 * r.error.clip_rate, "%.4f"));
    if (timing) {
      cells.push_back(number(r.encode_gbs(), "%.2f"));
      cells.push_back(number(r.decode_gbs(), "%.2f"));
    }
    table.add_row(cells);
  }
  table.print(stdout);
}

inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

inline std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) out += format("\\u%04x", static_cast<unsigned>(c));
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

/// JSON has no infinity or NaN: those are written as null (SQNR +inf is an exact round trip, -inf or an infinite MSE
/// a non-finite approximation, NaN a tensor without finite values; the table shows which).
inline std::string json_number(double v) { return std::isfinite(v) ? format("%.9g", v) : "null"; }

inline void print_csv(const std::vector<Row>& rows) {
  std::printf("source,tensor,format,elements,bits_per_element,bytes,mse,sqnr_db,max_abs_error,max_rel_error,cosine,"
              "clip_rate,encode_gbs,decode_gbs,note\n");
  for (const Row& r : rows) {
    if (!r.note.empty()) {  // no numbers for a method that failed on this tensor
      std::printf("%s,%s,%s,,,,,,,,,,,,%s\n", csv_field(r.source).c_str(), csv_field(r.tensor).c_str(),
                  csv_field(r.method).c_str(), csv_field(r.note).c_str());
      continue;
    }
    std::printf("%s,%s,%s,%llu,%.6g,%llu,%.9g,%.6g,%.9g,%.9g,%.9g,%.9g,%.4g,%.4g,%s\n", csv_field(r.source).c_str(),
                csv_field(r.tensor).c_str(), csv_field(r.method).c_str(), static_cast<unsigned long long>(r.elements),
                r.bits_per_element(), static_cast<unsigned long long>(r.bytes()), r.error.mse, r.error.sqnr_db,
                r.error.max_abs_error, r.error.max_rel_error, r.error.cosine, r.error.clip_rate, r.encode_gbs(),
                r.decode_gbs(), csv_field(r.note).c_str());
  }
}

inline void print_json(const std::vector<Row>& rows) {
  std::printf("{\"rows\": [\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (!r.note.empty()) {
      std::printf("  {\"source\": %s, \"tensor\": %s, \"format\": %s, \"note\": %s}%s\n", json_string(r.source).c_str(),
                  json_string(r.tensor).c_str(), json_string(r.method).c_str(), json_string(r.note).c_str(),
                  i + 1 < rows.size() ? "," : "");
      continue;
    }
    std::printf("  {\"source\": %s, \"tensor\": %s, \"format\": %s, \"elements\": %llu, \"bits_per_element\": %s, "
                "\"bytes\": %llu, \"mse\": %s, \"sqnr_db\": %s, \"max_abs_error\": %s, \"max_rel_error\": %s, "
                "\"cosine\": %s, \"clip_rate\": %s, \"encode_gbs\": %s, \"decode_gbs\": %s%s}%s\n",
                json_string(r.source).c_str(), json_string(r.tensor).c_str(), json_string(r.method).c_str(),
                static_cast<unsigned long long>(r.elements), json_number(r.bits_per_element()).c_str(),
                static_cast<unsigned long long>(r.bytes()), json_number(r.error.mse).c_str(),
                json_number(r.error.sqnr_db).c_str(), json_number(r.error.max_abs_error).c_str(),
                json_number(r.error.max_rel_error).c_str(), json_number(r.error.cosine).c_str(),
                json_number(r.error.clip_rate).c_str(), json_number(r.encode_gbs()).c_str(),
                json_number(r.decode_gbs()).c_str(),
                r.note.empty() ? "" : (", \"note\": " + json_string(r.note)).c_str(), i + 1 < rows.size() ? "," : "");
  }
  std::printf("]}\n");
}

inline std::string xml_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

/// SQNR (dB) against bits per element, one point per format and one colour per series (workload or file). Formats
/// of (nearly) the same width would pile up in one column: each is drawn in its own narrow column around its true
/// width (the tick marks it) and numbered, with the numbers keyed on the right.
inline void write_svg_chart(const std::string& path, const std::vector<std::pair<std::string, std::vector<Row>>>& series) {
  if (series.empty()) return;
  const std::vector<Row>& formats = series.front().second;
  const double width = 1060, height = 600, left = 70, right = 330, top = 40, bottom = 60;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const double max_bits = 17;
  double max_db = 10, min_db = 0;
  for (const auto& s : series)
    for (const Row& r : s.second) {
      if (!r.note.empty() || !std::isfinite(r.error.sqnr_db)) continue;
      max_db = std::max(max_db, r.error.sqnr_db);
      min_db = std::min(min_db, r.error.sqnr_db);
    }
  max_db = std::ceil(max_db / 10.0) * 10.0;
  min_db = std::floor(min_db / 10.0) * 10.0;
  // Widths past the axis (per-channel parameters of 1-D tensors) are drawn at its end.
  const auto x_of = [&](double bits) { return left + plot_w * std::min(bits, max_bits) / max_bits; };
  const auto y_of = [&](double db) { return top + plot_h * (1.0 - (db - min_db) / (max_db - min_db)); };

  // Column of each format: formats whose widths (in the first series) round to the same half bit share a cluster,
  // spread 8 px apart around the cluster's width.
  std::vector<double> offset(formats.size(), 0.0);
  for (std::size_t m = 0; m < formats.size(); ++m) {
    const double key = std::round(formats[m].bits_per_element() * 2.0);
    std::size_t rank = 0, count = 0;
    for (std::size_t k = 0; k < formats.size(); ++k)
      if (std::round(formats[k].bits_per_element() * 2.0) == key) {
        if (k < m) ++rank;
        ++count;
      }
    offset[m] = 8.0 * (static_cast<double>(rank) - (static_cast<double>(count) - 1.0) / 2.0);
  }

  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw cli_error("compare: cannot open '" + path + "' for writing the chart");
  std::fprintf(out,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
               width, height);
  std::fprintf(out, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">qmath compare: SQNR against bits per element "
                    "(higher and further left is better)</text>\n", left);
  for (double db = min_db; db <= max_db + 1e-9; db += 10) {
    std::fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y_of(db),
                 left + plot_w, y_of(db));
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", left - 6, y_of(db) + 4, db);
  }
  for (int bits = 0; bits <= 16; bits += 2)
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x_of(bits), top + plot_h + 16,
                 bits);
  std::fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left,
               top, plot_w, plot_h);
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">bits per element (codes + scales and zero "
                    "points; formats of one width are spread sideways)</text>\n", left + plot_w / 2, height - 20);
  std::fprintf(out, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">SQNR (dB)</text>\n",
               top + plot_h / 2);

  static const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                                         "#17becf"};
  const std::size_t colours = sizeof(kColours) / sizeof(kColours[0]);
  for (std::size_t m = 0; m < formats.size(); ++m) {
    // A tick at the true width, and the format's number above its highest point.
    const double x = x_of(formats[m].bits_per_element());
    std::fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x, top + plot_h, x,
                 top + plot_h - 5);
    double highest = -std::numeric_limits<double>::infinity();
    for (const auto& s : series) {
      if (m >= s.second.size()) continue;
      const Row& r = s.second[m];
      if (r.note.empty() && std::isfinite(r.error.sqnr_db)) highest = std::max(highest, r.error.sqnr_db);
    }
    if (std::isfinite(highest))
      std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" text-anchor=\"middle\" fill=\"#333\">%zu</text>\n",
                   x + offset[m], y_of(highest) - 7, m + 1);
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    const char* colour = kColours[s % colours];
    for (std::size_t m = 0; m < series[s].second.size() && m < offset.size(); ++m) {
      const Row& r = series[s].second[m];
      if (!r.note.empty() || !std::isfinite(r.error.sqnr_db)) continue;
      std::fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" fill-opacity=\"0.85\"><title>%s: %s, "
                        "%.2f dB at %.3f bits</title></circle>\n",
                   x_of(r.bits_per_element()) + offset[m], y_of(r.error.sqnr_db), colour,
                   xml_text(series[s].first).c_str(), xml_text(r.method).c_str(), r.error.sqnr_db, r.bits_per_element());
    }
  }
  // Key: series colours, then the numbered formats.
  const double key_x = width - right + 20;
  double y = top + 8;
  for (std::size_t s = 0; s < series.size(); ++s, y += 16)
    std::fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                 key_x, y, kColours[s % colours], key_x + 10, y + 4, xml_text(series[s].first).c_str());
  y += 10;
  for (std::size_t m = 0; m < formats.size(); ++m, y += 14)
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%zu  %s</text>\n", key_x - 5, y + 4, m + 1,
                 xml_text(formats[m].method).c_str());
  std::fprintf(out, "</svg>\n");
  const bool failed = std::ferror(out) != 0;
  if (std::fclose(out) != 0 || failed) throw cli_error("compare: writing '" + path + "' failed");
}

// ---- The subcommand -------------------------------------------------------------------------------------------

inline const char kCompareUsage[] =
    "qmath compare [FILE.npy|FILE.safetensors ...] [options]\n"
    "  Every format, scheme and calibrator on each tensor: bits per element (codes plus parameters), bytes,\n"
    "  MSE, SQNR, max abs error, clip rate, encode/decode GB/s (fp32 side). Without files: built-in workloads\n"
    "  (gaussian, laplace, uniform, llm-outliers, relu; [256, 1024] each, or --size ROWSxCOLS).\n"
    "  --output table|csv|json      (default table)\n"
    "  --chart OUT.svg              SQNR against bits per element, one point per format\n"
    "  --axis N                     per-channel axis (default 0, the output axis of [out, in] weights)\n"
    "  --group-axis N               the axis groups run along (default -1, the input axis)\n"
    "  --per-tensor                 with files: one table per tensor as well as the pooled one\n"
    "  --include-vectors            with files: also rank-0/1 tensors (biases, norms), skipped by default\n"
    "  --no-timing                  skip the speed columns (faster; for tests under emulation)\n";

inline int run(int argc, char** argv) {
  const CommandLine cl = parse_command_line(argc, argv, "compare", {"--output", "--chart", "--axis", "--group-axis", "--size"},
                                            {"--per-tensor", "--include-vectors", "--no-timing"});
  if (cl.help) {
    std::printf("%s", kCompareUsage);
    return 0;
  }
  Options o;
  const auto axis_value = [&](const char* name, int fallback) {
    if (!cl.has(name)) return fallback;
    std::int64_t v = 0;
    if (!json_detail::parse_int64(cl.value_or(name, ""), v) || v < -64 || v > 64)
      throw cli_error(std::string("compare: bad ") + name + " '" + cl.value_or(name, "") + "'");
    return static_cast<int>(v);
  };
  o.channel_axis = axis_value("--axis", 0);
  o.group_axis = axis_value("--group-axis", -1);
  o.timing = !cl.has("--no-timing");
  o.include_vectors = cl.has("--include-vectors");
  const std::string output = cl.value_or("--output", "table");
  if (output != "table" && output != "csv" && output != "json")
    throw cli_error("compare: --output must be table, csv or json, not '" + output + "'");

  const bool builtin = cl.positional.empty();
  std::size_t rows = 256, cols = 1024;
  if (cl.has("--size")) {
    const std::string size = cl.value_or("--size", "");
    const std::size_t x = size.find('x');
    std::int64_t r = 0, c = 0;
    if (x == std::string::npos || !json_detail::parse_int64(size.substr(0, x), r) ||
        !json_detail::parse_int64(size.substr(x + 1), c) || r < 1 || c < 1 || r > 65536 || c > 65536 ||
        r * c > (std::int64_t{1} << 24))
      throw cli_error("compare: --size must be ROWSxCOLS with 1..65536 each and at most 2^24 elements, not '" + size +
                      "'");
    if (!builtin) throw cli_error("compare: --size is for the built-in workloads, not for files");
    rows = static_cast<std::size_t>(r);
    cols = static_cast<std::size_t>(c);
  }
  std::vector<Tensor> tensors;
  std::size_t skipped_vectors = 0, skipped_empty = 0;
  if (builtin) {
    tensors = builtin_workloads(rows, cols);
  } else {
    for (const std::string& path : cl.positional)
      for (Tensor& t : read_tensors(path)) {
        if (t.shape.dims.size() < 2 && !o.include_vectors) {
          ++skipped_vectors;
          continue;
        }
        if (t.values.empty()) {
          ++skipped_empty;
          continue;
        }
        tensors.push_back(std::move(t));
      }
    if (tensors.empty())
      throw cli_error("compare: nothing to measure: " + std::to_string(skipped_vectors) + " tensor(s) of rank < 2 (see "
                      "--include-vectors) and " + std::to_string(skipped_empty) + " empty one(s)");
  }

  const std::vector<Method> all = methods();
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::vector<std::vector<Row>> per_tensor;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    if (std::chrono::duration<double>(clock::now() - start).count() > 1.0)
      std::fprintf(stderr, "qmath compare: [%zu/%zu] %s %s\n", k + 1, tensors.size(), t.source.c_str(), t.name.c_str());
    Calibration calibration(t);
    std::vector<Row> rows;
    for (const Method& m : all) {
      Row r;
      try {
        r = m.run(t, calibration, o);
      } catch (const qmath::error& e) {  // e.g. an axis the tensor does not have, or +-Inf in the data
        r = Row{};
        r.note = e.what();
      }
      r.source = t.source;
      r.tensor = t.name;
      r.method = m.name;
      rows.push_back(std::move(r));
    }
    per_tensor.push_back(std::move(rows));
  }

  // What gets printed: per workload (built-in), or pooled per file plus, on request, per tensor.
  std::vector<std::pair<std::string, std::vector<Row>>> groups;
  if (builtin || tensors.size() == 1) {
    for (std::size_t k = 0; k < tensors.size(); ++k) groups.emplace_back(tensors[k].name, per_tensor[k]);
  } else {
    std::vector<std::string> sources;
    for (const Tensor& t : tensors)
      if (std::find(sources.begin(), sources.end(), t.source) == sources.end()) sources.push_back(t.source);
    for (const std::string& source : sources) {
      std::vector<Row> pooled;
      for (std::size_t m = 0; m < all.size(); ++m) {
        std::vector<const Row*> rows;
        for (std::size_t k = 0; k < tensors.size(); ++k)
          if (tensors[k].source == source && per_tensor[k][m].note.empty()) rows.push_back(&per_tensor[k][m]);
        if (rows.empty()) {
          Row none;
          none.source = source;
          none.tensor = "(all)";
          none.method = all[m].name;
          none.note = "failed on every tensor";
          pooled.push_back(none);
        } else {
          std::size_t total = 0;
          for (const Tensor& t : tensors) total += t.source == source ? 1 : 0;
          pooled.push_back(pool(rows, source, total));
        }
      }
      groups.emplace_back(base_name(source), pooled);
    }
  }

  if (output == "table") {
    std::printf("qmath compare: %zu tensor(s)%s; SQNR = 10 log10(sum x^2 / sum (x - x')^2); %s\n", tensors.size(),
                builtin ? (" (built-in workloads, " + shape_text(tensors.front().shape.dims) +
                           ", each row with its own spread)").c_str() : "",
                o.timing ? "GB/s counts fp32 bytes" : "not timed");
    if (skipped_vectors > 0)
      std::printf("skipped %zu tensor(s) of rank < 2 (biases, norms); --include-vectors measures them too\n",
                  skipped_vectors);
    if (skipped_empty > 0) std::printf("skipped %zu empty tensor(s)\n", skipped_empty);
    if (!builtin && cl.has("--per-tensor") && tensors.size() > 1)
      for (std::size_t k = 0; k < tensors.size(); ++k) {
        std::printf("\n== %s: %s, shape %s ==\n", tensors[k].source.c_str(), tensors[k].name.c_str(),
                    shape_text(tensors[k].shape.dims).c_str());
        print_table(per_tensor[k], false, o.timing);
      }
    for (const auto& g : groups) {
      const bool pooled = !builtin && tensors.size() > 1;
      std::printf("\n== %s%s ==\n", g.first.c_str(), pooled ? " (all tensors pooled: SQNR over their total energy)" : "");
      print_table(g.second, pooled, o.timing);
    }
  } else {
    std::vector<Row> rows;
    for (const auto& t : per_tensor) rows.insert(rows.end(), t.begin(), t.end());
    if (!builtin && tensors.size() > 1)
      for (const auto& g : groups) rows.insert(rows.end(), g.second.begin(), g.second.end());
    if (output == "csv") print_csv(rows);
    else print_json(rows);
  }
  if (cl.has("--chart")) {
    write_svg_chart(cl.value_or("--chart", ""), groups);
    std::fprintf(stderr, "qmath compare: wrote the chart to %s\n", cl.value_or("--chart", "").c_str());
  }
  return 0;
}

}  // namespace compare
}  // namespace qmath_cli
