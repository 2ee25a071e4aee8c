// SPDX-License-Identifier: Apache-2.0
// tests/calib/test_observers.cpp: min/max observers against torch 1.13 bit for bit, their NaN / merge / reset /
// shape rules, and the MSE sweep calibrator against a brute-force search.
//
// The torch vectors (tests/vectors/observers/, written by tests/vectors/gen_observer_vectors.py) hold each case's
// batches and torch's min_val, max_val, scale and zero point after every batch.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/calib/mse_sweep.hpp"
#include "qmath/calib/observers.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/quant/choose.hpp"

namespace {

using qmath::f32_bits;
using qmath::MinMaxObserver;
using qmath::MovingAverageMinMaxObserver;
using qmath::TensorShape;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- torch vectors ------------------------------------------------------------------------------------------------

const std::string kVectorDir = std::string(QMATH_TESTS_DIR) + "/vectors/observers/";

struct VectorCase {
  std::string name;
  std::map<std::string, std::string> fields;
  const std::string& at(const std::string& key) const {
    const auto it = fields.find(key);
    if (it == fields.end()) throw std::runtime_error("case " + name + " has no field " + key);
    return it->second;
  }
};

std::vector<VectorCase> load_cases() {
  std::ifstream in(kVectorDir + "cases.txt");
  if (!in)
    throw std::runtime_error("cannot open " + kVectorDir + "cases.txt (run tests/vectors/gen_observer_vectors.py)");
  std::vector<VectorCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word != "case") throw std::runtime_error("bad line in cases.txt: " + line);
    VectorCase c;
    words >> c.name;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq == std::string::npos) throw std::runtime_error("bad field in cases.txt: " + word);
      c.fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
    cases.push_back(c);
  }
  return cases;
}

struct Tally {
  int cases = 0, batches = 0, values = 0;
};

template <class Q, class Observer>
void run_vector_case(const VectorCase& c, Observer& obs, const qmath::ChooseOptions& o, Tally& tally) {
  const qmath::NpyArray expect = qmath::read_npy(kVectorDir + c.name + "_expect.npy");
  const std::vector<float> want = expect.values<float>();
  const int batches = std::stoi(c.at("batches"));
  ASSERT_EQ(expect.shape.size(), 3u);
  ASSERT_EQ(expect.shape[0], batches);
  ASSERT_EQ(expect.shape[1], 4);
  const auto slots = static_cast<std::size_t>(expect.shape[2]);
  const auto row = [&](int k, int what) { return want.data() + (static_cast<std::size_t>(k) * 4 + what) * slots; };
  for (int k = 0; k < batches; ++k) {
    SCOPED_TRACE("batch " + std::to_string(k));
    const qmath::NpyArray x = qmath::read_npy(kVectorDir + c.name + "_b" + std::to_string(k) + ".npy");
    ASSERT_FALSE(x.fortran_order);
    const std::vector<float> data = x.values<float>();
    obs.update(data.data(), TensorShape{x.shape});
    const qmath::Ranges& r = obs.ranges();
    ASSERT_EQ(r.min.size(), slots);
    const qmath::QParams<Q> p = obs.template qparams<Q>(o);
    ASSERT_EQ(p.size(), slots);
    for (std::size_t s = 0; s < slots; ++s) {
      SCOPED_TRACE("slot " + std::to_string(s));
      EXPECT_EQ(f32_bits(r.min[s]), f32_bits(row(k, 0)[s])) << r.min[s] << " vs torch " << row(k, 0)[s];
      EXPECT_EQ(f32_bits(r.max[s]), f32_bits(row(k, 1)[s])) << r.max[s] << " vs torch " << row(k, 1)[s];
      EXPECT_EQ(f32_bits(p.scale[s]), f32_bits(row(k, 2)[s])) << p.scale[s] << " vs torch " << row(k, 2)[s];
      if (o.float_zero_point) {
        EXPECT_EQ(f32_bits(p.float_zero_point[s]), f32_bits(row(k, 3)[s]));
      } else {
        EXPECT_EQ(static_cast<float>(p.zero_point[s]), row(k, 3)[s]);
      }
      tally.values += 4;
    }
    ++tally.batches;
  }
  ++tally.cases;
}

