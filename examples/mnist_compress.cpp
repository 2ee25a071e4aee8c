// SPDX-License-Identifier: Apache-2.0
// examples/mnist_compress.cpp: the MNIST CNN of ../shared/realdata made smaller every way qmath/compress offers,
// with top-1, agreement with fp32, logit SQNR and the bytes each result really needs.
//
//   build/release/examples/mnist_compress ../shared/realdata [--images N] [--epochs E] [--lr RATE] [--chart FILE.svg]
//
// Fine-tuning uses images 0-4999 (E epochs, default 2, batches of 50, SGD lr 0.005 momentum 0.9, fp32 training
// with the pruning masks held; --lr changes the rate; --images N uses the first N images, half and half); every score is on images 5000-9999. Calibration (static int8) and the
// mixed-precision sensitivity use images 0-999.
//   pruning     magnitude per layer and global at 50 / 75 / 90 % (one-shot, and gradual over the first epoch with Zhu and
//               Gupta's cubic schedule then tuned), 2:4 along each layer's reduction axis (I*KH*KW for a conv),
//               and whole conv filters by L2 norm (25 / 50 % of each conv; the next layer's inputs from a removed
//               filter go too)
//   low rank    fc (10 x 256) and conv2 (16 x 200) by truncated SVD at several ranks, one-shot and tuned
//   mixed       per-layer weight widths from the sensitivity at 3, 4 and 6 bits per weight on average (exact
//               allocation), static W?A8 per channel, against uniform widths of the same size
//   combined    tuned pruning then static int8 ("deep compression" order)
// Bytes: weights stored as the cheapest of dense, bitmap + values and CSR (pruned), or N:M values + 2-bit positions
// (2:4); biases 4 bytes each; quantized layers add one fp32 scale per output channel. Structured pruning counts the
// smaller dense model that remains.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnist_cnn.hpp"
#include "qmath/compress/low_rank.hpp"
#include "qmath/compress/mixed_precision.hpp"
#include "qmath/compress/pruning.hpp"
#include "qmath/nn/qat.hpp"

