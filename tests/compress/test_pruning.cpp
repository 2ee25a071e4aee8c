// SPDX-License-Identifier: Apache-2.0
// Pruning masks against brute-force definitions: counts, orderings, ties, slots, N:M runs, storage sizes, bad input.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/compress/pruning.hpp"

namespace {

namespace compress = qmath::compress;
using qmath::TensorShape;

std::vector<float> random_weights(std::size_t n, std::mt19937& rng, float spread = 1.0f) {
  std::normal_distribution<float> g(0.0f, spread);
  std::vector<float> w(n);
  for (float& v : w) v = g(rng);
  return w;
}

std::size_t pruned(const compress::Mask& m) { return static_cast<std::size_t>(std::count(m.begin(), m.end(), 0)); }

// Every kept |w| is at least every pruned |w|.
void expect_magnitude_order(const std::vector<float>& w, const compress::Mask& m) {
  float largest_pruned = 0.0f, smallest_kept = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < w.size(); ++i)
    (m[i] ? smallest_kept : largest_pruned) = m[i] ? std::min(smallest_kept, std::fabs(w[i])) : std::max(largest_pruned, std::fabs(w[i]));
  EXPECT_LE(largest_pruned, smallest_kept);
}

TEST(Pruning, MagnitudeMaskPrunesExactlyTheSmallest) {
  std::mt19937 rng(1);
  for (std::size_t n : {1u, 2u, 3u, 7u, 64u, 1001u})
    for (double s : {0.0, 0.1, 0.5, 0.75, 0.9, 0.999, 1.0}) {
      const std::vector<float> w = random_weights(n, rng);
      const compress::Mask m = compress::magnitude_mask(w.data(), w.size(), s);
      ASSERT_EQ(m.size(), n);
      EXPECT_EQ(pruned(m), static_cast<std::size_t>(std::floor(s * static_cast<double>(n) + 0.5))) << n << " " << s;
      expect_magnitude_order(w, m);
    }
}

TEST(Pruning, TiesPruneTheEarlierElementFirst) {
  const std::vector<float> w = {0.5f, -0.5f, 0.5f, -0.5f, 0.5f, 2.0f};
  const compress::Mask m = compress::magnitude_mask(w.data(), w.size(), 0.5);  // prunes 3
  EXPECT_EQ(m, (compress::Mask{0, 0, 0, 1, 1, 1}));
}

TEST(Pruning, ThresholdKeepsStrictlyLarger) {
  std::mt19937 rng(2);
  std::vector<float> w = random_weights(500, rng);
  w[3] = 0.25f;
  w[4] = -0.25f;
  const compress::Mask m = compress::magnitude_mask_threshold(w.data(), w.size(), 0.25f);
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_EQ(m[i], std::fabs(w[i]) > 0.25f ? 1 : 0) << i;
  const std::vector<float> zeros = {0.0f, -0.0f, 1e-30f};
  EXPECT_EQ(compress::magnitude_mask_threshold(zeros.data(), 3, 0.0f), (compress::Mask{0, 0, 1}));
}

TEST(Pruning, GlobalMaskIsOneThresholdOverAllTensors) {
  std::mt19937 rng(3);
  const std::vector<float> small = random_weights(300, rng, 0.1f), large = random_weights(200, rng, 1.0f);
  const auto masks = compress::global_magnitude_masks({{small.data(), small.size()}, {large.data(), large.size()}}, 0.6);
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ(pruned(masks[0]) + pruned(masks[1]), 300u);
  EXPECT_GT(compress::sparsity_of(masks[0]), compress::sparsity_of(masks[1]));  // the small tensor loses more
  std::vector<float> all = small;
  all.insert(all.end(), large.begin(), large.end());
  const compress::Mask joint = compress::magnitude_mask(all.data(), all.size(), 0.6);
  EXPECT_EQ(compress::Mask(joint.begin(), joint.begin() + 300), masks[0]);
  EXPECT_EQ(compress::Mask(joint.begin() + 300, joint.end()), masks[1]);
}

