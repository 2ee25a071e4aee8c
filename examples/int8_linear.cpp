// SPDX-License-Identifier: Apache-2.0
// examples/int8_linear.cpp: a Linear layer three ways -- fp32, PyTorch's dynamic mode, and static int8 with a
// requantized int8 output -- with the error of each against fp32 and the time it took. Copy what you need.
//
//   int8_linear [rows in_features out_features]      (default 64 1024 1024)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <qmath/qmath.hpp>

namespace {

double seconds_of(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double sqnr_db(const std::vector<float>& reference, const std::vector<float>& approx) {
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    signal += double(reference[i]) * reference[i];
    noise += (double(reference[i]) - approx[i]) * (double(reference[i]) - approx[i]);
  }
  return 10.0 * std::log10(signal / noise);
}

}  // namespace

int main(int argc, char** argv) {
  const std::ptrdiff_t rows = argc > 1 ? std::atol(argv[1]) : 64;
  const std::ptrdiff_t in = argc > 2 ? std::atol(argv[2]) : 1024;
  const std::ptrdiff_t out = argc > 3 ? std::atol(argv[3]) : 1024;
  if (rows < 1 || in < 1 || out < 1) {
    std::fprintf(stderr, "usage: int8_linear [rows in_features out_features]\n");
    return 2;
  }

  // A layer and a batch: weights ~ N(0, 1/in), ReLU-like activations (non-negative, long tail).
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> weight(static_cast<std::size_t>(out * in)), bias(static_cast<std::size_t>(out));
  std::vector<float> x(static_cast<std::size_t>(rows * in));
  for (float& w : weight) w = normal(rng) / std::sqrt(static_cast<float>(in));
  for (float& b : bias) b = 0.1f * normal(rng);
  for (float& v : x) v = std::max(0.0f, normal(rng));

  // fp32 reference (Eigen, row-major like PyTorch: y = x W^T + b).
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMajor> X(x.data(), rows, in), W(weight.data(), out, in);
  std::vector<float> y_fp32(static_cast<std::size_t>(rows * out));
  Eigen::Map<RowMajor> Y(y_fp32.data(), rows, out);
  auto start = std::chrono::steady_clock::now();
  Y.noalias() = X * W.transpose();
  Y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), out);
  const double fp32_seconds = seconds_of(start);

  // 1. Dynamic quantization: int8 weights once, activations quantized on the fly, fp32 out.
  qmath::DynamicQuantizedLinear dynamic(weight.data(), out, in, bias.data());
  std::vector<float> y_dynamic(y_fp32.size());
  start = std::chrono::steady_clock::now();
  dynamic.forward(x.data(), rows, in, y_dynamic.data(), out);
  const double dynamic_seconds = seconds_of(start);

  // 2. Static quantization: activation and output ranges come from calibration (here: this batch and the fp32
  //    output), uint8 activations, int8 per-channel weights, int32 bias, int8 output with a float multiplier.
  qmath::MinMaxObserver x_observer, y_observer;
  x_observer.update(x.data(), qmath::TensorShape{{rows, in}});
  y_observer.update(y_fp32.data(), qmath::TensorShape{{rows, out}});
  const auto x_q = x_observer.qparams<std::uint8_t>();
  const auto y_q = y_observer.qparams<std::int8_t>();
  const auto w_q = qmath::choose_qparams<std::int8_t>(weight.data(), qmath::TensorShape{{out, in}},
                                                       qmath::per_channel(0), {qmath::scheme::symmetric});
  std::vector<std::uint8_t> x_codes(x.size());
  std::vector<std::int8_t> w_codes(weight.size());
  qmath::quantize<std::uint8_t>(x.data(), x.size(), x_q, x_codes.data());
  qmath::quantize<std::int8_t>(weight.data(), qmath::TensorShape{{out, in}}, w_q, w_codes.data());
  const std::int32_t w_zero = 0;
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(w_codes.data(), in, out, in, qmath::gemm_b_order::n_by_k,
                                                       &w_zero, 1);
  std::vector<std::int32_t> bias_q(static_cast<std::size_t>(out));
  std::vector<float> multiplier(static_cast<std::size_t>(out));
  for (std::ptrdiff_t n = 0; n < out; ++n) {
    const float acc_scale = x_q.scale[0] * w_q.scale[static_cast<std::size_t>(n)];
    bias_q[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(std::lround(bias[static_cast<std::size_t>(n)] / acc_scale));
    multiplier[static_cast<std::size_t>(n)] = acc_scale / y_q.scale[0];
  }
  std::vector<std::int8_t> y_codes(y_fp32.size());
  start = std::chrono::steady_clock::now();
  qmath::gemm(qmath::GemmA<std::uint8_t>{x_codes.data(), rows, in, &x_q.zero_point[0]}, packed,
              qmath::GemmOutputRequantize<std::int8_t>{y_codes.data(), out, multiplier.data(), multiplier.size(),
                                                       y_q.zero_point[0], bias_q.data()});
  const double static_seconds = seconds_of(start);
  std::vector<float> y_static(y_fp32.size());
  qmath::dequantize<std::int8_t>(y_codes.data(), y_codes.size(), y_q, y_static.data());

  // Single first calls, so the times include warm-up; benchmarks/bench_gemm measures properly.
  std::printf("Linear %td -> %td on %td rows, int8 GEMM path: %s\n", in, out, rows, qmath::isa_name(packed.path()));
  std::printf("%-34s %10s %12s\n", "", "SQNR (dB)", "time (ms)");
  std::printf("%-34s %10s %12.3f\n", "fp32 (Eigen)", "-", 1e3 * fp32_seconds);
  std::printf("%-34s %10.2f %12.3f\n", "dynamic int8 (fp32 in/out)", sqnr_db(y_fp32, y_dynamic), 1e3 * dynamic_seconds);
  std::printf("%-34s %10.2f %12.3f\n", "static int8 (uint8 in, int8 out)", sqnr_db(y_fp32, y_static),
              1e3 * static_seconds);
  // int8 keeps ~40 dB on a layer like this one; far less means something is broken (ctest runs this).
  return sqnr_db(y_fp32, y_dynamic) > 30.0 && sqnr_db(y_fp32, y_static) > 30.0 ? 0 : 1;
}
