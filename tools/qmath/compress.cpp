// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compress.cpp: `qmath compress MODEL.safetensors -o OUT.safetensors --recipe STEP[,STEP...]`: applies
// pruning, low rank and quantization (uniform or mixed precision) to every weight tensor (rank >= 2, seen as
// [dim 0, the rest]) and writes the weights the compressed model computes with (fp32, same names; other tensors
// are copied) and a report: per tensor what was done, the bytes it takes stored compressed, and its SQNR.
//
// Steps, applied in this order whatever order they are given in (at most one of each group):
//   prune=S | prune-global=S | nm=N:M | filters=S     magnitude per tensor / one threshold over all / N:M along the
//                                                     rows / whole rows (output channels) by L2 norm
//   rank=energy:F | rank=error:E | rank=params:P      truncated SVD (not with a prune step): energy kept, relative
//                                                     Frobenius error, or fraction of the parameters
//   int=B | mixed=B                                   symmetric per-row B-bit codes (2-8), or widths 2-8 per tensor
//                                                     allocated for B bits per weight on average (least squared
//                                                     error in all, exact allocation); low-rank factors are
//                                                     quantized rather than their product
// Bytes: fp32 or B-bit values, a bitmap (or CSR when smaller; N:M: log2(M) bits of position per value) for pruned
// tensors, the kept rows only for filters, both factors for low rank, plus one fp32 scale per quantized row.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "qmath/compress/low_rank.hpp"
#include "qmath/compress/mixed_precision.hpp"
#include "qmath/compress/pruning.hpp"
#include "qmath/io/safetensors.hpp"
#include "qmath/metrics.hpp"
#include "qmath/nn/static_layers.hpp"
#include "qmath/quant/fake_quant.hpp"
#include "text_table.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace {

namespace compress = qmath::compress;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Recipe {
  std::string prune;  // "", "prune", "prune-global", "nm", "filters"
  double sparsity = 0.0;
  int n = 0, m = 0;
  std::string rank_rule;  // "", "energy", "error", "params"
  double rank_value = 0.0;
  std::string quantize;  // "", "int", "mixed"
  double bits = 0.0;
  std::string text;
};

double parse_number(const std::string& text, const std::string& step) {
  std::size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(v)) throw cli_error("compress: bad number '" + text + "' in '" + step + "'");
  return v;
}

Recipe parse_recipe(const std::string& text) {
  Recipe r;
  r.text = text;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string step = text.substr(begin, comma - begin);
    begin = comma + 1;
    const std::size_t eq = step.find('=');
    if (step.empty() || eq == std::string::npos)
      throw cli_error("compress: bad recipe step '" + step + "' (expected NAME=VALUE; see `qmath compress --help`)");
    const std::string name = step.substr(0, eq), value = step.substr(eq + 1);
    const auto once = [&](std::string& slot, const std::string& kind, const char* group) {
      if (!slot.empty()) throw cli_error(std::string("compress: the recipe has two ") + group + " steps");
      slot = kind;
    };
    if (name == "prune" || name == "prune-global" || name == "filters") {
      once(r.prune, name, "pruning");
      r.sparsity = parse_number(value, step);
      if (!(r.sparsity >= 0.0 && r.sparsity <= 1.0)) throw cli_error("compress: sparsity must be in [0, 1] in '" + step + "'");
    } else if (name == "nm") {
      once(r.prune, name, "pruning");
      const std::size_t colon = value.find(':');
      if (colon == std::string::npos) throw cli_error("compress: '" + step + "' needs N:M");
      r.n = static_cast<int>(parse_number(value.substr(0, colon), step));
      r.m = static_cast<int>(parse_number(value.substr(colon + 1), step));
      if (r.m < 1 || r.m > 64 || r.n < 0 || r.n > r.m) throw cli_error("compress: '" + step + "' needs 0 <= N <= M <= 64");
    } else if (name == "rank") {
      const std::size_t colon = value.find(':');
      const std::string rule = value.substr(0, colon);
      if (colon == std::string::npos || (rule != "energy" && rule != "error" && rule != "params"))
        throw cli_error("compress: '" + step + "' must be rank=energy:F, rank=error:E or rank=params:P");
      once(r.rank_rule, rule, "rank");
      r.rank_value = parse_number(value.substr(colon + 1), step);
      if (r.rank_value < 0.0 || (rule != "error" && r.rank_value > 1.0))
        throw cli_error("compress: '" + step + "': the value must be in [0, 1] (error: >= 0)");
    } else if (name == "int" || name == "mixed") {
      once(r.quantize, name, "quantization");
      r.bits = parse_number(value, step);
      if (r.bits < 2.0 || r.bits > 8.0 || (name == "int" && r.bits != std::floor(r.bits)))
        throw cli_error("compress: '" + step + "': bits must be " + (name == "int" ? "an integer " : "") + "in [2, 8]");
    } else {
      throw cli_error("compress: unknown recipe step '" + name + "' (prune, prune-global, nm, filters, rank, int, mixed)");
    }
    if (comma == text.size()) break;
  }
  if (!r.prune.empty() && !r.rank_rule.empty()) throw cli_error("compress: a recipe prunes or factors a tensor, not both");
  return r;
}