template <class Q>
void run_vector_case(const VectorCase& c, Tally& tally) {
  const qmath::Granularity g =
      c.at("granularity") == "tensor" ? qmath::per_tensor() : qmath::per_channel(std::stoi(c.at("axis")));
  qmath::ChooseOptions o;
  o.kind = c.at("scheme") == "symmetric" ? qmath::scheme::symmetric : qmath::scheme::affine;
  o.reduce_range = c.at("reduce_range") == "1";
  o.narrow_range = c.at("narrow") == "1";
  o.float_zero_point = c.at("scheme") == "float_qparams";
  if (c.at("observer") == "minmax") {
    MinMaxObserver obs(g);
    run_vector_case<Q>(c, obs, o, tally);
  } else {
    ASSERT_EQ(c.at("observer"), "moving_average");
    MovingAverageMinMaxObserver obs(g, std::strtof(c.at("averaging_constant").c_str(), nullptr));
    run_vector_case<Q>(c, obs, o, tally);
  }
}

TEST(ObserverTorchVectors, MatchTorchAfterEveryBatch) {
  const std::vector<VectorCase> cases = load_cases();
  ASSERT_GE(cases.size(), 30u) << "too few cases in " << kVectorDir << "cases.txt";
  Tally tally;
  int moving = 0, per_channel = 0;
  for (const VectorCase& c : cases) {
    SCOPED_TRACE("case " + c.name);
    if (c.at("dtype") == "quint8") run_vector_case<std::uint8_t>(c, tally);
    else run_vector_case<std::int8_t>(c, tally);
    moving += c.at("observer") == "moving_average";
    per_channel += c.at("granularity") == "channel";
  }
  EXPECT_EQ(tally.cases, static_cast<int>(cases.size()));
  EXPECT_GE(moving, 10);
  EXPECT_GE(per_channel, 12);
  std::printf("[ info     ] %d torch observer cases, %d batches, %d values compared bit for bit\n", tally.cases,
              tally.batches, tally.values);
}

// ---- Semantics ----------------------------------------------------------------------------------------------------

TEST(MinMaxObserver, StartsEmptyWithOneSlotPerTensor) {
  MinMaxObserver obs;
  EXPECT_TRUE(obs.empty());
  ASSERT_EQ(obs.ranges().min.size(), 1u);
  EXPECT_EQ(obs.ranges().min[0], 0.0f);
  EXPECT_EQ(obs.ranges().max[0], 0.0f);
  // [0, 0] gives the pytorch affine parameters of an all-zero range: scale eps, zero point qmin.
  const auto p = obs.qparams<std::uint8_t>();
  EXPECT_EQ(p.scale[0], std::numeric_limits<float>::epsilon());
  EXPECT_EQ(p.zero_point[0], 0);

  MinMaxObserver per_channel(qmath::per_channel(1));
  EXPECT_TRUE(per_channel.empty());
  EXPECT_TRUE(per_channel.ranges().min.empty());
  EXPECT_THROW(per_channel.qparams<std::int8_t>(), qmath::error);
}

TEST(MinMaxObserver, KeepsTheRunningExtremes) {
  MinMaxObserver obs;
  const std::vector<float> a{1.0f, -2.0f, 3.0f}, b{0.5f, 0.25f}, c{-7.0f, 9.0f};
  obs.update(a.data(), TensorShape{{3}});
  EXPECT_FALSE(obs.empty());
  EXPECT_EQ(obs.ranges().min[0], -2.0f);
  EXPECT_EQ(obs.ranges().max[0], 3.0f);
  obs.update(b.data(), TensorShape{{2, 1}});
  EXPECT_EQ(obs.ranges().min[0], -2.0f);
  EXPECT_EQ(obs.ranges().max[0], 3.0f);
  obs.update(c.data(), TensorShape{{1, 2}});
  EXPECT_EQ(obs.ranges().min[0], -7.0f);
  EXPECT_EQ(obs.ranges().max[0], 9.0f);
  EXPECT_EQ(obs.counts().finite, 7u);
}

