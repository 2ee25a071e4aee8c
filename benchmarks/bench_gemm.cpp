// SPDX-License-Identifier: Apache-2.0
// benchmarks/bench_gemm.cpp: throughput of qmath's int8 GEMM (u8 A x s8 B -> int32, and an int8-requantizing
// variant) on every GEMM path compiled in and run by this CPU, against oneDNN's u8 x s8 -> s32 matmul, fp32 GEMM in
// Eigen and OpenBLAS, and qmath's dynamic-quantized Linear (fp32 in / fp32 out) against the same Eigen product.
//
// Every benchmark reports GOPS = 2*M*N*K / 10^9 per second of wall time (kIsIterationInvariantRate on UseRealTime)
// and is labelled with the path that ran. Names are <family>/<impl>/M:/N:/K:/threads:; benchmarks/gemm_ratios.py
// runs the binary once per ISA and prints the ratio tables.
//
// The problem is a Linear layer's: A is M x K activations, the weights W are N x K row-major (B = W^T), C is M x N.
// Weights are packed (qmath), reordered (oneDNN) once outside the timing loop; A is packed inside it, as it changes
// every call. A zero point 128, B zero point 0.
//
// oneDNN reads ONEDNN_MAX_CPU_ISA once per process, so this binary never sets it: it names its oneDNN rows after the
// ISA oneDNN reports (onednn-<max isa>) and labels them with the implementation its primitive chose. Pin it from
// outside to compare with one qmath path: AVX2 (qmath avx2), AVX2_VNNI (avxvnni), AVX512_CORE (avx512bw),
// AVX512_CORE_VNNI (avx512vnni). Checked with ONEDNN_VERBOSE=1 (Debian's oneDNN 2.6.3, AMD Zen 5): the "info,cpu,isa"
// line names the pinned ISA and every matmul exec line, all shapes and both thread counts, names the label's
// implementation: gemm:jit for AVX2, AVX2_VNNI and AVX512_CORE (format_tag::any gives plain "ab" weights there, so its
// GEMM packs them on every call), brg:avx512_core_vnni with pre-packed BA16a64b4a weights for AVX512_CORE_VNNI.
// Unpinned, oneDNN takes its best ISA (avx512_core_bf16 here, still brg:avx512_core_vnni). oneDNN's gemm:jit without
// VNNI saturates u8 x s8 pairs in int16 (validate() checks that this is the only difference, and such rows are labelled
// "saturating"); qmath and oneDNN's VNNI paths are exact.
//
// Threads: qmath GemmOptions::threads (this unit is compiled with OpenMP, so qmath uses OpenMP's pool, as oneDNN
// does); Eigen setNbThreads; OpenBLAS openblas_set_num_threads; oneDNN omp_set_num_threads before creating and
// running its primitive (Debian's oneDNN uses the OpenMP runtime).
//
// Compiled without ISA flags, as a user compiles by default: qmath's paths come from qmath::isa_kernels; Eigen's
// fp32 product from bench_gemm_eigen.cpp, built once per ISA with that ISA's flags; OpenBLAS and oneDNN dispatch at
// run time themselves.
//
// Before timing, every implementation is checked on odd shapes: qmath's paths and oneDNN bit for bit against
// ref::gemm_u8s8_i32, the fp32 products and the dynamic Linear against a double-precision product within a
// tolerance; a mismatch aborts with a message.
//
// Bounds and a second exact peer, in the same binary so that ratios come from one run:
//   gemm_peak/<isa>/rows:/cols:/kr:   each x86 path's register tile alone (inline asm over L1-resident A and B, one
//                                     k-group per loop iteration): the compute peak of that instruction mix, one
//                                     thread; <isa>-saturating is oneDNN's pre-VNNI chain (vpmaddubsw, vpmaddwd by
//                                     ones, vpaddd) for reference.
//   gemm_bare_read/M:1/N:/K:/threads: a plain vector loop reading as many bytes as the int8 weights (K*N), split
//                                     across OpenMP threads: the bandwidth bound of a GEMV, in GOPS-equivalent
//                                     2*M*N*K per second and bytes/s.
//   gemm_s8s8_requant/<impl>/...:     int8 A (zero point) x int8 W -> int8 C with one float multiplier, bias and
//                                     clamp: qmath on every path against XNNPACK's fully-connected qs8 operator
//                                     (exact products, fp32 requantization), whose output is compared with
//                                     qmath's before timing.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(QMATH_BENCH_OPENBLAS)
#include <cblas.h>
#endif
#if defined(QMATH_BENCH_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>

#include "onednn_common.hpp"
#endif
#if defined(QMATH_BENCH_XNNPACK)
#include <pthreadpool.h>
#include <xnnpack.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "qmath/core/cpu.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/gemm.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/nn/dynamic_linear.hpp"
#include "shapes.hpp"

namespace qmath_bench {
// bench_gemm_eigen.cpp, one definition per ISA unit that CMake built.
void eigen_sgemm_avx2(const float*, const float*, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, int);
void eigen_sgemm_avx512bw(const float*, const float*, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, int);
void eigen_sgemm_generic(const float*, const float*, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, int);
}  // namespace qmath_bench

namespace {

using qmath::isa;
using qmath_bench::AlignedArray;
using qmath_bench::make_aligned;

struct Shape {
  std::int64_t m, n, k;
};

// Decode-like (M = 1, 16), prefill-like (M = 128) Linear layers of a 4096-wide model, and square problems.
constexpr Shape kShapes[] = {{1, 4096, 4096},  {16, 4096, 4096},   {128, 4096, 4096},  {256, 256, 256},
                             {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}};
constexpr int kThreadCounts[] = {1, 2};
// The int8-requantizing variant: one real layer, and the smallest square (so that test.sh's quick run covers it).
constexpr Shape kRequantShapes[] = {{256, 256, 256}, {128, 4096, 4096}};
// The scalar path is 10-50x slower than the SIMD ones: only problems up to this many operations, so that a full run
// stays short.
constexpr double kScalarMaxOps = 3.0e8;

constexpr std::int32_t kAZeroPoint = 128;  // mid-range, as a symmetric uint8 activation quantizer gives
constexpr std::int32_t kBZeroPoint = 0;    // symmetric weights

double ops_of(const Shape& s) {
  return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_gemm: %s\n", what.c_str());
  std::abort();
}

// ---- Operands -----------------------------------------------------------------------------------------------------

struct Activations {
  AlignedArray<std::uint8_t> u8;  // M x K, uniform over [0, 255]
  AlignedArray<float> f32;        // M x K, N(0, 1)
  AlignedArray<std::int8_t> s8;   // M x K, uniform over [-128, 127]: the s8 x s8 rows
};
struct Weights {
  AlignedArray<std::int8_t> s8;  // N x K, uniform over [-128, 127]
  AlignedArray<float> f32;       // N x K, N(0, 1/K): a Linear layer's scale
};

void fill_u8(std::uint8_t* p, std::size_t count, std::mt19937& rng) {
  for (std::size_t i = 0; i < count; ++i) p[i] = static_cast<std::uint8_t>(rng() >> 24);
}
void fill_s8(std::int8_t* p, std::size_t count, std::mt19937& rng) {
  for (std::size_t i = 0; i < count; ++i) p[i] = static_cast<std::int8_t>(static_cast<std::int32_t>(rng() >> 24) - 128);
}
void fill_normal(float* p, std::size_t count, float sigma, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, sigma);
  for (std::size_t i = 0; i < count; ++i) p[i] = normal(rng);
}

