// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/methods.cpp: the rows of `qmath compare`: float formats, integer codes with each granularity
// and calibrator, and the compression methods of qmath/compress, each measured on one tensor.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "compare/compare.hpp"
#include "qmath/calib/histogram.hpp"
#include "qmath/calib/mse_sweep.hpp"
#include "qmath/compress/low_rank.hpp"
#include "qmath/compress/mixed_precision.hpp"
#include "qmath/compress/pruning.hpp"
#include "qmath/convert.hpp"
#include "qmath/metrics.hpp"
#include "qmath/nn/static_layers.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/fake_quant.hpp"
#include "qmath/quant/quantize.hpp"
#include "qmath/quant/scaled_fp8.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace compare {
namespace {

/// Integer codes with parameters p: error from quantization_error, speed from quantize / dequantize alone.
template <class Q>
Row measure_integer(const Tensor& t, const qmath::QParams<Q>& p, bool affine, const Options& o) {
  Row r;
  const std::size_t n = t.values.size();
  r.elements = n;
  r.error = qmath::quantization_error(t.values.data(), t.shape, p);
  // Each slot stores an fp32 scale, and an affine one a zero point of the code type (as ONNX stores them).
  r.bits = qmath::storage_bits(p, n, affine);
  if (o.timing) {
    std::vector<typename qmath::int_traits<Q>::storage> codes(qmath::int_traits<Q>::storage_size(n));
    std::vector<float> back(n);
    r.encode_seconds = best_seconds([&] { qmath::quantize(t.values.data(), t.shape, p, codes.data()); });
    r.decode_seconds = best_seconds([&] { qmath::dequantize(codes.data(), t.shape, p, back.data()); });
  }
  return r;
}

/// fp16 / bf16 as they are (no scale).
Row measure_float(const Tensor& t, qmath::float_format f, const Options& o) {
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
/// training and inference recipes do (quant/scaled_fp8.hpp): unscaled, trained weights (|w| ~ 0.01-0.1) would sit in
/// fp8's subnormals.
Row measure_scaled_fp8(const Tensor& t, qmath::fp8_format f8, const Options& o) {
  Row r;
  const std::size_t n = t.values.size();
  r.elements = n;
  const qmath::Fp8Params p = qmath::choose_fp8_params(t.values.data(), t.shape, qmath::per_tensor(), f8);
  r.bits = qmath::storage_bits(p, n);
  std::vector<std::uint8_t> codes(n);
  std::vector<float> back(n);
  const auto encode = [&] { qmath::quantize_fp8(t.values.data(), t.shape, p, codes.data()); };
  const auto decode = [&] { qmath::dequantize_fp8(codes.data(), t.shape, p, back.data()); };
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

// ---- Narrow integers and compression --------------------------------------------------------------------------

/// The tensor as a matrix [d0 (the channel axis), rest], which every compression method works on.
struct MatrixView {
  std::size_t rows = 1, cols = 1;
};

MatrixView matrix_of(const Tensor& t, const Options& o) {
  if (o.channel_axis != 0 && o.channel_axis != -static_cast<int>(t.shape.dims.size()))
    throw qmath::error("qmath compare: the compression rows take channels on axis 0 (--axis 0)");
  if (t.shape.dims.size() < 2) throw qmath::error("qmath compare: the compression rows need a tensor of rank >= 2");
  if (t.shape.order != qmath::storage_order::row_major) throw qmath::error("qmath compare: a Fortran-order tensor");
  MatrixView v;
  v.rows = static_cast<std::size_t>(t.shape.dims[0]);
  v.cols = v.rows == 0 ? 0 : t.values.size() / v.rows;
  return v;
}

/// Symmetric per-channel (axis 0) codes of `bits` in [2, 8] as int8 values: S = max|x| / ((2^bits - 1) / 2), the
/// rule of the static layers (nn::symmetric_weight_qparams), and their dequantized values.
std::vector<float> narrow_int_roundtrip(const float* x, std::size_t rows, std::size_t cols, int bits) {
  const qmath::QParams<std::int8_t> p = qmath::nn::symmetric_weight_qparams(x, rows * cols, static_cast<std::ptrdiff_t>(rows), true, bits);
  std::vector<float> back(rows * cols);
  const qmath::TensorShape shape{{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}};
  qmath::fake_quantize(x, shape, 0, p.scale, p.zero_point, p.qmin, p.qmax, back.data());
  return back;
}

Row error_row(const Tensor& t, const std::vector<float>& back, double bits) {
  Row r;
  r.elements = t.values.size();
  r.bits = bits;
  qmath::ErrorAccumulator acc;
  for (std::size_t i = 0; i < back.size(); ++i) acc.add(t.values[i], back[i]);
  r.error = acc.stats();
  r.clip_measured = false;
  return r;
}

void check_finite(const Tensor& t) {
  for (float v : t.values)
    if (!std::isfinite(v)) throw qmath::error("qmath compare: the tensor holds NaN or +-Inf");
}

Row measure_narrow_int(const Tensor& t, int bits, const Options& o) {
  const MatrixView v = matrix_of(t, o);
  check_finite(t);
  const std::vector<float> back = narrow_int_roundtrip(t.values.data(), v.rows, v.cols, bits);
  return error_row(t, back, static_cast<double>(bits) * static_cast<double>(t.values.size()) + 32.0 * static_cast<double>(v.rows));
}

/// Magnitude pruning of the whole tensor, then (int8) the kept values quantized per channel; stored as a bitmap
/// and the kept values (zeros quantize to zero, so the mask survives).
Row measure_pruned(const Tensor& t, double sparsity, bool int8, const Options& o) {
  const MatrixView v = matrix_of(t, o);
  const qmath::compress::Mask keep = qmath::compress::magnitude_mask(t.values.data(), t.values.size(), sparsity);
  std::vector<float> pruned = t.values;
  qmath::compress::apply_mask(pruned.data(), pruned.size(), keep);
  const std::vector<float> back = int8 ? narrow_int_roundtrip(pruned.data(), v.rows, v.cols, 8) : pruned;
  const double bytes = static_cast<double>(qmath::compress::storage_bytes(keep, v.rows, v.cols, int8 ? 8 : 32, qmath::compress::sparse_format::bitmap));
  return error_row(t, back, 8.0 * bytes + (int8 ? 32.0 * static_cast<double>(v.rows) : 0.0));
}

/// 2:4 along the rows (the input axis of [out, in]), int8 per channel, 2 bits of position per kept value.
Row measure_two_of_four(const Tensor& t, const Options& o) {
  const MatrixView v = matrix_of(t, o);
  const qmath::TensorShape shape{{static_cast<std::int64_t>(v.rows), static_cast<std::int64_t>(v.cols)}};
  const qmath::compress::Mask keep = qmath::compress::n_m_mask(t.values.data(), shape, 1, 2, 4);
  std::vector<float> pruned = t.values;
  qmath::compress::apply_mask(pruned.data(), pruned.size(), keep);
  const std::vector<float> back = narrow_int_roundtrip(pruned.data(), v.rows, v.cols, 8);
  const double bytes = static_cast<double>(qmath::compress::storage_bytes(keep, v.rows, v.cols, 8, qmath::compress::sparse_format::n_m, 4));
  return error_row(t, back, 8.0 * bytes + 32.0 * static_cast<double>(v.rows));
}

/// Truncated SVD of [rows, cols] at the largest rank whose factors hold `fraction` of the parameters; with int8,
/// both factors quantized per row.
Row measure_low_rank(const Tensor& t, double fraction, bool int8, const Options& o) {
  const MatrixView v = matrix_of(t, o);
  const auto budget = static_cast<std::size_t>(fraction * static_cast<double>(v.rows * v.cols));
  const Eigen::Index rank = qmath::compress::rank_for_budget(static_cast<Eigen::Index>(v.rows), static_cast<Eigen::Index>(v.cols), budget);
  if (rank < 1) throw qmath::error("qmath compare: even rank 1 holds more than " + std::to_string(budget) + " parameters");
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMatrix> w(t.values.data(), static_cast<Eigen::Index>(v.rows), static_cast<Eigen::Index>(v.cols));
  const qmath::compress::LowRank f = qmath::compress::truncated_svd(w, rank);
  RowMatrix left = f.left, right = f.right;
  double bits = 32.0 * static_cast<double>(left.size() + right.size());
  if (int8) {
    const std::vector<float> l = narrow_int_roundtrip(left.data(), static_cast<std::size_t>(left.rows()), static_cast<std::size_t>(left.cols()), 8);
    const std::vector<float> r = narrow_int_roundtrip(right.data(), static_cast<std::size_t>(right.rows()), static_cast<std::size_t>(right.cols()), 8);
    left = Eigen::Map<const RowMatrix>(l.data(), left.rows(), left.cols());
    right = Eigen::Map<const RowMatrix>(r.data(), right.rows(), right.cols());
    bits = 8.0 * static_cast<double>(left.size() + right.size()) + 32.0 * static_cast<double>(left.rows() + right.rows());
  }
  const RowMatrix product = left * right;
  return error_row(t, std::vector<float>(product.data(), product.data() + product.size()), bits);
}

}  // namespace

std::vector<Method> methods() {
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
  for (int bits : {2, 3, 5, 6})
    m.push_back({"int" + std::to_string(bits) + " sym, channel", [bits](const Tensor& t, Calibration&, const Options& o) {
                   return measure_narrow_int(t, bits, o);
                 }});

  // Compression (qmath/compress), each as it would be stored: bitmap + values, N:M values + positions, factors.
  for (double sparsity : {0.5, 0.75})
    for (bool int8 : {false, true}) {
      if (!int8 && sparsity > 0.5) continue;
      m.push_back({"prune " + std::to_string(static_cast<int>(sparsity * 100)) + " %" + (int8 ? " + int8 sym, channel" : " (fp32)"),
                   [sparsity, int8](const Tensor& t, Calibration&, const Options& o) { return measure_pruned(t, sparsity, int8, o); },
                   true});
    }
  m.push_back({"2:4 + int8 sym, channel", [](const Tensor& t, Calibration&, const Options& o) { return measure_two_of_four(t, o); }, true});
  for (double fraction : {0.5, 0.25})
    m.push_back({"low rank, " + std::string(fraction == 0.5 ? "1/2" : "1/4") + " of the params (fp32)",
                 [fraction](const Tensor& t, Calibration&, const Options& o) { return measure_low_rank(t, fraction, false, o); }, true});
  m.push_back({"low rank, 1/4 of the params, int8 factors",
               [](const Tensor& t, Calibration&, const Options& o) { return measure_low_rank(t, 0.25, true, o); }, true});
  return m;
}

Row pool(const std::vector<const Row*>& rows, const std::string& source, std::size_t total) {
  Row p;
  p.source = source;
  p.tensor = "(all)";
  p.method = rows.front()->method;
  if (rows.size() < total) p.method += " [" + std::to_string(rows.size()) + " of " + std::to_string(total) + " tensors]";
  p.min_sqnr_db = std::numeric_limits<double>::infinity();
  p.max_sqnr_db = -std::numeric_limits<double>::infinity();
  std::vector<qmath::ErrorStats> parts;
  for (const Row* r : rows) {
    p.clip_measured = p.clip_measured && r->clip_measured;
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


Row mixed_precision_row(const std::vector<std::vector<std::pair<int, const Row*>>>& options_per_tensor, double bits,
                        const std::string& source) {
  std::vector<std::vector<qmath::compress::BitOption>> layers;
  double budget = 0.0;
  for (const auto& options : options_per_tensor) {
    std::vector<qmath::compress::BitOption> layer;
    for (const auto& [width, r] : options)
      layer.push_back({width, r->bits / 8.0, r->error.mse * static_cast<double>(r->elements)});
    // The tensor's share: `bits` per element plus its scales (the same at every width).
    const auto& [width, r] = options.front();
    const double n = static_cast<double>(r->elements);
    budget += n * bits / 8.0 + (r->bits - width * n) / 8.0;
    layers.push_back(std::move(layer));
  }
  const qmath::compress::Allocation a = qmath::compress::allocate_optimal(layers, budget);
  std::vector<const Row*> chosen;
  std::map<int, int> tensors_at;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    chosen.push_back(options_per_tensor[i][a.choice[i]].second);
    ++tensors_at[layers[i][a.choice[i]].bits];
  }
  Row r = pool(chosen, source, chosen.size());
  r.encode_seconds = r.decode_seconds = 0.0;  // not every width is timed: no speed for the mix
  std::string widths;
  for (const auto& [width, count] : tensors_at) widths += format("%sint%d x%d", widths.empty() ? "" : ", ", width, count);
  r.method = format("mixed int2-8 sym, channel, %g bits/elem (%s)", bits, widths.c_str());
  return r;
}

}  // namespace compare
}  // namespace qmath_tool