TEST(MovingAverageMinMaxObserver, FirstBatchSetsThenAverages) {
  MovingAverageMinMaxObserver obs(qmath::per_tensor(), 0.5f);
  EXPECT_EQ(obs.averaging_constant(), 0.5f);
  const std::vector<float> a{0.0f, 2.0f}, b{2.0f, 4.0f}, c{-4.0f, 3.0f};
  obs.update(a.data(), TensorShape{{2}});
  EXPECT_EQ(obs.ranges().min[0], 0.0f);
  EXPECT_EQ(obs.ranges().max[0], 2.0f);
  obs.update(b.data(), TensorShape{{2}});
  EXPECT_EQ(obs.ranges().min[0], 1.0f);  // 0 + 0.5 * (2 - 0)
  EXPECT_EQ(obs.ranges().max[0], 3.0f);  // 2 + 0.5 * (4 - 2)
  obs.update(c.data(), TensorShape{{2}});
  EXPECT_EQ(obs.ranges().min[0], -1.5f);
  EXPECT_EQ(obs.ranges().max[0], 3.0f);
  EXPECT_THROW(MovingAverageMinMaxObserver(qmath::per_tensor(), 1.5f), qmath::error);
  EXPECT_THROW(MovingAverageMinMaxObserver(qmath::per_tensor(), -0.1f), qmath::error);
  EXPECT_THROW(MovingAverageMinMaxObserver(qmath::per_tensor(), kNaN), qmath::error);
}

TEST(MovingAverageMinMaxObserver, FloatOrderOfOperations) {
  // min + c * (batch - min), each step rounded to float: compare with that formula written out in float, and
  // check the values chosen do tell it apart from the mathematically equal (1 - c) * min + c * batch.
  const float c = 0.01f;
  MovingAverageMinMaxObserver obs(qmath::per_tensor(), c);
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  volatile float lo = 0.0f, hi = 0.0f;  // volatile: each step rounded to float, as in torch
  int differs_from_lerp = 0;
  for (int k = 0; k < 200; ++k) {
    std::vector<float> batch(5);
    for (float& v : batch) v = dist(gen);
    const float bmin = *std::min_element(batch.begin(), batch.end());
    const float bmax = *std::max_element(batch.begin(), batch.end());
    obs.update(batch.data(), TensorShape{{5}});
    if (k == 0) {
      lo = bmin;
      hi = bmax;
    } else {
      volatile float d = bmin - lo;
      volatile float step = c * d;
      const float lerp = (1.0f - c) * lo + c * bmin;
      lo = lo + step;
      differs_from_lerp += lerp != lo;
      d = bmax - hi;
      step = c * d;
      hi = hi + step;
    }
    ASSERT_EQ(f32_bits(obs.ranges().min[0]), f32_bits(lo)) << "batch " << k;
    ASSERT_EQ(f32_bits(obs.ranges().max[0]), f32_bits(hi)) << "batch " << k;
  }
  EXPECT_GT(differs_from_lerp, 0);
}

TEST(ObserverNonFinite, CountedAndIgnored) {
  const std::vector<float> x{1.0f, kNaN, -kInf, 2.0f, kInf, -3.0f, kNaN};
  MinMaxObserver obs;
  obs.update(x.data(), TensorShape{{7}});
  EXPECT_EQ(obs.ranges().min[0], -3.0f);
  EXPECT_EQ(obs.ranges().max[0], 2.0f);
  EXPECT_EQ(obs.counts().finite, 3u);
  EXPECT_EQ(obs.counts().nan, 2u);
  EXPECT_EQ(obs.counts().inf, 2u);

  MovingAverageMinMaxObserver avg(qmath::per_tensor(), 0.5f);
  avg.update(x.data(), TensorShape{{7}});
  EXPECT_EQ(avg.ranges().min[0], -3.0f);
  EXPECT_EQ(avg.ranges().max[0], 2.0f);
  const std::vector<float> y{kNaN, 1.0f, kInf, 4.0f};
  avg.update(y.data(), TensorShape{{4}});
  EXPECT_EQ(avg.ranges().min[0], -1.0f);  // -3 + 0.5 * (1 - -3): the NaN and Inf did not take part
  EXPECT_EQ(avg.ranges().max[0], 3.0f);
}

TEST(ObserverNonFinite, AllNaNBatchLeavesTheRange) {
  const std::vector<float> nans(6, kNaN), data{-1.0f, 5.0f};
  MinMaxObserver obs;
  obs.update(nans.data(), TensorShape{{2, 3}});
  EXPECT_TRUE(obs.empty());
  EXPECT_EQ(obs.counts().nan, 6u);
  EXPECT_EQ(obs.ranges().min[0], 0.0f);
  obs.update(data.data(), TensorShape{{2}});
  obs.update(nans.data(), TensorShape{{6}});
  EXPECT_EQ(obs.ranges().min[0], -1.0f);
  EXPECT_EQ(obs.ranges().max[0], 5.0f);

  MovingAverageMinMaxObserver avg;
  avg.update(nans.data(), TensorShape{{6}});
  EXPECT_TRUE(avg.empty());
  avg.update(data.data(), TensorShape{{2}});  // the first finite batch sets the range: no averaging with [0, 0]
  EXPECT_EQ(avg.ranges().min[0], -1.0f);
  EXPECT_EQ(avg.ranges().max[0], 5.0f);
  avg.update(nans.data(), TensorShape{{3, 2}});
  EXPECT_EQ(avg.ranges().min[0], -1.0f);
  EXPECT_EQ(avg.ranges().max[0], 5.0f);
}

