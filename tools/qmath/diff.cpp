// SPDX-License-Identifier: Apache-2.0
// tools/qmath/diff.cpp: `qmath diff A.npy B.npy`: max and mean |a - b| of two float32 tensors; exit status 1 when
// the largest difference is above --tolerance.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "codes.hpp"
#include "qmath/io/npy.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace {

struct DiffOptions {
  std::string a_path, b_path;
  double tolerance = 0.0;
  CLI::Option* tolerance_option = nullptr;
};

int run_diff(const DiffOptions& o) {
  const bool has_tolerance = o.tolerance_option->count() > 0;
  if (has_tolerance && !(std::isfinite(o.tolerance) && o.tolerance >= 0.0))
    throw cli_error("bad --tolerance '" + o.tolerance_option->as<std::string>() + "' (expected a finite number >= 0)");
  check_readable_file(o.a_path, "A");
  check_readable_file(o.b_path, "B");
  const qmath::NpyArray a = qmath::read_npy(o.a_path), b = qmath::read_npy(o.b_path);
  for (const qmath::NpyArray* array : {&a, &b})
    if (!array->holds<float>())
      throw cli_error("'" + (array == &a ? o.a_path : o.b_path) + "' holds " + array->dtype + " data; diff needs float32 (<f4)");
  if (a.shape != b.shape || a.fortran_order != b.fortran_order)
    throw cli_error("the arrays differ in shape or order: " + describe_tensor(a) + " vs " + describe_tensor(b));
  const std::vector<float> x = a.values<float>(), y = b.values<float>();
  double max_error = 0, sum_error = 0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool both_nan = std::isnan(x[i]) && std::isnan(y[i]);
    const bool same_inf = std::isinf(x[i]) && x[i] == y[i];
    const double error = both_nan || same_inf ? 0.0 : std::fabs(static_cast<double>(x[i]) - static_cast<double>(y[i]));
    const double counted = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;  // NaN vs a number
    if (counted > max_error) {
      max_error = counted;
      worst = i;
    }
    sum_error += counted;
  }
  const double mean_error = x.empty() ? 0.0 : sum_error / static_cast<double>(x.size());
  const bool within = !has_tolerance || max_error <= o.tolerance;
  const std::string verdict =
      !has_tolerance ? "" : std::string(within ? ", within" : ", ABOVE") + " tolerance " + o.tolerance_option->as<std::string>();
  std::printf("qmath diff: max |a - b| = %.9g (element %zu), mean %.9g over %zu elements%s\n", max_error, worst, mean_error,
              x.size(), verdict.c_str());
  return within ? 0 : 1;
}

}  // namespace

void add_diff(CLI::App& app, RunState& state) {
  auto o = std::make_shared<DiffOptions>();
  CLI::App* sub = app.add_subcommand("diff", "max and mean |a - b| of two float32 .npy tensors");
  sub->add_option("A", o->a_path, "float32 .npy")->required();
  sub->add_option("B", o->b_path, "float32 .npy of the same shape and order")->required();
  o->tolerance_option = sub->add_option("--tolerance", o->tolerance, "exit with status 1 when max |a - b| is above it");
  sub->callback([o, &state] { state.status = run_diff(*o); });
}

}  // namespace qmath_tool
