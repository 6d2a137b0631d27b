// The CUDA engine: construction (device state from the state table and the network), state
// access (spike records, counters, probes, weights, checkpoint blocks) and make_cuda_engine.
// The step's launches are in cuda_step.cu, packed replicas in cuda_pack.cu.
#include "cuda_engine.cuh"

namespace l5sim {

namespace cuda {

CudaEngine::~CudaEngine() { release(); }

void CudaEngine::release() {
    for (auto& g : graphs_)
        if (g.exec) cudaGraphExecDestroy(g.exec);
    for (cudaEvent_t e : join_) cudaEventDestroy(e);
    if (fork_) cudaEventDestroy(fork_);
    for (cudaStream_t s : side_) cudaStreamDestroy(s);
    if (stream_ && !pack_) cudaStreamDestroy(stream_);
    for (auto& g : graphs_) g.exec = nullptr;
    join_.clear();
    side_.clear();
    fork_ = nullptr;
    stream_ = nullptr;
}

CudaEngine::CudaEngine(const Config& cfg, std::shared_ptr<PackShared> pack)
    : cfg_(cfg), rc_(receptor_constants(cfg)), pack_(std::move(pack)) {
    if (pack_) {
        stream_ = pack_->stream;
        step_ptr_ = pack_->step.data();
    } else {
        own_stream();
    }
    build_or_release();
}

void CudaEngine::own_stream() {
    L5_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    step_ = DeviceBuffer<uint32_t>(std::vector<uint32_t>(1, 0));
    step_ptr_ = step_.data();
}

void CudaEngine::build_or_release() {
    try {
        build();
    } catch (...) {
        release();
        throw;
    }
}

CudaEngine::CudaEngine(const Config& cfg, Network parts, LocalCells local)
    : cfg_(cfg),
      rc_(receptor_constants(cfg)),
      local_(std::move(local)),
      distributed_(true),
      parts_(std::move(parts)) {
    if (local_.gid.size() != cfg.populations.size() ||
        local_.sources.size() != cfg.populations.size() ||
        parts_.projections.size() != cfg.projections.size())
        throw Error(
            "a rank's CUDA engine: one list of cells and of sources per population, one part "
            "per projection");
    // Windows of at least one step: a delay of 0 steps is refused before anything is on the
    // device.
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        const auto& delay = parts_.projections[j].delay;
        if (std::find(delay.begin(), delay.end(), uint8_t{0}) != delay.end())
            throw ConfigError(cfg.source_file + ": projection " + cfg.projections[j].name +
                              " has a delay of 0 steps; CUDA ranks step windows of at least one "
                              "step (use --backend cpu under mpiexec)");
    }
    own_stream();
    build_or_release();
}

void CudaEngine::build() {
    const Config& cfg = cfg_;
    storage_.set_stream(stream_);
    use_graph_ = graphs_allowed();
    pops_.resize(cfg.populations.size());
    projs_.resize(cfg.projections.size());
    gain_.resize(cfg.projections.size());
    for (uint32_t p = 0; p < pops_.size(); ++p) init_population(p);
    tails_ = DeviceBuffer<PopTail>(tails());
    for (uint32_t p = 0; p < pops_.size(); ++p) tail_owner_.emplace_back(this, p);
    fill_ = DeviceBuffer<unsigned long long>(std::max<size_t>(pops_.size(), 1));
    // A member of a pack has no side streams: the pack fuses its kernels with the others'.
    const size_t width =
        pack_ ? 0 : std::min<size_t>(std::max(pops_.size(), projs_.size()), kMaxSide);
    L5_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
    for (size_t k = 0; k < width; ++k) {
        side_.emplace_back();
        L5_CUDA_CHECK(cudaStreamCreateWithFlags(&side_.back(), cudaStreamNonBlocking));
    }
    // Largest projection first: its build needs the most scratch memory, best while nothing
    // else is resident (estimate_device_bytes assumes this order).
    for (uint32_t j : build_order(cfg)) init_projection(j);
    parts_ = Network{};  // the parts are on the device
    fused_order_ = std::all_of(projs_.begin(), projs_.end(),
                               [](const DeviceProjection& d) { return d.min_delay >= 1; });
    if (distributed_) {
        // The window the ranks agreed on (the network's shortest delay, or L5SIM_WINDOW).
        std::vector<uint32_t> min_delays;
        for (const auto& d : projs_) min_delays.push_back(d.min_delay);
        window_ = local_.window > 0 ? local_.window : window_bound(min_delays);
        if (window_ > window_bound(min_delays))
            throw Error("LocalCells: a window of " + std::to_string(window_) +
                        " steps, longer than this rank's shortest delay");
    } else if (fused_order_) {
        // Windows of steps up to the shortest delay (DESIGN.md section 4); L5SIM_WINDOW may ask
        // for shorter ones (1: step by step).
        std::vector<uint32_t> min_delays;
        for (const auto& d : projs_) min_delays.push_back(d.min_delay);
        const int64_t asked = requested_window();
        window_ = std::min(asked > 0 ? asked : int64_t{32}, window_bound(min_delays));
    }
    // The build ran on the legacy stream and this engine's stream. No device-wide
    // synchronisation: another sweep replica's engine may be capturing its step graph.
    L5_CUDA_CHECK(cudaStreamSynchronize(0));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::init_population(uint32_t p) {
    const auto& c = cfg_.populations[p];
    auto& d = pops_[p];
    auto& v = d.view;
    const uint32_t n = distributed_ ? static_cast<uint32_t>(local_.gid[p].size()) : c.n;
    v.n = n;
    v.index = p;
    v.has_dendrite = c.caps.has_dendrite;
    v.all_receptors = c.all_receptors;
    v.soma = model::make_izh_constants(c.soma, cfg_.dt_ms);
    v.coupling = c.coupling;
    v.adapt_increment = static_cast<float>(c.adapt_increment_nS);
    v.adapt_decay = static_cast<float>(1 - cfg_.dt_ms / c.adapt_tau_ms);
    v.adapt_E = static_cast<float>(c.adapt_E_mV);
    v.rc = rc_;
    if (distributed_) {
        const auto& gid = local_.gid[p];
        check_local_ids(cfg_, p, gid, "cells");
        d.gid = DeviceBuffer<uint32_t>(gid);
        v.gid = d.gid.data();
    }
    d.st =
        PopulationStore<DeviceStorage>(cfg_, p, &storage_, distributed_ ? &local_.gid[p] : nullptr);
    // The view points at every float variable of the table the type has (null otherwise).
    for (const VarInfo& r : kVarTable)
        if (float** slot = view_slot(v, r.var)) *slot = d.st.floats(r.var);
    v.history = d.st.history();
    v.burst = d.st.burst();
    if (v.has_dendrite) v.dend = model::make_dendrite_constants(c.dendrite, cfg_.dt_ms);
    d.spike_ids = DeviceBuffer<uint32_t>(n);
    d.spike_count = DeviceBuffer<int>(std::vector<int>(1, 0));
    d.spike_mask = DeviceBuffer<uint32_t>(std::vector<uint32_t>(n, 0));
    v.spike_mask = d.spike_mask.data();
    const uint64_t cap = cfg_.recording.spikes ? record_capacity(n) : 1;
    d.record = DeviceBuffer<unsigned long long>(cap);
    d.counters = DeviceBuffer<unsigned long long>(std::vector<unsigned long long>(4, 0));
    v.spike_ids = d.spike_ids.data();
    v.spike_count = d.spike_count.data();
    v.record = d.record.data();
    v.record_count = d.counters.data() + 3;
    v.record_capacity = cap;
    v.record_spikes = cfg_.recording.spikes;
    v.counters = d.counters.data();
    v.step = step_ptr_;
    if (distributed_) init_rows(p);
}

void CudaEngine::init_projection(uint32_t j) {
    const auto& c = cfg_.projections[j];
    auto& d = projs_[j];
    d.receptor = c.receptor;
    d.dendrite = c.compartment == Compartment::dendrite;
    const bool plastic = c.stdp.has_value();
    float w_init_max = 0;
    const bool host_built = distributed_ || c.rule != ConnRule::sparse;
    if (distributed_) {
        w_init_max = parts_.projections[j].w_init_max;
        upload_part(j, std::move(parts_.projections[j]), plastic);
    } else if (c.rule == ConnRule::sparse) {
        const float w = sparse_weight(c);
        const auto params = sheet_draw_params(cfg_, j);
        d.csr = build_sparse(params, c.K, w, plastic);
        d.min_delay = params.delay_min_steps;
        w_init_max = w;
    } else {
        // Dense ring projections are small by nature: built on the host (double-precision libm
        // geometry, as the CPU engine) and copied.
        Connectivity h = build_projection(cfg_, j);
        w_init_max = h.w_init_max;
        upload_part(j, std::move(h), plastic);
    }
    auto& v = d.view;
    v.n_src = d.csr.n_src;
    v.n_tgt = d.csr.n_tgt;
    v.in_degree = d.csr.in_degree;
    v.slots = d.csr.max_delay + 1;
    {  // longest row (out-degree), for the propagation work split: a projection built on the
       // device is read back once its build (on the legacy stream) is done
        uint64_t longest = d.longest_row;
        if (!host_built) {
            L5_CUDA_CHECK(cudaStreamSynchronize(0));
            std::vector<uint64_t> row_ptr(d.csr.row_ptr.size());
            to_host(row_ptr.data(), d.csr.row_ptr.data(), row_ptr.size() * sizeof(uint64_t));
            for (size_t r = 0; r + 1 < row_ptr.size(); ++r)
                longest = std::max<uint64_t>(longest, row_ptr[r + 1] - row_ptr[r]);
        }
        v.row_chunks =
            static_cast<uint32_t>(std::max<uint64_t>(1, (longest + kChunk - 1) / kChunk));
    }
    d.ring = DeviceBuffer<model::RingCell>(
        std::vector<model::RingCell>(static_cast<size_t>(v.slots) * v.n_tgt, 0));
    // A rank's part: the scale and the STDP bound the ranks agreed on (set_global_bounds).
    const float w_peak = std::max(w_init_max, stdp_w_max(c, w_init_max));
    const int exponent = distributed_ ? d.fixed_exponent
                                      : l5sim::ring_fixed_exponent(c.location, v.in_degree, w_peak);
    v.fixed_per_ns = std::ldexp(1.0f, exponent);
    d.events = DeviceBuffer<unsigned long long>(std::vector<unsigned long long>(1, 0));
    v.row_ptr = d.csr.row_ptr.data();
    v.target_delay = d.csr.target_delay.data();
    v.weight = d.csr.weight.data();
    v.rev = plastic ? d.csr.rev.data() : nullptr;
    v.ring = d.ring.data();
    v.events = d.events.data();
    v.step = step_ptr_;
    v.src_mask = source_view(c.source).spike_mask;
    v.tgt_mask = pops_[c.target].view.spike_mask;
    v.plastic = plastic;
    if (plastic) {
        v.stdp =
            stdp_constants(*c.stdp, distributed_ ? d.w_max : stdp_w_max(c, w_init_max), cfg_.dt_ms);
        // A rank's part reads each entry's row in rev_src; the rule (whose sheet positions
        // would cost a draw per target) stays empty there.
        v.source = distributed_ ? model::SourceRule{} : source_rule(cfg_, j);
        v.rev_src = distributed_ ? d.rev_src.data() : nullptr;
        d.x = DeviceBuffer<float>(std::vector<float>(v.n_src, 0));
        d.r2 = DeviceBuffer<float>(std::vector<float>(v.n_src, 0));
        d.y = DeviceBuffer<float>(std::vector<float>(v.n_tgt, 0));
        d.o2 = DeviceBuffer<float>(std::vector<float>(v.n_tgt, 0));
        v.x = d.x.data();
        v.r2 = d.r2.data();
        v.y = d.y.data();
        v.o2 = d.o2.data();
        const bool triplet = v.stdp.rule == model::StdpRule::triplet;
        add_trace(c.source, source_view(c.source),
                  TraceView{v.x, triplet ? v.r2 : nullptr, v.stdp.decay_plus, v.stdp.decay_x,
                            v.stdp.rule});
        add_trace(c.target, TraceView{v.y, triplet ? v.o2 : nullptr, v.stdp.decay_minus,
                                      v.stdp.decay_y, v.stdp.rule});
    }
    set_projection(j, c.gain, c.stdp ? c.stdp->eta : 0.0);
}

// A projection built on the host (a dense ring projection, or a rank's part) copied to the
// device; the host copy is freed on return. A part's rows are the sources its rank holds.
void CudaEngine::upload_part(uint32_t j, Connectivity&& part, bool plastic) {
    const Connectivity h = std::move(part);
    auto& d = projs_[j];
    const auto& c = cfg_.projections[j];
    if (distributed_ && !h.has_rows(local_.sources[c.source]))
        throw Error("LocalCells: the rows of " + c.name + " must be the sources of " +
                    cfg_.populations[c.source].name + " (set_source_rows)");
    // The longest row from the host's row pointers (the device copy may still be in flight).
    d.longest_row = 0;
    for (size_t r = 0; r + 1 < h.row_ptr.size(); ++r)
        d.longest_row = std::max<uint64_t>(d.longest_row, h.row_ptr[r + 1] - h.row_ptr[r]);
    d.csr.n_src = distributed_ ? h.rows() : h.n_src;
    d.csr.n_tgt = h.n_tgt;
    d.csr.in_degree = h.in_degree;
    d.csr.max_delay = h.max_delay_steps;
    // A rank's part without synapses does not bound the window (the ranks agree on it).
    const uint32_t none = distributed_ ? 32u : 1u;
    d.min_delay = h.delay.empty() ? none : *std::min_element(h.delay.begin(), h.delay.end());
    d.csr.row_ptr = DeviceBuffer<uint64_t>(h.row_ptr);
    if (h.n_tgt > kTargetMask + 1)
        throw Error(std::string("the CUDA engine holds at most 2^24 targets per projection") +
                    (distributed_ ? " on each rank" : ""));
    std::vector<uint32_t> td(h.size());
    for (uint64_t s = 0; s < h.size(); ++s)
        td[s] = h.target[s] | (static_cast<uint32_t>(h.delay[s]) << kTargetBits);
    d.csr.target_delay = DeviceBuffer<uint32_t>(td);
    d.csr.weight = DeviceBuffer<float>(h.weight);
    if (plastic) d.csr.rev = DeviceBuffer<uint32_t>(h.rev);
    if (plastic && distributed_) d.rev_src = DeviceBuffer<uint32_t>(h.rev_src);
    d.fixed_exponent = h.fixed_exponent;
    d.w_max = h.w_max;
}

// Every spike record of `owners` (member, population; their tails in `tails`) at least half
// full is flushed (sorted on the device, copied to its member's host record): one gather of the
// fill levels into `fill` (device, one per owner), one copy.
void CudaEngine::flush_half_full(const std::vector<std::pair<CudaEngine*, uint32_t>>& owners,
                                 const PopTail* tails, unsigned long long* fill,
                                 cudaStream_t stream) {
    const auto n = static_cast<uint32_t>(owners.size());
    record_fill(tails, n, fill, stream);
    std::vector<unsigned long long> used(n);
    L5_CUDA_CHECK(cudaMemcpyAsync(used.data(), fill, n * sizeof(unsigned long long),
                                  cudaMemcpyDeviceToHost, stream));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (uint32_t k = 0; k < n; ++k) {
        auto [m, p] = owners[k];
        if (used[k] * 2 > m->pops_[p].view.record_capacity) m->flush_record(p);
    }
}

uint64_t CudaEngine::counter(uint32_t pop, int k) const {
    unsigned long long v = 0;
    to_host(&v, pops_[pop].view.counters + k, sizeof v);
    return v;
}

void CudaEngine::flush_record(uint32_t pop) {
    auto& d = pops_[pop];
    unsigned long long head[2] = {0, 0};  // counters[2] (overflow), counters[3] (fill level)
    to_host(head, d.view.counters + 2, sizeof head);
    const unsigned long long used = head[1];
    if (head[0])
        throw Error("spike record buffer of population " + cfg_.populations[pop].name +
                    " overflowed (cells firing above ~800 Hz on average)");
    if (used == 0) return;
    // The device appends in no particular order: sorted there (a radix sort of the keys) into
    // (step, id) order, as the CPU engine records them; a flush never splits a step.
    if (used > record_alt_.size()) record_alt_ = DeviceBuffer<unsigned long long>(used);
    const size_t scratch = sort_spike_scratch_bytes(used);
    if (scratch > sort_scratch_.size()) sort_scratch_ = DeviceBuffer<char>(scratch);
    const unsigned long long* sorted =
        sort_spike_keys(d.view.record, record_alt_.data(), used, sort_scratch_.data(),
                        sort_scratch_.size(), stream_);
    std::vector<unsigned long long> keys(used);
    to_host(keys.data(), sorted, used * sizeof(unsigned long long));
    // Emptied in stream order (before any later kernel); nothing to wait for.
    L5_CUDA_CHECK(cudaMemsetAsync(d.view.record_count, 0, sizeof(unsigned long long), stream_));
    auto& r = d.host_record;
    const size_t at = r.steps.size();
    r.steps.resize(at + used);
    r.ids.resize(at + used);
    for (size_t k = 0; k < used; ++k) {
        r.steps[at + k] = static_cast<int64_t>(keys[k] >> 32);
        const auto id = static_cast<uint32_t>(keys[k]);
        r.ids[at + k] = distributed_ ? local_.gid[pop][id] : id;  // ascending either way
    }
}

void CudaEngine::take_spikes(uint32_t pop, SpikeRecord* out) {
    if (cfg_.recording.spikes) flush_record(pop);
    auto& r = pops_[pop].host_record;
    out->steps.insert(out->steps.end(), r.steps.begin(), r.steps.end());
    out->ids.insert(out->ids.end(), r.ids.begin(), r.ids.end());
    r.steps.clear();
    r.ids.clear();
}

uint64_t CudaEngine::synaptic_events() const {
    uint64_t total = 0;
    for (const auto& p : projs_) {
        unsigned long long v = 0;
        to_host(&v, p.view.events, sizeof v);
        total += v;
    }
    return total;
}

// `count` 4-byte elements at stride `stride` (one strided 2-D copy).
void CudaEngine::strided_to_host(void* dst, const void* src, uint64_t stride,
                                 uint64_t count) const {
    if (!count) return;
    if (stride == 1) return to_host(dst, src, count * 4);  // one plain copy
    L5_CUDA_CHECK(
        cudaMemcpy2DAsync(dst, 4, src, stride * 4, 4, count, cudaMemcpyDeviceToHost, stream_));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const {
    const uint64_t n = synapse_count(j);
    count = std::min<uint64_t>(count, stride ? (n + stride - 1) / stride : 0);
    strided_to_host(out, projs_[j].view.weight, stride, count);
}

void CudaEngine::read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                               uint32_t* tgt) const {
    const auto& c = projs_[j].csr;
    const uint64_t n = synapse_count(j);
    count = std::min<uint64_t>(count, stride ? (n + stride - 1) / stride : 0);
    std::vector<uint64_t> row_ptr(c.row_ptr.size());
    to_host(row_ptr.data(), c.row_ptr.data(), row_ptr.size() * sizeof(uint64_t));
    strided_to_host(tgt, c.target_delay.data(), stride, count);
    uint32_t row = 0;
    for (uint64_t k = 0; k < count; ++k) {
        while (row_ptr[row + 1] <= k * stride) ++row;
        src[k] = distributed_ ? local_.sources[cfg_.projections[j].source][row] : row;
        tgt[k] &= kTargetMask;
    }
}

void* CudaEngine::locate(const StateBlock& b) const {
    void* ptr = nullptr;
    uint64_t have = 0;
    bool found = true;
    const std::string& v = b.var;
    if (b.kind == StateBlock::Kind::population && (v == "spikes" || v == "calcium_spikes")) {
        ptr = pops_[b.index].view.counters + (v == "spikes" ? 0 : 1);
        have = 8;
    } else if (b.kind == StateBlock::Kind::projection && v == "weight") {
        const auto& d = projs_[b.index];
        ptr = const_cast<float*>(d.csr.weight.data());
        have = d.csr.weight.size() * 4;
    } else if (b.kind == StateBlock::Kind::projection && projs_[b.index].view.plastic &&
               (v == "x" || v == "r2")) {
        const auto& d = projs_[b.index];
        ptr = v == "x" ? d.view.x : d.view.r2;
        have = uint64_t(d.view.n_src) * 4;
    } else if (b.kind == StateBlock::Kind::projection && projs_[b.index].view.plastic &&
               (v == "y" || v == "o2")) {
        const auto& d = projs_[b.index];
        ptr = v == "y" ? d.view.y : d.view.o2;
        have = uint64_t(d.view.n_tgt) * 4;
    } else {
        found = false;
    }
    // An empty array (a rank's part without synapses, rows or targets) is a block of 0 bytes;
    // the copies of 0 bytes never touch its (null) address.
    if (!found || (!ptr && have != 0) || have != b.bytes())
        throw Error("state block " + b.name + ": the CUDA engine holds " + std::to_string(have) +
                    " bytes, the layout says " + std::to_string(b.bytes()));
    return ptr;
}

void CudaEngine::read_block(const StateBlock& b, int64_t step, void* dst) const {
    if (b.var == "ring") {
        const auto& v = projs_[b.index].view;
        if (v.n_tgt == 0) return;  // a rank without cells of the target population
        std::vector<model::RingCell> ring(uint64_t(v.slots) * v.n_tgt);
        to_host(ring.data(), v.ring, ring.size() * sizeof(model::RingCell));
        ring_to_rotated(ring.data(), v.slots, v.n_tgt, step, static_cast<model::RingCell*>(dst),
                        b.count / v.n_tgt);
    } else if (b.var == "events") {
        const uint64_t total = synaptic_events();
        std::memcpy(dst, &total, 8);
    } else if (b.kind != StateBlock::Kind::population || !pops_[b.index].st.read_block(b, dst)) {
        to_host(dst, locate(b), b.bytes());
    }
}

void CudaEngine::read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const {
    if (b.var == "ring") {  // row by row of the rotated block (row d: the slot of step + d)
        const auto& v = projs_[b.index].view;
        const uint64_t n = v.n_tgt, rows = n ? b.count / n : 0;
        std::vector<model::RingCell> row(n, 0);
        for (uint64_t d = 0; d < rows; ++d) {
            if (d < v.slots)
                to_host(row.data(), v.ring + (uint64_t(step) + d) % v.slots * n,
                        n * sizeof(model::RingCell));
            else
                std::fill(row.begin(), row.end(), 0);
            write(row.data(), n * sizeof(model::RingCell));
        }
        return;
    }
    if (b.var == "events") return Engine::read_block_to(b, step, write);
    const void* held = nullptr;
    const bool state =
        b.kind == StateBlock::Kind::population && pops_[b.index].st.block_memory(b, &held);
    const auto* src = static_cast<const char*>(state ? held : locate(b));
    const uint64_t bytes = b.bytes(), piece = uint64_t(64) << 20;
    std::vector<char> buf(std::min(bytes, piece));
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = std::min(piece, bytes - done);
        to_host(buf.data(), src + done, n);
        write(buf.data(), n);
        done += n;
    }
}

void CudaEngine::write_block(const StateBlock& b, int64_t step, const void* src) {
    if (b.var == "ring") {
        const auto& v = projs_[b.index].view;
        if (v.n_tgt == 0) return;  // a rank without cells of the target population
        std::vector<model::RingCell> ring(uint64_t(v.slots) * v.n_tgt);
        ring_from_rotated(static_cast<const model::RingCell*>(src), b.count / v.n_tgt, v.n_tgt,
                          step, ring.data(), v.slots, b.name);
        to_device(v.ring, ring.data(), ring.size() * sizeof(model::RingCell));
    } else if (b.var == "events") {
        // The engine counts per projection; a checkpoint holds the total: all of it on the first.
        uint64_t total = 0;
        std::memcpy(&total, src, 8);
        for (size_t j = 0; j < projs_.size(); ++j) {
            const unsigned long long x = j == 0 ? total : 0;
            to_device(projs_[j].view.events, &x, 8);
        }
        if (projs_.empty() && total != 0)
            throw Error(
                "checkpoint block events: synaptic events in a network without projections");
    } else if (b.kind != StateBlock::Kind::population || !pops_[b.index].st.write_block(b, src)) {
        to_device(locate(b), src, b.bytes());
    }
}

uint64_t CudaEngine::connectivity_bytes() const {
    uint64_t b = 0;
    for (const auto& p : projs_) {
        const auto& c = p.csr;
        b += c.row_ptr.size() * 8 + c.target_delay.size() * 4 + c.weight.size() * 4 +
             c.rev.size() * 4 + p.rev_src.size() * 4;
    }
    return b;
}

}  // namespace cuda

std::unique_ptr<Engine> make_cuda_engine(const Config& cfg) {
    std::string why;
    if (!cuda_available(&why)) throw Error("--backend cuda: no usable CUDA device (" + why + ")");
    size_t free_b = 0, total_b = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t need = cuda::estimate_device_bytes(cfg);
    if (need > free_b) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "the network needs %.1f GiB of device memory, the device has %.1f GiB free; "
                 "reduce N or K",
                 need / 1073741824.0, free_b / 1073741824.0);
        throw ConfigError(buf);
    }
    std::unique_ptr<cuda::CudaEngine> engine;
    const char* fuse = std::getenv("L5SIM_CUDA_FUSE");
    if (fuse && std::string(fuse) == "1") {
        auto pack = std::make_unique<cuda::CudaPack>();
        engine = std::make_unique<cuda::CudaEngine>(cfg, pack->shared());
        pack->add(engine.get());
        pack->finalize();
        engine->adopt_pack(std::move(pack));
    } else {
        engine = std::make_unique<cuda::CudaEngine>(cfg);
    }
    size_t free_after = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_after, &total_b));
    engine->set_device_bytes(free_b > free_after ? free_b - free_after : 0);
    return engine;
}

}  // namespace l5sim