Activations make_activations(std::int64_t m, std::int64_t k, std::uint32_t seed) {
  const auto count = static_cast<std::size_t>(m * k);
  Activations a{make_aligned<std::uint8_t>(count), make_aligned<float>(count), make_aligned<std::int8_t>(count)};
  std::mt19937 rng(seed);
  fill_u8(a.u8.get(), count, rng);
  fill_normal(a.f32.get(), count, 1.0f, rng);
  fill_s8(a.s8.get(), count, rng);
  return a;
}
Weights make_weights(std::int64_t n, std::int64_t k, std::uint32_t seed) {
  const auto count = static_cast<std::size_t>(n * k);
  Weights w{make_aligned<std::int8_t>(count), make_aligned<float>(count)};
  std::mt19937 rng(seed);
  fill_s8(w.s8.get(), count, rng);
  fill_normal(w.f32.get(), count, 1.0f / std::sqrt(static_cast<float>(k)), rng);
  return w;
}

// Built on first use and kept for the run (every benchmark of a shape reads the same data); the weights of the
// three 4096 x 4096 layers are shared.
const Activations& activations(std::int64_t m, std::int64_t k) {
  static std::map<std::pair<std::int64_t, std::int64_t>, std::unique_ptr<Activations>> cache;
  auto& slot = cache[{m, k}];
  if (!slot) slot = std::make_unique<Activations>(make_activations(m, k, 20240601u));
  return *slot;
}
const Weights& weights(std::int64_t n, std::int64_t k) {
  static std::map<std::pair<std::int64_t, std::int64_t>, std::unique_ptr<Weights>> cache;
  auto& slot = cache[{n, k}];
  if (!slot) slot = std::make_unique<Weights>(make_weights(n, k, 7u));
  return *slot;
}

// One packed copy at a time: the benchmarks of one path run shape after shape, and a 4096 x 4096 int16 packing is
// 32 MiB.
const qmath::PackedGemmB& packed_weights(isa path, std::int64_t n, std::int64_t k) {
  static isa slot_path = isa::none;
  static std::int64_t slot_n = 0, slot_k = 0;
  static qmath::PackedGemmB slot;
  if (slot_path != path || slot_n != n || slot_k != k) {
    slot = qmath::PackedGemmB();
    slot = qmath::pack_gemm_b(weights(n, k).s8.get(), k, n, k, qmath::gemm_b_order::n_by_k, &kBZeroPoint, 1, path);
    slot_path = path, slot_n = n, slot_k = k;
  }
  return slot;
}

Shape shape_of(const benchmark::State& state) { return {state.range(0), state.range(1), state.range(2)}; }
int threads_of(const benchmark::State& state) { return static_cast<int>(state.range(3)); }