/// One weight tensor on its way through the recipe.
struct Weight {
  std::size_t index = 0;  // in the file
  std::string name;
  std::vector<std::int64_t> shape;
  std::size_t rows = 0, cols = 0;
  std::vector<float> original, values;  // values: what the compressed tensor computes with
  compress::Mask keep;                  // after pruning (empty: dense)
  RowMatrix left, right;                // after low rank
  Eigen::Index rank = 0;
  int bits = 32;
  std::size_t bytes = 0;
  std::string done;
};

std::vector<float> quantized_rows(const float* x, std::size_t rows, std::size_t cols, int bits) {
  const qmath::QParams<std::int8_t> p = qmath::nn::symmetric_weight_qparams(x, rows * cols, static_cast<std::ptrdiff_t>(rows), true, bits);
  std::vector<float> back(rows * cols);
  qmath::fake_quantize(x, qmath::TensorShape{{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}}, 0, p.scale,
                       p.zero_point, p.qmin, p.qmax, back.data());
  return back;
}

// Applies `bits` to a weight after its pruning / low rank, and sets its stored bytes.
void finish(Weight& w, const Recipe& r, int bits) {
  w.bits = bits;
  const bool quantized = bits < 32;
  if (w.rank > 0) {
    if (quantized) {
      const std::vector<float> l = quantized_rows(w.left.data(), w.rows, static_cast<std::size_t>(w.rank), bits);
      const std::vector<float> rr = quantized_rows(w.right.data(), static_cast<std::size_t>(w.rank), w.cols, bits);
      w.left = Eigen::Map<const RowMatrix>(l.data(), w.left.rows(), w.left.cols());
      w.right = Eigen::Map<const RowMatrix>(rr.data(), w.right.rows(), w.right.cols());
    }
    const RowMatrix product = w.left * w.right;
    w.values.assign(product.data(), product.data() + product.size());
    w.bytes = (static_cast<std::size_t>(w.left.size() + w.right.size()) * static_cast<std::size_t>(bits) + 7) / 8 +
              (quantized ? 4 * (w.rows + static_cast<std::size_t>(w.rank)) : 0);
    return;
  }
  if (quantized) w.values = quantized_rows(w.values.data(), w.rows, w.cols, bits);  // zeros stay zero
  const std::size_t scales = quantized ? 4 * w.rows : 0;
  if (w.keep.empty()) {
    w.bytes = (w.values.size() * static_cast<std::size_t>(bits) + 7) / 8 + scales;
  } else if (r.prune == "nm") {
    w.bytes = compress::storage_bytes(w.keep, w.rows, w.cols, bits, compress::sparse_format::n_m, r.m) + scales;
  } else if (r.prune == "filters") {
    std::size_t kept_rows = 0;
    for (std::size_t i = 0; i < w.rows; ++i) kept_rows += w.keep[i * w.cols] ? 1 : 0;
    w.bytes = (kept_rows * w.cols * static_cast<std::size_t>(bits) + 7) / 8 + (quantized ? 4 * kept_rows : 0);
  } else {
    w.bytes = compress::best_storage(w.keep, w.rows, w.cols, bits).first + scales;
  }
}

