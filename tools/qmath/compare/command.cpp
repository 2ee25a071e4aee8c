// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/command.cpp: the `qmath compare` subcommand: options, the run over tensors and methods, what
// is printed (per workload, per tensor, or pooled per file, with the mixed-precision rows) and the chart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "compare/compare.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace compare {
namespace {

struct CompareOptions {
  std::vector<std::string> files;
  std::string output = "table", chart, size;
  int axis = 0, group_axis = -1;
  bool per_tensor = false, include_vectors = false, no_timing = false, no_compression = false;
};

// "ROWSxCOLS" for the built-in workloads.
std::pair<std::size_t, std::size_t> parse_size(const std::string& size) {
  const std::size_t x = size.find('x');
  long long r = 0, c = 0;
  std::size_t used_r = 0, used_c = 0;
  try {
    if (x != std::string::npos) {
      r = std::stoll(size.substr(0, x), &used_r);
      c = std::stoll(size.substr(x + 1), &used_c);
    }
  } catch (const std::exception&) {
    used_r = 0;
  }
  if (x == std::string::npos || used_r != x || used_c != size.size() - x - 1 || r < 1 || c < 1 || r > 65536 || c > 65536 ||
      r * c > (1LL << 24))
    throw cli_error("compare: --size must be ROWSxCOLS with 1..65536 each and at most 2^24 elements, not '" + size + "'");
  return {static_cast<std::size_t>(r), static_cast<std::size_t>(c)};
}

void run_compare(const CompareOptions& co) {
  Options o;
  o.channel_axis = co.axis;
  o.group_axis = co.group_axis;
  o.timing = !co.no_timing;
  o.include_vectors = co.include_vectors;
  o.compression = !co.no_compression;
  const bool builtin = co.files.empty();
  if (!co.chart.empty()) {
    std::vector<std::pair<std::string, std::string>> inputs;
    for (const std::string& f : co.files) inputs.emplace_back("input", f);
    check_outputs(inputs, {{"--chart", co.chart}});
  }
  std::size_t rows = 256, cols = 1024;
  if (!co.size.empty()) {
    if (!builtin) throw cli_error("compare: --size is for the built-in workloads, not for files");
    std::tie(rows, cols) = parse_size(co.size);
  }
  std::vector<Tensor> tensors;
  std::size_t skipped_vectors = 0, skipped_empty = 0;
  if (builtin) {
    tensors = builtin_workloads(rows, cols);
  } else {
    for (const std::string& path : co.files)
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
      throw cli_error("compare: nothing to measure: " + std::to_string(skipped_vectors) +
                      " tensor(s) of rank < 2 (see --include-vectors) and " + std::to_string(skipped_empty) + " empty one(s)");
  }

  std::vector<Method> all;
  for (Method& m : methods())
    if (o.compression || !m.compression) all.push_back(std::move(m));
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::vector<std::vector<Row>> per_tensor;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    if (std::chrono::duration<double>(clock::now() - start).count() > 1.0)
      std::fprintf(stderr, "qmath compare: [%zu/%zu] %s %s\n", k + 1, tensors.size(), t.source.c_str(), t.name.c_str());
    Calibration calibration(t);
    std::vector<Row> measured;
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
      measured.push_back(std::move(r));
    }
    per_tensor.push_back(std::move(measured));
  }

  // What gets printed: per workload (built-in), or pooled per file plus, on request, per tensor.
  std::vector<Series> groups;
  if (builtin || tensors.size() == 1) {
    for (std::size_t k = 0; k < tensors.size(); ++k) groups.emplace_back(tensors[k].name, per_tensor[k]);
  } else {
    std::vector<std::string> sources;
    for (const Tensor& t : tensors)
      if (std::find(sources.begin(), sources.end(), t.source) == sources.end()) sources.push_back(t.source);
    for (const std::string& source : sources) {
      std::vector<Row> pooled;
      std::size_t total = 0;
      for (const Tensor& t : tensors) total += t.source == source ? 1 : 0;
      for (std::size_t m = 0; m < all.size(); ++m) {
        std::vector<const Row*> ok;
        for (std::size_t k = 0; k < tensors.size(); ++k)
          if (tensors[k].source == source && per_tensor[k][m].note.empty()) ok.push_back(&per_tensor[k][m]);
        if (ok.empty()) {
          Row none;
          none.source = source;
          none.tensor = "(all)";
          none.method = all[m].name;
          none.note = "failed on every tensor";
          pooled.push_back(none);
        } else {
          pooled.push_back(pool(ok, source, total));
        }
      }
      // Mixed precision over the file's tensors, from their "intN sym, channel" rows (those that every tensor has).
      std::vector<std::pair<int, std::size_t>> widths;
      for (int bits : {2, 3, 4, 5, 6, 8})
        for (std::size_t m = 0; m < all.size(); ++m)
          if (all[m].name == "int" + std::to_string(bits) + " sym, channel") widths.emplace_back(bits, m);
      std::vector<std::vector<std::pair<int, const Row*>>> options;
      bool complete = widths.size() == 6;
      for (std::size_t k = 0; k < tensors.size() && complete; ++k) {
        if (tensors[k].source != source) continue;
        options.emplace_back();
        for (const auto& [bits, m] : widths) {
          if (!per_tensor[k][m].note.empty()) complete = false;
          options.back().emplace_back(bits, &per_tensor[k][m]);
        }
      }
      if (complete && options.size() > 1)
        for (double bits : {3.0, 4.0, 6.0}) pooled.push_back(mixed_precision_row(options, bits, source));
      groups.emplace_back(base_name(source), pooled);
    }
  }

  if (co.output == "table") {
    std::printf("qmath compare: %zu tensor(s)%s; SQNR = 10 log10(sum x^2 / sum (x - x')^2); %s\n", tensors.size(),
                builtin ? (" (built-in workloads, " + shape_text(tensors.front().shape.dims) + ", each row with its own spread)").c_str()
                        : "",
                o.timing ? "GB/s counts fp32 bytes (compression rows: not timed)" : "not timed");
    if (skipped_vectors > 0)
      std::printf("skipped %zu tensor(s) of rank < 2 (biases, norms); --include-vectors measures them too\n", skipped_vectors);
    if (skipped_empty > 0) std::printf("skipped %zu empty tensor(s)\n", skipped_empty);
    if (!builtin && co.per_tensor && tensors.size() > 1)
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
    std::vector<Row> all_rows;
    for (const auto& t : per_tensor) all_rows.insert(all_rows.end(), t.begin(), t.end());
    if (!builtin && tensors.size() > 1)
      for (const auto& g : groups) all_rows.insert(all_rows.end(), g.second.begin(), g.second.end());
    if (co.output == "csv") print_csv(all_rows);
    else print_json(all_rows);
  }
  if (!co.chart.empty()) {
    Outputs outputs;
    outputs.write(co.chart, [&](const std::string& temporary) { write_svg_chart(temporary, groups); });
    outputs.commit();
    std::fprintf(stderr, "qmath compare: wrote the chart to %s\n", co.chart.c_str());
  }
}

}  // namespace
}  // namespace compare