void report(benchmark::State& state, const Shape& s, const std::string& label) {
  state.SetLabel(label);
  state.counters["GOPS"] = benchmark::Counter(ops_of(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Runs `body` once untimed (first-touch page faults, thread pools, one-time setup), then the timing loop.
template <class Body>
void time_loop(benchmark::State& state, const Body& body) {
  body();
  for (auto _ : state) {
    body();
    benchmark::ClobberMemory();  // the stores must count; nothing reads C otherwise
  }
}

// ---- qmath ----------------------------------------------------------------------------------------------------------

std::vector<isa> gemm_paths() {
  std::vector<isa> paths;
  for (isa path : qmath::kAllIsas)
    if (qmath::has(qmath::kernels::compiled_gemm_isas(), path) && qmath::has(qmath::supported_isas(), path) &&
        qmath::kernels::gemm_kernels(path))
      paths.push_back(path);
  return paths;
}

void bm_qmath_i32(benchmark::State& state, isa path) {
  const Shape s = shape_of(state);
  const qmath::PackedGemmB& packed = packed_weights(path, s.n, s.k);
  if (packed.path() != path) {
    state.SkipWithError((std::string("packed for ") + qmath::isa_name(packed.path())).c_str());
    return;
  }
  const qmath::GemmA<std::uint8_t> a{activations(s.m, s.k).u8.get(), s.m, s.k, &kAZeroPoint, 1};
  AlignedArray<std::int32_t> c = make_aligned<std::int32_t>(static_cast<std::size_t>(s.m * s.n));
  const qmath::GemmOutputInt32 out{c.get(), s.n};
  qmath::GemmOptions options;
  options.threads = threads_of(state);
  time_loop(state, [&] { qmath::gemm(a, packed, out, options); });
  report(state, s, std::string("qmath-") + qmath::isa_name(path));
}

// Per-column float multipliers and int32 bias, output zero point and a ReLU-like clamp: a quantized Linear layer's
// epilogue.
void bm_qmath_requant(benchmark::State& state, isa path) {
  const Shape s = shape_of(state);
  const qmath::PackedGemmB& packed = packed_weights(path, s.n, s.k);
  if (packed.path() != path) {
    state.SkipWithError((std::string("packed for ") + qmath::isa_name(packed.path())).c_str());
    return;
  }
  const qmath::GemmA<std::uint8_t> a{activations(s.m, s.k).u8.get(), s.m, s.k, &kAZeroPoint, 1};
  AlignedArray<std::int8_t> c = make_aligned<std::int8_t>(static_cast<std::size_t>(s.m * s.n));
  std::vector<float> multiplier(static_cast<std::size_t>(s.n));
  std::vector<std::int32_t> bias(static_cast<std::size_t>(s.n));
  std::mt19937 rng(11u);
  std::uniform_real_distribution<float> scale(0.5e-5f, 2.0e-5f);
  std::uniform_int_distribution<std::int32_t> offset(-5000, 5000);
  for (std::size_t j = 0; j < multiplier.size(); ++j) multiplier[j] = scale(rng), bias[j] = offset(rng);
  qmath::GemmOutputRequantize<std::int8_t> out{c.get(), s.n, multiplier.data(), multiplier.size()};
  out.zero_point = -10;
  out.bias = bias.data();
  out.min = -10;
  qmath::GemmOptions options;
  options.threads = threads_of(state);
  time_loop(state, [&] { qmath::gemm(a, packed, out, options); });
  report(state, s, std::string("qmath-") + qmath::isa_name(path) + " requantize-s8");
}

// The s8 x s8 -> s8 Linear layer that qmath and XNNPACK both run: per-tensor scales, int32 bias, output zero point
// and clamp. The multiplier is computed as XNNPACK does (in float, in this order), so both requantize the same
// float(C + bias) * multiplier.
constexpr std::int32_t kS8AZeroPoint = 3;  // nonzero, so that both subtract it
struct S8Layer {
  float in_scale = 0.05f, kernel_scale = 0.01f, out_scale = 0.0f, multiplier = 0.0f;
  std::int32_t out_zero_point = -5, out_min = -120, out_max = 120;
  std::vector<std::int32_t> bias;  // N entries
};
S8Layer make_s8_layer(std::int64_t n, std::int64_t k) {
  S8Layer l;
  // |C| is about sqrt(K) * 74^2 (two uniform int8 factors): map that to ~40 codes, so that few outputs clamp.
  l.out_scale = l.in_scale * l.kernel_scale * std::sqrt(static_cast<float>(k)) * 5461.0f / 40.0f;
  l.multiplier = l.in_scale * l.kernel_scale / l.out_scale;
  l.bias.resize(static_cast<std::size_t>(n));
  std::mt19937 rng(13u);
  std::uniform_int_distribution<std::int32_t> offset(-20000, 20000);
  for (std::int32_t& b : l.bias) b = offset(rng);
  return l;
}

void qmath_s8s8(const qmath::PackedGemmB& packed, const std::int8_t* a, std::int64_t m, std::int64_t k,
                const S8Layer& l, std::int8_t* c, std::int64_t n, int threads) {
  qmath::GemmOutputRequantize<std::int8_t> out{c, n, &l.multiplier, 1};
  out.zero_point = l.out_zero_point;
  out.bias = l.bias.data();
  out.min = l.out_min;
  out.max = l.out_max;
  qmath::GemmOptions options;
  options.threads = threads;
  qmath::gemm(qmath::GemmA<std::int8_t>{a, m, k, &kS8AZeroPoint, 1}, packed, out, options);
}

void bm_qmath_s8s8(benchmark::State& state, isa path) {
  const Shape s = shape_of(state);
  const qmath::PackedGemmB& packed = packed_weights(path, s.n, s.k);
  if (packed.path() != path) {
    state.SkipWithError((std::string("packed for ") + qmath::isa_name(packed.path())).c_str());
    return;
  }
  const S8Layer layer = make_s8_layer(s.n, s.k);
  const std::int8_t* a = activations(s.m, s.k).s8.get();
  AlignedArray<std::int8_t> c = make_aligned<std::int8_t>(static_cast<std::size_t>(s.m * s.n));
  time_loop(state, [&] { qmath_s8s8(packed, a, s.m, s.k, layer, c.get(), s.n, threads_of(state)); });
  report(state, s, std::string("qmath-") + qmath::isa_name(path) + " s8s8 requantize-s8 fp32");
}

// One layer at a time, as packed_weights.
const qmath::DynamicQuantizedLinear& dynamic_layer(isa path, std::int64_t n, std::int64_t k) {
  static isa slot_path = isa::none;
  static std::int64_t slot_n = 0, slot_k = 0;
  static std::unique_ptr<qmath::DynamicQuantizedLinear> slot;
  if (!slot || slot_path != path || slot_n != n || slot_k != k) {
    slot.reset();
    slot = std::make_unique<qmath::DynamicQuantizedLinear>(weights(n, k).f32.get(), n, k, nullptr, path);
    slot_path = path, slot_n = n, slot_k = k;
  }
  return *slot;
}

void bm_dynamic_linear(benchmark::State& state, isa path) {
  const Shape s = shape_of(state);
  const qmath::DynamicQuantizedLinear& layer = dynamic_layer(path, s.n, s.k);
  if (layer.packed_weights().path() != path) {
    state.SkipWithError((std::string("packed for ") + qmath::isa_name(layer.packed_weights().path())).c_str());
    return;
  }
  const float* x = activations(s.m, s.k).f32.get();
  AlignedArray<float> y = make_aligned<float>(static_cast<std::size_t>(s.m * s.n));
  qmath::DynamicLinearOptions options;
  options.threads = threads_of(state);
  time_loop(state, [&] { layer.forward(x, s.m, s.k, y.get(), s.n, options); });
  report(state, s, std::string("qmath-") + qmath::isa_name(path) + " dynamic-linear");
}

// ---- fp32 baselines -----------------------------------------------------------------------------------------------

using SgemmFn = void (*)(const float*, const float*, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, int);

struct Sgemm {
  std::string name;  // eigen-<isa>, openblas
  SgemmFn fn;
  bool threads_work;  // false: the library was built without threads here; 2-thread rows report an error
};

#if defined(QMATH_BENCH_OPENBLAS)
void openblas_sgemm(const float* a, const float* w, float* c, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k,
                    int threads) {
  openblas_set_num_threads(threads);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(k), w, static_cast<blasint>(k), 0.0f, c,
              static_cast<blasint>(n));
}
#endif

#if defined(_OPENMP)
constexpr bool kEigenThreads = true;
#else
constexpr bool kEigenThreads = false;
#endif

// The widest Eigen unit this CPU runs (one is enough: the ratio is against the best fp32 Eigen), then OpenBLAS.
std::vector<Sgemm> sgemms() {
  std::vector<Sgemm> out;
  const isa cpu = qmath::supported_isas();
  (void)cpu;
#if defined(QMATH_BENCH_EIGEN_AVX512BW)
  if (out.empty() && qmath::has(cpu, isa::avx512bw))
    out.push_back({"eigen-avx512", &qmath_bench::eigen_sgemm_avx512bw, kEigenThreads});
#endif
#if defined(QMATH_BENCH_EIGEN_AVX2)
  if (out.empty() && qmath::has(cpu, isa::avx2))
    out.push_back({"eigen-avx2", &qmath_bench::eigen_sgemm_avx2, kEigenThreads});
#endif
#if defined(QMATH_BENCH_EIGEN_GENERIC)
  if (out.empty()) out.push_back({"eigen", &qmath_bench::eigen_sgemm_generic, kEigenThreads});
#endif
#if defined(QMATH_BENCH_OPENBLAS)
  out.push_back({"openblas", &openblas_sgemm, true});
#endif
  return out;
}

void bm_sgemm(benchmark::State& state, const Sgemm& impl) {
  const Shape s = shape_of(state);
  const int threads = threads_of(state);
  if (threads > 1 && !impl.threads_work) {
    state.SkipWithError("built without OpenMP: no threads");
    return;
  }
  const float* a = activations(s.m, s.k).f32.get();
  const float* w = weights(s.n, s.k).f32.get();
  AlignedArray<float> c = make_aligned<float>(static_cast<std::size_t>(s.m * s.n));
  time_loop(state, [&] { impl.fn(a, w, c.get(), s.m, s.n, s.k, threads); });
  report(state, s, impl.name + " fp32");
}

// ---- oneDNN -------------------------------------------------------------------------------------------------------

#if defined(QMATH_BENCH_ONEDNN)
using qmath_bench::onednn_engine;
using qmath_bench::onednn_isa_name;

// Set by validate(): this process's oneDNN saturates full-range u8 x s8 products (its rows say so in the label).
bool& onednn_saturates() {
  static bool value = false;
  return value;
}


// u8 A (row-major) x s8 W^T -> s32 C, the weights reordered to the layout the primitive asked for (format_tag::any),
// A's zero point a run-time argument (so one primitive serves any zero point, as in a dynamic-quantized model).
struct OneDnnMatmul {
  dnnl::matmul primitive;
  dnnl::memory a, w, c, a_zero_point;
  std::string impl;

  OneDnnMatmul(const Shape& s, const std::uint8_t* a_data, const std::int8_t* w_data, std::int32_t* c_data,
               const std::int32_t* zero_point) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::engine& engine = onednn_engine();
    dnnl::stream stream(engine);
    const dnnl::memory::desc a_md({s.m, s.k}, dt::u8, tag::ab);
    const dnnl::memory::desc w_any({s.k, s.n}, dt::s8, tag::any);
    const dnnl::memory::desc w_user_md({s.k, s.n}, dt::s8, tag::ba);  // B = W^T: N x K row-major
    const dnnl::memory::desc c_md({s.m, s.n}, dt::s32, tag::ab);
    dnnl::primitive_attr attr;
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, c_md), attr, engine);
    impl = pd.impl_info_str();
    a = dnnl::memory(a_md, engine, const_cast<std::uint8_t*>(a_data));
    c = dnnl::memory(c_md, engine, c_data);
    dnnl::memory w_user(w_user_md, engine, const_cast<std::int8_t*>(w_data));
    w = dnnl::memory(pd.weights_desc(), engine);
    dnnl::reorder(w_user, w).execute(stream, w_user, w);
    a_zero_point = dnnl::memory({{1}, dt::s32, tag::x}, engine, const_cast<std::int32_t*>(zero_point));
    primitive = dnnl::matmul(pd);
    stream.wait();
  }

  void run(dnnl::stream& stream) {
    primitive.execute(stream, {{DNNL_ARG_SRC, a},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_DST, c},
                               {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, a_zero_point}});
    stream.wait();
  }
};

