// SPDX-License-Identifier: Apache-2.0
// benchmarks/bench_conv.cpp: throughput of qmath's int8 convolution on every GEMM path compiled in and run by this
// CPU, against oneDNN's int8 convolution and oneDNN's fp32 convolution, on the layers of ResNet-50 (3x3, 1x1, the
// 7x7 stride-2 stem), MobileNetV2 (depthwise 3x3 and pointwise) and the MNIST CNN of ../shared/realdata.
//
// GOPS = 2 * (multiply-adds over the taps inside the input: padding taps are not counted) / 10^9 per second of wall
// time. Names are conv/<impl>/<layer>/threads:<n>; benchmarks/conv_ratios.py runs the binary once per ISA with
// oneDNN pinned to the same ISA (ONEDNN_MAX_CPU_ISA, read once per process) and prints the ratio tables.
//
// The problem is a quantized layer's: uint8 NHWC activations with zero point 0 (post-ReLU), int8 weights with one
// symmetric scale per output channel (zero point 0: PyTorch's and oneDNN's convention), int32 bias, requantized to
// uint8 NHWC with a per-channel float multiplier (the fused-ReLU clamp is the uint8 range). qmath packs its weights
// and oneDNN reorders its weights (format_tag::any) once, outside the timing loop; activations and output stay NHWC on
// both sides. oneDNN's fp32 convolution runs on fp32 copies of the same tensors with every layout format_tag::any
// (its blocked layouts, its fastest case; the reorders are outside the timing loop).
//
// Before timing, every qmath path is checked bit for bit against the specification (ref::conv2d_u8s8_i32 with the
// requantization of ref::requantize_float) on the smaller layers, and oneDNN's int8 output is compared with qmath's
// (its requantization rounds the same way in f32; a difference of one code is reported in its row's label).
//
// Threads: qmath GemmOptions::threads (OpenMP pool, as oneDNN's), oneDNN omp_set_num_threads before creating its
// primitive.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(QMATH_BENCH_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>

#include "onednn_common.hpp"
#endif

#include "qmath/conv.hpp"
#include "qmath/kernels/ref/conv2d_u8s8.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "shapes.hpp"

namespace {

using qmath::ConvParams;
using qmath::isa;

struct Layer {
  const char* name;
  ConvParams p;
};

ConvParams layer(std::ptrdiff_t batch, std::ptrdiff_t hw, std::ptrdiff_t ic, std::ptrdiff_t oc, std::ptrdiff_t groups,
                 std::ptrdiff_t kernel, std::ptrdiff_t stride) {
  ConvParams p;
  p.batch = batch;
  p.in_h = p.in_w = hw;
  p.in_channels = ic;
  p.out_channels = oc;
  p.groups = groups;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = kernel / 2;
  return p;
}

const std::vector<Layer>& layers() {
  static const std::vector<Layer> list = {
      {"r50_3x3_56x56x64", layer(1, 56, 64, 64, 1, 3, 1)},
      {"r50_3x3_28x28x128", layer(1, 28, 128, 128, 1, 3, 1)},
      {"r50_3x3_14x14x256", layer(1, 14, 256, 256, 1, 3, 1)},
      {"r50_3x3_7x7x512", layer(1, 7, 512, 512, 1, 3, 1)},
      {"r50_1x1_56x56x64-256", layer(1, 56, 64, 256, 1, 1, 1)},
      {"r50_1x1_14x14x1024-256", layer(1, 14, 1024, 256, 1, 1, 1)},
      {"r50_stem_7x7s2_224x224x3-64", layer(1, 224, 3, 64, 1, 7, 2)},
      {"mbv2_dw_112x112x32", layer(1, 112, 32, 32, 32, 3, 1)},
      {"mbv2_dw_s2_56x56x144", layer(1, 56, 144, 144, 144, 3, 2)},
      {"mbv2_dw_14x14x576", layer(1, 14, 576, 576, 576, 3, 1)},
      {"mbv2_pw_56x56x24-144", layer(1, 56, 24, 144, 1, 1, 1)},
      {"mbv2_pw_14x14x576-96", layer(1, 14, 576, 96, 1, 1, 1)},
      {"mnist_conv1_b64_28x28x1-8", layer(64, 28, 1, 8, 1, 5, 1)},
      {"mnist_conv2_b64_14x14x8-16", layer(64, 14, 8, 16, 1, 5, 1)},
  };
  return list;
}

/// Multiply-adds over the taps that fall inside the input.
double macs_of(const ConvParams& p) {
  double taps = 0.0;
  for (std::ptrdiff_t oh = 0; oh < p.out_h(); ++oh)
    for (std::ptrdiff_t ow = 0; ow < p.out_w(); ++ow)
      for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
        for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw) {
          const std::ptrdiff_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          const std::ptrdiff_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
          if (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w) taps += 1.0;
        }
  return taps * static_cast<double>(p.batch) * static_cast<double>(p.in_channels / p.groups) *
         static_cast<double>(p.out_channels);
}

