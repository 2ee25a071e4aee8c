// SPDX-License-Identifier: Apache-2.0
// Weight SQNR of every format on real trained weights (stories260K, the MNIST CNN), against the ranges that
// ../shared/realdata/README.md reports from its own (torch) simulation.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/metrics.hpp"
#include "qmath/quant/choose.hpp"
#include "support/realdata.hpp"

namespace {

const std::string kRealdata = std::string(QMATH_SHARED_DIR) + "/realdata";

bool have_realdata(const char* file) { return std::ifstream(kRealdata + "/" + file).good(); }

struct Sqnr {
  std::string tensor;
  double value;
};

template <class Q>
double int_sqnr(const qmath_test::NamedTensor& t, const qmath::Granularity& g) {
  const qmath::TensorShape shape{t.shape};
  const auto p = qmath::choose_qparams<Q>(t.values.data(), shape, g, {qmath::scheme::symmetric});
  return qmath::quantization_error(t.values.data(), shape, p).sqnr_db;
}

/// SQNR of each weight matrix of stories260K (rank 2) under one format.
template <class Measure>
std::vector<Sqnr> per_matrix(const std::vector<qmath_test::NamedTensor>& tensors, Measure&& measure) {
  std::vector<Sqnr> out;
  for (const auto& t : tensors)
    if (t.shape.size() == 2) out.push_back({t.name, measure(t)});
  return out;
}

void expect_within(const std::vector<Sqnr>& values, double lo, double hi, const char* format) {
  const auto [min_it, max_it] =
      std::minmax_element(values.begin(), values.end(), [](const Sqnr& a, const Sqnr& b) { return a.value < b.value; });
  std::printf("[realdata] stories260K %-18s SQNR %.2f .. %.2f dB over %zu matrices (min at %s)\n", format,
              min_it->value, max_it->value, values.size(), min_it->tensor.c_str());
  EXPECT_GE(min_it->value, lo) << format << " at " << min_it->tensor;
  EXPECT_LE(max_it->value, hi) << format << " at " << max_it->tensor;
}

// The README's ranges, widened by the difference of conventions stated next to each: its weights use
// scale = absmax / qmax (127 or 7) where qmath's symmetric pytorch profile uses absmax / ((qmax - qmin) / 2)
// (127.5 or 7.5, as torch's observers do), a slightly finer step that clips the single largest positive value.
TEST(RealData, Stories260kWeightSqnrMatchesTheReadme) {
  if (!have_realdata("stories260K/stories260K.bin"))
    GTEST_SKIP() << "needs " << kRealdata << "/stories260K/stories260K.bin (the shared real-data folder is absent)";
  const auto tensors = qmath_test::load_stories260k(kRealdata);
  ASSERT_EQ(tensors.size(), 1u + 5u * 9u + 1u);

  const auto fmt = [&](qmath::float_format f) {
    return per_matrix(tensors, [f](const qmath_test::NamedTensor& t) {
      return qmath::float_format_error(t.values.data(), t.values.size(), f).sqnr_db;
    });
  };
  expect_within(fmt(qmath::float_format::f16), 72.0, 76.0, "fp16");
  expect_within(fmt(qmath::float_format::bf16), 53.0, 57.0, "bf16");
  expect_within(per_matrix(tensors, [](const auto& t) { return int_sqnr<std::int8_t>(t, qmath::per_tensor()); }),
                33.0, 41.0, "int8 per-tensor");
  expect_within(per_matrix(tensors, [](const auto& t) { return int_sqnr<std::int8_t>(t, qmath::per_channel(0)); }),
                40.0, 46.0, "int8 per-channel");
  expect_within(per_matrix(tensors, [](const auto& t) { return int_sqnr<qmath::int4>(t, qmath::per_tensor()); }),
                7.0, 16.0, "int4 per-tensor");
  expect_within(per_matrix(tensors, [](const auto& t) { return int_sqnr<qmath::int4>(t, qmath::per_channel(0)); }),
                15.0, 20.0, "int4 per-channel");
  expect_within(per_matrix(tensors, [](const auto& t) { return int_sqnr<qmath::int4>(t, qmath::per_group(1, 32)); }),
                17.0, 21.0, "int4 group-32");
}

// Finer parameters never lose: per-channel beats per-tensor and groups beat channels, on every matrix.
TEST(RealData, FinerGranularityNeverLoses) {
  if (!have_realdata("stories260K/stories260K.bin"))
    GTEST_SKIP() << "needs " << kRealdata << "/stories260K/stories260K.bin (the shared real-data folder is absent)";
  const auto tensors = qmath_test::load_stories260k(kRealdata);
  for (const auto& t : tensors) {
    if (t.shape.size() != 2) continue;
    const double tensor = int_sqnr<qmath::int4>(t, qmath::per_tensor());
    const double channel = int_sqnr<qmath::int4>(t, qmath::per_channel(0));
    const double group = int_sqnr<qmath::int4>(t, qmath::per_group(1, 32));
    EXPECT_GE(channel, tensor - 0.5) << t.name;
    EXPECT_GE(group, channel - 0.5) << t.name;
  }
}

TEST(RealData, MnistCnnWeightsLoadAndQuantize) {
  if (!have_realdata("mnist-cntk/weights/fc.weight.bin"))
    GTEST_SKIP() << "needs " << kRealdata << "/mnist-cntk/weights (the shared real-data folder is absent)";
  const auto tensors = qmath_test::load_mnist_cntk(kRealdata);
  ASSERT_EQ(tensors.size(), 6u);
  std::size_t parameters = 0;
  for (const auto& t : tensors) parameters += t.values.size();
  EXPECT_EQ(parameters, 5994u);  // the count the README states
  for (const auto& t : tensors) {
    if (t.shape.size() < 2) continue;
    const double sqnr = int_sqnr<std::int8_t>(t, qmath::per_channel(0));
    std::printf("[realdata] mnist-cntk %-13s int8 per-channel SQNR %.2f dB\n", t.name.c_str(), sqnr);
    EXPECT_GT(sqnr, 35.0) << t.name;
  }
}

}  // namespace