void bm_onednn(benchmark::State& state, const std::string& isa_label) {
  const Shape s = shape_of(state);
  const int threads = threads_of(state);
#if defined(_OPENMP)
  omp_set_num_threads(threads);  // before creating the primitive: its blocking depends on the thread count
#else
  if (threads > 1) {
    state.SkipWithError("built without OpenMP: cannot set oneDNN's threads");
    return;
  }
#endif
  AlignedArray<std::int32_t> c = make_aligned<std::int32_t>(static_cast<std::size_t>(s.m * s.n));
  OneDnnMatmul mm(s, activations(s.m, s.k).u8.get(), weights(s.n, s.k).s8.get(), c.get(), &kAZeroPoint);
  dnnl::stream stream(onednn_engine());
  time_loop(state, [&] { mm.run(stream); });
  report(state, s, "onednn-" + isa_label + " " + mm.impl + (onednn_saturates() ? " saturating" : ""));
}
#endif

// ---- Peak loops -----------------------------------------------------------------------------------------------------

// Each loop is one path's register tile and nothing else: per k-group, load the B vectors, then per row broadcast
// 4 bytes of A and multiply-add into that row's accumulators, over 64 groups of A and B that stay in L1, repeated
// `passes` times. Inline asm, so that the compiler can neither drop nor reorder the work; the functions carry their
// ISA as a target attribute (only the zmm ones need it, to clobber zmm16-31) and run only where the CPU has it.
#if defined(__x86_64__) && defined(QMATH_BENCH_PEAK_ASM)
#define QMATH_BENCH_PEAK 1
constexpr int kPeakGroups = 64;

// Register names: R is ymm or zmm, the rest register numbers.
#define QB_REG(R, N) "%%" #R #N
// vpmaddwd row: A's int16 pair, times both widened B batches, added through TMP.
#define QB_MADDWD_ROW(R, AOFF, A, B0, B1, TMP, ACC0, ACC1)                       \
  "vpbroadcastd " #AOFF "(%[pa]), " QB_REG(R, A) "\n\t"                         \
  "vpmaddwd " QB_REG(R, B0) ", " QB_REG(R, A) ", " QB_REG(R, TMP) "\n\t"       \
  "vpaddd " QB_REG(R, TMP) ", " QB_REG(R, ACC0) ", " QB_REG(R, ACC0) "\n\t"    \
  "vpmaddwd " QB_REG(R, B1) ", " QB_REG(R, A) ", " QB_REG(R, TMP) "\n\t"       \
  "vpaddd " QB_REG(R, TMP) ", " QB_REG(R, ACC1) ", " QB_REG(R, ACC1) "\n\t"
// vpdpbusd row (PFX "%{vex%} " for AVX-VNNI's VEX form): A's 4 uint8 against B's int8 quads.
#define QB_DPBUSD_ROW(PFX, R, AOFF, A, B0, B1, ACC0, ACC1)                       \
  "vpbroadcastd " #AOFF "(%[pa]), " QB_REG(R, A) "\n\t"                         \
  PFX "vpdpbusd " QB_REG(R, B0) ", " QB_REG(R, A) ", " QB_REG(R, ACC0) "\n\t"   \
  PFX "vpdpbusd " QB_REG(R, B1) ", " QB_REG(R, A) ", " QB_REG(R, ACC1) "\n\t"
// Saturating row: vpmaddubsw (u8 A x s8 B pairs -> saturated int16), vpmaddwd by ones (-> int32), vpaddd.
#define QB_MADDUBSW_ROW(R, AOFF, A, B0, B1, ONES, TMP, ACC0, ACC1)               \
  "vpbroadcastd " #AOFF "(%[pa]), " QB_REG(R, A) "\n\t"                         \
  "vpmaddubsw " QB_REG(R, B0) ", " QB_REG(R, A) ", " QB_REG(R, TMP) "\n\t"     \
  "vpmaddwd " QB_REG(R, ONES) ", " QB_REG(R, TMP) ", " QB_REG(R, TMP) "\n\t"   \
  "vpaddd " QB_REG(R, TMP) ", " QB_REG(R, ACC0) ", " QB_REG(R, ACC0) "\n\t"    \
  "vpmaddubsw " QB_REG(R, B1) ", " QB_REG(R, A) ", " QB_REG(R, TMP) "\n\t"     \
  "vpmaddwd " QB_REG(R, ONES) ", " QB_REG(R, TMP) ", " QB_REG(R, TMP) "\n\t"   \
  "vpaddd " QB_REG(R, TMP) ", " QB_REG(R, ACC1) ", " QB_REG(R, ACC1) "\n\t"

#define QB_ZERO2(R, X, Y) "vpxor %%" #R #X ", %%" #R #X ", %%" #R #X "\n\t" "vpxor %%" #R #Y ", %%" #R #Y ", %%" #R #Y "\n\t"
#define QB_ZERO2Z(X, Y) "vpxord %%zmm" #X ", %%zmm" #X ", %%zmm" #X "\n\t" "vpxord %%zmm" #Y ", %%zmm" #Y ", %%zmm" #Y "\n\t"
#define QB_ZERO_Y12 QB_ZERO2(ymm, 0, 1) QB_ZERO2(ymm, 2, 3) QB_ZERO2(ymm, 4, 5) QB_ZERO2(ymm, 6, 7) \
                    QB_ZERO2(ymm, 8, 9) QB_ZERO2(ymm, 10, 11)
#define QB_ZERO_Z16 QB_ZERO2Z(0, 1) QB_ZERO2Z(2, 3) QB_ZERO2Z(4, 5) QB_ZERO2Z(6, 7) QB_ZERO2Z(8, 9) \
                    QB_ZERO2Z(10, 11) QB_ZERO2Z(12, 13) QB_ZERO2Z(14, 15)
// The outer loop over passes around the inner loop over the 64 groups, one group per iteration (as qmath's tile).
#define QB_LOOP(SETUP, GROUP, A_STEP, B_STEP)                                     \
  SETUP                                                                          \
  "1:\n\t"                                                                       \
  "mov %[a], %[pa]\n\t"                                                          \
  "mov %[b], %[pb]\n\t"                                                          \
  "mov $64, %[n]\n\t"                                                            \
  "2:\n\t"                                                                       \
  GROUP                                                                          \
  "add $" #A_STEP ", %[pa]\n\t"                                                  \
  "add $" #B_STEP ", %[pb]\n\t"                                                  \
  "dec %[n]\n\t"                                                                 \
  "jnz 2b\n\t"                                                                   \
  "dec %[passes]\n\t"                                                            \
  "jnz 1b\n\t"                                                                   \
  "vzeroupper\n\t"
#define QB_OPERANDS                                                               \
  : [passes] "+r"(passes), [pa] "=&r"(pa), [pb] "=&r"(pb), [n] "=&r"(n)          \
  : [a] "r"(a), [b] "r"(b)
#define QB_CLOBBER_XMM15 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
                         "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc"
#define QB_CLOBBER_XMM20 QB_CLOBBER_XMM15, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20"

using PeakFn = void (*)(const void*, const void*, long);