// Norms by definition: walk the tensor by coordinates.
TEST(Pruning, SlotNormsPerChannelAndGroupInBothOrders) {
  std::mt19937 rng(4);
  const std::int64_t d0 = 3, d1 = 10, d2 = 2;
  const std::vector<float> w = random_weights(static_cast<std::size_t>(d0 * d1 * d2), rng);
  for (auto order : {qmath::storage_order::row_major, qmath::storage_order::col_major}) {
    const TensorShape shape{{d0, d1, d2}, order};
    auto at = [&](std::int64_t i, std::int64_t j, std::int64_t k) {
      const std::int64_t off = order == qmath::storage_order::row_major ? (i * d1 + j) * d2 + k : (k * d1 + j) * d0 + i;
      return static_cast<double>(w[static_cast<std::size_t>(off)]);
    };
    const std::vector<double> per_j = compress::slot_norms(w.data(), shape, qmath::per_channel(1), compress::norm_kind::l1);
    ASSERT_EQ(per_j.size(), 10u);
    for (std::int64_t j = 0; j < d1; ++j) {
      double s = 0.0;
      for (std::int64_t i = 0; i < d0; ++i)
        for (std::int64_t k = 0; k < d2; ++k) s += std::fabs(at(i, j, k));
      EXPECT_NEAR(per_j[static_cast<std::size_t>(j)], s, 1e-9);
    }
    if (order == qmath::storage_order::row_major) {
      // Groups of 4 along axis 1 (the last one holds 2), slot (i, group, k) numbered (i * 3 + group) * d2 + k.
      const std::vector<double> groups = compress::slot_norms(w.data(), shape, qmath::per_group(1, 4), compress::norm_kind::l2);
      ASSERT_EQ(groups.size(), static_cast<std::size_t>(d0 * 3 * d2));
      for (std::int64_t i = 0; i < d0; ++i)
        for (std::int64_t g = 0; g < 3; ++g)
          for (std::int64_t k = 0; k < d2; ++k) {
            double s = 0.0;
            for (std::int64_t j = g * 4; j < std::min<std::int64_t>(d1, g * 4 + 4); ++j) s += at(i, j, k) * at(i, j, k);
            EXPECT_NEAR(groups[static_cast<std::size_t>((i * 3 + g) * d2 + k)], std::sqrt(s), 1e-9);
          }
    }
  }
}

TEST(Pruning, StructuredRemovesWholeChannelsOfSmallestNorm) {
  // OIHW [4, 2, 1, 2]: output channel c scaled by c + 1 except channel 2, made the smallest.
  std::mt19937 rng(5);
  std::vector<float> w = random_weights(16, rng);
  for (std::size_t i = 0; i < 16; ++i) w[i] = std::fabs(w[i]) + 0.5f;
  for (std::size_t i = 8; i < 12; ++i) w[i] = 0.01f;
  const TensorShape oihw{{4, 2, 1, 2}};
  const compress::Mask m = compress::structured_mask(w.data(), oihw, qmath::per_channel(0), 0.25);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(m[i], i / 4 == 2 ? 0 : 1) << i;
  // Input channels (axis 1): 2 slots, half of them pruned.
  const compress::Mask by_input = compress::structured_mask(w.data(), oihw, qmath::per_channel(1), 0.5);
  EXPECT_EQ(pruned(by_input), 8u);
  for (std::size_t o = 0; o < 4; ++o) EXPECT_EQ(by_input[o * 4], by_input[o * 4 + 1]);
}

