// SPDX-License-Identifier: Apache-2.0
// benchmarks/bench_convert.cpp: throughput of the bulk float-format conversions on every compiled ISA path,
// against memcpy, bare hardware-conversion loops and Eigen's cast.
//
// Compiled without ISA flags, as a user compiles by default: the qmath paths come from qmath::isa_kernels (run-time
// dispatch), the bare loops from their own ISA-flagged units (bare_*.cpp), and Eigen's cast sees only SSE2.
// Rates are bytes of INPUT per second, so a row and the memcpy row of the same conversion compare directly.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include "bare.hpp"
#include "qmath/convert.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "shapes.hpp"

namespace {

using qmath::isa;
using qmath::kernels::ConvertKernels;
using qmath_bench::Buffers;

enum class Conv {
  f32_to_f16, f16_to_f32, f32_to_bf16, bf16_to_f32, f32_to_e4m3fn, e4m3fn_to_f32, f32_to_e5m2, e5m2_to_f32
};

struct ConvInfo {
  Conv conv;
  const char* name;
  std::size_t in_bytes;  // size of one input element
};

constexpr ConvInfo kConversions[] = {
    {Conv::f32_to_f16, "f32_to_f16", 4},       {Conv::f16_to_f32, "f16_to_f32", 2},
    {Conv::f32_to_bf16, "f32_to_bf16", 4},     {Conv::bf16_to_f32, "bf16_to_f32", 2},
    {Conv::f32_to_e4m3fn, "f32_to_e4m3fn", 4}, {Conv::e4m3fn_to_f32, "e4m3fn_to_f32", 1},
    {Conv::f32_to_e5m2, "f32_to_e5m2", 4},     {Conv::e5m2_to_f32, "e5m2_to_f32", 1},
};

// One timed call: converts (or copies) n elements of the cached buffers.
using Body = std::function<void(Buffers&, std::size_t)>;

struct Case {
  Body body;
  std::size_t in_bytes;
  isa needs;          // the CPU must have this ISA, or the row reports an error instead of a rate
  std::string label;  // the path: an ISA name or a baseline name
};

void run_case(benchmark::State& state, const Case& c) {
  if (!qmath::has(qmath::supported_isas(), c.needs)) {
    state.SkipWithError(("cpu lacks " + std::string(qmath::isa_name(c.needs))).c_str());
    return;
  }
  const auto n = static_cast<std::size_t>(state.range(0));
  Buffers& b = qmath_bench::buffers(n);
  c.body(b, n);  // warm-up outside the timing: outputs and inputs in cache (L2 size) or TLB (large size)
  for (auto _ : state) {
    c.body(b, n);
    benchmark::ClobberMemory();  // the stores must count; nothing reads the output otherwise
  }
  state.SetLabel(c.label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * c.in_bytes));
}

// Calls the function pointer of one path's table directly, bypassing dispatch.
Body kernel_body(const ConvertKernels& k, Conv conv) {
  using qmath::fp8_format;
  using qmath::overflow_mode;
  switch (conv) {
    case Conv::f32_to_f16:
      return [f = k.f32_to_f16](Buffers& b, std::size_t n) {
        f(b.f32.get(), b.out_u16.get(), n, overflow_mode::to_infinity);
      };
    case Conv::f16_to_f32:
      return [f = k.f16_to_f32](Buffers& b, std::size_t n) { f(b.f16.get(), b.out_f32.get(), n); };
    case Conv::f32_to_bf16:
      return [f = k.f32_to_bf16](Buffers& b, std::size_t n) {
        f(b.f32.get(), b.out_u16.get(), n, qmath::bf16_rounding::nearest_even, overflow_mode::to_infinity);
      };
    case Conv::bf16_to_f32:
      return [f = k.bf16_to_f32](Buffers& b, std::size_t n) { f(b.bf16.get(), b.out_f32.get(), n); };
    case Conv::f32_to_e4m3fn:
      return [f = k.f32_to_fp8](Buffers& b, std::size_t n) {
        f(b.f32.get(), b.out_u8.get(), n, fp8_format::e4m3fn, overflow_mode::saturate);  // ONNX Cast default
      };
    case Conv::e4m3fn_to_f32:
      return [f = k.fp8_to_f32](Buffers& b, std::size_t n) {
        f(b.e4m3fn.get(), b.out_f32.get(), n, fp8_format::e4m3fn);
      };
    case Conv::f32_to_e5m2:
      return [f = k.f32_to_fp8](Buffers& b, std::size_t n) {
        f(b.f32.get(), b.out_u8.get(), n, fp8_format::e5m2, overflow_mode::saturate);
      };
    case Conv::e5m2_to_f32:
      return [f = k.fp8_to_f32](Buffers& b, std::size_t n) {
        f(b.e5m2.get(), b.out_f32.get(), n, fp8_format::e5m2);
      };
  }
  return {};
}

const void* input_of(const Buffers& b, Conv conv) {
  switch (conv) {
    case Conv::f16_to_f32: return b.f16.get();
    case Conv::bf16_to_f32: return b.bf16.get();
    case Conv::e4m3fn_to_f32: return b.e4m3fn.get();
    case Conv::e5m2_to_f32: return b.e5m2.get();
    default: return b.f32.get();
  }
}