// avx2: 6 rows x 2 ymm, kr = 2 (A int16 pairs, B int8 widened by vpmovsxbw: 16 bytes per ymm). ymm0-11 sums,
// 12-13 B, 14 A, 15 the product.
__attribute__((target("avx2"))) void peak_avx2(const void* a, const void* b, long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO_Y12,
                           "vpmovsxbw 0(%[pb]), %%ymm12\n\t"
                           "vpmovsxbw 16(%[pb]), %%ymm13\n\t"
                           QB_MADDWD_ROW(ymm, 0, 14, 12, 13, 15, 0, 1) QB_MADDWD_ROW(ymm, 4, 14, 12, 13, 15, 2, 3)
                           QB_MADDWD_ROW(ymm, 8, 14, 12, 13, 15, 4, 5) QB_MADDWD_ROW(ymm, 12, 14, 12, 13, 15, 6, 7)
                           QB_MADDWD_ROW(ymm, 16, 14, 12, 13, 15, 8, 9) QB_MADDWD_ROW(ymm, 20, 14, 12, 13, 15, 10, 11),
                           24, 32)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM15);
}

// avxvnni: 6 rows x 2 ymm, kr = 4, {vex} vpdpbusd, B 32 plain bytes per ymm. ymm0-11 sums, 12-13 B, 14 A.
__attribute__((target("avx2"))) void peak_avxvnni(const void* a, const void* b, long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO_Y12,
                           "vmovdqa 0(%[pb]), %%ymm12\n\t"
                           "vmovdqa 32(%[pb]), %%ymm13\n\t"
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 0, 14, 12, 13, 0, 1)
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 4, 14, 12, 13, 2, 3)
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 8, 14, 12, 13, 4, 5)
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 12, 14, 12, 13, 6, 7)
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 16, 14, 12, 13, 8, 9)
                           QB_DPBUSD_ROW("%{vex%} ", ymm, 20, 14, 12, 13, 10, 11),
                           24, 64)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM15);
}

// avx512bw: 8 rows x 2 zmm, kr = 2, vpmovsxbw 32 bytes per zmm. zmm0-15 sums, 16-17 B, 18 A, 19 the product.
__attribute__((target("avx512f,avx512bw"))) void peak_avx512bw(const void* a, const void* b, long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO_Z16,
                           "vpmovsxbw 0(%[pb]), %%zmm16\n\t"
                           "vpmovsxbw 32(%[pb]), %%zmm17\n\t"
                           QB_MADDWD_ROW(zmm, 0, 18, 16, 17, 19, 0, 1) QB_MADDWD_ROW(zmm, 4, 18, 16, 17, 19, 2, 3)
                           QB_MADDWD_ROW(zmm, 8, 18, 16, 17, 19, 4, 5) QB_MADDWD_ROW(zmm, 12, 18, 16, 17, 19, 6, 7)
                           QB_MADDWD_ROW(zmm, 16, 18, 16, 17, 19, 8, 9) QB_MADDWD_ROW(zmm, 20, 18, 16, 17, 19, 10, 11)
                           QB_MADDWD_ROW(zmm, 24, 18, 16, 17, 19, 12, 13)
                           QB_MADDWD_ROW(zmm, 28, 18, 16, 17, 19, 14, 15),
                           32, 64)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM20);
}

// avx512vnni: 8 rows x 2 zmm, kr = 4, vpdpbusd, B 64 plain bytes per zmm. zmm0-15 sums, 16-17 B, 18 A.
__attribute__((target("avx512f,avx512bw"))) void peak_avx512vnni(const void* a, const void* b, long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO_Z16,
                           "vmovdqa64 0(%[pb]), %%zmm16\n\t"
                           "vmovdqa64 64(%[pb]), %%zmm17\n\t"
                           QB_DPBUSD_ROW("", zmm, 0, 18, 16, 17, 0, 1) QB_DPBUSD_ROW("", zmm, 4, 18, 16, 17, 2, 3)
                           QB_DPBUSD_ROW("", zmm, 8, 18, 16, 17, 4, 5) QB_DPBUSD_ROW("", zmm, 12, 18, 16, 17, 6, 7)
                           QB_DPBUSD_ROW("", zmm, 16, 18, 16, 17, 8, 9) QB_DPBUSD_ROW("", zmm, 20, 18, 16, 17, 10, 11)
                           QB_DPBUSD_ROW("", zmm, 24, 18, 16, 17, 12, 13)
                           QB_DPBUSD_ROW("", zmm, 28, 18, 16, 17, 14, 15),
                           32, 128)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM20);
}

// avx2-saturating: 5 rows x 2 ymm, kr = 4 (the most rows that fit 16 registers with the ones and the product).
// ymm0-9 sums, 10-11 B, 12 A, 13 the product, 14 int16 ones.
__attribute__((target("avx2"))) void peak_avx2_saturating(const void* a, const void* b, long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO2(ymm, 0, 1) QB_ZERO2(ymm, 2, 3) QB_ZERO2(ymm, 4, 5) QB_ZERO2(ymm, 6, 7)
                           QB_ZERO2(ymm, 8, 9)
                           "vpcmpeqw %%ymm14, %%ymm14, %%ymm14\n\t"
                           "vpsrlw $15, %%ymm14, %%ymm14\n\t",
                           "vmovdqa 0(%[pb]), %%ymm10\n\t"
                           "vmovdqa 32(%[pb]), %%ymm11\n\t"
                           QB_MADDUBSW_ROW(ymm, 0, 12, 10, 11, 14, 13, 0, 1)
                           QB_MADDUBSW_ROW(ymm, 4, 12, 10, 11, 14, 13, 2, 3)
                           QB_MADDUBSW_ROW(ymm, 8, 12, 10, 11, 14, 13, 4, 5)
                           QB_MADDUBSW_ROW(ymm, 12, 12, 10, 11, 14, 13, 6, 7)
                           QB_MADDUBSW_ROW(ymm, 16, 12, 10, 11, 14, 13, 8, 9),
                           20, 64)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM15);
}

// avx512bw-saturating: 8 rows x 2 zmm, kr = 4. zmm0-15 sums, 16-17 B, 18 A, 19 the product, 20 int16 ones.
__attribute__((target("avx512f,avx512bw"))) void peak_avx512bw_saturating(const void* a, const void* b,
                                                                          long passes) {
  const void *pa, *pb;
  long n;
  __asm__ volatile(QB_LOOP(QB_ZERO_Z16
                           "vpternlogd $0xff, %%zmm20, %%zmm20, %%zmm20\n\t"
                           "vpsrlw $15, %%zmm20, %%zmm20\n\t",
                           "vmovdqa64 0(%[pb]), %%zmm16\n\t"
                           "vmovdqa64 64(%[pb]), %%zmm17\n\t"
                           QB_MADDUBSW_ROW(zmm, 0, 18, 16, 17, 20, 19, 0, 1)
                           QB_MADDUBSW_ROW(zmm, 4, 18, 16, 17, 20, 19, 2, 3)
                           QB_MADDUBSW_ROW(zmm, 8, 18, 16, 17, 20, 19, 4, 5)
                           QB_MADDUBSW_ROW(zmm, 12, 18, 16, 17, 20, 19, 6, 7)
                           QB_MADDUBSW_ROW(zmm, 16, 18, 16, 17, 20, 19, 8, 9)
                           QB_MADDUBSW_ROW(zmm, 20, 18, 16, 17, 20, 19, 10, 11)
                           QB_MADDUBSW_ROW(zmm, 24, 18, 16, 17, 20, 19, 12, 13)
                           QB_MADDUBSW_ROW(zmm, 28, 18, 16, 17, 20, 19, 14, 15),
                           32, 128)
                   QB_OPERANDS
                   : QB_CLOBBER_XMM20);
}

struct PeakLoop {
  std::string name;  // gemm_peak/<name>/...
  isa needs;
  int rows, cols, kr;
  PeakFn fn;
  const char* instructions;  // the label
};