TEST(ObserverNonFinite, ChannelWithoutFiniteValues) {
  // 2 x 3, channels on axis 1; channel 1 is NaN / Inf only in the first batch.
  const std::vector<float> first{1.0f, kNaN, -2.0f, 3.0f, kInf, 0.5f};
  const std::vector<float> second{0.0f, 7.0f, 0.0f, 0.0f, 6.0f, 0.0f};
  for (int moving = 0; moving < 2; ++moving) {
    SCOPED_TRACE(moving ? "moving average" : "min/max");
    MinMaxObserver mm(qmath::per_channel(1));
    MovingAverageMinMaxObserver ma(qmath::per_channel(1), 0.25f);
    const auto update = [&](const std::vector<float>& x) {
      if (moving) ma.update(x.data(), TensorShape{{2, 3}});
      else mm.update(x.data(), TensorShape{{2, 3}});
    };
    const auto ranges = [&]() -> const qmath::Ranges& { return moving ? ma.ranges() : mm.ranges(); };
    update(first);
    ASSERT_EQ(ranges().min.size(), 3u);
    EXPECT_EQ(ranges().min[1], 0.0f);
    EXPECT_EQ(ranges().max[1], 0.0f);
    const auto p = moving ? ma.qparams<std::uint8_t>() : mm.qparams<std::uint8_t>();
    EXPECT_EQ(p.scale[1], std::numeric_limits<float>::epsilon());  // [0, 0]
    EXPECT_EQ(p.zero_point[1], 0);
    update(second);
    EXPECT_EQ(ranges().min[1], 6.0f);  // first finite values: set, not averaged
    EXPECT_EQ(ranges().max[1], 7.0f);
    EXPECT_EQ(ranges().min[0], moving ? 0.75f : 0.0f);  // 1 + 0.25 * (0 - 1) or min(1, 3, 0, 0)
  }
}

TEST(MinMaxObserver, MergeEqualsObservingTheConcatenation) {
  // Batches of shape [n_k, 4, 3] with channels on axis 1: concatenating them along axis 0 is appending buffers.
  std::mt19937 gen(11);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<std::vector<float>> batches;
  std::vector<float> all;
  for (int k = 0; k < 6; ++k) {
    std::vector<float> b(static_cast<std::size_t>(k + 1) * 12);
    for (float& v : b) v = dist(gen) * static_cast<float>(k + 1);
    if (k == 2) b[5] = kNaN;
    if (k == 4) b[0] = -kInf;
    batches.push_back(b);
    all.insert(all.end(), b.begin(), b.end());
  }
  const auto shape_of = [](std::size_t n) { return TensorShape{{static_cast<std::int64_t>(n / 12), 4, 3}}; };
  for (const qmath::Granularity g : {qmath::per_tensor(), qmath::per_channel(1), qmath::per_channel(-1)}) {
    SCOPED_TRACE("granularity kind " + std::to_string(static_cast<int>(g.kind)) + " axis " + std::to_string(g.axis));
    MinMaxObserver whole(g);
    whole.update(all.data(), shape_of(all.size()));
    MinMaxObserver parts[3] = {MinMaxObserver(g), MinMaxObserver(g), MinMaxObserver(g)};
    for (std::size_t k = 0; k < batches.size(); ++k)
      parts[k % 3].update(batches[k].data(), shape_of(batches[k].size()));
    for (const auto& order : {std::vector<int>{0, 1, 2}, std::vector<int>{2, 0, 1}, std::vector<int>{1, 2, 0}}) {
      MinMaxObserver merged(g);  // starts with no slots per channel: the first merge adopts them
      for (int i : order) merged.merge(parts[i]);
      ASSERT_EQ(merged.ranges().min.size(), whole.ranges().min.size());
      for (std::size_t s = 0; s < whole.ranges().min.size(); ++s) {
        EXPECT_EQ(f32_bits(merged.ranges().min[s]), f32_bits(whole.ranges().min[s]));
        EXPECT_EQ(f32_bits(merged.ranges().max[s]), f32_bits(whole.ranges().max[s]));
      }
      EXPECT_EQ(merged.counts().finite, whole.counts().finite);
      EXPECT_EQ(merged.counts().nan, 1u);
      EXPECT_EQ(merged.counts().inf, 1u);
      EXPECT_EQ(merged.qparams<std::int8_t>().scale, whole.qparams<std::int8_t>().scale);
    }
  }
}