void add_compare(CLI::App& app, RunState&) {
  auto o = std::make_shared<compare::CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "every format, scheme, calibrator and compression method on built-in workloads or on the tensors of .npy / "
      ".safetensors files: bits per element (codes plus parameters), bytes, MSE, SQNR, max |error|, clip rate, "
      "encode / decode GB/s");
  sub->add_option("FILES", o->files, "tensors to measure (none: the built-in workloads gaussian, laplace, uniform, "
                                     "llm-outliers, relu)");
  sub->add_option("--output", o->output, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}))->capture_default_str();
  sub->add_option("--chart", o->chart, "write an SVG: SQNR against bits per element with the Pareto fronts, and a heat map");
  sub->add_option("--axis", o->axis, "per-channel axis (the output axis of [out, in] weights)")
      ->check(CLI::Range(-64, 64))
      ->capture_default_str();
  sub->add_option("--group-axis", o->group_axis, "the axis groups run along (the input axis)")
      ->check(CLI::Range(-64, 64))
      ->capture_default_str();
  sub->add_option("--size", o->size, "ROWSxCOLS of the built-in workloads (default 256x1024)");
  sub->add_flag("--per-tensor", o->per_tensor, "with files: one table per tensor as well as the pooled one");
  sub->add_flag("--include-vectors", o->include_vectors, "with files: also rank-0/1 tensors (biases, norms)");
  sub->add_flag("--no-timing", o->no_timing, "skip the speed columns (faster; for tests under emulation)");
  sub->add_flag("--no-compression", o->no_compression, "skip the pruning and low-rank rows");
  sub->callback([o] { compare::run_compare(*o); });
}

}  // namespace qmath_tool