// The floor of any conversion: moving the same input bytes with no arithmetic at all.
Body memcpy_body(Conv conv, std::size_t in_bytes) {
  return [conv, in_bytes](Buffers& b, std::size_t n) {
    void* dst = b.out_f32.get();
    std::memcpy(dst, input_of(b, conv), n * in_bytes);
    benchmark::DoNotOptimize(dst);
  };
}

// Eigen's own cast, as a user would write it; Eigen::half / bfloat16 hold exactly the 16-bit codes.
template <class From, class To>
void eigen_cast(const From* src, To* dst, std::size_t n) {
  using ArrayFrom = Eigen::Array<From, Eigen::Dynamic, 1>;
  using ArrayTo = Eigen::Array<To, Eigen::Dynamic, 1>;
  Eigen::Map<ArrayTo> out(dst, static_cast<Eigen::Index>(n));
  out = Eigen::Map<const ArrayFrom>(src, static_cast<Eigen::Index>(n)).template cast<To>();
  benchmark::DoNotOptimize(out.data());
}

Body eigen_body(Conv conv) {
  switch (conv) {
    case Conv::f32_to_f16:
      return [](Buffers& b, std::size_t n) {
        eigen_cast(b.f32.get(), reinterpret_cast<Eigen::half*>(b.out_u16.get()), n);
      };
    case Conv::f16_to_f32:
      return [](Buffers& b, std::size_t n) {
        eigen_cast(reinterpret_cast<const Eigen::half*>(b.f16.get()), b.out_f32.get(), n);
      };
    case Conv::f32_to_bf16:
      return [](Buffers& b, std::size_t n) {
        eigen_cast(b.f32.get(), reinterpret_cast<Eigen::bfloat16*>(b.out_u16.get()), n);
      };
    case Conv::bf16_to_f32:
      return [](Buffers& b, std::size_t n) {
        eigen_cast(reinterpret_cast<const Eigen::bfloat16*>(b.bf16.get()), b.out_f32.get(), n);
      };
    default: return {};  // Eigen has no fp8 types
  }
}

// The bare loops this build has, each with the conversion it times and the ISA it needs on the CPU.
struct BareLoop {
  Conv conv;
  const char* label;
  isa needs;
  Body body;
};

std::vector<BareLoop> bare_loops() {
  std::vector<BareLoop> loops;
#if defined(QMATH_BENCH_BARE_AVX2)
  // qmath's avx2 path is AVX2 + FMA + F16C, so its detection covers F16C.
  loops.push_back({Conv::f32_to_f16, "bare-f16c", isa::avx2, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_f32_to_f16_f16c(b.f32.get(), b.out_u16.get(), n);
                   }});
  loops.push_back({Conv::f16_to_f32, "bare-f16c", isa::avx2, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_f16_to_f32_f16c(b.f16.get(), b.out_f32.get(), n);
                   }});
#endif
#if defined(QMATH_BENCH_BARE_AVX512)
  loops.push_back({Conv::f32_to_f16, "bare-avx512", isa::avx512bw, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_f32_to_f16_avx512(b.f32.get(), b.out_u16.get(), n);
                   }});
  loops.push_back({Conv::f16_to_f32, "bare-avx512", isa::avx512bw, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_f16_to_f32_avx512(b.f16.get(), b.out_f32.get(), n);
                   }});
  loops.push_back({Conv::bf16_to_f32, "bare-avx512", isa::avx512bw, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_bf16_to_f32_avx512(b.bf16.get(), b.out_f32.get(), n);
                   }});
#endif
#if defined(QMATH_BENCH_BARE_AVX512BF16)
  // isa::avx512bf16 is detected from CPUID leaf 7 subleaf 1, EAX bit 5.
  loops.push_back({Conv::f32_to_bf16, "bare-avx512bf16", isa::avx512bf16, [](Buffers& b, std::size_t n) {
                     qmath_bench::bare_f32_to_bf16_avx512bf16(b.f32.get(), b.out_u16.get(), n);
                   }});
#endif
  return loops;
}

void add(const std::string& name, Case c) {
  benchmark::RegisterBenchmark(name.c_str(), [c = std::move(c)](benchmark::State& s) { run_case(s, c); })
      ->Arg(static_cast<std::int64_t>(qmath_bench::kL2N))
      ->Arg(static_cast<std::int64_t>(qmath_bench::kLargeN))
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const isa compiled = qmath::kernels::compiled_isas();
  std::vector<BareLoop> bare = bare_loops();
  for (const ConvInfo& info : kConversions) {
    const std::string prefix = std::string(info.name) + "/";
    add(prefix + "memcpy", {memcpy_body(info.conv, info.in_bytes), info.in_bytes, isa::scalar, "memcpy"});
    for (BareLoop& loop : bare)
      if (loop.conv == info.conv)
        add(prefix + loop.label, {std::move(loop.body), info.in_bytes, loop.needs, loop.label});
    if (Body body = eigen_body(info.conv))
      add(prefix + "eigen", {std::move(body), info.in_bytes, isa::scalar, "eigen"});
    // One row per compiled path, weakest first; a path the CPU cannot run reports "cpu lacks <isa>".
    for (isa path : qmath::kAllIsas) {
      if (!qmath::has(compiled, path)) continue;
      const ConvertKernels* table = qmath::kernels::convert_kernels(path);
      if (!table) continue;
      const char* name = qmath::isa_name(path);
      add(prefix + name, {kernel_body(*table, info.conv), info.in_bytes, path, name});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
