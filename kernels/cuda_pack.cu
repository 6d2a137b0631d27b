// Packed replicas (l5sim/packed.hpp, DESIGN.md section 5): CudaPack's task tables, windows and
// graphs; make_cuda_pack.
#include "cuda_engine.cuh"

namespace l5sim {

namespace cuda {

void CudaPack::finalize() {
    fused_ = true;
    window_ = 32;
    for (const CudaEngine* m : members_) {
        fused_ = fused_ && m->fused_order_;
        window_ = std::min(window_, m->window_);
    }
    if (!fused_) window_ = 1;
    std::vector<PopTail> tails;
    for (CudaEngine* m : members_) {
        m->window_ = window_;  // every member's max_window: the pack's
        const auto t = m->tails();
        for (uint32_t p = 0; p < t.size(); ++p) {
            tails.push_back(t[p]);
            tail_owner_.emplace_back(m, p);
            recording_ = recording_ || t[p].record;
        }
    }
    tails_ = DeviceBuffer<PopTail>(tails);
    fill_ = DeviceBuffer<unsigned long long>(std::max<size_t>(tails.size(), 1));
    build_tasks();
    params_seen_ = member_params();
}

void CudaPack::build_tasks() {
    const bool sized = !cells_.host.empty() || !projs_.host.empty();
    auto reset = [](auto& t) {
        t.host.clear();
        t.first.assign(1, 0);
    };
    reset(cells_);
    for (auto& t : by_inputs_) reset(t);
    all_receptors_ = false;
    reset(traced_);
    reset(projs_);
    reset(plastic_);
    reset(triplet_);
    uint64_t n_proj = 0;
    for (const CudaEngine* m : members_) n_proj += m->projs_.size();
    // Warps per projection task: enough for a busy step of a few members, a block at least
    // (each task's warps grid-stride over its spikes; idle ones exit at once).
    const uint64_t cap = std::max<uint64_t>(8, 16384 / std::max<uint64_t>(n_proj, 1));
    auto blocks_for_warps = [&](uint64_t items) {
        const uint64_t warps = std::max<uint64_t>(1, std::min(items, cap));
        return (warps * 32 + kBlock - 1) / kBlock;
    };
    for (CudaEngine* m : members_) {
        const std::vector<InputSet> inputs = m->input_sets();
        for (uint32_t p = 0; p < m->pops_.size(); ++p) {
            const PopView& v = m->pops_[p].view;
            const PopTask t{v, inputs[p], m->cfg_.seed};
            const uint64_t blocks = (uint64_t(v.n) + kBlock - 1) / kBlock;
            cells_.add(t, blocks);
            // every-receptor populations: in the last table, whose kernel serves any count
            by_inputs_[v.all_receptors ? 5 : std::min(inputs[p].count, 5)].add(t, blocks);
            all_receptors_ = all_receptors_ || v.all_receptors;
            if (v.n_traces > 0) traced_.add(t, blocks);
        }
        for (uint32_t j = 0; j < m->projs_.size(); ++j) {
            const ProjView& v = m->projs_[j].view;
            const auto& c = m->cfg_.projections[j];
            const PopView& src = m->pops_[c.source].view;
            const PopView& tgt = m->pops_[c.target].view;
            const ProjTask t{v, src.spike_ids, src.spike_count, tgt.spike_ids, tgt.spike_count};
            projs_.add(t, blocks_for_warps(uint64_t(v.n_src) * v.row_chunks));
            if (!v.plastic) continue;
            const uint64_t chunks = (v.in_degree + kChunk - 1) / kChunk;
            plastic_.add(t, blocks_for_warps(uint64_t(v.n_tgt) * chunks));
            if (v.stdp.rule == model::StdpRule::triplet) triplet_.add(t, 1);
        }
    }
    if (sized && cells_.tasks.size() != cells_.host.size())
        throw Error("packed replicas: the task tables changed shape");
    upload(cells_);
    for (auto& t : by_inputs_) upload(t);
    upload(traced_);
    upload(projs_);
    upload(plastic_);
    upload(triplet_);
}

// Every spike record at least half full is flushed (sorted on the device, copied to its
// member's host record): one gather of the fill levels, one copy.
void CudaPack::check_records(int64_t step) {
    if (!recording_ || step - last_check_ < kRecordCheckEvery) return;
    last_check_ = step;
    CudaEngine::flush_half_full(tail_owner_, tails_.data(), fill_.data(), shared_->stream);
}

void CudaPack::run_window(int64_t step, int64_t count) {
    if (count < 1 || count > window_)
        throw Error("packed replicas: a window of " + std::to_string(count) +
                    " steps, the pack takes 1 to " + std::to_string(window_));
    check_records(step);
    if (step != next_step_) {  // the first step, or a caller that skipped
        const auto s = static_cast<uint32_t>(step);
        copy_in(shared_->step.data(), &s, sizeof s);
    }
    next_step_ = step + count;
    if (const uint64_t p = member_params(); p != params_seen_) {  // a knob changed a view
        build_tasks();
        params_seen_ = p;
    }
    const auto c = static_cast<uint32_t>(count);
    if (!CudaEngine::graphs_allowed()) {
        enqueue(c);
        return;
    }
    cudaGraphExec_t& g = graphs_.at(fused_ ? c : 0);
    if (!g) {  // the tables' device addresses never change: one capture per window length
        cudaGraph_t graph = nullptr;
        L5_CUDA_CHECK(cudaStreamBeginCapture(shared_->stream, cudaStreamCaptureModeThreadLocal));
        enqueue(c);
        L5_CUDA_CHECK(cudaStreamEndCapture(shared_->stream, &graph));
        L5_CUDA_CHECK(cudaGraphInstantiate(&g, graph, 0));
        L5_CUDA_CHECK(cudaGraphDestroy(graph));
    }
    L5_CUDA_CHECK(cudaGraphLaunch(g, shared_->stream));
    if (sync_after_launch()) L5_CUDA_CHECK(cudaStreamSynchronize(shared_->stream));
}

// The stages of CudaEngine::enqueue_window (fused) or of its single step with phase 1 first
// (a member has a delay of 0 steps), each one launch for all members.
void CudaPack::enqueue(uint32_t count) {
    cudaStream_t s = shared_->stream;
    const auto n_tails = static_cast<uint32_t>(tail_owner_.size());
    if (fused_) {
        for (int k = 0; k < 6; ++k)
            window_tasks(by_inputs_[k].list(), k < 5 ? k : kMaxInputs, k == 5 && all_receptors_,
                         count, s);
        proj_tasks(ProjStage::propagate_window, projs_.list(), s);
        proj_tasks(ProjStage::potentiate_window, plastic_.list(), s);
        traces_tasks(traced_.list(), count, s);
        finish_window(tails_.data(), n_tails, count, shared_->step.data(), s);
    } else {
        detect_tasks(cells_.list(), s);
        proj_tasks(ProjStage::propagate, projs_.list(), s);
        update_tasks(cells_.list(), all_receptors_, s);
        proj_tasks(ProjStage::potentiate, plastic_.list(), s);
        proj_tasks(ProjStage::jump, triplet_.list(), s);
        finish_step(tails_.data(), n_tails, shared_->step.data(), s);
    }
}

}  // namespace cuda

uint64_t cuda_member_bytes(const Config& cfg) {
    // A member shares the context the estimate's fixed 64 MiB stands for; 1 MiB for its many
    // small buffers.
    return cuda::estimate_device_bytes(cfg) - (64ull << 20) + (1ull << 20);
}

EnginePack make_cuda_pack(const std::vector<Config>& cfgs) {
    std::string why;
    if (!cuda_available(&why)) throw Error("--backend cuda: no usable CUDA device (" + why + ")");
    size_t free_b = 0, total_b = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    uint64_t need = 64ull << 20;
    for (const Config& c : cfgs) need += cuda_member_bytes(c);
    if (need > free_b) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "%zu packed replicas need %.1f GiB of device memory, the device has %.1f GiB "
                 "free; pack fewer replicas at a time (--max-pack)",
                 cfgs.size(), need / 1073741824.0, free_b / 1073741824.0);
        throw Error(buf);
    }
    auto pack = std::make_unique<cuda::CudaPack>();
    EnginePack out;
    for (const Config& c : cfgs) {
        auto e = std::make_unique<cuda::CudaEngine>(c, pack->shared());
        pack->add(e.get());
        out.engines.push_back(std::move(e));
    }
    pack->finalize();
    size_t free_after = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_after, &total_b));
    const uint64_t share =
        cfgs.empty() || free_b <= free_after ? 0 : (free_b - free_after) / cfgs.size();
    for (auto& e : out.engines) static_cast<cuda::CudaEngine&>(*e).set_device_bytes(share);
    out.group = std::move(pack);
    return out;
}

}  // namespace l5sim
