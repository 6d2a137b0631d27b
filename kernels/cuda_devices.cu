// The CUDA devices: which are visible, their copy bandwidth, the free memory, and the device
// memory a config needs (the check before anything is allocated).
#include "cuda_engine.cuh"

namespace l5sim {

namespace cuda {

/// Device memory a config needs at its peak (bytes), for the check before anything is
/// allocated: state, spike records and rings, then projections built largest first, each adding
/// its final arrays after a transient of sparse_build_bytes.
uint64_t estimate_device_bytes(const Config& cfg) {
    // In 128 bits, saturated at 2^64 - 1: a huge n times a huge K must not wrap to a small
    // estimate.
    using wide = unsigned __int128;
    wide resident = wide(64) << 20, peak = 0;
    for (const auto& pop : cfg.populations)
        resident += wide(pop.n) * (100 + (cfg.recording.spikes ? 16 * 8 : 0));
    if (cfg.recording.spikes) {  // the record's sort: a second buffer as large as the largest
        wide largest = 0;
        for (const auto& pop : cfg.populations) largest = std::max<wide>(largest, pop.n);
        resident += (largest * 16 + 65536) * 8 + (largest * 16 + 65536) / 4 + (1u << 20);
    }
    for (const auto& p : cfg.projections) {
        const wide n_src = cfg.populations[p.source].n, n_tgt = cfg.populations[p.target].n;
        const wide slots = max_ring_slots(cfg, p);
        resident += slots * n_tgt * sizeof(model::RingCell) + (p.stdp ? (n_src + n_tgt) * 8 : 0);
    }
    for (uint32_t j : build_order(cfg)) {
        const auto& p = cfg.projections[j];
        const wide syn = projection_synapses(cfg, p);
        const wide final_bytes =
            syn * (8 + (p.stdp ? 4 : 0)) + (wide(cfg.populations[p.source].n) + 1) * 8;
        const wide transient = p.rule == ConnRule::sparse
                                   ? wide(sparse_build_bytes(static_cast<uint64_t>(syn)))
                                   : final_bytes;
        peak = std::max(peak, resident + std::max(transient, final_bytes));
        resident += final_bytes;
    }
    const wide need = std::max(peak, resident);
    return need > wide(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(need);
}

/// Device memory the engine of a rank needs (bytes): its cells' state, records and rings, each
/// source population's rows (ids, masks, presynaptic traces) and its parts as the engine holds
/// them (8 bytes per static synapse; 16 per plastic one: weight, target and delay, reverse index
/// and its row); nothing transient (the parts are built on the host).
uint64_t estimate_rank_device_bytes(const Config& cfg, const Network& parts,
                                    const LocalCells& local) {
    using wide = unsigned __int128;
    wide need = wide(64) << 20;
    wide largest = 0;
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
        const wide n = p < local.gid.size() ? local.gid[p].size() : 0;
        const wide rows = p < local.sources.size() ? local.sources[p].size() : 0;
        // state, global ids and gathered masks; records; rows: ids, masks, staging
        need += n * (100 + 8 + (cfg.recording.spikes ? 16 * 8 : 0)) + rows * 12;
        largest = std::max(largest, n);
    }
    if (cfg.recording.spikes) need += (largest * 16 + 65536) * 8 + (largest * 16 + 65536) / 4;
    for (uint32_t j = 0; j < cfg.projections.size() && j < parts.projections.size(); ++j) {
        const auto& c = parts.projections[j];
        const bool plastic = cfg.projections[j].stdp.has_value();
        const wide syn = c.size(), rows = c.rows(), n_tgt = c.n_tgt;
        need += (rows + 1) * 8 + syn * (plastic ? 16 : 8);
        need += wide(c.max_delay_steps + 1) * n_tgt * sizeof(model::RingCell);
        if (plastic) need += (rows + n_tgt) * 8;
    }
    return need > wide(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(need);
}

/// Device-to-device copy bandwidth (bytes/s): the card's practical memory limit, measured.
double measure_copy_bandwidth() {
    const size_t bytes = size_t(1) << 30;
    DeviceBuffer<char> a(bytes), b(bytes);
    L5_CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
    cudaEvent_t e0, e1;
    L5_CUDA_CHECK(cudaEventCreate(&e0));
    L5_CUDA_CHECK(cudaEventCreate(&e1));
    L5_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
    float best_ms = 1e30f;
    for (int rep = 0; rep < 5; ++rep) {
        L5_CUDA_CHECK(cudaEventRecord(e0));
        L5_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
        L5_CUDA_CHECK(cudaEventRecord(e1));
        L5_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        L5_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        best_ms = std::min(best_ms, ms);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return 2.0 * bytes / (best_ms * 1e-3);  // a copy reads and writes every byte
}

}  // namespace cuda

bool cuda_built() { return true; }

std::vector<std::string> cuda_devices(std::string* why) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        if (why) *why = cudaGetErrorString(err);
        return {};
    }
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB, %d SMs", p.name, p.major, p.minor,
                 p.totalGlobalMem / 1073741824.0, p.multiProcessorCount);
        out.emplace_back(buf);
    }
    if (out.empty() && why) *why = "no CUDA device visible";
    return out;
}

bool cuda_available(std::string* why) { return !cuda_devices(why).empty(); }

double cuda_copy_bandwidth() { return cuda::measure_copy_bandwidth(); }

uint64_t cuda_free_bytes() {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return free_b;
}

}  // namespace l5sim
