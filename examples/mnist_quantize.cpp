// SPDX-License-Identifier: Apache-2.0
// examples/mnist_quantize.cpp: a trained MNIST CNN quantized every way qmath offers, on the 10,000 test images.
//
//   build/release/examples/mnist_quantize ../shared/realdata [--images N] [--repeats R] [--no-qat] [--chart F.svg]
//
// Loads the ONNX model zoo's MNIST CNN (../shared/realdata/mnist-cntk) into an nn::Sequential, checks the fp32
// forward pass against the stored float64 reference logits, then for each scheme prints top-1, agreement with fp32,
// logit SQNR against fp32 and parameter bytes:
//   dynamic int8 (torch's quantize_dynamic: the Linear only), static int8 (prepare / calibrate on images 0-999 /
//   convert) with per-tensor or per-channel weights and each calibrator, weight-only int4 / int3 (fake-quantized
//   weights, fp32 activations: a simulation), fp16 and bf16 weights and activations (simulation).
// Then the latency per image of the fp32 model and of the int8 model at batch 1 and 64 (one thread, best of R).
// Then quantization-aware training at 4, 3 and 2 weight bits (per channel, uint8 activations): fine-tuned on images
// 0-4999 (2 epochs, batches of 50, SGD lr 0.001 momentum 0.9), with plain cross-entropy, with distillation from
// the fp32 model (T = 4, alpha = 0.5) and with distillation and LSQ learned scales, evaluated on images 5000-9999
// after convert() against PTQ on the same split.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnist_cnn.hpp"
#include "qmath/metrics.hpp"
#include "qmath/nn/qat.hpp"
#include "qmath/quant/fake_quant.hpp"

