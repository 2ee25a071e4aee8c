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
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
  Activations a{make_aligned<std::uint8_t>(count), make_aligned<float>(count)};
  std::mt19937 rng(seed);
  fill_u8(a.u8.get(), count, rng);
  fill_normal(a.f32.get(), count, 1.0f, rng);
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
const char* onednn_isa_name(dnnl::cpu_isa value) {
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

// Set by validate(): this process's oneDNN saturates full-range u8 x s8 products (its rows say so in the label).
bool& onednn_saturates() {
  static bool value = false;
  return value;
}

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
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
