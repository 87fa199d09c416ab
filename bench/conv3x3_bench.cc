// 3x3 stride-1 convolutions between nChw8c activations from real networks (ResNet-50, VGG-19,
// SqueezeNet, DenseNet-121, Inception), run by oneDNN's direct convolution and by the cpu
// driver's own kernels (ConvWinograd, ConvBlockedDirect where they take the shape), alternating one
// call each so that both see the same machine, with the medians, their ratio and the largest
// difference between the outputs. GFLOP/s count the direct convolution's multiply-adds for both.
// The activations are blocked by 8 (nChw8c, the AVX2 kernels) or 16 channels (nChw16c, AVX-512).
// --kernel direct|winograd runs that kernel on every shape it can compute, whether or not its
// rules take the shape (to test the rules).
// Run: build/bin/bench_conv3x3 [--threads N] [--iterations N] [--block 8|16]
//      [--kernel auto|direct|winograd]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "drivers/cpu/kernels/conv_blocked.h"
#include "drivers/cpu/kernels/conv_winograd.h"
#include "unihal/hal/thread_pool.h"

namespace {

struct Shape3x3 {
  const char* network;
  int64_t in_c, out_c, size;  // square planes, padding 1
};

constexpr Shape3x3 kShapes[] = {
    {"resnet50", 64, 64, 56},     {"resnet50", 128, 128, 28},   {"resnet50", 256, 256, 14},
    {"resnet50", 512, 512, 7},    {"vgg19", 64, 64, 224},       {"vgg19", 128, 128, 112},
    {"vgg19", 256, 256, 56},      {"vgg19", 512, 512, 28},      {"vgg19", 512, 512, 14},
    {"squeezenet", 16, 64, 54},   {"squeezenet", 32, 128, 27},  {"squeezenet", 64, 256, 13},
    {"squeezenet", 48, 192, 13},
    {"densenet121", 128, 32, 56}, {"densenet121", 128, 32, 14}, {"inception", 64, 192, 56},
    {"inception", 96, 128, 28},   {"inception", 128, 192, 28},  {"inception", 160, 320, 7},
};

std::vector<float> Random(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

float* Workspace(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Fn>
double TimeMs(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  unihal::hal::ThreadPool& pool = unihal::hal::ThreadPool::Process();
  int threads = 2, iterations = 30, block = 8;
  const char* kernel = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--kernel")) kernel = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--iterations")) iterations = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--block")) block = std::atoi(argv[i + 1]);
  }
  using dnnl::memory;
  const memory::format_tag blocked =
      block == 16 ? memory::format_tag::nChw16c : memory::format_tag::nChw8c;
  pool.SetNumThreads(threads);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::printf("%-12s %5s %5s %4s | %8s %8s %6s | %7s %7s | %9s %s\n", "network", "C", "M", "H=W",
              "oneDNN", "unihal", "ratio", "GF/s dn", "GF/s uh", "max diff", "kernel");
  for (const Shape3x3& s : kShapes) {
    unihal::cpu::BlockedConvGeometry g;
    g.block = block;
    g.in_blocks = s.in_c / block;
    g.out_blocks = s.out_c / block;
    g.in_h = g.in_w = g.out_h = g.out_w = s.size;
    g.kernel_h = g.kernel_w = 3;
    g.pad_top = g.pad_left = 1;
    const std::vector<int64_t> k{3, 3}, one{1, 1}, out{s.size, s.size};
    bool winograd =
        unihal::cpu::WinogradConvTakes(block, 1, s.in_c, s.out_c, k, one, one, one, one, out);
    bool direct =
        unihal::cpu::BlockedConvTakes(block, 1, s.in_c, s.out_c, k, one, one, one, one, out);
    if (!std::strcmp(kernel, "direct") || !std::strcmp(kernel, "winograd")) {
      winograd = !std::strcmp(kernel, "winograd") && unihal::cpu::WinogradConvSupported(block);
      direct = !winograd && unihal::cpu::BlockedConvSupported(block);
    }
    if (!winograd && !direct) continue;
    const std::vector<float> x = Random(s.in_c * s.size * s.size, 1);
    const std::vector<float> w = Random(s.out_c * s.in_c * 9, 2);
    const std::vector<float> bias = Random(s.out_c, 3);
    std::vector<float> y_dnnl(s.out_c * s.size * s.size), y_ours(y_dnnl.size());

    const memory::dims x_dims{1, s.in_c, s.size, s.size}, y_dims{1, s.out_c, s.size, s.size};
    const memory::desc x_desc(x_dims, memory::data_type::f32, blocked);
    const memory::desc y_desc(y_dims, memory::data_type::f32, blocked);
    const memory::desc w_any({s.out_c, s.in_c, 3, 3}, memory::data_type::f32,
                             memory::format_tag::any);
    const memory::desc b_desc({s.out_c}, memory::data_type::f32, memory::format_tag::x);
    dnnl::post_ops relu;
    relu.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(relu);
    const dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                        dnnl::algorithm::convolution_direct, x_desc, w_any, b_desc,
                                        y_desc, {1, 1}, {1, 1}, {1, 1}),
        attr, engine);
    memory user_w({{s.out_c, s.in_c, 3, 3}, memory::data_type::f32, memory::format_tag::oihw},
                  engine, const_cast<float*>(w.data()));
    memory packed_w(pd.weights_desc(), engine);
    dnnl::reorder(user_w, packed_w).execute(stream, user_w, packed_w);
    stream.wait();
    dnnl::convolution_forward conv(pd);
    memory x_mem(x_desc, engine, const_cast<float*>(x.data()));
    memory y_mem(y_desc, engine, y_dnnl.data());
    memory b_mem(b_desc, engine, const_cast<float*>(bias.data()));
    auto run_dnnl = [&] {
      conv.execute(stream, {{DNNL_ARG_SRC, x_mem},
                            {DNNL_ARG_WEIGHTS, packed_w},
                            {DNNL_ARG_BIAS, b_mem},
                            {DNNL_ARG_DST, y_mem}});
      stream.wait();
    };

    const std::vector<float> packed = winograd ? unihal::cpu::PackWinogradWeights(g, w.data())
                                               : unihal::cpu::PackBlockedConvWeights(g, w.data());
    unihal::cpu::BlockedConvEpilogue epilogue;
    epilogue.bias = bias.data();
    epilogue.relu = true;
    auto run_ours = [&] {
      if (winograd) {
        unihal::cpu::ConvWinograd(pool, g, x.data(), packed.data(), epilogue, Workspace,
                                  y_ours.data());
      } else {
        unihal::cpu::ConvBlockedDirect(pool, g, x.data(), packed.data(), epilogue, Workspace,
                                       y_ours.data());
      }
    };
    run_dnnl();
    run_ours();
    std::vector<double> dnnl_ms, ours_ms;
    for (int i = 0; i < iterations; ++i) {
      dnnl_ms.push_back(TimeMs(run_dnnl));
      ours_ms.push_back(TimeMs(run_ours));
    }
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < y_dnnl.size(); ++i) {
      max_diff = std::max(max_diff, double{std::abs(y_dnnl[i] - y_ours[i])});
      max_abs = std::max(max_abs, double{std::abs(y_dnnl[i])});
    }
    const double gflop = 2.0 * s.in_c * s.out_c * 9 * s.size * s.size * 1e-9;
    const double a = Median(dnnl_ms), b = Median(ours_ms);
    std::printf("%-12s %5lld %5lld %4lld | %8.3f %8.3f %6.3f | %7.1f %7.1f | %9.2e %s\n", s.network,
                static_cast<long long>(s.in_c), static_cast<long long>(s.out_c),
                static_cast<long long>(s.size), a, b, b / a, gflop / a * 1e3, gflop / b * 1e3,
                max_diff / max_abs, winograd ? "winograd" : "direct");
  }
  return 0;
}
