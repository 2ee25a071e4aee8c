// SPDX-License-Identifier: Apache-2.0
// benchmarks/bench_gemm_eigen.cpp: bench_gemm's fp32 baseline, C = A W^T with Eigen, compiled once per ISA
// (QMATH_BENCH_EIGEN_ISA = avx2, avx512bw, or generic off x86) with that ISA's flags: Eigen picks its kernels at
// compile time, and a user who cares about fp32 speed builds it with -march=native, not with the default SSE2.
//
// ODR firewall: each copy renames Eigen's namespace (Eigen -> qmath_bench_eigen_<isa>) before including Eigen, so
// its ISA-flagged inline functions never share a symbol with another copy or with the unflagged Eigen of the main
// unit; the linker cannot hand an AVX-512 body to code that runs on every CPU. The main unit calls
// eigen_sgemm_<isa> only after checking the CPU.
#include <cstddef>

#define QMATH_BENCH_CAT_(a, b) a##b
#define QMATH_BENCH_CAT(a, b) QMATH_BENCH_CAT_(a, b)
#define Eigen QMATH_BENCH_CAT(qmath_bench_eigen_, QMATH_BENCH_EIGEN_ISA)
#include <Eigen/Core>

namespace qmath_bench {

void QMATH_BENCH_CAT(eigen_sgemm_, QMATH_BENCH_EIGEN_ISA)(const float* a, const float* w, float* c, std::ptrdiff_t m,
                                                        std::ptrdiff_t n, std::ptrdiff_t k, int threads) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::setNbThreads(threads);  // Eigen threads its GEMM with OpenMP only (not its GEMV, M = 1)
  const Eigen::Map<const Matrix> a_map(a, m, k), w_map(w, n, k);
  Eigen::Map<Matrix> c_map(c, m, n);
  c_map.noalias() = a_map * w_map.transpose();
}

}  // namespace qmath_bench
