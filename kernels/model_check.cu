// Kernels that run the shared L5_HD model functions for the CPU-vs-GPU identity tests.
// Thread mapping: one thread per input element; no atomics.
#include <cuda_runtime.h>

#include "check.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"
#include "model_check.hpp"

namespace l5sim::cuda {

namespace kernel {

__global__ void math(const float* x, uint32_t n, float* e, float* l, float* s, float* c, float* sg,
                     float* ng, uint32_t* fx, float* ufx) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    e[i] = model::pexp(x[i]);
    l[i] = model::plog((x[i] < 0 ? -x[i] : x[i]) + 1e-30f);
    model::psincos_2pi(x[i], &s[i], &c[i]);
    sg[i] = model::psigmoid(x[i]);
    ng[i] = model::nmda_gate(x[i]);
    fx[i] = model::to_fixed(x[i], 16777216.0f);
    ufx[i] = model::from_fixed(fx[i] * kFixedScramble, 1.0f / 1048576.0f);
}

__global__ void philox_words(uint64_t seed, uint32_t stream, uint32_t n_ids, uint32_t count,
                             uint32_t* out) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    const model::Draw4 d = model::philox(seed, stream, i / n_ids, i % n_ids);
    for (int w = 0; w < 4; ++w) out[4 * i + w] = d.v[w];
}

__global__ void isolated_cells(model::IsolatedCellSetup setup, const float* currents, uint32_t n,
                               uint32_t steps, uint8_t* codes,
                               model::IsolatedCellState* final_state) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    model::IsolatedCellSetup s = setup;
    s.i_soma_pA = currents[i];
    model::IsolatedCellState c = model::isolated_cell_start(s, s.soma.v_r, s.dend.E_Ld, i);
    for (uint32_t t = 0; t < steps; ++t)
        codes[static_cast<uint64_t>(i) * steps + t] =
            static_cast<uint8_t>(model::isolated_cell_step(s, &c, i, t));
    final_state[i] = c;
}

__global__ void sheet_draws(model::SheetDraw p, uint32_t K, uint32_t* src, uint32_t* delay) {
    const uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
    if (i >= static_cast<uint64_t>(p.n_tgt) * K) return;
    model::sheet_draw_source(p, static_cast<uint32_t>(i / K), static_cast<uint32_t>(i % K), &src[i],
                             &delay[i]);
}

}  // namespace kernel

MathResults device_math(const std::vector<float>& x) {
    const uint32_t n = static_cast<uint32_t>(x.size());
    DeviceBuffer<float> dx(x), e(n), l(n), s(n), c(n), sg(n), ng(n), ufx(n);
    DeviceBuffer<uint32_t> fx(n);
    launch(kernel::math, 0, n, dx.data(), n, e.data(), l.data(), s.data(), c.data(), sg.data(),
           ng.data(), fx.data(), ufx.data());
    return MathResults{e.to_host(),  l.to_host(),  s.to_host(),  c.to_host(),
                       sg.to_host(), ng.to_host(), fx.to_host(), ufx.to_host()};
}

std::vector<uint32_t> device_philox(uint64_t seed, uint32_t stream, uint32_t n_ids,
                                    uint32_t count) {
    DeviceBuffer<uint32_t> out(static_cast<size_t>(count) * 4);
    launch(kernel::philox_words, 0, count, seed, stream, n_ids, count, out.data());
    return out.to_host();
}

void device_isolated_cells(const model::IsolatedCellSetup& setup,
                           const std::vector<float>& currents, uint32_t steps,
                           std::vector<uint8_t>* codes,
                           std::vector<model::IsolatedCellState>* final_state) {
    const uint32_t n = static_cast<uint32_t>(currents.size());
    DeviceBuffer<float> dc(currents);
    DeviceBuffer<uint8_t> dcodes(static_cast<size_t>(n) * steps);
    DeviceBuffer<model::IsolatedCellState> dfinal(n);
    launch(kernel::isolated_cells, 0, n, setup, dc.data(), n, steps, dcodes.data(), dfinal.data());
    *codes = dcodes.to_host();
    *final_state = dfinal.to_host();
}

void device_sheet_draws(const model::SheetDraw& p, uint32_t K, std::vector<uint32_t>* src,
                        std::vector<uint32_t>* delay) {
    const uint64_t n = static_cast<uint64_t>(p.n_tgt) * K;
    DeviceBuffer<uint32_t> ds(n), dd(n);
    launch(kernel::sheet_draws, 0, n, p, K, ds.data(), dd.data());
    *src = ds.to_host();
    *delay = dd.to_host();
}

}  // namespace l5sim::cuda
