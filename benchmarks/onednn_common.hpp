// SPDX-License-Identifier: Apache-2.0
// benchmarks/onednn_common.hpp: what bench_gemm and bench_conv both need of oneDNN: the name of the ISA it runs
// (rows are named after it) and one CPU engine per process.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace qmath_bench {

inline const char* onednn_isa_name(dnnl::cpu_isa value) {
  switch (value) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

inline dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

}  // namespace qmath_bench