TEST(Pruning, L1AndL2RankChannelsDifferently) {
  // Row 0: one large value (L2 wins); row 1: many medium ones (L1 wins).
  const std::vector<float> w = {3.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  const TensorShape shape{{2, 4}};
  const compress::Mask l1 = compress::structured_mask(w.data(), shape, qmath::per_channel(0), 0.5, compress::norm_kind::l1);
  const compress::Mask l2 = compress::structured_mask(w.data(), shape, qmath::per_channel(0), 0.5, compress::norm_kind::l2);
  EXPECT_EQ(l1, (compress::Mask{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(l2, (compress::Mask{1, 1, 1, 1, 0, 0, 0, 0}));
}

TEST(Pruning, BlockSparsityWithGroups) {
  std::mt19937 rng(6);
  const std::vector<float> w = random_weights(6 * 10, rng);
  const TensorShape shape{{6, 10}};
  const compress::Mask m = compress::structured_mask(w.data(), shape, qmath::per_group(1, 4), 0.5);
  const std::vector<double> norms = compress::slot_norms(w.data(), shape, qmath::per_group(1, 4), compress::norm_kind::l2);
  ASSERT_EQ(norms.size(), 18u);
  std::size_t blocks_pruned = 0;
  double largest_pruned = 0.0, smallest_kept = 1e30;
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t g = 0; g < 3; ++g) {
      const std::size_t begin = r * 10 + g * 4, end = r * 10 + std::min<std::size_t>(10, g * 4 + 4);
      for (std::size_t i = begin; i < end; ++i) ASSERT_EQ(m[i], m[begin]) << "block not uniform at " << i;
      const double n = norms[r * 3 + g];
      if (!m[begin]) {
        ++blocks_pruned;
        largest_pruned = std::max(largest_pruned, n);
      } else {
        smallest_kept = std::min(smallest_kept, n);
      }
    }
  EXPECT_EQ(blocks_pruned, 9u);
  EXPECT_LE(largest_pruned, smallest_kept);
}

TEST(Pruning, NofMKeepsTheLargestInEveryRun) {
  std::mt19937 rng(7);
  for (int n_keep : {1, 2, 3})
    for (int m_run : {4, 8}) {
      if (n_keep > m_run) continue;
      const std::int64_t rows = 5, cols = 19;  // a tail run of 3
      const std::vector<float> w = random_weights(static_cast<std::size_t>(rows * cols), rng);
      const compress::Mask m = compress::n_m_mask(w.data(), TensorShape{{rows, cols}}, 1, n_keep, m_run);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c0 = 0; c0 < cols; c0 += m_run) {
          const std::int64_t len = std::min<std::int64_t>(m_run, cols - c0);
          const std::int64_t expect_kept = (len * n_keep + m_run - 1) / m_run;
          std::int64_t kept = 0;
          float min_kept = 1e30f, max_pruned = 0.0f;
          for (std::int64_t c = c0; c < c0 + len; ++c) {
            const auto i = static_cast<std::size_t>(r * cols + c);
            kept += m[i];
            (m[i] ? min_kept : max_pruned) = m[i] ? std::min(min_kept, std::fabs(w[i])) : std::max(max_pruned, std::fabs(w[i]));
          }
          EXPECT_EQ(kept, expect_kept) << n_keep << ":" << m_run << " row " << r << " run " << c0;
          EXPECT_LE(max_pruned, min_kept);
        }
    }
}

TEST(Pruning, NofMAlongTheInputAxisOfAConvWeight) {
  // OIHW [2, 4, 1, 2]: runs of 4 along I at each (o, w) position, 2 kept each.
  std::vector<float> w(16);
  for (std::size_t i = 0; i < 16; ++i) w[i] = static_cast<float>(i % 5) - 2.0f;
  const compress::Mask m = compress::n_m_mask(w.data(), TensorShape{{2, 4, 1, 2}}, 1, 2, 4);
  for (std::size_t o = 0; o < 2; ++o)
    for (std::size_t x = 0; x < 2; ++x) {
      int kept = 0;
      for (std::size_t c = 0; c < 4; ++c) kept += m[(o * 4 + c) * 2 + x];
      EXPECT_EQ(kept, 2);
    }
  // Ties among equal magnitudes: the earlier is pruned first, as in magnitude_mask.
  const std::vector<float> equal = {1.0f, -1.0f, 1.0f, -1.0f};
  EXPECT_EQ(compress::n_m_mask(equal.data(), TensorShape{{1, 4}}, 1, 2, 4), (compress::Mask{0, 0, 1, 1}));
}

TEST(Pruning, ApplyMaskAndSparsity) {
  std::vector<float> w = {1.0f, 2.0f, 3.0f, 4.0f};
  compress::apply_mask(w.data(), w.size(), {1, 0, 1, 0});
  EXPECT_EQ(w, (std::vector<float>{1.0f, 0.0f, 3.0f, 0.0f}));
  EXPECT_DOUBLE_EQ(compress::sparsity_of({1, 0, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(compress::sparsity_of({}), 0.0);
}

TEST(Pruning, CubicScheduleOfZhuAndGupta) {
  EXPECT_DOUBLE_EQ(compress::cubic_sparsity(-5, 0, 100, 0.0, 0.9), 0.0);
  EXPECT_DOUBLE_EQ(compress::cubic_sparsity(0, 0, 100, 0.0, 0.9), 0.0);
  EXPECT_DOUBLE_EQ(compress::cubic_sparsity(100, 0, 100, 0.0, 0.9), 0.9);
  EXPECT_DOUBLE_EQ(compress::cubic_sparsity(500, 0, 100, 0.0, 0.9), 0.9);
  EXPECT_NEAR(compress::cubic_sparsity(50, 0, 100, 0.1, 0.9), 0.9 - 0.8 / 8.0, 1e-12);
  double last = 0.0, last_rise = 1.0;
  for (int t = 1; t <= 100; ++t) {
    const double s = compress::cubic_sparsity(t, 0, 100, 0.0, 0.9);
    EXPECT_GT(s, last);
    EXPECT_LE(s - last, last_rise + 1e-12);  // slower and slower
    last_rise = s - last;
    last = s;
  }
}

TEST(Pruning, StorageBytesOfEachFormat) {
  compress::Mask m(32, 0);  // 4 x 8, 8 kept (1:4)
  for (std::size_t i = 0; i < 32; i += 4) m[i] = 1;
  ASSERT_EQ(std::count(m.begin(), m.end(), 1), 8);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 8, compress::sparse_format::dense), 32u);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 32, compress::sparse_format::dense), 128u);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 8, compress::sparse_format::bitmap), 4u + 8u);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 8, compress::sparse_format::csr), 5u * 4u + 8u * 2u + 8u);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 8, compress::sparse_format::n_m, 4), 8u * 10u / 8u);
  EXPECT_EQ(compress::storage_bytes(m, 4, 8, 4, compress::sparse_format::bitmap), 4u + 4u);
  EXPECT_EQ(compress::best_storage(m, 4, 8, 32).second, compress::sparse_format::bitmap);
  EXPECT_EQ(compress::best_storage(compress::Mask(32, 1), 4, 8, 8).second, compress::sparse_format::dense);
  // Very sparse: CSR wins.
  compress::Mask sparse(100 * 1000, 0);
  sparse[5] = 1;
  EXPECT_EQ(compress::best_storage(sparse, 100, 1000, 32).second, compress::sparse_format::csr);
}