std::vector<PeakLoop> peak_loops() {
  return {
      {"avx2", isa::avx2, 6, 16, 2, &peak_avx2, "6x2 ymm vpbroadcastd+vpmovsxbw+vpmaddwd+vpaddd (exact)"},
      {"avx2-saturating", isa::avx2, 5, 16, 4, &peak_avx2_saturating,
       "5x2 ymm vpbroadcastd+vpmaddubsw+vpmaddwd(ones)+vpaddd (saturating)"},
      {"avxvnni", isa::avxvnni, 6, 16, 4, &peak_avxvnni, "6x2 ymm vpbroadcastd+{vex}vpdpbusd (exact)"},
      {"avx512bw", isa::avx512bw, 8, 32, 2, &peak_avx512bw, "8x2 zmm vpbroadcastd+vpmovsxbw+vpmaddwd+vpaddd (exact)"},
      {"avx512bw-saturating", isa::avx512bw, 8, 32, 4, &peak_avx512bw_saturating,
       "8x2 zmm vpbroadcastd+vpmaddubsw+vpmaddwd(ones)+vpaddd (saturating)"},
      {"avx512vnni", isa::avx512vnni, 8, 32, 4, &peak_avx512vnni, "8x2 zmm vpbroadcastd+vpdpbusd (exact)"},
  };
}

void bm_peak(benchmark::State& state, const PeakLoop& loop) {
  if (!qmath::has(qmath::supported_isas(), loop.needs)) {
    state.SkipWithError((std::string("this CPU lacks ") + qmath::isa_name(loop.needs)).c_str());
    return;
  }
  // A: rows x 4 bytes per group (the widest any loop reads), B: 128 bytes per group; 10 KiB in all.
  AlignedArray<std::uint8_t> a = make_aligned<std::uint8_t>(kPeakGroups * 32);
  AlignedArray<std::uint8_t> b = make_aligned<std::uint8_t>(kPeakGroups * 128);
  std::mt19937 rng(1u);
  fill_u8(a.get(), kPeakGroups * 32, rng);
  fill_u8(b.get(), kPeakGroups * 128, rng);
  constexpr long kPasses = 256;
  loop.fn(a.get(), b.get(), kPasses);
  for (auto _ : state) loop.fn(a.get(), b.get(), kPasses);
  const double ops = 2.0 * loop.rows * loop.cols * loop.kr * kPeakGroups * static_cast<double>(kPasses);
  state.counters["GOPS"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(loop.instructions);
}
#endif

// ---- Bare read ------------------------------------------------------------------------------------------------------

// XOR-folds `bytes` (a multiple of 128) into 4 independent accumulators: the loads are the whole cost.
#if defined(__x86_64__)
__attribute__((target("avx2"))) std::uint64_t read_avx2(const std::uint8_t* p, std::size_t bytes) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < bytes; i += 128) {
    s0 = _mm256_xor_si256(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_xor_si256(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_xor_si256(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_xor_si256(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_xor_si256(_mm256_xor_si256(s0, s1), _mm256_xor_si256(s2, s3));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(s, 0) ^ _mm256_extract_epi64(s, 1) ^
                                    _mm256_extract_epi64(s, 2) ^ _mm256_extract_epi64(s, 3));
}
#endif
std::uint64_t read_plain(const std::uint8_t* p, std::size_t bytes) {
  std::uint64_t s[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < bytes; i += 32)
    for (int j = 0; j < 4; ++j) {
      std::uint64_t word;
      std::memcpy(&word, p + i + 8 * j, 8);
      s[j] ^= word;
    }
  return s[0] ^ s[1] ^ s[2] ^ s[3];
}

// The weights' bytes, K*N (qmath's packing adds only N-sized column terms), read whole by `threads` threads, each
// a contiguous share: what any M = 1 GEMM must at least move per call.
void bm_bare_read(benchmark::State& state) {
  const Shape s = shape_of(state);
  const int threads = threads_of(state);
#if !defined(_OPENMP)
  if (threads > 1) {
    state.SkipWithError("built without OpenMP: no threads");
    return;
  }
#endif
  const auto bytes = static_cast<std::size_t>(s.n * s.k) / 128 * 128;
  static AlignedArray<std::uint8_t> buffer;
  static std::size_t buffer_bytes = 0;
  if (buffer_bytes != bytes) {
    buffer = make_aligned<std::uint8_t>(bytes);
    std::mt19937 rng(17u);
    fill_u8(buffer.get(), bytes, rng);
    buffer_bytes = bytes;
  }
  bool avx2 = false;
#if defined(__x86_64__)
  avx2 = qmath::has(qmath::supported_isas(), isa::avx2);
#endif
  std::uint64_t sink = 0;
  const std::uint8_t* data = buffer.get();
  auto body = [&] {
    std::uint64_t folded = 0;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) reduction(^ : folded)
#endif
    {
      std::size_t index = 0, count = 1;
#if defined(_OPENMP)
      index = static_cast<std::size_t>(omp_get_thread_num());
      count = static_cast<std::size_t>(omp_get_num_threads());
#endif
      const std::size_t lines = bytes / 128;
      const std::size_t begin = lines * index / count * 128, end = lines * (index + 1) / count * 128;
#if defined(__x86_64__)
      folded ^= avx2 ? read_avx2(data + begin, end - begin) : read_plain(data + begin, end - begin);
#else
      folded ^= read_plain(data + begin, end - begin);
#endif
    }
    sink ^= folded;
  };
  time_loop(state, body);
  benchmark::DoNotOptimize(sink);
  report(state, s, std::string(avx2 ? "avx2" : "scalar") + " loads, " + std::to_string(bytes >> 20) + " MiB");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
}

// ---- XNNPACK --------------------------------------------------------------------------------------------------------

#if defined(QMATH_BENCH_XNNPACK)
// XNNPACK picks its qs8 GEMM micro-kernel itself and does not say which. This mirrors the x86 order of its init.c
// in the Debian snapshot (0.0~git20220216.ae108ef): avx512skx needs AVX-512 F, BW, DQ and VL; XOP is checked before
// AVX2. Every one of them is c8 (vpmovsxbw + vpmaddwd, or pmaddwd on SSE: exact) with fp32 requantization.
std::string xnnpack_kernel() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "4x16c8-avx512skx";
  if (__builtin_cpu_supports("xop")) return "2x4c8-xop";
  if (__builtin_cpu_supports("avx2")) return "3x8c8-avx2";
  if (__builtin_cpu_supports("avx")) return "2x4c8-avx";
  if (__builtin_cpu_supports("sse4.1")) return "3x4c8-sse41";
  return "3x4c8-sse2";
#else
  return "own dispatch";
#endif
}

void xnn_check(xnn_status status, const char* what) {
  if (status != xnn_status_success) fail(std::string("xnnpack: ") + what + " failed, status " + std::to_string(status));
}

struct Pthreadpool {
  pthreadpool_t pool = nullptr;
  explicit Pthreadpool(int threads) {
    if (threads > 1) pool = pthreadpool_create(static_cast<std::size_t>(threads));
  }
  ~Pthreadpool() {
    if (pool) pthreadpool_destroy(pool);
  }
  Pthreadpool(const Pthreadpool&) = delete;
  Pthreadpool& operator=(const Pthreadpool&) = delete;
};

// One fully-connected qs8 operator: creating it packs the weights (untimed, as qmath's packing); setup binds the
// batch and pointers (once: a model reruns it only when they change); run is what the benchmark times.
struct XnnFullyConnected {
  xnn_operator_t op = nullptr;

  XnnFullyConnected(const Shape& s, const std::int8_t* w, const S8Layer& l, const std::int8_t* a, std::int8_t* c,
                    pthreadpool_t pool) {
    xnn_check(xnn_initialize(nullptr), "xnn_initialize");
    xnn_check(xnn_create_fully_connected_nc_qs8(
                  static_cast<std::size_t>(s.k), static_cast<std::size_t>(s.n), static_cast<std::size_t>(s.k),
                  static_cast<std::size_t>(s.n), static_cast<std::int8_t>(kS8AZeroPoint), l.in_scale, l.kernel_scale,
                  w, l.bias.data(), static_cast<std::int8_t>(l.out_zero_point), l.out_scale,
                  static_cast<std::int8_t>(l.out_min), static_cast<std::int8_t>(l.out_max), 0, &op),
              "xnn_create_fully_connected_nc_qs8");
    xnn_check(xnn_setup_fully_connected_nc_qs8(op, static_cast<std::size_t>(s.m), a, c, pool),
              "xnn_setup_fully_connected_nc_qs8");
  }
  ~XnnFullyConnected() {
    if (op) xnn_delete_operator(op);
  }
  XnnFullyConnected(const XnnFullyConnected&) = delete;
  XnnFullyConnected& operator=(const XnnFullyConnected&) = delete;
  void run(pthreadpool_t pool) { xnn_check(xnn_run_operator(op, pool), "xnn_run_operator"); }
};

// Set by validate(): how XNNPACK's output compared with qmath's (the rows' label says it).
std::string& xnnpack_agreement() {
  static std::string value = "not-checked";
  return value;
}
int& xnnpack_max_diff() {
  static int value = 0;
  return value;
}
std::size_t& xnnpack_differ() {
  static std::size_t value = 0;
  return value;
}
std::size_t& xnnpack_compared() {
  static std::size_t value = 0;
  return value;
}

void bm_xnnpack(benchmark::State& state) {
  const Shape s = shape_of(state);
  const int threads = threads_of(state);
  Pthreadpool pool(threads);
  if (threads > 1 && !pool.pool) {
    state.SkipWithError("pthreadpool_create failed");
    return;
  }
  const S8Layer layer = make_s8_layer(s.n, s.k);
  AlignedArray<std::int8_t> c = make_aligned<std::int8_t>(static_cast<std::size_t>(s.m * s.n));
  XnnFullyConnected fc(s, weights(s.n, s.k).s8.get(), layer, activations(s.m, s.k).s8.get(), c.get(), pool.pool);
  time_loop(state, [&] { fc.run(pool.pool); });
  report(state, s, "xnnpack " + xnnpack_kernel() + " fp32-requant " + xnnpack_agreement());
}
#endif

// ---- Validation ---------------------------------------------------------------------------------------------------

// Odd sizes: partial tiles in M and N, K not a multiple of any kr, and M = 1 (the decode case).
constexpr Shape kCheckShapes[] = {{37, 83, 301}, {1, 50, 129}};

std::vector<std::int32_t> reference_i32(const Shape& s, const std::uint8_t* a, const std::int8_t* w) {
  std::vector<std::int32_t> c(static_cast<std::size_t>(s.m * s.n));
  qmath::kernels::ref::gemm_u8s8_i32(s.m, s.n, s.k, a, s.k, &kAZeroPoint, false, w, 1, s.k, &kBZeroPoint, false,
                                     c.data(), s.n);
  return c;
}

void check_equal(const char* who, const Shape& s, const std::vector<std::int32_t>& want, const std::int32_t* got) {
  for (std::size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i])
      fail(std::string(who) + ": " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
           " C[" + std::to_string(i / static_cast<std::size_t>(s.n)) + "][" +
           std::to_string(i % static_cast<std::size_t>(s.n)) + "] = " + std::to_string(got[i]) + ", reference " +
           std::to_string(want[i]));
}