namespace {

namespace nn = qmath::nn;
namespace compress = qmath::compress;
using Masks = std::vector<compress::Mask>;

// ---- weights as [out, rest] matrices ------------------------------------------------------------------------------

struct WeightView {
  std::vector<float> values;  // OIHW or [out, in]
  std::size_t rows = 0, cols = 0;
};

std::vector<WeightView> weight_views(const nn::Sequential& model) {
  std::vector<WeightView> out;
  nn::map_weight_layers(model, [&](std::size_t, nn::Layer& layer) {
    if (const auto* c = std::get_if<nn::Conv2d>(&layer)) {
      const auto rows = static_cast<std::size_t>(c->filter().out_channels);
      out.push_back({c->weight(), rows, c->weight_count() / rows});
    } else {
      const auto& l = std::get<nn::Linear>(layer);
      out.push_back({std::vector<float>(l.weight().data(), l.weight().data() + l.weight().size()),
                     static_cast<std::size_t>(l.out_features()), static_cast<std::size_t>(l.in_features())});
    }
  });
  return out;
}

nn::Sequential with_masks(const nn::Sequential& model, const Masks& masks, bool zero_dead_biases = false) {
  return nn::map_weight_layers(model, [&](std::size_t i, nn::Layer& layer) {
    auto apply = [&](const float* w, std::size_t n, std::size_t outputs, const float* bias, auto& target) {
      std::vector<float> values(w, w + n), b(bias, bias + outputs);
      compress::apply_mask(values.data(), n, masks[i]);
      if (zero_dead_biases)
        for (std::size_t o = 0; o < outputs; ++o)
          if (std::all_of(masks[i].begin() + static_cast<std::ptrdiff_t>(o * n / outputs),
                          masks[i].begin() + static_cast<std::ptrdiff_t>((o + 1) * n / outputs), [](std::uint8_t k) { return k == 0; }))
            b[o] = 0.0f;
      target.set_parameters(values.data(), b.data());
    };
    if (auto* c = std::get_if<nn::Conv2d>(&layer))
      apply(c->weight().data(), c->weight_count(), static_cast<std::size_t>(c->filter().out_channels), c->bias().data(), *c);
    else if (auto* l = std::get_if<nn::Linear>(&layer))
      apply(l->weight().data(), static_cast<std::size_t>(l->weight().size()), static_cast<std::size_t>(l->out_features()),
            l->bias().data(), *l);
  });
}

Masks magnitude_masks(const nn::Sequential& model, double sparsity) {
  Masks m;
  for (const WeightView& w : weight_views(model)) m.push_back(compress::magnitude_mask(w.values.data(), w.values.size(), sparsity));
  return m;
}

// One threshold for all layers: small layers of large weights (conv1) lose less.
Masks global_masks(const nn::Sequential& model, double sparsity) {
  const std::vector<WeightView> w = weight_views(model);
  std::vector<compress::WeightSpan> spans;
  for (const WeightView& v : w) spans.push_back({v.values.data(), v.values.size()});
  return compress::global_magnitude_masks(spans, sparsity);
}

Masks two_of_four_masks(const nn::Sequential& model) {
  Masks m;
  for (const WeightView& w : weight_views(model))
    m.push_back(compress::n_m_mask(w.values.data(), qmath::TensorShape{{static_cast<std::int64_t>(w.rows), static_cast<std::int64_t>(w.cols)}}, 1, 2, 4));
  return m;
}

// Whole filters of conv1 and conv2 by L2 norm; the inputs they fed (conv2's input channels, fc's CHW features) go too.
Masks filter_masks(const nn::Sequential& model, double fraction) {
  const std::vector<WeightView> w = weight_views(model);
  Masks m(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) m[i].assign(w[i].values.size(), 1);
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    const compress::Mask filters = compress::structured_mask(
        w[i].values.data(), qmath::TensorShape{{static_cast<std::int64_t>(w[i].rows), static_cast<std::int64_t>(w[i].cols)}},
        qmath::per_channel(0), fraction);
    for (std::size_t k = 0; k < filters.size(); ++k) m[i][k] = m[i][k] && filters[k];
    const std::size_t per_input = w[i + 1].cols / w[i].rows;  // 25 kernel taps for conv2, 16 pixels for fc
    for (std::size_t c = 0; c < w[i].rows; ++c) {
      if (filters[c * w[i].cols]) continue;
      for (std::size_t r = 0; r < w[i + 1].rows; ++r)
        for (std::size_t k = 0; k < per_input; ++k) m[i + 1][r * w[i + 1].cols + c * per_input + k] = 0;
    }
  }
  return m;
}

// ---- bytes --------------------------------------------------------------------------------------------------------

enum class storage { dense, sparse, two_of_four, shrunk };

// Weights at bits[i] (32: fp32) stored as `how`, biases 4 bytes each, one fp32 scale per output channel when
// quantized. The mask of a layer is where its weights are non-zero.
std::size_t stored_bytes(const nn::Sequential& model, const std::vector<int>& bits, storage how) {
  const std::vector<WeightView> w = weight_views(model);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    compress::Mask keep(w[i].values.size());
    for (std::size_t k = 0; k < keep.size(); ++k) keep[k] = w[i].values[k] != 0.0f;
    std::size_t channels = w[i].rows;
    if (how == storage::shrunk) {
      channels = 0;
      for (std::size_t r = 0; r < w[i].rows; ++r)
        channels += std::any_of(keep.begin() + static_cast<std::ptrdiff_t>(r * w[i].cols),
                                keep.begin() + static_cast<std::ptrdiff_t>((r + 1) * w[i].cols), [](std::uint8_t k) { return k != 0; });
    }
    const std::size_t kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{1}));
    switch (how) {
      case storage::dense: bytes += compress::storage_bytes(keep, w[i].rows, w[i].cols, bits[i], compress::sparse_format::dense); break;
      case storage::sparse: bytes += compress::best_storage(keep, w[i].rows, w[i].cols, bits[i]).first; break;
      case storage::two_of_four: bytes += compress::storage_bytes(keep, w[i].rows, w[i].cols, bits[i], compress::sparse_format::n_m, 4); break;
      case storage::shrunk: bytes += (kept * static_cast<std::size_t>(bits[i]) + 7) / 8; break;
    }
    bytes += 4 * channels * (bits[i] < 32 ? 2 : 1);
  }
  return bytes;
}

