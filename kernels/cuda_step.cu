// The CUDA engine's step: the phases' launches on the engine's stream and side streams, windows
// of steps, and their capture as CUDA graphs (DESIGN.md section 4).
#include "cuda_engine.cuh"

namespace l5sim::cuda {

void CudaEngine::prepare(int64_t step, int64_t count) {
    if (cfg_.recording.spikes && step - last_check_ >= kRecordCheckEvery) {
        last_check_ = step;
        flush_half_full(tail_owner_, tails_.data(), fill_.data(), stream_);
    }
    if (step != next_step_) {  // first step, or a caller that skipped: set the device counter
        const auto s = static_cast<uint32_t>(step);
        to_device(step_ptr_, &s, sizeof s);
    }
    next_step_ = step + count;
}

void CudaEngine::detect_spikes(int64_t step) {
    one_process("detect_spikes");
    if (own_pack_ && use_graph_) {
        own_pack_->run_window(step, 1);
        return;
    }
    prepare(step, 1);
    if (use_graph_) {
        // Without a delay of 0 steps the step is three fan-outs: one kernel per population
        // (phases 1-5), propagation per projection, post-side STDP per plastic projection; then
        // the step's last kernel. Otherwise phase 1 runs first and propagation before the
        // per-cell update.
        launch_graph(0, [&] {
            if (fused_order_) {
                enqueue_update(true);
                enqueue_propagate();
            } else {
                enqueue_detect();
                enqueue_propagate();
                enqueue_deliver();
            }
            enqueue_plasticity();
        });
    } else {
        enqueue_detect();
    }
}

void CudaEngine::run_window(int64_t step, int64_t count) {
    one_process("run_window");
    if (count < 1 || count > window_)
        throw Error("run_window: a window of " + std::to_string(count) +
                    " steps, the engine takes 1 to " + std::to_string(window_));
    if (own_pack_ && use_graph_) {
        own_pack_->run_window(step, count);
        return;
    }
    prepare(step, count);
    const auto c = static_cast<uint32_t>(count);
    if (use_graph_) {
        launch_graph(c, [&] { enqueue_window(c); });
    } else {
        enqueue_window(c);
    }
}

// A window: every population's cells through `count` steps (concurrently), then the synapses'
// half (enqueue_window_synapses).
// Profiling: the stages run one after the other, each timed to its end (synchronised).
void CudaEngine::enqueue_window(uint32_t count) {
    window_mark_ = std::chrono::steady_clock::now();
    enqueue_window_cells(count);
    enqueue_window_synapses(count);
}

void CudaEngine::stage_done(double* acc) {
    if (!profiling_) return;
    synchronize();
    const auto now = std::chrono::steady_clock::now();
    *acc += std::chrono::duration<double>(now - window_mark_).count();
    window_mark_ = now;
}

void CudaEngine::enqueue_window_cells(uint32_t count) {
    const std::vector<InputSet> inputs = input_sets();
    fan_out(static_cast<uint32_t>(pops_.size()), [&](uint32_t p, cudaStream_t s) {
        update_window(pops_[p].view, inputs[p], cfg_.seed, count, s);
    });
    stage_done(&window_times_.deliver);
}

// The synapses' half of a window: every projection's propagation of the window's spiking
// sources (a rank's: the rows it holds, from the exchange) and every plastic projection's
// post-side STDP (concurrently: they write disjoint synapses), then the traces (a rank's
// presynaptic ones per row), then the window's last kernel.
void CudaEngine::enqueue_window_synapses(uint32_t count) {
    std::vector<uint32_t> plastic;
    for (uint32_t j = 0; j < projs_.size(); ++j)
        if (projs_[j].view.plastic) plastic.push_back(j);
    const auto n_proj = static_cast<uint32_t>(projs_.size());
    auto propagation = [&](uint32_t k, cudaStream_t s) {
        if (k < n_proj) {
            const PopView& src = source_view(cfg_.projections[k].source);
            propagate_window(projs_[k].view, src.spike_ids, src.spike_count, s);
        } else {
            const uint32_t j = plastic[k - n_proj];
            const auto& post = pops_[cfg_.projections[j].target].view;
            potentiate_window(projs_[j].view, post.spike_ids, post.spike_count, s);
        }
    };
    if (profiling_) {
        fan_out(n_proj, propagation);
        stage_done(&window_times_.propagate);
        fan_out(static_cast<uint32_t>(plastic.size()),
                [&](uint32_t k, cudaStream_t s) { propagation(n_proj + k, s); });
    } else {
        fan_out(n_proj + static_cast<uint32_t>(plastic.size()), propagation);
    }
    const auto n_pop = static_cast<uint32_t>(pops_.size());
    fan_out(distributed_ ? 2 * n_pop : n_pop, [&](uint32_t k, cudaStream_t s) {
        advance_traces(k < n_pop ? pops_[k].view : pops_[k - n_pop].rows, count, s);
    });
    finish_window(tails_.data(), n_pop, count, step_ptr_, stream_);
    stage_done(&window_times_.plasticity);
}

void CudaEngine::enqueue_detect() {
    fan_out(static_cast<uint32_t>(pops_.size()),
            [&](uint32_t p, cudaStream_t s) { cuda::detect_spikes(pops_[p].view, s); });
}

void CudaEngine::enqueue_propagate() {
    fan_out(static_cast<uint32_t>(projs_.size()), [&](uint32_t j, cudaStream_t s) {
        const auto& src = pops_[cfg_.projections[j].source].view;
        cuda::propagate(projs_[j].view, src.spike_ids, src.spike_count, s);
    });
}

void CudaEngine::enqueue_deliver() { enqueue_update(false); }

std::vector<InputSet> CudaEngine::input_sets() const {
    std::vector<InputSet> inputs(pops_.size());
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        InputSet& in = inputs[cfg_.projections[j].target];
        if (in.count == kMaxInputs)
            throw Error("the CUDA engine takes at most 8 projections into one population");
        auto& x = in.in[in.count++];
        x.ring = projs_[j].view.ring;
        x.ring_mut = projs_[j].view.ring;
        x.slots = projs_[j].view.slots;
        x.ns_per_fixed = 1.0f / projs_[j].view.fixed_per_ns;  // exact: a power of two
        x.dendrite = projs_[j].dendrite;
        for (int r = 0; r < model::kReceptorCount; ++r) x.factor[r] = gain_[j].factor[r];
    }
    return inputs;
}

void CudaEngine::enqueue_update(bool detect) {
    const std::vector<InputSet> inputs = input_sets();
    fan_out(static_cast<uint32_t>(pops_.size()), [&](uint32_t p, cudaStream_t s) {
        update_cells(pops_[p].view, inputs[p], cfg_.seed, detect, s);
    });
}

void CudaEngine::enqueue_plasticity() {
    std::vector<uint32_t> plastic;
    for (uint32_t j = 0; j < projs_.size(); ++j)
        if (projs_[j].view.plastic) plastic.push_back(j);
    fan_out(static_cast<uint32_t>(plastic.size()), [&](uint32_t k, cudaStream_t s) {
        const uint32_t j = plastic[k];
        const auto& post = pops_[cfg_.projections[j].target].view;
        const auto& pre = pops_[cfg_.projections[j].source].view;
        potentiate(projs_[j].view, post.spike_ids, post.spike_count, pre.spike_ids, pre.spike_count,
                   s);
    });
    finish_step(tails_.data(), static_cast<uint32_t>(pops_.size()), step_ptr_, stream_);
}

}  // namespace l5sim::cuda