TEST(MinMaxObserver, MergeRejectsMismatches) {
  const std::vector<float> x(12, 1.0f);
  MinMaxObserver a(qmath::per_channel(0)), b(qmath::per_channel(1)), c(qmath::per_channel(0));
  a.update(x.data(), TensorShape{{3, 4}});
  c.update(x.data(), TensorShape{{4, 3}});
  EXPECT_THROW(a.merge(b), qmath::error);
  EXPECT_THROW(a.merge(MinMaxObserver()), qmath::error);
  EXPECT_THROW(a.merge(c), qmath::error);
  EXPECT_EQ(a.ranges().min.size(), 3u);  // unchanged
  EXPECT_EQ(a.counts().finite, 12u);
  MinMaxObserver fresh(qmath::per_channel(0));
  a.merge(fresh);  // merging an observer that has seen nothing changes nothing
  EXPECT_EQ(a.ranges().min.size(), 3u);
  EXPECT_EQ(a.counts().finite, 12u);
}

TEST(ObserverReset, ForgetsEverything) {
  const std::vector<float> x{-1.0f, 2.0f, kNaN, 4.0f};
  MinMaxObserver mm(qmath::per_channel(0));
  mm.update(x.data(), TensorShape{{2, 2}});
  mm.reset();
  EXPECT_TRUE(mm.empty());
  EXPECT_TRUE(mm.ranges().min.empty());
  EXPECT_EQ(mm.counts().finite + mm.counts().nan + mm.counts().inf, 0u);
  mm.update(x.data(), TensorShape{{4, 1}});  // a different channel count is fine after reset
  EXPECT_EQ(mm.ranges().min.size(), 4u);

  MovingAverageMinMaxObserver ma(qmath::per_tensor(), 0.5f);
  ma.update(x.data(), TensorShape{{4}});
  ma.reset();
  EXPECT_TRUE(ma.empty());
  ASSERT_EQ(ma.ranges().min.size(), 1u);
  EXPECT_EQ(ma.ranges().max[0], 0.0f);
  const std::vector<float> y{10.0f, 20.0f};
  ma.update(y.data(), TensorShape{{2}});  // first batch after reset sets the range
  EXPECT_EQ(ma.ranges().min[0], 10.0f);
  EXPECT_EQ(ma.ranges().max[0], 20.0f);
  EXPECT_EQ(ma.averaging_constant(), 0.5f);
}