std::size_t input_size(const ConvParams& p) { return static_cast<std::size_t>(p.batch * p.in_h * p.in_w * p.in_channels); }
std::size_t output_size(const ConvParams& p) {
  return static_cast<std::size_t>(p.batch * p.out_h() * p.out_w() * p.out_channels);
}
std::size_t weight_size(const ConvParams& p) {
  return static_cast<std::size_t>(p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w);
}

/// The tensors of one layer (fixed seed): uint8 input, OIHW int8 weights, per-channel multipliers and bias chosen
/// so that the outputs spread over the uint8 range.
struct Tensors {
  std::vector<std::uint8_t> x;
  std::vector<std::int8_t> w;
  std::vector<float> multiplier, x_f32, w_f32, bias_f32;
  std::vector<std::int32_t> bias;
};

const Tensors& tensors(const Layer& l) {
  static std::map<std::string, std::unique_ptr<Tensors>> cache;
  std::unique_ptr<Tensors>& slot = cache[l.name];
  if (slot) return *slot;
  auto t = std::make_unique<Tensors>();
  std::mt19937 rng(7u);
  t->x.resize(input_size(l.p));
  t->w.resize(weight_size(l.p));
  for (auto& v : t->x) v = static_cast<std::uint8_t>(rng() % 256);
  for (auto& v : t->w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  const double k = static_cast<double>(l.p.kernel_h * l.p.kernel_w * (l.p.in_channels / l.p.groups));
  // |acc| ~ 128 * 73 * sqrt(K) for these uniform values: map a few standard deviations onto 256 codes.
  const double spread = 128.0 * 73.0 * std::sqrt(k);
  for (std::ptrdiff_t o = 0; o < l.p.out_channels; ++o) {
    t->multiplier.push_back(static_cast<float>(64.0 / spread * (0.75 + 0.5 * static_cast<double>(rng() % 1000) / 1000.0)));
    t->bias.push_back(static_cast<std::int32_t>(spread * (static_cast<double>(rng() % 1000) / 1000.0)));
  }
  t->x_f32.assign(t->x.begin(), t->x.end());
  t->w_f32.assign(t->w.begin(), t->w.end());
  t->bias_f32.assign(t->bias.begin(), t->bias.end());
  slot = std::move(t);
  return *slot;
}

void report(benchmark::State& state, const Layer& l, const std::string& label) {
  state.SetLabel(label);
  state.counters["GOPS"] = benchmark::Counter(2.0 * macs_of(l.p) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class Body>
void time_loop(benchmark::State& state, const Body& body) {
  body();
  for (auto _ : state) {
    body();
    benchmark::ClobberMemory();
  }
}

std::vector<isa> gemm_paths() {
  std::vector<isa> paths;
  for (isa path : qmath::kAllIsas)
    if (path != isa::scalar && qmath::has(qmath::kernels::compiled_gemm_isas(), path) &&
        qmath::has(qmath::supported_isas(), path))
      paths.push_back(path);
  return paths;
}

// ---- qmath ----------------------------------------------------------------------------------------------------------

const qmath::PackedConvWeights& packed(const Layer& l, isa path) {
  static std::map<std::pair<std::string, isa>, std::unique_ptr<qmath::PackedConvWeights>> cache;
  auto& slot = cache[{l.name, path}];
  if (!slot) {
    const std::int32_t zw = 0;
    slot = std::make_unique<qmath::PackedConvWeights>(qmath::pack_conv_weights<std::int8_t>(
        tensors(l).w.data(), l.p, qmath::conv_weight_layout::oihw, &zw, 1, path));
  }
  return *slot;
}

void run_qmath(const Layer& l, isa path, std::uint8_t* y, int threads) {
  const Tensors& t = tensors(l);
  qmath::GemmOptions options;
  options.threads = threads;
  qmath::conv2d(l.p, t.x.data(), 0, packed(l, path),
                qmath::GemmOutputRequantize<std::uint8_t>{y, l.p.out_channels, t.multiplier.data(), t.multiplier.size(),
                                                          0, t.bias.data()},
                options);
}

void bm_qmath(benchmark::State& state, const Layer& l, isa path) {
  const int threads = static_cast<int>(state.range(0));
  qmath_bench::AlignedArray<std::uint8_t> y = qmath_bench::make_aligned<std::uint8_t>(output_size(l.p));
  time_loop(state, [&] { run_qmath(l, path, y.get(), threads); });
  report(state, l, std::string("qmath-") + qmath::isa_name(path) + (packed(l, path).depthwise() ? " depthwise" : " gemm"));
}

// ---- oneDNN ---------------------------------------------------------------------------------------------------------
#if defined(QMATH_BENCH_ONEDNN)
using qmath_bench::onednn_engine;
using qmath_bench::onednn_isa_name;

/// One oneDNN convolution: int8 (u8 NHWC in and out, s8 weights, s32 bias, per-channel output scales) or fp32
/// (every layout format_tag::any).
struct OneDnnConv {
  dnnl::convolution_forward primitive;
  dnnl::memory src, weights, bias, dst;
  std::string impl;

  OneDnnConv(const Layer& l, bool int8) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const ConvParams& p = l.p;
    const Tensors& t = tensors(l);
    const dnnl::memory::dims src_dims = {p.batch, p.in_channels, p.in_h, p.in_w};
    const dnnl::memory::dims dst_dims = {p.batch, p.out_channels, p.out_h(), p.out_w()};
    const dnnl::memory::dims w_dims = p.groups > 1
        ? dnnl::memory::dims{p.groups, p.out_channels / p.groups, p.in_channels / p.groups, p.kernel_h, p.kernel_w}
        : dnnl::memory::dims{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
    const tag w_user_tag = p.groups > 1 ? tag::goihw : tag::oihw;
    const dt act = int8 ? dt::u8 : dt::f32, wt = int8 ? dt::s8 : dt::f32, bt = int8 ? dt::s32 : dt::f32;
    const tag act_tag = int8 ? tag::nhwc : tag::any;
    const dnnl::memory::desc src_md(src_dims, act, act_tag), dst_md(dst_dims, act, act_tag);
    const dnnl::memory::desc w_md(w_dims, wt, tag::any), b_md({p.out_channels}, bt, tag::x);
    dnnl::primitive_attr attr;
    if (int8) attr.set_output_scales(1 << 1, std::vector<float>(t.multiplier.begin(), t.multiplier.end()));
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_md, w_md, b_md, dst_md, {p.stride_h, p.stride_w},
                                               {p.pad_top, p.pad_left}, {p.pad_bottom, p.pad_right});
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, onednn_engine());
    impl = pd.impl_info_str();
    dnnl::stream stream(onednn_engine());
    auto from_user = [&](const dnnl::memory::desc& user_md, const void* data, const dnnl::memory::desc& want) {
      dnnl::memory user(user_md, onednn_engine(), const_cast<void*>(data));
      dnnl::memory m(want, onednn_engine());
      dnnl::reorder(user, m).execute(stream, user, m);
      return m;
    };
    const void* x = int8 ? static_cast<const void*>(t.x.data()) : t.x_f32.data();
    const void* w = int8 ? static_cast<const void*>(t.w.data()) : t.w_f32.data();
    const void* b = int8 ? static_cast<const void*>(t.bias.data()) : t.bias_f32.data();
    src = from_user(dnnl::memory::desc(src_dims, act, tag::nhwc), x, pd.src_desc());
    weights = from_user(dnnl::memory::desc(w_dims, wt, w_user_tag), w, pd.weights_desc());
    bias = from_user(b_md, b, pd.bias_desc());
    dst = dnnl::memory(pd.dst_desc(), onednn_engine());
    primitive = dnnl::convolution_forward(pd);
    stream.wait();
  }

  void run(dnnl::stream& stream) {
    primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }
};

std::map<std::string, std::string>& onednn_agreement() {
  static std::map<std::string, std::string> m;
  return m;
}

void bm_onednn(benchmark::State& state, const Layer& l, bool int8, const std::string& isa_label) {
  const int threads = static_cast<int>(state.range(0));
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#else
  if (threads > 1) {
    state.SkipWithError("built without OpenMP: cannot set oneDNN's threads");
    return;
  }
#endif
  OneDnnConv conv(l, int8);
  dnnl::stream stream(onednn_engine());
  time_loop(state, [&] { conv.run(stream); });
  std::string label = std::string(int8 ? "onednn-" : "onednn-f32-") + isa_label + " " + conv.impl;
  if (int8 && onednn_agreement().count(l.name)) label += " " + onednn_agreement()[l.name];
  report(state, l, label);
}
#endif

// ---- Checks -------------------------------------------------------------------------------------------------------

void validate() {
  for (const Layer& l : layers()) {
    if (macs_of(l.p) > 3e7) continue;  // the scalar specification is slow; the small layers cover every kernel kind
    const Tensors& t = tensors(l);
    std::vector<std::int32_t> acc(output_size(l.p));
    const std::int32_t zw = 0;
    qmath::kernels::ref::conv2d_u8s8_i32<std::uint8_t, std::int8_t>(l.p, t.x.data(), 0, t.w.data(), &zw, false,
                                                                     acc.data(), l.p.out_channels);
    std::vector<std::uint8_t> want(acc.size());
    for (std::size_t i = 0; i < acc.size(); ++i) {
      const std::size_t o = i % static_cast<std::size_t>(l.p.out_channels);
      want[i] = static_cast<std::uint8_t>(qmath::kernels::ref::requantize_float(
          qmath::kernels::ref::wrapping_add(acc[i], t.bias[o]), t.multiplier[o], 0, 0, 255));
    }
    for (isa path : gemm_paths()) {
      std::vector<std::uint8_t> got(want.size());
      run_qmath(l, path, got.data(), 1);
      if (got != want) {
        std::fprintf(stderr, "bench_conv: qmath-%s differs from the specification on %s\n", qmath::isa_name(path), l.name);
        std::exit(1);
      }
    }
#if defined(QMATH_BENCH_ONEDNN)
    OneDnnConv conv(l, true);
    dnnl::stream stream(onednn_engine());
    conv.run(stream);
    const auto* y = static_cast<const std::uint8_t*>(conv.dst.get_data_handle());
    int max_diff = 0;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const int d = std::abs(static_cast<int>(y[i]) - static_cast<int>(want[i]));
      max_diff = std::max(max_diff, d);
      differ += d != 0;
    }
    onednn_agreement()[l.name] = differ == 0 ? "(same codes as qmath)"
                                             : "(max diff " + std::to_string(max_diff) + " in " + std::to_string(differ) +
                                                   "/" + std::to_string(want.size()) + " codes)";
    std::fprintf(stderr, "bench_conv: oneDNN int8 on %s: %s\n", l.name, onednn_agreement()[l.name].c_str());
#endif
  }
}

void register_all() {
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  for (const Layer& l : layers()) {
    for (isa path : gemm_paths())
      add(std::string("conv/qmath-") + qmath::isa_name(path) + "/" + l.name,
          [&l, path](benchmark::State& st) { bm_qmath(st, l, path); });
#if defined(QMATH_BENCH_ONEDNN)
    const std::string onednn_isa = onednn_isa_name(dnnl::get_effective_cpu_isa());
    add("conv/onednn-" + onednn_isa + "/" + l.name, [&l, onednn_isa](benchmark::State& st) { bm_onednn(st, l, true, onednn_isa); });
    add("conv/onednn-f32-" + onednn_isa + "/" + l.name,
        [&l, onednn_isa](benchmark::State& st) { bm_onednn(st, l, false, onednn_isa); });
#endif
  }
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
