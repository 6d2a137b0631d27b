// The CUDA engine of a rank of a distributed run (docs/SCALING.md): its cells and the parts of
// its projections on the device, a window in two halves around the exchange of its spikes, and
// make_cuda_engine over a rank's share. The kernels are the single process's: a rank's cells
// key their random numbers by global id (PopView::gid), its parts' rows are the sources it holds
// (a PopView of rows: their spike list, masks and presynaptic traces), and post-side STDP finds
// the row of a reverse-index entry in ProjView::rev_src.
#include <thrust/execution_policy.h>
#include <thrust/gather.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/scatter.h>

#include "cuda_engine.cuh"

namespace l5sim {

namespace cuda {

// The rows of population p's parts: the sources this rank holds (LocalCells::sources), with
// room for a window's spiking rows and their masks.
void CudaEngine::init_rows(uint32_t p) {
    const auto& src = local_.sources[p];
    check_local_ids(cfg_, p, src, "sources");
    auto& d = pops_[p];
    const auto rows = static_cast<uint32_t>(src.size());
    const size_t room = std::max<size_t>(rows, 1);
    d.row_ids = DeviceBuffer<uint32_t>(room);
    d.row_stage = DeviceBuffer<uint32_t>(room);
    d.row_mask = DeviceBuffer<uint32_t>(std::vector<uint32_t>(room, 0));
    d.row_count = DeviceBuffer<int>(std::vector<int>(1, 0));
    d.row_mask_host.assign(rows, 0);
    d.win_mask = DeviceBuffer<uint32_t>(std::max<size_t>(d.view.n, 1));
    d.out_ids = PinnedBuffer<uint32_t>(std::max<size_t>(d.view.n, 1));
    d.out_masks = PinnedBuffer<uint32_t>(std::max<size_t>(d.view.n, 1));
    d.in_rows = PinnedBuffer<uint32_t>(room);
    d.in_masks = PinnedBuffer<uint32_t>(room);
    if (out_counts_.size() < pops_.size()) {
        out_counts_ = PinnedBuffer<int>(pops_.size());
        in_counts_ = PinnedBuffer<int>(pops_.size());
    }
    PopView& r = d.rows;
    r = PopView{};
    r.n = rows;
    r.index = p;
    r.spike_ids = d.row_ids.data();
    r.spike_count = d.row_count.data();
    r.spike_mask = d.row_mask.data();
    r.step = step_ptr_;
}

void CudaEngine::window_cells(int64_t step, int64_t count) {
    if (!distributed_)
        throw Error("window_cells: the CUDA engine of one process steps by run_window");
    if (count < 1 || count > window_)
        throw Error("window_cells: " + std::to_string(count) + " steps, at most " +
                    std::to_string(window_));
    prepare(step, count);
    const auto c = static_cast<uint32_t>(count);
    window_mark_ = std::chrono::steady_clock::now();
    if (use_graph_) {
        launch_graph(c, [&] { enqueue_window_cells(c); });
    } else {
        enqueue_window_cells(c);
    }
    // The window's spikes to the host: each population's spike count, then its spiking cells
    // (each once, in no particular order) with their masks (bit k: a spike at the window's
    // step k), gathered on the device; through page-locked buffers, two synchronisations.
    const size_t n_pop = pops_.size();
    for (size_t p = 0; p < n_pop; ++p)
        L5_CUDA_CHECK(cudaMemcpyAsync(&out_counts_[p], pops_[p].view.spike_count, sizeof(int),
                                      cudaMemcpyDeviceToHost, stream_));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (size_t p = 0; p < n_pop; ++p) {
        auto& d = pops_[p];
        const int m = out_counts_[p];
        if (m < 0 || static_cast<uint64_t>(m) > d.view.n)
            throw Error("window_cells: " + std::to_string(m) + " spiking cells of " +
                        cfg_.populations[p].name + ", which has " + std::to_string(d.view.n) +
                        " here");
        if (m == 0) continue;
        thrust::gather(thrust::cuda::par_nosync.on(stream_), d.view.spike_ids, d.view.spike_ids + m,
                       d.view.spike_mask, d.win_mask.data());
        L5_CUDA_CHECK(cudaMemcpyAsync(d.out_ids.data(), d.view.spike_ids, m * sizeof(uint32_t),
                                      cudaMemcpyDeviceToHost, stream_));
        L5_CUDA_CHECK(cudaMemcpyAsync(d.out_masks.data(), d.win_mask.data(), m * sizeof(uint32_t),
                                      cudaMemcpyDeviceToHost, stream_));
    }
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    rows_in_flight_ = false;  // the last window_synapses' copies are done too
    // Per step, the global ids that fired, ascending (the local order is the global one).
    win_mine_.reset(n_pop, step, count);
    for (size_t p = 0; p < n_pop; ++p) {
        const auto& d = pops_[p];
        const auto m = static_cast<uint32_t>(out_counts_[p]);
        std::vector<uint32_t> order(m);
        for (uint32_t q = 0; q < m; ++q) order[q] = q;
        std::sort(order.begin(), order.end(),
                  [&](uint32_t a, uint32_t b) { return d.out_ids[a] < d.out_ids[b]; });
        const auto& gid = local_.gid[p];
        auto& out = win_mine_.ids[p];
        for (uint32_t k = 0; k < c; ++k) {
            for (const uint32_t q : order) {
                if (d.out_ids[q] >= gid.size())
                    throw Error("window_cells: a spike of cell " + std::to_string(d.out_ids[q]) +
                                " of " + cfg_.populations[p].name + ", beyond its " +
                                std::to_string(gid.size()) + " here");
                if ((d.out_masks[q] >> k) & 1u) out.push_back(gid[d.out_ids[q]]);
            }
            win_mine_.start[p][k + 1] = static_cast<uint32_t>(out.size());
        }
    }
}

void CudaEngine::window_synapses(const WindowSpikes& all) {
    if (!distributed_)
        throw Error("window_synapses: the CUDA engine of one process steps by run_window");
    const int64_t first = win_mine_.first, count = win_mine_.steps;
    check_window_spikes(cfg_, all, first, count);
    // The page-locked rows of the last call may still be on their way to the device (a second
    // call without window_cells between: never in a run, but not a race either).
    if (rows_in_flight_) L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    // Each population's spiking rows (the sources this rank holds; others have no synapse
    // here) with their masks, built on the host into page-locked buffers and scattered into
    // the rows' masks on the device after the last window's are cleared; no synchronisation
    // (the next window_cells synchronises before these buffers are written again).
    const auto policy = thrust::cuda::par_nosync.on(stream_);
    for (uint32_t p = 0; p < pops_.size(); ++p) {
        auto& d = pops_[p];
        const auto& held = local_.sources[p];
        uint32_t m = 0;
        for (int64_t k = 0; k < count; ++k) {
            for (uint32_t q = all.start[p][k]; q < all.start[p][k + 1]; ++q) {
                const uint32_t g = all.ids[p][q];
                const auto at = std::lower_bound(held.begin(), held.end(), g);
                if (at == held.end() || *at != g) continue;
                const auto r = static_cast<uint32_t>(at - held.begin());
                if (d.row_mask_host[r] == 0) d.in_rows[m++] = r;
                d.row_mask_host[r] |= 1u << k;
            }
        }
        for (uint32_t i = 0; i < m; ++i) {
            d.in_masks[i] = d.row_mask_host[d.in_rows[i]];
            d.row_mask_host[d.in_rows[i]] = 0;
        }
        if (d.rows_set > 0)
            thrust::scatter(policy, thrust::make_constant_iterator(0u),
                            thrust::make_constant_iterator(0u) + d.rows_set, d.row_ids.data(),
                            d.row_mask.data());
        in_counts_[p] = static_cast<int>(m);
        if (m > 0) {
            L5_CUDA_CHECK(cudaMemcpyAsync(d.row_ids.data(), d.in_rows.data(), m * sizeof(uint32_t),
                                          cudaMemcpyHostToDevice, stream_));
            L5_CUDA_CHECK(cudaMemcpyAsync(d.row_stage.data(), d.in_masks.data(),
                                          m * sizeof(uint32_t), cudaMemcpyHostToDevice, stream_));
            thrust::scatter(policy, d.row_stage.data(), d.row_stage.data() + m, d.row_ids.data(),
                            d.row_mask.data());
        }
        L5_CUDA_CHECK(cudaMemcpyAsync(d.row_count.data(), &in_counts_[p], sizeof(int),
                                      cudaMemcpyHostToDevice, stream_));
        d.rows_set = m;
    }
    rows_in_flight_ = true;
    const auto c = static_cast<uint32_t>(count);
    window_mark_ = std::chrono::steady_clock::now();
    if (use_graph_) {
        launch_graph(33 + c, [&] { enqueue_window_synapses(c); });
    } else {
        enqueue_window_synapses(c);
    }
}

}  // namespace cuda

std::unique_ptr<Engine> make_cuda_engine(const Config& cfg, Network parts, LocalCells local) {
    std::string why;
    if (!cuda_available(&why)) throw Error("--backend cuda: no usable CUDA device (" + why + ")");
    size_t free_b = 0, total_b = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    auto engine = std::make_unique<cuda::CudaEngine>(cfg, std::move(parts), std::move(local));
    size_t free_after = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_after, &total_b));
    engine->set_device_bytes(free_b > free_after ? free_b - free_after : 0);
    return engine;
}

uint64_t cuda_rank_bytes(const Config& cfg, const Network& parts, const LocalCells& local) {
    return cuda::estimate_rank_device_bytes(cfg, parts, local);
}

int cuda_use_device(int index, int* pci_key) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0)
        throw Error(std::string("--backend cuda: no usable CUDA device (") +
                    (err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device visible") +
                    ")");
    const int device = index % n;
    L5_CUDA_CHECK(cudaSetDevice(device));
    if (pci_key) {  // the same number for the same card, whatever CUDA_VISIBLE_DEVICES says
        int domain = 0, bus = 0, slot = 0;
        L5_CUDA_CHECK(cudaDeviceGetAttribute(&domain, cudaDevAttrPciDomainId, device));
        L5_CUDA_CHECK(cudaDeviceGetAttribute(&bus, cudaDevAttrPciBusId, device));
        L5_CUDA_CHECK(cudaDeviceGetAttribute(&slot, cudaDevAttrPciDeviceId, device));
        *pci_key = ((domain & 0x7fff) << 16) | ((bus & 0xff) << 8) | (slot & 0xff);
    }
    return device;
}

}  // namespace l5sim
