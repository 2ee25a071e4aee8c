// SPDX-License-Identifier: Apache-2.0
// tests/consumer/main.cpp: a user's program: converts a tensor to fp16 and checks the article's bits of 6.25.
#include <cstdio>

#include <qmath/qmath.hpp>

int main() {
  Eigen::Tensor<float, 2> x(2, 3);
  x.setValues({{6.25f, 1.0f, -2.0f}, {0.5f, 65504.0f, 1e6f}});
  const Eigen::Tensor<Eigen::half, 2> h = qmath::to_f16(x);
  const std::string bits = qmath::bit_string(Eigen::numext::bit_cast<std::uint16_t>(h(0, 0)), qmath::kFloat16Layout);
  std::printf("6.25 in fp16: %s (path %s)\n", bits.c_str(),
              qmath::isa_name(qmath::kernels::active_convert_kernels().path));
  return bits == "0|10001|1001000000" && static_cast<float>(h(1, 1)) == 65504.0f ? 0 : 1;
}
