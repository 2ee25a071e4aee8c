// SPDX-License-Identifier: Apache-2.0
// The public bulk-conversion API over pointers, Eigen matrices, Maps and tensors: same bits as the scalar
// conversions, errors before any write on bad arguments, empty inputs are no-ops.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/convert.hpp"

namespace {

TEST(ConvertApi, TensorRoundTripKeepsShapeAndBits) {
  Eigen::Tensor<float, 3> x(3, 5, 7);
  x.setRandom();
  x(0, 0, 0) = 6.25f;
  x(2, 4, 6) = 1e6f;  // overflows fp16
  const Eigen::Tensor<Eigen::half, 3> h = qmath::to_f16(x);
  ASSERT_EQ(h.dimensions(), x.dimensions());
  for (Eigen::Index i = 0; i < x.size(); ++i)
    ASSERT_EQ(Eigen::numext::bit_cast<std::uint16_t>(h.data()[i]), qmath::f32_to_f16_bits(x.data()[i]));
  const Eigen::Tensor<float, 3> back = qmath::to_f32(h);
  for (Eigen::Index i = 0; i < x.size(); ++i)
    ASSERT_EQ(qmath::f32_bits(back.data()[i]),
              qmath::f32_bits(qmath::f16_bits_to_f32(qmath::f32_to_f16_bits(x.data()[i]))));
  EXPECT_EQ(static_cast<float>(back(0, 0, 0)), 6.25f);
  EXPECT_TRUE(std::isinf(back(2, 4, 6)));
}

TEST(ConvertApi, RowMajorTensorAndBf16) {
  Eigen::Tensor<float, 2, Eigen::RowMajor> x(4, 9);
  x.setRandom();
  const auto b = qmath::to_bf16(x);
  for (Eigen::Index i = 0; i < x.size(); ++i)
    ASSERT_EQ(Eigen::numext::bit_cast<std::uint16_t>(b.data()[i]), qmath::f32_to_bf16_bits(x.data()[i]));
  const auto back = qmath::to_f32(b);
  EXPECT_EQ(back.dimension(1), 9);
}

TEST(ConvertApi, MatrixAndMapOverUserBuffer) {
  std::vector<float> buffer(6 * 11);
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(i) * 0.37f - 9.0f;
  Eigen::Map<const Eigen::MatrixXf> m(buffer.data(), 6, 11);
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic> h(6, 11);
  qmath::convert(m, h);
  for (Eigen::Index i = 0; i < m.size(); ++i)
    ASSERT_EQ(Eigen::numext::bit_cast<std::uint16_t>(h.data()[i]), qmath::f32_to_f16_bits(buffer[i]));
}

TEST(ConvertApi, ErrorsBeforeWriting) {
  Eigen::MatrixXf m = Eigen::MatrixXf::Random(4, 4);
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic> wrong(3, 4);
  wrong.setConstant(Eigen::half(7.0f));
  EXPECT_THROW(qmath::convert(m, wrong), qmath::error);
  EXPECT_EQ(static_cast<float>(wrong(0, 0)), 7.0f);
  // A block of a larger matrix has an outer gap: refused rather than read wrongly.
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic> out(2, 2);
  auto block = m.block(0, 0, 2, 2);
  EXPECT_THROW(qmath::convert(block, out), qmath::error);
  try {
    qmath::convert(m, wrong);
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("sizes differ"), std::string::npos);
  }
  Eigen::Tensor<float, 1> t(5);
  Eigen::Tensor<Eigen::half, 1> th(4);
  EXPECT_THROW(qmath::convert(t, th), qmath::error);
}

TEST(ConvertApi, MatrixShapeAndStorageOrderMustMatch) {
  Eigen::Matrix<float, 2, 3, Eigen::RowMajor> row_major;
  row_major << 1, 2, 3, 4, 5, 6;
  Eigen::Matrix<Eigen::half, 2, 3> col_major;
  col_major.setConstant(Eigen::half(9.0f));
  EXPECT_THROW(qmath::convert(row_major, col_major), qmath::error);  // would transpose the data silently
  EXPECT_EQ(static_cast<float>(col_major(0, 1)), 9.0f);
  Eigen::Matrix<Eigen::half, 3, 2, Eigen::RowMajor> transposed_shape;
  EXPECT_THROW(qmath::convert(row_major, transposed_shape), qmath::error);  // same size, other shape
  Eigen::Matrix<Eigen::half, 2, 3, Eigen::RowMajor> same;
  qmath::convert(row_major, same);
  EXPECT_EQ(static_cast<float>(same(0, 1)), 2.0f);
  EXPECT_EQ(static_cast<float>(same(1, 2)), 6.0f);
}

TEST(ConvertApi, EmptyIsANoOp) {
  qmath::convert_f32_to_f16(nullptr, nullptr, 0);
  qmath::convert_fp8_to_f32(nullptr, nullptr, 0, qmath::fp8_format::e5m2);
  Eigen::Tensor<float, 2> empty(0, 3);
  const auto h = qmath::to_f16(empty);
  EXPECT_EQ(h.size(), 0);
}

TEST(ConvertApi, PointerApiUsesFp8Saturation) {
  const float in[3] = {1e6f, -1e6f, 0.5f};
  std::uint8_t out[3];
  qmath::convert_f32_to_fp8(in, out, 3, qmath::fp8_format::e4m3fn);
  EXPECT_EQ(out[0], 0x7e);
  EXPECT_EQ(out[1], 0xfe);
  EXPECT_EQ(out[2], qmath::f32_to_e4m3fn(0.5f));
}

}  // namespace
