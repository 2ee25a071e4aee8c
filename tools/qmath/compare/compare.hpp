// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/compare.hpp: `qmath compare`: every format, scheme, calibrator and compression method of qmath
// on the user's tensors (or on built-in workloads), one row each: bits per element, bytes, error, clip rate and
// encode / decode speed. workloads.cpp reads the tensors, methods.cpp measures them, report.cpp prints the rows,
// chart.cpp draws them, command.cpp is the subcommand.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "qmath/calib/histogram.hpp"
#include "qmath/metrics.hpp"
#include "qmath/quant/layout.hpp"

namespace qmath_tool {
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
  bool clip_measured = true;                      ///< false: the method does not report clipping

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
  bool compression = true;  ///< the pruning / low-rank rows (slower: an SVD per tensor)
};

/// Per-tensor calibration of a symmetric int8 range; the histogram is built once per tensor and shared.
struct Calibration {
  qmath::HistogramObserver histogram;
  explicit Calibration(const Tensor& t) { histogram.update(t.values.data(), t.values.size()); }
};

struct Method {
  std::string name;
  std::function<Row(const Tensor&, Calibration&, const Options&)> run;
  bool compression = false;  ///< skipped with --no-compression
};

/// One named list of rows: a built-in workload, a tensor, or a file's tensors pooled.
using Series = std::pair<std::string, std::vector<Row>>;

// workloads.cpp
std::vector<Tensor> builtin_workloads(std::size_t rows = 256, std::size_t cols = 1024);
std::vector<Tensor> read_tensors(const std::string& path);

// methods.cpp
std::vector<Method> methods();
/// Pools rows of one method over tensors: sums of energies and counts, so SQNR is the whole model's. `total` is
/// how many tensors the source has: a method that failed on some says on how many it was pooled.
Row pool(const std::vector<const Row*>& rows, const std::string& source, std::size_t total);
/// Mixed precision over a file's tensors: per tensor, its (width, "intN sym, channel" row) pairs are the options;
/// the allocation under an average of `bits` code bits per element (plus the scales) that adds the least squared
/// error (compress::allocate_optimal), as one pooled row.
Row mixed_precision_row(const std::vector<std::vector<std::pair<int, const Row*>>>& options_per_tensor, double bits,
                        const std::string& source);

// report.cpp
void print_table(const std::vector<Row>& rows, bool pooled, bool timing);
void print_csv(const std::vector<Row>& rows);
void print_json(const std::vector<Row>& rows);

// chart.cpp
/// Two panels: SQNR against bits per element at each format's true width, with each series' Pareto front; and a
/// heat map of SQNR per format (rows) and series (columns).
void write_svg_chart(const std::string& path, const std::vector<Series>& series);

}  // namespace compare
}  // namespace qmath_tool