TEST(ObserverShapes, EmptyBatchIsANoOp) {
  const std::vector<float> x{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  MinMaxObserver obs(qmath::per_channel(1));
  obs.update(nullptr, TensorShape{{0, 3}});
  EXPECT_TRUE(obs.ranges().min.empty());  // did not fix the channel count
  obs.update(x.data(), TensorShape{{2, 3}});
  obs.update(nullptr, TensorShape{{0, 5}});  // no channel check on an empty batch, as torch returns early
  obs.update(x.data(), TensorShape{{3, 0}});
  EXPECT_EQ(obs.ranges().min.size(), 3u);
  EXPECT_EQ(obs.counts().finite, 6u);
  EXPECT_EQ(obs.ranges().min[0], 1.0f);
  EXPECT_EQ(obs.ranges().max[2], 6.0f);
  EXPECT_THROW(obs.update(nullptr, TensorShape{{0}}), qmath::error);  // the shape is still checked: no axis 1
  EXPECT_THROW(obs.update(nullptr, TensorShape{{0, -1}}), qmath::error);
}

TEST(ObserverShapes, BadShapesThrowAndLeaveTheObserver) {
  const std::vector<float> x(24, 1.5f);
  MinMaxObserver obs(qmath::per_channel(2));
  obs.update(x.data(), TensorShape{{2, 3, 4}});
  EXPECT_THROW(obs.update(x.data(), TensorShape{{2, 4, 3}}), qmath::error);  // 3 channels, not 4
  EXPECT_THROW(obs.update(x.data(), TensorShape{{24}}), qmath::error);  // axis 2 missing
  EXPECT_THROW(obs.update(x.data(), TensorShape{{}}), qmath::error);  // rank 0
  EXPECT_THROW(obs.update(x.data(), TensorShape{{2, -3, 4}}), qmath::error);
  EXPECT_THROW(obs.update(nullptr, TensorShape{{1, 1, 4}}), qmath::error);
  EXPECT_EQ(obs.ranges().min.size(), 4u);
  EXPECT_EQ(obs.counts().finite, 24u);
  MovingAverageMinMaxObserver avg(qmath::per_channel(-4));
  EXPECT_THROW(avg.update(x.data(), TensorShape{{2, 3, 4}}), qmath::error);
  EXPECT_THROW(MinMaxObserver(qmath::per_group(0, 0)), qmath::error);
}

TEST(ObserverShapes, PerGroupMatchesMinMaxRanges) {
  std::vector<float> x(2 * 7);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i) * 1.3f) * 4.0f;
  const TensorShape shape{{2, 7}};
  const qmath::Granularity g = qmath::per_group(1, 3);
  MinMaxObserver obs(g);
  obs.update(x.data(), shape);
  const qmath::Ranges want = qmath::minmax_ranges(x.data(), shape, g);
  ASSERT_EQ(obs.ranges().min.size(), 6u);
  EXPECT_EQ(obs.ranges().min, want.min);
  EXPECT_EQ(obs.ranges().max, want.max);
  const auto p = obs.qparams<std::int8_t>({qmath::scheme::symmetric});
  EXPECT_EQ(p.scale, qmath::choose_qparams<std::int8_t>(want.min, want.max, g, {qmath::scheme::symmetric}).scale);
}

TEST(ObserverEigen, TensorsMapsAndExpressions) {
  Eigen::Tensor<float, 3, Eigen::RowMajor> t(2, 3, 4);
  for (Eigen::Index i = 0; i < t.size(); ++i) t.data()[i] = std::cos(static_cast<float>(i)) * static_cast<float>(i);
  MinMaxObserver raw(qmath::per_channel(1)), from_tensor(qmath::per_channel(1)), from_map(qmath::per_channel(1)),
      from_expr(qmath::per_channel(1));
  raw.update(t.data(), TensorShape{{2, 3, 4}});
  from_tensor.update(t);
  Eigen::TensorMap<const Eigen::Tensor<float, 3, Eigen::RowMajor>> map(t.data(), 2, 3, 4);
  from_map.update(map);
  from_expr.update(t * 2.0f);
  EXPECT_EQ(from_tensor.ranges().min, raw.ranges().min);
  EXPECT_EQ(from_tensor.ranges().max, raw.ranges().max);
  EXPECT_EQ(from_map.ranges().max, raw.ranges().max);
  ASSERT_EQ(from_expr.ranges().max.size(), 3u);
  for (std::size_t c = 0; c < 3; ++c) EXPECT_EQ(from_expr.ranges().max[c], 2.0f * raw.ranges().max[c]);

  // Column-major: axis 0 of a (3, 4) tensor is still the first Eigen dim.
  Eigen::Tensor<float, 2> cm(3, 4);
  for (Eigen::Index r = 0; r < 3; ++r)
    for (Eigen::Index c = 0; c < 4; ++c) cm(r, c) = static_cast<float>(10 * r + c);
  MinMaxObserver rows(qmath::per_channel(0));
  rows.update(cm);
  EXPECT_EQ(rows.ranges().min, (std::vector<float>{0.0f, 10.0f, 20.0f}));
  EXPECT_EQ(rows.ranges().max, (std::vector<float>{3.0f, 13.0f, 23.0f}));
}

// ---- MSE sweep ----------------------------------------------------------------------------------------------------

