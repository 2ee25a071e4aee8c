// SPDX-License-Identifier: Apache-2.0
// examples/mnist_quantize.cpp: a trained MNIST CNN quantized every way qmath offers, on the 10,000 test images.
//
//   build/release/examples/mnist_quantize ../shared/realdata [--images N] [--repeats R]
//
// Loads the ONNX model zoo's MNIST CNN (../shared/realdata/mnist-cntk) into an nn::Sequential, checks the fp32
// forward pass against the stored float64 reference logits, then for each scheme prints top-1, agreement with fp32,
// logit SQNR against fp32 and parameter bytes:
//   dynamic int8 (torch's quantize_dynamic: the Linear only), static int8 (prepare / calibrate on images 0-999 /
//   convert) with per-tensor or per-channel weights and each calibrator, weight-only int4 / int3 (fake-quantized
//   weights, fp32 activations: a simulation), fp16 and bf16 weights and activations (simulation).
// Then the latency per image of the fp32 model and of the int8 model at batch 1 and 64 (one thread, best of R).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mnist_cnn.hpp"
#include "qmath/metrics.hpp"
#include "qmath/quant/fake_quant.hpp"

namespace {

namespace nn = qmath::nn;

struct Scores {
  double top1, agreement, sqnr_db;
};

Scores score(const nn::Tensor4& logits, const nn::Tensor4& fp32, const mnist::TestSet& test) {
  const std::size_t n = static_cast<std::size_t>(logits.dimension(0));
  std::size_t correct = 0, agree = 0;
  double signal = 0.0, noise = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const int a = mnist::argmax10(logits.data() + 10 * i), b = mnist::argmax10(fp32.data() + 10 * i);
    correct += a == test.labels[i];
    agree += a == b;
    for (std::size_t k = 0; k < 10; ++k) {
      const double r = fp32.data()[10 * i + k], d = logits.data()[10 * i + k] - r;
      signal += r * r;
      noise += d * d;
    }
  }
  const double sqnr = noise == 0.0 ? INFINITY : 10.0 * std::log10(signal / noise);
  return {100.0 * static_cast<double>(correct) / static_cast<double>(n), 100.0 * static_cast<double>(agree) / static_cast<double>(n), sqnr};
}

void print_row(const std::string& scheme, const Scores& s, std::size_t bytes) {
  std::printf("| %-40s | %6.2f %% | %7.2f %% | %8.2f | %6zu |\n", scheme.c_str(), s.top1, s.agreement, s.sqnr_db, bytes);
}

// Symmetric weight-only fake quantization with `bits`: S = max|w| / qmax (per tensor or per output channel), codes
// [-qmax - 1, qmax], the simulation in ../shared/realdata/README.md.
nn::Sequential weight_only(const nn::Sequential& model, int bits, bool per_channel) {
  nn::Sequential out = model;
  const std::int32_t qmax = (1 << (bits - 1)) - 1;
  auto fake = [&](const float* w, std::size_t count, std::ptrdiff_t outputs, std::vector<float>& result) {
    result.resize(count);
    const std::size_t per_row = count / static_cast<std::size_t>(outputs);
    std::vector<float> scale(per_channel ? static_cast<std::size_t>(outputs) : 1, 0.0f);
    for (std::size_t i = 0; i < count; ++i) {
      float& s = scale[per_channel ? i / per_row : 0];
      s = std::max(s, std::fabs(w[i]) / static_cast<float>(qmax));
    }
    const qmath::TensorShape shape{{outputs, static_cast<std::int64_t>(per_row)}, qmath::storage_order::row_major};
    if (per_channel)
      qmath::fake_quantize(w, shape, 0, scale, std::vector<std::int32_t>(scale.size(), 0), -qmax - 1, qmax, result.data());
    else
      qmath::fake_quantize(w, count, scale[0], 0, -qmax - 1, qmax, result.data());
  };
  std::vector<float> q;
  for (nn::Layer& layer : out.layers()) {
    if (auto* c = std::get_if<nn::Conv2d>(&layer)) {
      fake(c->weight().data(), c->weight_count(), c->filter().out_channels, q);
      c->set_parameters(q.data(), nullptr);
    } else if (auto* l = std::get_if<nn::Linear>(&layer)) {
      fake(l->weight().data(), static_cast<std::size_t>(l->weight().size()), l->out_features(), q);
      l->set_parameters(q.data(), nullptr);
    }
  }
  return out;
}

// fp16 / bf16 weights and activations: every weight, the input and every layer's output except the logits rounded
// to the format (the logits stay fp32, as the int8 model's last layer writes fp32).
nn::Tensor4 float_format_forward(const nn::Sequential& model, const nn::Tensor4& x, qmath::float_format f) {
  nn::Sequential rounded = model;
  std::vector<float> q;
  for (nn::Layer& layer : rounded.layers()) {
    if (auto* c = std::get_if<nn::Conv2d>(&layer)) {
      q.resize(c->weight_count());
      qmath::float_format_roundtrip(c->weight().data(), q.size(), f, q.data());
      c->set_parameters(q.data(), nullptr);
    } else if (auto* l = std::get_if<nn::Linear>(&layer)) {
      q.resize(static_cast<std::size_t>(l->weight().size()));
      qmath::float_format_roundtrip(l->weight().data(), q.size(), f, q.data());
      l->set_parameters(q.data(), nullptr);
    }
  }
  nn::Tensor4 input = x;
  qmath::float_format_roundtrip(input.data(), static_cast<std::size_t>(input.size()), f, input.data());
  const std::size_t last = rounded.layers().size() - 1;
  return rounded.forward(input, [&](std::size_t i, nn::Tensor4& y) {
    if (i != last) qmath::float_format_roundtrip(y.data(), static_cast<std::size_t>(y.size()), f, y.data());
  });
}