std::vector<int> all_bits(const nn::Sequential& model, int bits) { return std::vector<int>(nn::weight_layer_count(model), bits); }

// ---- evaluation ---------------------------------------------------------------------------------------------------

struct Result {
  std::string family, scheme;
  mnist::Scores scores;
  std::size_t bytes;
  bool tuned;
};

struct Bench {
  const mnist::TestSet& test;
  std::size_t half;
  nn::Tensor4 eval, eval_fp32;
  mnist::TestSet second;  // the evaluation half's labels first, for mnist::score
  std::vector<nn::Tensor4> calibration;
  int epochs;
  float learning_rate;
  std::vector<Result> results;

  // The first `images` test images: the first half tunes, the second half scores.
  Bench(const mnist::TestSet& t, std::size_t images, const nn::Sequential& model, int e, float lr)
      : test(t), half(images / 2), epochs(e), learning_rate(lr) {
    eval = test.batch(half, images - half);
    eval_fp32 = model.forward(eval);
    second = test;
    second.labels.erase(second.labels.begin(), second.labels.begin() + static_cast<std::ptrdiff_t>(half));
    second.labels.resize(images - half);
    for (std::size_t b = 0; b < 10; ++b) calibration.push_back(test.batch(100 * b, 100));
  }

  void report(const std::string& family, const std::string& scheme, const nn::Tensor4& logits, std::size_t bytes, bool tuned) {
    const mnist::Scores s = mnist::score(logits, eval_fp32, second);
    results.push_back({family, scheme, s, bytes, tuned});
    std::printf("| %-44s | %6.2f %% | %7.2f %% | %7.2f | %6zu |\n", scheme.c_str(), s.top1, s.agreement, s.sqnr_db, bytes);
  }

  // Static int8 (W bits A8, per channel, minmax) of an fp32 model.
  nn::QuantizedModel int8(const nn::Sequential& model, const std::vector<int>& bits) const {
    nn::StaticQuantConfig config;
    config.layer_weight_bits = bits;
    nn::PreparedModel prepared = nn::prepare(model, config);
    for (const nn::Tensor4& x : calibration) prepared.calibrate(x);
    return prepared.convert();
  }

  // fp32 fine-tuning on images 0-half with masks(current weights, step) set every 10 steps (nullptr: no masks).
  nn::Sequential tune(const nn::Sequential& model, const std::function<Masks(const nn::Sequential&, int)>& masks,
                      bool zero_dead_biases = false) const {
    nn::QatConfig config;
    config.fake_quantize = false;
    nn::QatModel trainee(model, config);
    int step = 0;
    for (int epoch = 0; epoch < epochs; ++epoch)
      for (std::size_t at = 0; at + 50 <= half; at += 50, ++step) {
        if (masks && step % 10 == 0 && step <= steps_per_epoch()) trainee.set_weight_masks(masks(trainee.fp32_model(), step), zero_dead_biases);
        const std::vector<int> labels(test.labels.begin() + static_cast<std::ptrdiff_t>(at),
                                      test.labels.begin() + static_cast<std::ptrdiff_t>(at + 50));
        trainee.backward(nn::softmax_cross_entropy(trainee.forward(test.batch(at, 50), true), labels).gradient);
        trainee.step({learning_rate, 0.9f});
      }
    return trainee.fp32_model();
  }

  int steps_per_epoch() const { return static_cast<int>(half / 50); }
  // The cubic ramp from 0 to `target` over the first epoch.
  double ramp(int step, double target) const { return compress::cubic_sparsity(step, 0, steps_per_epoch(), 0.0, target); }
};

void print_header(const char* title) {
  std::printf("\n%s\n| %-44s | top-1    | agrees    | SQNR dB | bytes  |\n| %s | --- | --- | --- | --- |\n", title, "scheme",
              std::string(44, '-').c_str());
}