#if defined(QMATH_BENCH_ONEDNN)
// Runs oneDNN on (a, w); true when it matches `want` bit for bit. With `must`, a mismatch aborts with the element.
bool onednn_exact(const Shape& s, const std::uint8_t* a, const std::int8_t* w, const std::vector<std::int32_t>& want,
                  bool must = false) {
  std::vector<std::int32_t> got(want.size(), 0x5A5A5A5A);
  OneDnnMatmul mm(s, a, w, got.data(), &kAZeroPoint);
  dnnl::stream stream(onednn_engine());
  mm.run(stream);
  if (must) check_equal(("onednn " + mm.impl).c_str(), s, want, got.data());
  return got == want;
}
#endif

// The s8 x s8 -> s8 layer by qmath's documented formula: clamp(round_half_even(float(C + bias) * multiplier) + zp).
std::vector<std::int8_t> reference_s8s8(const Shape& s, const std::int8_t* a, const std::int8_t* w, const S8Layer& l) {
  std::vector<std::int8_t> c(static_cast<std::size_t>(s.m * s.n));
  for (std::int64_t i = 0; i < s.m; ++i)
    for (std::int64_t j = 0; j < s.n; ++j) {
      std::int32_t sum = l.bias[static_cast<std::size_t>(j)];
      for (std::int64_t p = 0; p < s.k; ++p) sum += (a[i * s.k + p] - kS8AZeroPoint) * w[j * s.k + p];
      const float q = std::nearbyint(static_cast<float>(sum) * l.multiplier) + static_cast<float>(l.out_zero_point);
      c[static_cast<std::size_t>(i * s.n + j)] =
          static_cast<std::int8_t>(std::min<float>(std::max<float>(q, static_cast<float>(l.out_min)),
                                                   static_cast<float>(l.out_max)));
    }
  return c;
}

// ||got - want|| / ||want|| in the Frobenius norm, want = A W^T in double.
double relative_error(const Shape& s, const float* a, const float* w, const float* got) {
  double diff = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < s.m; ++i)
    for (std::int64_t j = 0; j < s.n; ++j) {
      double want = 0.0;
      for (std::int64_t p = 0; p < s.k; ++p) want += double{a[i * s.k + p]} * double{w[j * s.k + p]};
      const double d = double{got[i * s.n + j]} - want;
      diff += d * d;
      norm += want * want;
    }
  return std::sqrt(diff / norm);
}