template <class Run>
double best_ms_per_image(const Run& run, std::size_t images, int repeats) {
  double best = INFINITY;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / static_cast<double>(images));
  }
  return best;
}

const char* fp32_isa() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__x86_64__)
  return "SSE2";
#elif defined(__aarch64__)
  return "NEON";
#else
  return "baseline";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string realdata = "../shared/realdata";
  std::size_t images = 10000;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--images" && i + 1 < argc) {
      images = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [REALDATA_DIR] [--images N] [--repeats R]\n", argv[0]);
      return 2;
    } else {
      realdata = arg;
    }
  }
  try {
    const nn::Sequential model = mnist::load_model(realdata);
    const mnist::TestSet test = mnist::load_test_set(realdata);
    images = std::min(std::max<std::size_t>(images, 1000), test.count);
    const nn::Tensor4 x = test.batch(0, images);

    // fp32, against the float64 reference logits.
    const nn::Tensor4 fp32 = model.forward(x);
    const std::vector<float> reference =
        mnist::read_floats(realdata + "/mnist-cntk/ref_logits_t10k_input_div255.f32.bin", 10 * test.count);
    double worst = 0.0;
    for (std::size_t i = 0; i < images; ++i) {
      float row = 0.0f;
      for (std::size_t k = 0; k < 10; ++k) row = std::max(row, std::fabs(reference[10 * i + k]));
      for (std::size_t k = 0; k < 10; ++k)
        worst = std::max(worst, std::fabs(static_cast<double>(fp32.data()[10 * i + k]) - reference[10 * i + k]) / row);
    }
    std::printf("MNIST CNN (%s), %zu test images; calibration: images 0-999 in batches of 100\n", realdata.c_str(), images);
    std::printf("fp32 logits vs the float64 reference: largest difference %.2e of the row's largest logit\n\n", worst);
    std::printf("| %-40s | top-1    | agrees    | SQNR dB  | bytes  |\n", "scheme");
    std::printf("| %s | --- | --- | --- | --- |\n", std::string(40, '-').c_str());
    print_row("fp32", score(fp32, fp32, test), model.parameter_bytes());

    const nn::Sequential dynamic = nn::quantize_dynamic(model);
    print_row("dynamic int8 (Linear only)", score(dynamic.forward(x), fp32, test), dynamic.parameter_bytes());

    nn::QuantizedModel timed = nn::QuantizedModel({1.0f, 0}, {});
    for (bool per_channel : {false, true})
      for (nn::calibrator c : {nn::calibrator::minmax, nn::calibrator::moving_average, nn::calibrator::histogram_l2,
                               nn::calibrator::percentile, nn::calibrator::entropy, nn::calibrator::mse}) {
        nn::StaticQuantConfig config;
        config.activations = c;
        config.per_channel_weights = per_channel;
        config.mse_samples = 1u << 16;
        nn::PreparedModel prepared = nn::prepare(model, config);
        for (std::size_t b = 0; b < 10; ++b) prepared.calibrate(test.batch(100 * b, 100));
        const nn::QuantizedModel q = prepared.convert();
        print_row(std::string("static W8A8 ") + (per_channel ? "per-channel " : "per-tensor ") + nn::calibrator_name(c),
                  score(q.forward(x), fp32, test), q.parameter_bytes());
        if (per_channel && c == nn::calibrator::minmax) timed = q;
      }
    for (int bits : {4, 3})
      for (bool per_channel : {false, true}) {
        const nn::Sequential w = weight_only(model, bits, per_channel);
        const std::size_t bytes = (model.parameter_bytes() / 4 * static_cast<std::size_t>(bits) + 7) / 8;
        print_row("weight-only int" + std::to_string(bits) + (per_channel ? " per-channel" : " per-tensor") + " (sim.)",
                  score(w.forward(x), fp32, test), bytes);
      }
    print_row("fp16 weights + activations (sim.)", score(float_format_forward(model, x, qmath::float_format::f16), fp32, test),
              model.parameter_bytes() / 2);
    print_row("bf16 weights + activations (sim.)", score(float_format_forward(model, x, qmath::float_format::bf16), fp32, test),
              model.parameter_bytes() / 2);

    // Latency, one thread: fp32 Eigen (built for fp32_isa()) against the int8 model (run-time dispatched kernels).
    const qmath::GemmOptions one_thread{1, nullptr};
    std::printf("\nlatency per image, one thread, best of %d (fp32: Eigen built for %s; int8: qmath's %s kernels,"
                " static per-channel minmax):\n",
                repeats, fp32_isa(), qmath::isa_name(qmath::active_gemm_isa()));
    std::printf("| batch | fp32 ms | int8 ms | fp32 / int8 |\n| --- | --- | --- | --- |\n");
    for (std::size_t batch : {std::size_t{1}, std::size_t{64}}) {
      const std::size_t count = batch == 1 ? 200 : 640;
      std::vector<nn::Tensor4> batches;
      for (std::size_t at = 0; at < count; at += batch) batches.push_back(test.batch(at, batch));
      double sink = 0.0;
      const double f = best_ms_per_image([&] { for (const auto& b : batches) sink += model.forward(b).data()[0]; }, count, repeats);
      const double q = best_ms_per_image([&] { for (const auto& b : batches) sink += timed.forward(b, one_thread).data()[0]; },
                                         count, repeats);
      std::printf("| %5zu | %7.4f | %7.4f | %6.2fx |%s\n", batch, f, q, f / q, sink == 12345.678 ? " " : "");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_quantize: %s\n", e.what());
    return 1;
  }
  return 0;
}