namespace {

namespace nn = qmath::nn;

using mnist::Scores;
using mnist::score;

struct Row {
  std::string scheme;
  Scores scores;
  std::size_t bytes;
};
std::vector<Row> rows;  // for the chart

void print_row(const std::string& scheme, const Scores& s, std::size_t bytes) {
  std::printf("| %-40s | %6.2f %% | %7.2f %% | %8.2f | %6zu |\n", scheme.c_str(), s.top1, s.agreement, s.sqnr_db, bytes);
  rows.push_back({scheme, s, bytes});
}

struct QatRow {
  int bits;
  double ptq, qat, distilled, lsq;  // top-1 on the evaluation half
};

// Left: logit SQNR against parameter bytes per scheme (log x); right: top-1 of PTQ / QAT / QAT + distillation per
// weight width. Plain SVG so that the example needs nothing beyond the library.
void write_chart(const std::string& path, const std::vector<QatRow>& qat) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  const double w = 1010, h = 420, left = 70, top = 40, pw = 400, ph = 300;
  std::fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' font-family='sans-serif' font-size='11'>\n", w, h);
  std::fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  // Panel 1.
  const double bx0 = std::log10(2000.0), bx1 = std::log10(30000.0), y1 = 80.0;
  auto px = [&](double bytes) { return left + (std::log10(bytes) - bx0) / (bx1 - bx0) * pw; };
  auto py = [&](double db) { return top + ph - std::min(std::max(db, 0.0), y1) / y1 * ph; };
  std::fprintf(f, "<text x='%g' y='20' font-size='13'>MNIST CNN: logit SQNR vs fp32 against parameter bytes</text>\n", left);
  std::fprintf(f, "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#444'/>\n", left, top, pw, ph);
  for (double db = 0; db <= y1; db += 20)
    std::fprintf(f, "<text x='%g' y='%g' text-anchor='end'>%g</text><line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#ddd'/>\n",
                 left - 4, py(db) + 4, db, left, left + pw, py(db), py(db));
  for (double bytes : {2000.0, 5000.0, 10000.0, 20000.0})
    std::fprintf(f, "<text x='%g' y='%g' text-anchor='middle'>%g</text>\n", px(bytes), top + ph + 14, bytes);
  std::fprintf(f, "<text x='%g' y='%g' text-anchor='middle'>parameter bytes (log)</text>\n", left + pw / 2, top + ph + 30);
  std::fprintf(f, "<text transform='translate(16 %g) rotate(-90)' text-anchor='middle'>logit SQNR, dB (fp32: inf)</text>\n", top + ph / 2);
  struct Label {
    double x, y;
    std::string text;
  };
  std::vector<Label> labels;
  for (const Row& r : rows) {
    if (!std::isfinite(r.scores.sqnr_db)) continue;
    const bool interesting = r.scheme.find("minmax") != std::string::npos || r.scheme.find("static") == std::string::npos;
    const char* color = r.scheme.find("static") != std::string::npos ? "#1f77b4"
                        : r.scheme.find("weight-only") != std::string::npos ? "#d62728" : "#2ca02c";
    const double x = px(static_cast<double>(r.bytes)), y = py(r.scores.sqnr_db);
    std::fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3.5' fill='%s'/>\n", x, y, color);
    if (interesting) labels.push_back({x, y, r.scheme});
  }
  // Top to bottom, each label moved down until it overlaps none placed before (keeps their vertical order).
  std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) { return a.y < b.y; });
  struct Box {
    double x0, x1, y;
  };
  std::vector<Box> placed;
  for (const Label& l : labels) {
    const bool left_side = l.x > left + 0.55 * pw;  // labels of right-hand points end at the point
    const double width = 6.2 * static_cast<double>(l.text.size());
    Box b{left_side ? l.x - 5 - width : l.x + 5, left_side ? l.x - 5 : l.x + 5 + width, l.y + 4};
    for (bool moved = true; moved;) {
      moved = false;
      for (const Box& o : placed)
        if (b.x0 < o.x1 && o.x0 < b.x1 && std::fabs(b.y - o.y) < 12) {
          b.y = o.y + 12;
          moved = true;
        }
    }
    placed.push_back(b);
    std::fprintf(f, "<text x='%.1f' y='%.1f'%s>%s</text>\n", left_side ? b.x1 : b.x0, b.y,
                 left_side ? " text-anchor='end'" : "", l.text.c_str());
  }
  // Panel 2.
  const double l2 = left + pw + 90, y0 = 90.0;
  auto qy = [&](double top1) { return top + ph - (std::min(std::max(top1, y0), 100.0) - y0) / (100.0 - y0) * ph; };
  std::fprintf(f, "<text x='%g' y='20' font-size='13'>top-1 on images 5000-9999: PTQ against QAT variants</text>\n", l2);
  std::fprintf(f, "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#444'/>\n", l2, top, pw, ph);
  for (double t = y0; t <= 100.0; t += 2)
    std::fprintf(f, "<text x='%g' y='%g' text-anchor='end'>%g</text><line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#ddd'/>\n",
                 l2 - 4, qy(t) + 4, t, l2, l2 + pw, qy(t), qy(t));
  const char* colors[4] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd"};
  const char* names[4] = {"PTQ", "QAT", "+ distillation", "+ distillation + LSQ"};
  for (std::size_t g = 0; g < qat.size(); ++g) {
    const double gx = l2 + 20 + static_cast<double>(g) * (pw - 20) / static_cast<double>(qat.size());
    const double values[4] = {qat[g].ptq, qat[g].qat, qat[g].distilled, qat[g].lsq};
    for (int k = 0; k < 4; ++k)
      std::fprintf(f, "<rect x='%.1f' y='%.1f' width='27' height='%.1f' fill='%s'/><text x='%.1f' y='%.1f' text-anchor='middle' font-size='8'>%.2f</text>\n",
                   gx + k * 28, qy(values[k]), top + ph - qy(values[k]), colors[k], gx + k * 28 + 13.5, qy(values[k]) - 3, values[k]);
    std::fprintf(f, "<text x='%.1f' y='%g' text-anchor='middle'>W%dA8</text>\n", gx + 56, top + ph + 14, qat[g].bits);
  }
  for (int k = 0; k < 4; ++k)
    std::fprintf(f, "<rect x='%g' y='%g' width='10' height='10' fill='%s'/><text x='%g' y='%g'>%s</text>\n", l2 + k * 95.0,
                 top + ph + 28, colors[k], l2 + 14 + k * 95.0, top + ph + 37, names[k]);
  std::fprintf(f, "<text x='%g' y='%g' fill='#666'>blue: static int8 (all calibrators), red: weight-only int4 / int3, green: others</text>\n",
               left, h - 12);
  std::fprintf(f, "</svg>\n");
  std::fclose(f);
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
  bool qat = true;
  std::string chart;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-qat") {
      qat = false;
    } else if (arg == "--chart" && i + 1 < argc) {
      chart = argv[++i];
    } else if (arg == "--images" && i + 1 < argc) {
      images = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [REALDATA_DIR] [--images N] [--repeats R] [--no-qat] [--chart FILE.svg]\n", argv[0]);
      return 2;
    } else {
      realdata = arg;
    }
  }
  if (!std::ifstream(realdata + "/mnist-cntk/weights/fc.weight.bin").good()) {
    std::fprintf(stderr, "mnist_quantize: %s/mnist-cntk is absent: pass the folder of the shared real data\n", realdata.c_str());
    return 77;  // "skipped" for ctest
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

    std::vector<QatRow> qat_rows;
    if (qat) {
      // QAT: tune on 0-4999, evaluate on 5000-9999 (needs the whole test set).
      const std::size_t half = test.count / 2;
      const nn::Tensor4 eval = test.batch(half, test.count - half);
      const nn::Tensor4 eval_fp32 = model.forward(eval);
      mnist::TestSet second = test;  // labels of the evaluation half first, for score()
      second.labels.erase(second.labels.begin(), second.labels.begin() + static_cast<std::ptrdiff_t>(half));
      std::printf("\nquantization-aware training: tuned on images 0-%zu, evaluated on %zu-%zu (int8 after convert)\n",
                  half - 1, half, test.count - 1);
      std::printf("| %-50s | top-1    | agrees    | SQNR dB  | int8 = simulation |\n", "scheme");
      std::printf("| %s | --- | --- | --- | --- |\n", std::string(50, '-').c_str());
      const Scores base = score(eval_fp32, eval_fp32, second);
      std::printf("| %-50s | %6.2f %% | %7.2f %% | %8s | %17s |\n", "fp32", base.top1, base.agreement, "inf", "");
      for (int bits : {4, 3, 2}) {
        nn::StaticQuantConfig config;
        config.weight_bits = bits;
        nn::PreparedModel prepared = nn::prepare(model, config);
        for (std::size_t b = 0; b < 10; ++b) prepared.calibrate(test.batch(100 * b, 100));
        const Scores ptq = score(prepared.convert().forward(eval), eval_fp32, second);
        qat_rows.push_back({bits, ptq.top1, 0.0, 0.0, 0.0});
        std::printf("| %-50s | %6.2f %% | %7.2f %% | %8.2f | %17s |\n",
                    ("PTQ W" + std::to_string(bits) + "A8 per-channel minmax").c_str(), ptq.top1, ptq.agreement, ptq.sqnr_db, "");
        for (int variant = 0; variant < 3; ++variant) {  // plain, + distillation, + distillation + LSQ
          const bool distill = variant > 0;
          nn::QatConfig qc;
          qc.weight_bits = bits;
          qc.learnable_scales = variant == 2;
          nn::QatModel trainee(model, qc);
          const auto start = std::chrono::steady_clock::now();
          for (int epoch = 0; epoch < 2; ++epoch)
            for (std::size_t at = 0; at + 50 <= half; at += 50) {
              const nn::Tensor4 batch = test.batch(at, 50);
              const std::vector<int> labels(test.labels.begin() + static_cast<std::ptrdiff_t>(at),
                                            test.labels.begin() + static_cast<std::ptrdiff_t>(at + 50));
              const nn::Tensor4 logits = trainee.forward(batch, true);
              const nn::LossResult loss = distill ? nn::distillation_loss(logits, model.forward(batch), labels, 4.0f, 0.5f)
                                                  : nn::softmax_cross_entropy(logits, labels);
              trainee.backward(loss.gradient);
              trainee.step({0.001f, 0.9f});
            }
          const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const nn::Tensor4 simulated = trainee.forward(eval, false);
          const nn::Tensor4 int8 = trainee.convert().forward(eval);
          const Scores q = score(int8, eval_fp32, second);
          const Scores same = score(int8, simulated, second);
          char label[64];
          std::snprintf(label, sizeof label, "QAT W%dA8 per-channel%s (%.1f s)", bits,
                        variant == 0 ? "" : variant == 1 ? " + distillation" : " + distillation + LSQ", seconds);
          (variant == 0 ? qat_rows.back().qat : variant == 1 ? qat_rows.back().distilled : qat_rows.back().lsq) = q.top1;
          std::printf("| %-50s | %6.2f %% | %7.2f %% | %8.2f | %6.2f %% / %4.1f dB |\n", label, q.top1, q.agreement, q.sqnr_db,
                      same.agreement, same.sqnr_db);
        }
      }
      std::printf("(int8 = simulation: top-1 agreement and logit SQNR of the converted int8 model against the QAT model's"
                  " own fake-quantized forward)\n");
    }
    if (!chart.empty()) {
      write_chart(chart, qat_rows);
      std::printf("chart: %s\n", chart.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_quantize: %s\n", e.what());
    return 1;
  }
  return 0;
}