/// An independent brute force: the same candidates, parameters by the pytorch formulas written out here, the
/// quantize-dequantize round trip in plain float code, ties to the widest range.
qmath::Range brute_force_sweep(const std::vector<float>& x, bool symmetric, int qmin, int qmax, int steps,
                               std::size_t stride) {
  float lo = kInf, hi = -kInf;
  for (float v : x)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (symmetric) {
    const float a = std::max(std::fabs(lo), std::fabs(hi));
    lo = -a;
    hi = a;
  }
  const float eps = std::numeric_limits<float>::epsilon();
  qmath::Range best{};
  double best_error = kInf;
  for (int i = 1; i <= steps; ++i) {
    const auto shrink = [&](float v) { return static_cast<float>(static_cast<double>(v) * i / steps); };
    const float cmin = shrink(lo), cmax = shrink(hi);
    const float min0 = std::min(cmin, 0.0f), max0 = std::max(cmax, 0.0f);
    const float span = static_cast<float>(qmax - qmin);
    float scale;
    int zp;
    if (symmetric) {
      scale = std::max(std::max(-min0, max0) / (span / 2.0f), eps);
      zp = qmin < 0 ? 0 : (qmin + qmax + 1) / 2;
    } else {
      scale = std::max((max0 - min0) / span, eps);
      zp = std::clamp(qmin - static_cast<int>(std::nearbyint(min0 / scale)), qmin, qmax);
    }
    const float inv = 1.0f / scale;
    double error = 0.0;
    for (std::size_t k = 0; k < x.size(); k += stride) {
      if (!std::isfinite(x[k])) continue;
      const float r = std::nearbyint(x[k] * inv);
      const float code = std::clamp(r + static_cast<float>(zp), static_cast<float>(qmin), static_cast<float>(qmax));
      const int q = static_cast<int>(code);
      const float back = static_cast<float>(q - zp) * scale;
      error += (static_cast<double>(back) - x[k]) * (static_cast<double>(back) - x[k]);
    }
    if (error <= best_error) {
      best_error = error;
      best = {cmin, cmax};
    }
  }
  return best;
}