// ---- chart --------------------------------------------------------------------------------------------------------

// Top-1 against bytes (log), one colour per family, hollow = one-shot, filled = tuned or calibrated; the line joins
// the Pareto front (no smaller result is as accurate). Points under the axis are drawn on it.
void write_chart(const std::string& path, const std::vector<Result>& results) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  const double w = 900, h = 470, left = 60, top = 40, pw = 560, ph = 360, y0 = 96.0, y1 = 99.8;
  const double bx0 = std::log10(1000.0), bx1 = std::log10(30000.0);
  auto px = [&](double bytes) { return left + (std::log10(bytes) - bx0) / (bx1 - bx0) * pw; };
  auto py = [&](double top1) { return top + ph - (std::min(std::max(top1, y0), y1) - y0) / (y1 - y0) * ph; };
  std::fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' font-family='sans-serif' font-size='11'>\n", w, h);
  std::fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  std::fprintf(f, "<text x='%g' y='20' font-size='13'>MNIST CNN compressed: top-1 on images 5000-9999 against bytes</text>\n", left);
  std::fprintf(f, "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#444'/>\n", left, top, pw, ph);
  for (double t = y0; t <= y1 + 1e-9; t += 0.5)
    std::fprintf(f, "<text x='%g' y='%g' text-anchor='end'>%.1f</text><line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#ddd'/>\n",
                 left - 4, py(t) + 4, t, left, left + pw, py(t), py(t));
  for (double bytes : {1000.0, 2000.0, 5000.0, 10000.0, 20000.0})
    std::fprintf(f, "<text x='%g' y='%g' text-anchor='middle'>%g</text><line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#eee'/>\n",
                 px(bytes), top + ph + 14, bytes, px(bytes), px(bytes), top, top + ph);
  std::fprintf(f, "<text x='%g' y='%g' text-anchor='middle'>bytes (log; weights, biases, scales)</text>\n", left + pw / 2, top + ph + 30);
  std::fprintf(f, "<text transform='translate(16 %g) rotate(-90)' text-anchor='middle'>top-1 %% (below %.0f drawn at %.0f)</text>\n",
               top + ph / 2, y0, y0);
  const std::vector<std::pair<std::string, const char*>> families = {
      {"fp32", "#000000"}, {"pruning", "#d62728"}, {"structured", "#ff7f0e"}, {"low rank", "#9467bd"},
      {"quantized", "#1f77b4"}, {"mixed", "#e377c2"}, {"pruned + int8", "#2ca02c"}};
  auto color = [&](const std::string& family) {
    for (const auto& p : families)
      if (p.first == family) return p.second;
    return "#7f7f7f";
  };
  std::vector<const Result*> sorted;
  for (const Result& r : results) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(), [](const Result* a, const Result* b) { return a->bytes < b->bytes; });
  // The front: each result more accurate than every smaller one; those in range are labelled.
  std::string front;
  double best = -1.0;
  for (const Result* r : sorted) {
    if (r->scores.top1 <= best) continue;
    best = r->scores.top1;
    if (r->scores.top1 < y0) continue;
    const double x = px(static_cast<double>(r->bytes)), y = py(r->scores.top1);
    front += (front.empty() ? "M" : " L") + std::to_string(x) + " " + std::to_string(y);
    std::fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' fill='#555'>%s</text>\n", x + 7, y + 12, r->scheme.c_str());
  }
  std::fprintf(f, "<path d='%s' fill='none' stroke='#999' stroke-dasharray='4 3'/>\n", front.c_str());
  // Mixed precision last and square: at whole widths it lands on the uniform result of the same size.
  for (int pass = 0; pass < 2; ++pass)
    for (const Result& r : results) {
      if ((r.family == "mixed") != (pass == 1)) continue;
      const char* c = color(r.family);
      const double x = px(static_cast<double>(r.bytes)), y = py(r.scores.top1);
      if (pass == 1)
        std::fprintf(f, "<rect x='%.1f' y='%.1f' width='7' height='7' fill='%s'><title>%s: %.2f %%, %zu bytes</title></rect>\n",
                     x - 3.5, y - 3.5, c, r.scheme.c_str(), r.scores.top1, r.bytes);
      else
        std::fprintf(f, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s' stroke='%s' stroke-width='1.5'><title>%s: %.2f %%, %zu bytes</title></circle>\n",
                     x, y, r.tuned ? c : "white", c, r.scheme.c_str(), r.scores.top1, r.bytes);
    }
  double ly = top + 10;
  for (const auto& p : families) {
    if (p.first == "mixed")
      std::fprintf(f, "<rect x='%g' y='%g' width='7' height='7' fill='%s'/>", left + pw + 21.5, ly - 3.5, p.second);
    else
      std::fprintf(f, "<circle cx='%g' cy='%g' r='4' fill='%s'/>", left + pw + 25, ly, p.second);
    std::fprintf(f, "<text x='%g' y='%g'>%s</text>\n", left + pw + 35, ly + 4, p.first.c_str());
    ly += 18;
  }
  std::fprintf(f, "<circle cx='%g' cy='%g' r='4' fill='white' stroke='#444' stroke-width='1.5'/><text x='%g' y='%g'>one-shot (no tuning)</text>\n",
               left + pw + 25, ly + 6, left + pw + 35, ly + 10);
  std::fprintf(f, "<line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#999' stroke-dasharray='4 3'/><text x='%g' y='%g'>Pareto front</text>\n",
               left + pw + 18, left + pw + 32, ly + 28, ly + 28, left + pw + 35, ly + 32);
  std::fprintf(f, "</svg>\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string realdata = "../shared/realdata", chart;
  int epochs = 2;
  float learning_rate = 0.005f;
  std::size_t images = 10000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--chart" && i + 1 < argc) {
      chart = argv[++i];
    } else if (arg == "--lr" && i + 1 < argc) {
      learning_rate = std::strtof(argv[++i], nullptr);
    } else if (arg == "--images" && i + 1 < argc) {
      images = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--epochs" && i + 1 < argc) {
      epochs = std::max(1, std::atoi(argv[++i]));
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [REALDATA_DIR] [--images N] [--epochs E] [--lr RATE] [--chart FILE.svg]\n", argv[0]);
      return 2;
    } else {
      realdata = arg;
    }
  }
  if (!std::ifstream(realdata + "/mnist-cntk/weights/fc.weight.bin").good()) {
    std::fprintf(stderr, "mnist_compress: %s/mnist-cntk is absent: pass the folder of the shared real data\n", realdata.c_str());
    return 77;  // "skipped" for ctest
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    const nn::Sequential model = mnist::load_model(realdata);
    const mnist::TestSet test = mnist::load_test_set(realdata);
    images = std::min(std::max<std::size_t>(images, 1000), test.count);
    Bench bench(test, images, model, epochs, learning_rate);
    std::printf("MNIST CNN (%s): scores on images %zu-%zu; tuning on 0-%zu (%d epochs, SGD lr %g momentum 0.9); calibration on 0-999\n",
                realdata.c_str(), bench.half, images - 1, bench.half - 1, epochs, static_cast<double>(learning_rate));
    print_header("baseline");
    bench.report("fp32", "fp32", bench.eval_fp32, stored_bytes(model, all_bits(model, 32), storage::dense), true);
    const std::vector<int> int8_bits = all_bits(model, 8);
    bench.report("quantized", "static int8 (W8A8 per-channel)", bench.int8(model, int8_bits).forward(bench.eval),
                 stored_bytes(model, int8_bits, storage::dense), true);

    print_header("pruning (fp32 values; one-shot, then gradual + tuned)");
    std::vector<std::pair<double, nn::Sequential>> tuned_pruned;
    for (double s : {0.5, 0.75, 0.9}) {
      const nn::Sequential once = with_masks(model, magnitude_masks(model, s));
      const std::string name = "per-layer magnitude " + std::to_string(static_cast<int>(s * 100)) + " %";
      bench.report("pruning", name + ", one-shot", once.forward(bench.eval), stored_bytes(once, all_bits(model, 32), storage::sparse), false);
      const nn::Sequential tuned = bench.tune(model, [&](const nn::Sequential& m, int step) { return magnitude_masks(m, bench.ramp(step, s)); });
      bench.report("pruning", name + ", gradual + tuned", tuned.forward(bench.eval), stored_bytes(tuned, all_bits(model, 32), storage::sparse), true);
    }
    for (double s : {0.5, 0.75, 0.9}) {
      const nn::Sequential once = with_masks(model, global_masks(model, s));
      const std::string name = "global magnitude " + std::to_string(static_cast<int>(s * 100)) + " %";
      bench.report("pruning", name + ", one-shot", once.forward(bench.eval), stored_bytes(once, all_bits(model, 32), storage::sparse), false);
      const nn::Sequential tuned = bench.tune(model, [&](const nn::Sequential& m, int step) { return global_masks(m, bench.ramp(step, s)); });
      bench.report("pruning", name + ", gradual + tuned", tuned.forward(bench.eval), stored_bytes(tuned, all_bits(model, 32), storage::sparse), true);
      tuned_pruned.emplace_back(s, tuned);
    }
    const Masks two_four = two_of_four_masks(model);
    const nn::Sequential n_m_once = with_masks(model, two_four);
    bench.report("pruning", "2:4, one-shot", n_m_once.forward(bench.eval), stored_bytes(n_m_once, all_bits(model, 32), storage::two_of_four), false);
    const nn::Sequential n_m_tuned = bench.tune(model, [&](const nn::Sequential& m, int) { return two_of_four_masks(m); });
    bench.report("pruning", "2:4, tuned", n_m_tuned.forward(bench.eval), stored_bytes(n_m_tuned, all_bits(model, 32), storage::two_of_four), true);
    for (double s : {0.25, 0.5}) {
      const nn::Sequential once = with_masks(model, filter_masks(model, s), true);
      const std::string name = "conv filters " + std::to_string(static_cast<int>(s * 100)) + " % (L2)";
      bench.report("structured", name + ", one-shot", once.forward(bench.eval), stored_bytes(once, all_bits(model, 32), storage::shrunk), false);
      const nn::Sequential tuned = bench.tune(model, [&](const nn::Sequential& m, int step) { return filter_masks(m, bench.ramp(step, s)); }, true);
      bench.report("structured", name + ", gradual + tuned", tuned.forward(bench.eval), stored_bytes(tuned, all_bits(model, 32), storage::shrunk), true);
    }

    print_header("low rank (truncated SVD; one-shot, then tuned)");
    // Layer indices in the Sequential: conv2 is 3, fc is 7 (conv2 splitting first moves fc to 8).
    const auto fc_weight = std::get<nn::Linear>(model.layers()[7]).weight();
    const Eigen::VectorXd fc_s = compress::singular_values(fc_weight);
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto& conv2 = std::get<nn::Conv2d>(model.layers()[3]);
    const Eigen::VectorXd conv2_s = compress::singular_values(Eigen::Map<const RowMatrix>(conv2.weight().data(), 16, 200));
    std::printf("(fc rank for 90 / 99 %% energy: %td / %td of 10; conv2: %td / %td of 16)\n", static_cast<std::ptrdiff_t>(compress::rank_for_energy(fc_s, 0.9)),
                static_cast<std::ptrdiff_t>(compress::rank_for_energy(fc_s, 0.99)), static_cast<std::ptrdiff_t>(compress::rank_for_energy(conv2_s, 0.9)),
                static_cast<std::ptrdiff_t>(compress::rank_for_energy(conv2_s, 0.99)));
    struct Split {
      const char* name;
      Eigen::Index conv2_rank, fc_rank;
    };
    for (const Split& sp : {Split{"fc rank 2", 0, 2}, Split{"fc rank 4", 0, 4}, Split{"fc rank 6", 0, 6}, Split{"conv2 rank 4", 4, 0},
                            Split{"conv2 rank 8", 8, 0}, Split{"conv2 rank 8 + fc rank 4", 8, 4}}) {
      nn::Sequential m = model;
      std::size_t fc_index = 7;
      if (sp.conv2_rank) {
        m = compress::low_rank_layer(m, 3, sp.conv2_rank);
        fc_index = 8;
      }
      if (sp.fc_rank) m = compress::low_rank_layer(m, fc_index, sp.fc_rank);
      bench.report("low rank", std::string(sp.name) + ", one-shot", m.forward(bench.eval), m.parameter_bytes(), false);
      const nn::Sequential tuned = bench.tune(m, nullptr);
      bench.report("low rank", std::string(sp.name) + ", tuned", tuned.forward(bench.eval), tuned.parameter_bytes(), true);
    }

    print_header("mixed precision (static W?A8 per channel; widths per layer conv1 / conv2 / fc)");
    const compress::Sensitivity sens = compress::layer_sensitivity(model, bench.calibration, {2, 3, 4, 5, 6, 8});
    std::printf("(sensitivity, logit SQNR in dB with only that layer quantized:");
    for (std::size_t l = 0; l < sens.options.size(); ++l) {
      std::printf(" %s", l == 0 ? "conv1" : l == 1 ? "; conv2" : "; fc");
      for (const compress::BitOption& o : sens.options[l]) std::printf(" %d:%.1f", o.bits, 10.0 * std::log10(sens.signal_power / o.error));
    }
    std::printf(")\n");
    for (double avg : {3.0, 3.5, 4.0, 5.0, 6.0}) {
      const compress::Allocation a = compress::allocate_optimal(sens.options, sens.budget_for_bits_per_weight(avg));
      const compress::Allocation g = compress::allocate_greedy(sens.options, sens.budget_for_bits_per_weight(avg));
      const compress::Allocation l = compress::allocate_lagrangian(sens.options, sens.budget_for_bits_per_weight(avg));
      const std::vector<int> recipe = sens.recipe(a);
      char name[96];
      std::snprintf(name, sizeof name, "mixed %g bits/weight: %d / %d / %d", avg, recipe[0], recipe[1], recipe[2]);
      bench.report("mixed", name, bench.int8(model, recipe).forward(bench.eval), stored_bytes(model, recipe, storage::dense), true);
      std::printf("(%g bits: predicted output noise, exact allocation %.3g, greedy %.3g, Lagrangian %.3g", avg, a.error, g.error, l.error);
      const int uniform = static_cast<int>(avg);
      if (static_cast<double>(uniform) != avg) {
        std::printf(")\n");
        continue;
      }
      std::printf(", uniform %.3g)\n", sens.uniform(uniform).error);
      bench.report("quantized", "uniform int" + std::to_string(uniform) + " (W" + std::to_string(uniform) + "A8)",
                   bench.int8(model, all_bits(model, uniform)).forward(bench.eval), stored_bytes(model, all_bits(model, uniform), storage::dense), true);
    }

    print_header("combined: tuned pruning, then static int8 per channel");
    for (const auto& [s, tuned] : tuned_pruned) {
      bench.report("pruned + int8", "global " + std::to_string(static_cast<int>(s * 100)) + " % + int8",
                   bench.int8(tuned, int8_bits).forward(bench.eval), stored_bytes(tuned, int8_bits, storage::sparse), true);
    }
    bench.report("pruned + int8", "2:4 + int8", bench.int8(n_m_tuned, int8_bits).forward(bench.eval),
                 stored_bytes(n_m_tuned, int8_bits, storage::two_of_four), true);
    bench.report("pruned + int8", "global 75 % + int4 (W4A8)", bench.int8(tuned_pruned[1].second, all_bits(model, 4)).forward(bench.eval),
                 stored_bytes(tuned_pruned[1].second, all_bits(model, 4), storage::sparse), true);
    std::printf("\n(SQNR: logits against the fp32 model's on the same images; %.0f s in all)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!chart.empty()) {
      write_chart(chart, bench.results);
      std::printf("chart: %s\n", chart.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_compress: %s\n", e.what());
    return 1;
  }
  return 0;
}