double weight_error(const Weight& w) {
  double e = 0.0;
  for (std::size_t i = 0; i < w.values.size(); ++i) e += std::pow(static_cast<double>(w.values[i]) - w.original[i], 2.0);
  return e;
}

struct CompressOptions {
  std::string in_path, out_path, recipe, report = "table", chart;
};

void write_chart(const std::string& path, const std::vector<Weight>& weights, const std::vector<qmath::ErrorStats>& errors,
                 const std::string& title) {
  const double left = 230, top = 50, bar_w = 420, row_h = 14;
  const double height = top + row_h * static_cast<double>(weights.size()) + 50;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw cli_error("compress: cannot open '" + path + "' for the chart");
  std::fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"10\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", left + bar_w + 200, height);
  std::fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"13\">qmath compress %s: SQNR per tensor (bar, 0-60 dB) and stored size</text>\n",
               title.c_str());
  std::fprintf(f, "<text x=\"%.0f\" y=\"38\" fill=\"#555\">bytes compressed / fp32 bytes on the right</text>\n", left);
  for (double db = 0; db <= 60; db += 10)
    std::fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                    "text-anchor=\"middle\">%.0f</text>\n",
                 left + bar_w * db / 60, left + bar_w * db / 60, top - 4, height - 40, left + bar_w * db / 60, height - 28, db);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double y = top + row_h * static_cast<double>(i);
    const double db = errors[i].sqnr_db;
    const double w = bar_w * std::min(std::max(std::isfinite(db) ? db : 60.0, 0.0), 60.0) / 60.0;
    std::string name = weights[i].name;
    if (name.size() > 36) name = "~" + name.substr(name.size() - 35);
    std::fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"#1f77b4\"/><text x=\"%.1f\" y=\"%.1f\">%s dB, %.3f</text>\n",
                 left - 6, y + 10, name.c_str(), left, y + 2, w, row_h - 4, left + bar_w + 8, y + 10,
                 std::isfinite(db) ? format("%.1f", db).c_str() : "inf",
                 static_cast<double>(weights[i].bytes) / (4.0 * static_cast<double>(weights[i].original.size())));
  }
  std::fprintf(f, "</svg>\n");
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) throw cli_error("compress: writing '" + path + "' failed");
}