std::vector<float> normal_data(std::size_t n, float mean, float sigma, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

TEST(MseSweep, EqualsBruteForce) {
  const std::vector<float> normal = normal_data(3000, 0.3f, 1.5f, 3);
  std::vector<float> skewed = normal_data(2000, 0.0f, 1.0f, 4);
  for (float& v : skewed) v = std::exp(v) - 0.5f;  // log-normal: a long positive tail
  int checked = 0;
  for (const std::vector<float>* data : std::initializer_list<const std::vector<float>*>{&normal, &skewed}) {
    for (int steps : {100, 37}) {
      for (std::size_t stride : {std::size_t{1}, std::size_t{3}}) {
        SCOPED_TRACE("steps " + std::to_string(steps) + " stride " + std::to_string(stride));
        const auto check = [&](const qmath::Range& got, const qmath::Range& want) {
          EXPECT_EQ(f32_bits(got.min), f32_bits(want.min)) << got.min << " vs " << want.min;
          EXPECT_EQ(f32_bits(got.max), f32_bits(want.max)) << got.max << " vs " << want.max;
          ++checked;
        };
        const std::size_t n = data->size();
        check(qmath::mse_sweep_range<std::int8_t>(data->data(), n, {qmath::scheme::symmetric}, steps, stride),
              brute_force_sweep(*data, true, -128, 127, steps, stride));
        check(qmath::mse_sweep_range<std::uint8_t>(data->data(), n, {qmath::scheme::affine}, steps, stride),
              brute_force_sweep(*data, false, 0, 255, steps, stride));
        qmath::ChooseOptions reduced{qmath::scheme::affine};
        reduced.reduce_range = true;
        check(qmath::mse_sweep_range<std::int8_t>(data->data(), n, reduced, steps, stride),
              brute_force_sweep(*data, false, -64, 63, steps, stride));
        check(qmath::mse_sweep_range<qmath::int4>(data->data(), n, {qmath::scheme::symmetric}, steps, stride),
              brute_force_sweep(*data, true, -8, 7, steps, stride));
      }
    }
  }
  EXPECT_EQ(checked, 32);
}

TEST(MseSweep, ClipsOutliersKeepsUniform) {
  // A few big outliers are clipped once they are outweighed: clipping three values near 60 down to a few units
  // costs about 3 * 55^2 = 9000, while at the full range [-60, 60] 4-bit codes have a step of 8 and round every
  // one of the 20000 normal values to 0 (about 20000 in total). With 8-bit codes the full range costs only
  // step^2 / 12 = 0.0185 per element, so it takes far more elements before clipping one outlier pays.
  std::vector<float> x = normal_data(20000, 0.0f, 1.0f, 5);
  x[10] = 60.0f;
  x[2000] = -55.0f;
  x[4000] = 58.0f;
  const qmath::Range clipped = qmath::mse_sweep_range<qmath::int4>(x.data(), x.size(), {qmath::scheme::symmetric});
  EXPECT_LT(clipped.max, 10.0f) << "outliers not clipped";
  EXPECT_GT(clipped.max, 1.0f) << "clipped into the bulk of the data";
  EXPECT_EQ(clipped.min, -clipped.max);
  const qmath::Range affine = qmath::mse_sweep_range<qmath::uint4>(x.data(), x.size(), {qmath::scheme::affine});
  EXPECT_LT(affine.max, 10.0f);
  EXPECT_GT(affine.min, -10.0f);
  EXPECT_GT(affine.max, 1.0f);
  // 8-bit codes: one outlier at 60 among 400000 normal values (full range about 7400, clipping it about 3600).
  std::vector<float> big = normal_data(400000, 0.0f, 1.0f, 9);
  big[123] = 60.0f;
  const qmath::Range big8 = qmath::mse_sweep_range<std::int8_t>(big.data(), big.size(), {qmath::scheme::symmetric});
  EXPECT_LT(big8.max, 20.0f);
  EXPECT_GT(big8.max, 3.0f);

  std::mt19937 gen(6);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> u(5000);
  for (float& v : u) v = dist(gen);
  float amax = 0.0f;
  for (float v : u) amax = std::max(amax, std::fabs(v));
  const qmath::Range kept = qmath::mse_sweep_range<std::int8_t>(u.data(), u.size(), {qmath::scheme::symmetric});
  EXPECT_GE(kept.max, 0.95f * amax);
  EXPECT_LE(kept.max, amax);
  const qmath::QParams<std::int8_t> p =
      qmath::mse_sweep_qparams<std::int8_t>(u.data(), u.size(), {qmath::scheme::symmetric});
  EXPECT_EQ(p.scale, qmath::choose_qparams<std::int8_t>(kept.min, kept.max, {qmath::scheme::symmetric}).scale);
}

TEST(MseSweep, NonFiniteIgnoredAndEdgeCases) {
  std::vector<float> x = normal_data(1000, 0.0f, 1.0f, 8);
  const qmath::Range clean = qmath::mse_sweep_range<std::int8_t>(x.data(), x.size(), {qmath::scheme::symmetric});
  std::vector<float> dirty = x;
  dirty.insert(dirty.begin() + 17, kNaN);
  dirty.push_back(kInf);
  dirty.insert(dirty.begin() + 500, -kInf);
  const qmath::Range with_holes =
      qmath::mse_sweep_range<std::int8_t>(dirty.data(), dirty.size(), {qmath::scheme::symmetric});
  EXPECT_EQ(f32_bits(with_holes.min), f32_bits(clean.min));
  EXPECT_EQ(f32_bits(with_holes.max), f32_bits(clean.max));

  const std::vector<float> zeros(10, 0.0f), nans(3, kNaN);
  for (const auto* data : {&zeros, &nans}) {
    const qmath::Range r = qmath::mse_sweep_range<std::uint8_t>(data->data(), data->size());
    EXPECT_EQ(r.min, 0.0f);
    EXPECT_EQ(r.max, 0.0f);
  }
  const qmath::Range none = qmath::mse_sweep_range<std::uint8_t>(nullptr, 0);
  EXPECT_EQ(none.max, 0.0f);
  EXPECT_THROW(qmath::mse_sweep_range<std::uint8_t>(x.data(), x.size(), {}, 0), qmath::error);
  EXPECT_THROW(qmath::mse_sweep_range<std::uint8_t>(x.data(), x.size(), {}, 10, 0), qmath::error);
  EXPECT_THROW(qmath::mse_sweep_range<std::uint8_t>(nullptr, 4), qmath::error);
  // Float zero points (pytorch affine only) go through the float-zero-point reference.
  qmath::ChooseOptions fzp;
  fzp.float_zero_point = true;
  const qmath::Range f = qmath::mse_sweep_range<std::uint8_t>(x.data(), x.size(), fzp, 50);
  EXPECT_LT(f.min, 0.0f);
  EXPECT_GT(f.max, 0.0f);
  // One step is the data's own range exactly.
  const qmath::Range whole = qmath::mse_sweep_range<std::uint8_t>(x.data(), x.size(), {}, 1);
  EXPECT_EQ(whole.min, *std::min_element(x.begin(), x.end()));
  EXPECT_EQ(whole.max, *std::max_element(x.begin(), x.end()));
}

}  // namespace