void validate() {
  for (const Shape& s : kCheckShapes) {
    const Activations a = make_activations(s.m, s.k, 3u);
    const Weights w = make_weights(s.n, s.k, 5u);
    const std::vector<std::int32_t> want = reference_i32(s, a.u8.get(), w.s8.get());
    std::vector<std::int32_t> got(want.size());
    for (isa path : gemm_paths()) {
      const qmath::PackedGemmB packed =
          qmath::pack_gemm_b(w.s8.get(), s.k, s.n, s.k, qmath::gemm_b_order::n_by_k, &kBZeroPoint, 1, path);
      for (int threads : kThreadCounts) {
        std::fill(got.begin(), got.end(), 0x5A5A5A5A);
        qmath::GemmOptions options;
        options.threads = threads;
        qmath::gemm(qmath::GemmA<std::uint8_t>{a.u8.get(), s.m, s.k, &kAZeroPoint, 1}, packed,
                    qmath::GemmOutputInt32{got.data(), s.n}, options);
        check_equal((std::string("qmath-") + qmath::isa_name(path)).c_str(), s, want, got.data());
      }
    }
    // s8 x s8 -> s8: qmath bit for bit against the formula on every path and thread count; XNNPACK compared with
    // qmath (recorded for its rows' label: its rounding is its own, so a difference is reported, not fatal).
    const S8Layer layer = make_s8_layer(s.n, s.k);
    const std::vector<std::int8_t> want_s8 = reference_s8s8(s, a.s8.get(), w.s8.get(), layer);
    std::vector<std::int8_t> got_s8(want_s8.size());
    for (isa path : gemm_paths()) {
      const qmath::PackedGemmB packed =
          qmath::pack_gemm_b(w.s8.get(), s.k, s.n, s.k, qmath::gemm_b_order::n_by_k, &kBZeroPoint, 1, path);
      for (int threads : kThreadCounts) {
        std::fill(got_s8.begin(), got_s8.end(), std::int8_t{0x5A});
        qmath_s8s8(packed, a.s8.get(), s.m, s.k, layer, got_s8.data(), s.n, threads);
        for (std::size_t i = 0; i < want_s8.size(); ++i)
          if (got_s8[i] != want_s8[i])
            fail(std::string("qmath-") + qmath::isa_name(path) + " s8s8 requantize: " + std::to_string(s.m) + "x" +
                 std::to_string(s.n) + "x" + std::to_string(s.k) + " element " + std::to_string(i) + " = " +
                 std::to_string(got_s8[i]) + ", formula " + std::to_string(want_s8[i]));
      }
    }
#if defined(QMATH_BENCH_XNNPACK)
    {
      std::vector<std::int8_t> xnn(want_s8.size(), std::int8_t{0x5A});
      XnnFullyConnected fc(s, w.s8.get(), layer, a.s8.get(), xnn.data(), nullptr);
      fc.run(nullptr);
      int worst = 0;
      std::size_t differ = 0;
      for (std::size_t i = 0; i < xnn.size(); ++i) {
        const int d = std::abs(int{xnn[i]} - int{got_s8[i]});  // got_s8: qmath's last path, equal to the formula
        worst = std::max(worst, d);
        differ += d != 0;
      }
      xnnpack_max_diff() = std::max(xnnpack_max_diff(), worst);
      xnnpack_differ() += differ;
      xnnpack_compared() += xnn.size();
    }
#endif
#if defined(QMATH_BENCH_ONEDNN)
    if (!onednn_exact(s, a.u8.get(), w.s8.get(), want)) {
      // oneDNN's int8 GEMM without VNNI (gemm:jit on AVX2, AVX512_CORE) sums u8 x s8 pairs with vpmaddubsw, which
      // saturates at int16 (255 * -128 * 2 < -32768). Accept that documented behaviour only if it is the whole
      // story: with 7-bit weights no pair can saturate and the result must be exact.
      Weights w7 = make_weights(s.n, s.k, 5u);
      for (std::int64_t i = 0; i < s.n * s.k; ++i) w7.s8[i] = static_cast<std::int8_t>(w7.s8[i] / 2);
      if (!onednn_exact(s, a.u8.get(), w7.s8.get(), reference_i32(s, a.u8.get(), w7.s8.get()), true))
        fail("onednn differs from the reference even with 7-bit weights");
      onednn_saturates() = true;
    }
#endif
    std::vector<float> y(want.size());
    for (const Sgemm& impl : sgemms()) {
      impl.fn(a.f32.get(), w.f32.get(), y.data(), s.m, s.n, s.k, 1);
      const double error = relative_error(s, a.f32.get(), w.f32.get(), y.data());
      if (!(error < 1e-5)) fail(impl.name + ": relative error " + std::to_string(error) + " against the fp64 product");
    }
    for (isa path : gemm_paths()) {
      const qmath::DynamicQuantizedLinear layer(w.f32.get(), s.n, s.k, nullptr, path);
      layer.forward(a.f32.get(), s.m, s.k, y.data(), s.n, {});
      // 8-bit activations and weights: about 1% relative error; a wrong layout or scale gives ~100%.
      const double error = relative_error(s, a.f32.get(), w.f32.get(), y.data());
      if (!(error < 0.05))
        fail(std::string("dynamic linear ") + qmath::isa_name(path) + ": relative error " + std::to_string(error) +
             " against the fp64 product");
    }
  }
#if defined(QMATH_BENCH_XNNPACK)
  xnnpack_agreement() =
      xnnpack_max_diff() == 0 ? "bit-exact-vs-qmath"
      : xnnpack_max_diff() == 1
          ? "within-1-code-vs-qmath(" + std::to_string(xnnpack_differ()) + "/" + std::to_string(xnnpack_compared()) + ")"
          : "MISMATCH-vs-qmath(max " + std::to_string(xnnpack_max_diff()) + " codes, " +
                std::to_string(xnnpack_differ()) + "/" + std::to_string(xnnpack_compared()) + ")";
  std::fprintf(stderr, "bench_gemm: xnnpack s8s8 on the check shapes: %s\n", xnnpack_agreement().c_str());
#endif
}

// ---- Registration -------------------------------------------------------------------------------------------------

template <class Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
      ->ArgNames({"M", "N", "K", "threads"})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

template <class Fn>
void add_shapes(const std::string& name, Fn fn, double max_ops = 0.0) {
  benchmark::internal::Benchmark* b = add(name, std::move(fn));
  for (const Shape& s : kShapes)
    if (max_ops <= 0.0 || ops_of(s) <= max_ops)
      for (int threads : kThreadCounts) b->Args({s.m, s.n, s.k, threads});
}

void register_all() {
  for (isa path : gemm_paths()) {
    const std::string name = std::string("qmath-") + qmath::isa_name(path);
    add_shapes("gemm_u8s8_i32/" + name, [path](benchmark::State& st) { bm_qmath_i32(st, path); },
               path == isa::scalar ? kScalarMaxOps : 0.0);
  }
#if defined(QMATH_BENCH_ONEDNN)
  const std::string onednn_isa = onednn_isa_name(dnnl::get_effective_cpu_isa());
  add_shapes("gemm_u8s8_i32/onednn-" + onednn_isa,
             [onednn_isa](benchmark::State& st) { bm_onednn(st, onednn_isa); });
#endif
  for (isa path : gemm_paths()) {
    if (path == isa::scalar) continue;
    benchmark::internal::Benchmark* b =
        add(std::string("gemm_u8s8_requant_s8/qmath-") + qmath::isa_name(path),
            [path](benchmark::State& st) { bm_qmath_requant(st, path); });
    for (const Shape& s : kRequantShapes)
      for (int threads : kThreadCounts) b->Args({s.m, s.n, s.k, threads});
  }
  for (isa path : gemm_paths()) {
    if (path == isa::scalar) continue;
    add_shapes(std::string("gemm_s8s8_requant/qmath-") + qmath::isa_name(path),
               [path](benchmark::State& st) { bm_qmath_s8s8(st, path); });
  }
#if defined(QMATH_BENCH_XNNPACK)
  add_shapes("gemm_s8s8_requant/xnnpack", [](benchmark::State& st) { bm_xnnpack(st); });
#endif
  {
    benchmark::internal::Benchmark* b = add("gemm_bare_read", [](benchmark::State& st) { bm_bare_read(st); });
    for (int threads : kThreadCounts) b->Args({1, 4096, 4096, threads});
  }
#if defined(QMATH_BENCH_PEAK)
  for (const PeakLoop& loop : peak_loops())
    benchmark::RegisterBenchmark(("gemm_peak/" + loop.name).c_str(), [loop](benchmark::State& st) { bm_peak(st, loop); })
        ->ArgNames({"rows", "cols", "kr"})
        ->Args({loop.rows, loop.cols, loop.kr})
        ->Unit(benchmark::kMicrosecond);
#endif
  for (isa path : gemm_paths()) {
    add_shapes(std::string("dynamic_linear_f32/qmath-") + qmath::isa_name(path),
               [path](benchmark::State& st) { bm_dynamic_linear(st, path); },
               path == isa::scalar ? kScalarMaxOps : 0.0);
  }
  for (const Sgemm& impl : sgemms())
    add_shapes("sgemm_f32/" + impl.name, [impl](benchmark::State& st) { bm_sgemm(st, impl); });
}

}  // namespace

int main(int argc, char** argv) {
  validate();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