TEST(Pruning, BadInputThrowsAndWritesNothing) {
  std::vector<float> w = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
  EXPECT_THROW(compress::magnitude_mask(w.data(), 3, 0.5), qmath::error);
  EXPECT_THROW(compress::magnitude_mask_threshold(w.data(), 3, 0.5f), qmath::error);
  w[1] = 0.5f;
  EXPECT_THROW(compress::magnitude_mask(w.data(), 3, 1.5), qmath::error);
  EXPECT_THROW(compress::magnitude_mask(w.data(), 3, -0.1), qmath::error);
  EXPECT_THROW(compress::magnitude_mask_threshold(w.data(), 3, -1.0f), qmath::error);
  EXPECT_THROW(compress::structured_mask(w.data(), TensorShape{{3}}, qmath::per_tensor(), 0.5), qmath::error);
  EXPECT_THROW(compress::structured_mask(w.data(), TensorShape{{3}}, qmath::per_channel(1), 0.5), qmath::error);
  EXPECT_THROW(compress::structured_mask(w.data(), TensorShape{{3}}, qmath::per_group(0, 0), 0.5), qmath::error);
  EXPECT_THROW(compress::n_m_mask(w.data(), TensorShape{{1, 3}}, 1, 3, 2), qmath::error);
  EXPECT_THROW(compress::n_m_mask(w.data(), TensorShape{{1, 3}}, 2, 1, 2), qmath::error);
  EXPECT_THROW(compress::cubic_sparsity(1, 5, 5, 0.0, 0.5), qmath::error);
  EXPECT_THROW(compress::storage_bytes({1, 0}, 3, 1, 8, compress::sparse_format::csr), qmath::error);
  const std::vector<float> before = w;
  EXPECT_THROW(compress::apply_mask(w.data(), 3, {0, 0}), qmath::error);
  EXPECT_EQ(w, before);
  // Empty tensors are fine.
  EXPECT_TRUE(compress::magnitude_mask(nullptr, 0, 0.5).empty());
}

}  // namespace