void run_compress(const CompressOptions& o) {
  const Recipe recipe = parse_recipe(o.recipe);
  check_readable_file(o.in_path, "compress: the input");
  std::vector<std::pair<std::string, std::string>> outputs_named = {{"-o", o.out_path}};
  if (!o.chart.empty()) outputs_named.emplace_back("--chart", o.chart);
  check_outputs({{"input", o.in_path}}, outputs_named);
  const qmath::SafetensorsFile file = qmath::read_safetensors(o.in_path);

  std::vector<Weight> weights;
  for (std::size_t i = 0; i < file.tensors.size(); ++i) {
    const qmath::SafetensorsTensor& t = file.tensors[i];
    if (t.shape.size() < 2 || t.numel() == 0) continue;
    Weight w;
    w.index = i;
    w.name = t.name;
    w.shape = t.shape;
    w.original = t.to_float();
    for (float v : w.original)
      if (!std::isfinite(v)) throw cli_error("compress: tensor '" + t.name + "' holds NaN or +-Inf");
    w.rows = static_cast<std::size_t>(t.shape[0]);
    w.cols = w.original.size() / w.rows;
    w.values = w.original;
    weights.push_back(std::move(w));
  }
  if (weights.empty()) throw cli_error("compress: '" + o.in_path + "' has no tensor of rank >= 2 to compress");

  // Pruning.
  std::vector<compress::Mask> masks;
  if (recipe.prune == "prune-global") {
    std::vector<compress::WeightSpan> spans;
    for (const Weight& w : weights) spans.push_back({w.original.data(), w.original.size()});
    masks = compress::global_magnitude_masks(spans, recipe.sparsity);
  }
  for (std::size_t k = 0; k < weights.size(); ++k) {
    Weight& w = weights[k];
    const qmath::TensorShape matrix{{static_cast<std::int64_t>(w.rows), static_cast<std::int64_t>(w.cols)}};
    if (recipe.prune == "prune") w.keep = compress::magnitude_mask(w.original.data(), w.original.size(), recipe.sparsity);
    else if (recipe.prune == "prune-global") w.keep = masks[k];
    else if (recipe.prune == "nm") w.keep = compress::n_m_mask(w.original.data(), matrix, 1, recipe.n, recipe.m);
    else if (recipe.prune == "filters") w.keep = compress::structured_mask(w.original.data(), matrix, qmath::per_channel(0), recipe.sparsity);
    if (!w.keep.empty()) {
      compress::apply_mask(w.values.data(), w.values.size(), w.keep);
      w.done = format("%.1f %% pruned", 100.0 * compress::sparsity_of(w.keep));
    }
    // Low rank.
    if (!recipe.rank_rule.empty()) {
      const Eigen::Map<const RowMatrix> m(w.original.data(), static_cast<Eigen::Index>(w.rows), static_cast<Eigen::Index>(w.cols));
      const Eigen::VectorXd s = compress::singular_values(m);
      if (recipe.rank_rule == "energy") w.rank = compress::rank_for_energy(s, recipe.rank_value);
      else if (recipe.rank_rule == "error") w.rank = compress::rank_for_error(s, recipe.rank_value);
      else
        w.rank = std::max<Eigen::Index>(1, compress::rank_for_budget(static_cast<Eigen::Index>(w.rows), static_cast<Eigen::Index>(w.cols),
                                                                     static_cast<std::size_t>(recipe.rank_value * static_cast<double>(w.original.size()))));
      const compress::LowRank f = compress::truncated_svd(m, w.rank);
      w.left = f.left;
      w.right = f.right;
      w.done = format("rank %td of %td", static_cast<std::ptrdiff_t>(w.rank), static_cast<std::ptrdiff_t>(s.size()));
    }
  }
  // Quantization.
  if (recipe.quantize == "mixed") {
    // Each tensor's options: its pruned / factored form at each width, error = squared error against the original.
    const std::vector<int> widths = {2, 3, 4, 5, 6, 8};
    std::vector<std::vector<compress::BitOption>> options(weights.size());
    double budget = 0.0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
      for (int bits : widths) {
        Weight trial = weights[k];
        finish(trial, recipe, bits);
        options[k].push_back({bits, static_cast<double>(trial.bytes), weight_error(trial)});
      }
      // This tensor's share of the budget: what uniform codes at the average width would take, scales included.
      const double b2 = options[k][0].bytes, b3 = options[k][1].bytes;
      budget += b2 + (b3 - b2) * (recipe.bits - 2.0);
    }
    const compress::Allocation a = compress::allocate_optimal(options, budget);
    for (std::size_t k = 0; k < weights.size(); ++k) finish(weights[k], recipe, widths[a.choice[k]]);
  } else {
    for (Weight& w : weights) finish(w, recipe, recipe.quantize == "int" ? static_cast<int>(recipe.bits) : 32);
  }

  // Output: the file with the compressed weights in place (fp32), everything else as it was.
  std::vector<qmath::SafetensorsTensor> tensors = file.tensors;
  for (const Weight& w : weights) {
    qmath::SafetensorsTensor& t = tensors[w.index];
    t.dtype = "F32";
    t.data.resize(w.values.size() * sizeof(float));
    std::memcpy(t.data.data(), w.values.data(), t.data.size());
  }
  std::map<std::string, std::string> metadata = file.metadata;
  metadata["qmath.compress.recipe"] = recipe.text;
  Outputs outputs;
  outputs.write(o.out_path, [&](const std::string& temporary) { qmath::write_safetensors(temporary, tensors, metadata); });

  std::vector<qmath::ErrorStats> errors;
  double original_bytes = 0.0, stored_bytes = 0.0;
  for (const Weight& w : weights) {
    qmath::ErrorAccumulator acc;
    for (std::size_t i = 0; i < w.values.size(); ++i) acc.add(w.original[i], w.values[i]);
    errors.push_back(acc.stats());
    original_bytes += 4.0 * static_cast<double>(w.original.size());
    stored_bytes += static_cast<double>(w.bytes);
  }
  const qmath::ErrorStats total = qmath::pool_error_stats(errors);
  if (!o.chart.empty())
    outputs.write(o.chart, [&](const std::string& temporary) { write_chart(temporary, weights, errors, recipe.text); });
  outputs.commit();

  if (o.report == "json") {
    nlohmann::ordered_json j;
    j["input"] = o.in_path;
    j["output"] = o.out_path;
    j["recipe"] = recipe.text;
    j["tensors"] = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < weights.size(); ++k) {
      const Weight& w = weights[k];
      j["tensors"].push_back({{"name", w.name}, {"shape", w.shape}, {"done", w.done}, {"bits", w.bits},
                              {"fp32_bytes", 4 * w.original.size()}, {"bytes", w.bytes},
                              {"sqnr_db", std::isfinite(errors[k].sqnr_db) ? nlohmann::json(errors[k].sqnr_db) : nlohmann::json(nullptr)}});
    }
    j["fp32_bytes"] = original_bytes;
    j["bytes"] = stored_bytes;
    j["sqnr_db"] = std::isfinite(total.sqnr_db) ? nlohmann::json(total.sqnr_db) : nlohmann::json(nullptr);
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    using align = TextTable::align;
    TextTable table({{"tensor", align::left}, {"shape", align::left}, {"done", align::left}, {"bits", align::right},
                     {"fp32 bytes", align::right}, {"bytes", align::right}, {"SQNR dB", align::right}});
    for (std::size_t k = 0; k < weights.size(); ++k) {
      const Weight& w = weights[k];
      table.add_row({w.name, shape_text(w.shape), w.done.empty() ? "-" : w.done, std::to_string(w.bits),
                     std::to_string(4 * w.original.size()), std::to_string(w.bytes),
                     std::isfinite(errors[k].sqnr_db) ? format("%.2f", errors[k].sqnr_db) : "inf"});
    }
    std::printf("qmath compress %s --recipe %s: %zu weight tensor(s); wrote %s\n", o.in_path.c_str(), recipe.text.c_str(),
                weights.size(), o.out_path.c_str());
    table.print(stdout);
    std::printf("total: %.0f bytes of %.0f (%.2f bits per weight, %.1fx smaller), SQNR %.2f dB over all weights\n", stored_bytes,
                original_bytes, 8.0 * stored_bytes / (original_bytes / 4.0), original_bytes / stored_bytes, total.sqnr_db);
  }
}

}  // namespace

void add_compress(CLI::App& app, RunState&) {
  auto o = std::make_shared<CompressOptions>();
  CLI::App* sub = app.add_subcommand("compress", "prune, factor and quantize the weights of a .safetensors file; report bytes and SQNR");
  sub->add_option("MODEL", o->in_path, ".safetensors file; tensors of rank >= 2 are compressed, seen as [dim 0, the rest]")->required();
  sub->add_option("-o,--output", o->out_path, "the compressed weights (fp32, same names), other tensors copied")->required();
  sub->add_option("--recipe", o->recipe,
                  "STEP[,STEP...]: prune=S | prune-global=S | nm=N:M | filters=S; rank=energy:F | rank=error:E | "
                  "rank=params:P; int=B | mixed=B (e.g. prune=0.5,int=8 or rank=energy:0.9 or mixed=4)")
      ->required();
  sub->add_option("--report", o->report, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  sub->add_option("--chart", o->chart, "an SVG of SQNR and size per tensor");
  sub->callback([o] { run_compress(*o); });
}

}  // namespace qmath_tool
