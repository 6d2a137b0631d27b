// The CPU engine's step (cpu_engine.hpp): phases 1-6 as loops over blocks of cells on the spin
// team, the vectorised block functions of cpu_loops.hpp.
#include "cpu/cpu_loops.hpp"

namespace l5sim::cpu {

uint64_t CpuEngine::detect_cells(uint32_t p, int64_t b, int64_t count, std::vector<uint32_t>* ids) {
    auto& s = pops_[p];
    uint64_t calcium = 0;
    if (s.has_dendrite) {
        calcium = static_cast<uint64_t>(reset_dendrite_block(
            s.soma, s.adapts, s.adapt_increment, s.st.burst() + b, s.st.floats(Var::v) + b,
            s.st.floats(Var::u) + b, s.st.history() + b, s.st.floats(Var::g_adapt) + b,
            s.spiked.data() + b, count));
    } else if (s.adapts) {
        reset_adapting_block(s.soma, s.adapt_increment, s.st.floats(Var::v) + b,
                             s.st.floats(Var::u) + b, s.st.floats(Var::g_adapt) + b,
                             s.spiked.data() + b, count);
    } else {
        reset_block(s.soma, s.st.floats(Var::v) + b, s.st.floats(Var::u) + b, s.spiked.data() + b,
                    count);
    }
    uint32_t idx[kSimdBlock];
    const int64_t m = select_flagged(static_cast<uint32_t>(b), s.spiked.data() + b, count, idx);
    ids->assign(idx, idx + m);
    if (traces_in_detect_) step_traces_block(p, b, count);
    return calcium;
}

// The STDP traces of the plastic projections from and to population p, cells [b, b + count),
// for the spikes flagged in `spiked` (this step's). A rank's engine steps the presynaptic traces
// of every source in step_source_traces instead.
void CpuEngine::step_traces_block(uint32_t p, int64_t b, int64_t count) {
    auto& s = pops_[p];
    for (auto& pj : projs_) {
        if (!pj.plastic) continue;
        const auto& st = pj.stdp;
        const bool triplet = st.rule == model::StdpRule::triplet;
        if (pj.source == p && !distributed_) {
            trace_block(st.rule, pj.x.data() + b, s.spiked.data() + b, st.decay_plus, count);
            if (triplet) decay_block(pj.r2.data() + b, count, st.decay_x);
        }
        if (pj.target == p) {
            trace_block(st.rule, pj.y.data() + b, s.spiked.data() + b, st.decay_minus, count);
            if (triplet) decay_block(pj.o2.data() + b, count, st.decay_y);
        }
    }
}

// A rank's presynaptic traces: every source it holds (a row of its parts) stepped with the
// step's spikes among them (all_spikes, as rows; the same trace_step on the same spikes as the
// source's own rank: equal bit for bit, since the rank receives every spike of these cells).
void CpuEngine::step_source_traces(uint32_t pop) {
    auto& s = pops_[pop];
    if (s.all_spiked.empty()) return;  // the source of no plastic projection
    for (uint32_t g : s.all_spikes) s.all_spiked[g] = 1;
    for (auto& pj : projs_) {
        if (!pj.plastic || pj.source != pop) continue;
        const auto& st = pj.stdp;
        for_chunks(static_cast<int64_t>(s.src_gid.size()), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
                pj.x[i] = model::trace_step(st.rule, pj.x[i], st.decay_plus, s.all_spiked[i] != 0);
            if (st.rule == model::StdpRule::triplet)
                for (int64_t i = b; i < e; ++i) pj.r2[i] = model::decay(pj.r2[i], st.decay_x);
        });
    }
    for (uint32_t g : s.all_spikes) s.all_spiked[g] = 0;
}

// One parallel loop over the blocks of every population; then, per population, the blocks'
// spikes in order (ids ascending), counted and recorded.
void CpuEngine::detect_spikes(int64_t step) {
    if (distributed_ && traces_in_detect_)
        throw Error("a rank's CPU engine steps by window_cells and window_synapses");
    const int64_t items = static_cast<int64_t>(blocks_.size());
    block_ids_.resize(blocks_.size());
    block_calcium_.resize(blocks_.size());
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        block_calcium_[w] = detect_cells(k.pop, k.begin, k.count, &block_ids_[w]);
    });
    for (auto& s : pops_) s.spike_ids.clear();
    for (int64_t w = 0; w < items; ++w) {
        auto& s = pops_[blocks_[w].pop];
        s.spike_ids.insert(s.spike_ids.end(), block_ids_[w].begin(), block_ids_[w].end());
        s.calcium_spikes += block_calcium_[w];
    }
    for (auto& s : pops_) {
        s.spike_count += s.spike_ids.size();
        if (cfg_.recording.spikes) {
            s.record.steps.insert(s.record.steps.end(), s.spike_ids.size(), step);
            if (!distributed_) {
                s.record.ids.insert(s.record.ids.end(), s.spike_ids.begin(), s.spike_ids.end());
            } else {
                for (uint32_t i : s.spike_ids) s.record.ids.push_back(s.gid[i]);
            }
        }
    }
}

// Phase 2a. Each spiking source walks its CSR row: fixed-point weight into the ring slot of the
// arrival step (integer adds, atomic where several threads share the ring: the sum is the same
// in any order), then pre-side depression of that synapse (the row has one writer: the thread
// of its item). The work is cut into items: a projection with few spikes is one item, a busy
// one items of four spikes.
void CpuEngine::plan_propagation() {
    constexpr int64_t kSpikesPerItem = 4;
    prop_items_.clear();
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        const auto ns = static_cast<int64_t>(source_spikes(projs_[j].source).size());
        if (ns == 0) continue;
        if (ns < 64 || !team_) {
            prop_items_.push_back(PropagationItem{j, 0, ns, false});
            continue;
        }
        for (int64_t q = 0; q < ns; q += kSpikesPerItem)
            prop_items_.push_back(PropagationItem{j, q, std::min(ns, q + kSpikesPerItem), true});
    }
    prop_events_.assign(prop_items_.size(), 0);
}

void CpuEngine::propagate_item(int64_t i, int64_t step) {
    const PropagationItem& it = prop_items_[static_cast<size_t>(i)];
    auto& pj = projs_[it.proj];
    auto& net = net_.projections[it.proj];
    const auto& spikes = source_spikes(pj.source);
    const uint64_t n_tgt = net.n_tgt;
    model::RingCell* ring = pj.ring.data();
    const float per_ns = pj.fixed_per_ns;
    const bool plastic = pj.plastic;
    const bool triplet = plastic && pj.stdp.rule == model::StdpRule::triplet;
    // Arrival slot = (step + delay) % slots, with the division done once per item.
    const uint32_t slot0 = static_cast<uint32_t>(static_cast<uint64_t>(step) % pj.slots);
    const uint32_t slots = pj.slots;
    auto cell_of = [&](uint64_t syn) {
        uint32_t slot = slot0 + net.delay[syn];
        if (slot >= slots) slot -= slots;
        return ring + static_cast<uint64_t>(slot) * n_tgt + net.target[syn];
    };
    // The ring cells of a row are scattered over the slots of its delays: each is prefetched a
    // few synapses ahead.
    constexpr uint64_t kAhead = 8;
    auto walk = [&](auto add) {
        uint64_t events = 0;
        for (int64_t q = it.q0; q < it.q1; ++q) {
            const uint32_t s = spikes[q];
            const uint64_t b = net.row_ptr[s], e = net.row_ptr[s + 1];
            const float r2 = triplet ? pj.r2[s] : 0.0f;
            for (uint64_t syn = b; syn < std::min(e, b + kAhead); ++syn)
                __builtin_prefetch(cell_of(syn), 1);
            for (uint64_t syn = b; syn < e; ++syn) {
                if (syn + kAhead < e) __builtin_prefetch(cell_of(syn + kAhead), 1);
                add(*cell_of(syn), model::to_fixed(net.weight[syn], per_ns));
                if (plastic)
                    net.weight[syn] =
                        model::depress(pj.stdp, net.weight[syn], pj.y[net.target[syn]], r2);
            }
            events += e - b;
        }
        return events;
    };
    uint64_t& events = prop_events_[static_cast<size_t>(i)];
    if (it.atomic) {
        events = walk([](model::RingCell& cell, model::RingCell w) {
            std::atomic_ref<model::RingCell>(cell).fetch_add(w, std::memory_order_relaxed);
        });
    } else {
        events = walk([](model::RingCell& cell, model::RingCell w) { cell += w; });
    }
}

void CpuEngine::count_propagation_events() {
    for (uint64_t e : prop_events_) events_ += e;
}

void CpuEngine::propagate(int64_t step) {
    plan_propagation();
    if (overlap_propagation_ && fused_ && team_) {
        propagation_pending_ = true;  // deliver(step) runs the items beside its blocks
        return;
    }
    run_propagation(step);
}

void CpuEngine::run_propagation(int64_t step) {
    const auto items = static_cast<int64_t>(prop_items_.size());
    auto item = [&](int64_t i) { propagate_item(i, step); };
    if (team_ && items > 1) {
        team_->run(items, item);
    } else {
        for (int64_t i = 0; i < items; ++i) item(i);
    }
    count_propagation_events();
}

namespace {
// A population's conductance arrays of one compartment from cell b on, one per receptor it steps
// (l5sim/state_vars.hpp's kSomaConductance, kDendriteConductance); null past those.
ReceptorArrays conductances(PopulationStore<HostStorage>& st, bool dendrite, int64_t b) {
    ReceptorArrays c{};
    const int n = model::receptors_of(st.all_receptors());
    for (int r = 0; r < n; ++r)
        c.g[r] = st.floats(dendrite ? kDendriteConductance[r] : kSomaConductance[r]) + b;
    return c;
}
}  // namespace

// Phase 2b (and, fused, 3-5) for cells [b, b + count) of population p: this step's ring slots
// and Poisson background into the conductances. Phase 3, one Euler decay of every conductance,
// runs in the loops of phases 4 and 5 (dendrite_block, soma_block), which read the conductances
// anyway. Each phase is a loop of its own (the arithmetic ones vectorised), in the order of
// model::add_arrivals / add_background / decay_inputs per cell, so every conductance sees the
// same float operations in the same order as there.
void CpuEngine::deliver_cells(uint32_t p, int64_t b, int64_t count, int64_t step,
                              model::RingCell* const* slot) {
    auto& s = pops_[p];
    const auto& into = targets_of_[p];
    const auto bs = s.drive.background_soma;
    const auto bd = s.drive.background_dendrite;
    const bool background = bs.lambda > 0 || (s.has_dendrite && bd.lambda > 0);
    const uint32_t stream = model::stream_id(model::StreamKind::background, p);
    constexpr int kAmpa = model::index_of(model::Receptor::ampa);
    constexpr int kNmda = model::index_of(model::Receptor::nmda);
    float* ga = s.st.floats(Var::g_ampa);
    float* gnb = s.st.floats(Var::g_nmda_bg);
    float* gad = s.st.floats(Var::g_ampa_d);
    float* gnd = s.st.floats(Var::g_nmda_d);
    float* rem_s = s.st.floats(Var::rem_soma);
    float* rem_d = s.st.floats(Var::rem_dend);
    const bool all = s.st.all_receptors();
    for (size_t q = 0; q < into.size(); ++q) {
        const auto& pj = projs_[into[q]];
        const ReceptorArrays c = conductances(s.st, pj.compartment == Compartment::dendrite, b);
        if (all) {
            arrivals_block_all(slot[q] + b, c.g[0], c.g[1], c.g[2], c.g[3], pj.factor,
                               pj.ns_per_fixed, count);
        } else {
            arrivals_block_core(slot[q] + b, c.g[0], c.g[1], c.g[2], pj.factor, pj.ns_per_fixed,
                                count);
        }
    }
    if (background) {
        // The cells with an input spike this step (a few %; every other cell's times count
        // down in the same pass), their first draws as one vectorised Philox batch.
        uint8_t flags[kSimdBlock];
        flag_background(rem_s + b, rem_d ? rem_d + b : nullptr, count, flags);
        uint32_t idx[kSimdBlock];
        const int64_t m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
        uint32_t w0[kSimdBlock], w1[kSimdBlock], keys[kSimdBlock];
        philox_batch(cfg_.seed, stream, static_cast<uint32_t>(step), cell_keys(p, idx, m, keys), m,
                     w0, w1);
        // Their first gaps (plog and a division each) and first draws as vectorised batches
        // too; then, one cell at a time, the rare further draws and the conductances.
        float gap_s[kSimdBlock], gap_d[kSimdBlock];
        gap_batch(w0, m, bs.lambda, gap_s);
        if (rem_d) gap_batch(w1, m, bd.lambda, gap_d);
        float rs[kSimdBlock], rd[kSimdBlock], ks[kSimdBlock], kd[kSimdBlock];
        uint8_t more[kSimdBlock];
        for (int64_t a = 0; a < m; ++a) {
            rs[a] = rem_s[idx[a]];
            rd[a] = rem_d ? rem_d[idx[a]] : model::poisson_never();
        }
        first_draw_batch(rs, rd, gap_s, rem_d ? gap_d : gap_s, m, ks, kd, more);
        for (int64_t a = 0; a < m; ++a) {
            const uint32_t i = idx[a];
            model::BackgroundDraws d{rs[a], rd[a], ks[a], kd[a]};
            if (more[a])
                model::background_more(&d, bs, bd, cfg_.seed, p, static_cast<uint32_t>(step),
                                       cell_key(p, i));
            model::CellInputs c{};
            c.soma[kAmpa] = ga[i];
            c.nmda_bg = gnb[i];
            if (s.has_dendrite) {
                c.dend[kAmpa] = gad[i];
                c.dend[kNmda] = gnd[i];
            }
            model::background_apply(&c, d, bs, bd, s.has_dendrite, &rem_s[i],
                                    rem_d ? &rem_d[i] : nullptr);
            ga[i] = c.soma[kAmpa];
            gnb[i] = c.nmda_bg;
            if (s.has_dendrite) {
                gad[i] = c.dend[kAmpa];
                gnd[i] = c.dend[kNmda];
            }
        }
    }
    if (fused_) {
        if (s.has_dendrite) dendrite_cells(p, b, count, step);
        soma_cells(p, b, count);
    }
}

// One parallel loop over the blocks of every population (one fork per step, balanced across
// populations of any size).
void CpuEngine::deliver(int64_t step) {
    // This step's slot of each incoming ring (one division per projection, not per cell).
    for (uint32_t p = 0; p < pops_.size(); ++p) {
        const auto& into = targets_of_[p];
        slots_[p].resize(into.size());
        for (size_t q = 0; q < into.size(); ++q) {
            auto& pj = projs_[into[q]];
            slots_[p][q] = pj.ring.data() + (static_cast<uint64_t>(step) % pj.slots) * pops_[p].n;
        }
    }
    if (propagation_pending_) {
        // One parallel loop: the propagation items first (claimed first), then the blocks.
        propagation_pending_ = false;
        const auto n_prop = static_cast<int64_t>(prop_items_.size());
        team_->run(n_prop + static_cast<int64_t>(blocks_.size()), [&](int64_t i) {
            if (i < n_prop) {
                propagate_item(i, step);
                return;
            }
            const Block& k = blocks_[i - n_prop];
            deliver_cells(k.pop, k.begin, k.count, step, slots_[k.pop].data());
        });
        count_propagation_events();
        return;
    }
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        deliver_cells(k.pop, k.begin, k.count, step, slots_[k.pop].data());
    });
}

void CpuEngine::dendrite_cells(uint32_t p, int64_t b, int64_t count, int64_t step) {
    auto& s = pops_[p];
    const bool stochastic = s.coupling == model::Coupling::stochastic;
    const uint32_t stream = model::stream_id(model::StreamKind::coupling, p);
    const uint32_t st = static_cast<uint32_t>(step);
    const uint64_t seed = cfg_.seed;
    const model::DendriteConstants k = s.dend;
    const uint32_t* history = s.st.history();
    const float* gamma = s.st.floats(Var::gamma);
    float bap[kSimdBlock];  // this step's BAP current of cell b + j (scratch)
    float* v_d = s.st.floats(Var::v_d);
    // The few cells that need a draw (an open BAP window; then a plateau) are gathered first and
    // their draws made as one vectorised Philox batch.
    uint32_t idx[kSimdBlock], keys[kSimdBlock];
    uint32_t w0[kSimdBlock], w1[kSimdBlock];
    uint8_t flags[kSimdBlock];
    flag_bap_window(k, history + b, count, flags);
    int64_t m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
    if (stochastic) philox_batch(seed, stream, st, cell_keys(p, idx, m, keys), m, w0, w1);
    std::fill(bap, bap + count, 0.0f);
    for (int64_t a = 0; a < m; ++a) {
        const uint32_t i = idx[a];
        bap[i - b] = model::bap_current(k, s.coupling, history[i], gamma[i],
                                        stochastic ? model::u01(w0[a]) : 0.0f);
    }
    auto* block = s.st.all_receptors() ? dendrite_block_all : dendrite_block_core;
    block(k, rc_, conductances(s.st, true, b), bap, s.st.floats(Var::i_ext_d) + b, v_d + b,
          s.st.floats(Var::u_d) + b, flags, count);
    m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
    if (stochastic) philox_batch(seed, stream, st, cell_keys(p, idx, m, keys), m, w0, w1);
    std::fill(s.st.burst() + b, s.st.burst() + b + count, uint8_t{0});
    for (int64_t a = 0; a < m; ++a) {
        const uint32_t i = idx[a];
        s.st.burst()[i] = model::plateau_burst(k, s.coupling, v_d[i], gamma[i],
                                               stochastic ? model::u01(w1[a]) : 0.0f);
    }
}

// Phase 5 for cells [b, b + count) of population p: the linearly implicit soma step.
void CpuEngine::soma_cells(uint32_t p, int64_t b, int64_t count) {
    auto& s = pops_[p];
    auto* block = s.st.all_receptors() ? soma_block_all : soma_block_core;
    block(s.soma, rc_, s.adapt_E, s.adapt_decay, conductances(s.st, false, b),
          s.st.floats(Var::g_nmda_bg) + b, s.st.floats(Var::g_adapt) + b,
          s.st.floats(Var::i_ext) + b, s.st.floats(Var::v) + b, s.st.floats(Var::u) + b, count);
}

// Phases 4 and 5 run inside deliver() (per block of cells, while its data is in cache) unless
// profiling asks for every phase on its own; per cell the order is the same.
void CpuEngine::integrate_dendrites(int64_t step) {
    if (fused_) return;
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        if (pops_[k.pop].has_dendrite) dendrite_cells(k.pop, k.begin, k.count, step);
    });
}

void CpuEngine::integrate_somata(int64_t) {
    if (fused_) return;
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        soma_cells(k.pop, k.begin, k.count);
    });
}

// Phase 6: potentiation at postsynaptic spikes through the reverse index (each synapse has one
// writer: its target's thread); then the triplet rule's slow traces jump.
void CpuEngine::plasticity(int64_t) {
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        auto& pj = projs_[j];
        if (!pj.plastic) continue;
        auto& net = net_.projections[j];
        const auto& post = pops_[pj.target].spike_ids;
        const int64_t ns = static_cast<int64_t>(post.size());
        const uint32_t K = net.in_degree;
        const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
        for_chunks(ns, [&](int64_t q0, int64_t q1) {
            for (int64_t q = q0; q < q1; ++q) {
                const uint32_t t = post[q];
                const float o2 = triplet ? pj.o2[t] : 0.0f;
                for (uint32_t k = 0; k < K; ++k) {
                    const uint64_t r = static_cast<uint64_t>(t) * K + k;
                    const uint32_t syn = net.rev[r];
                    const uint32_t src = net.rev_src[r];  // = source_of(pj.source_rule, t, k)
                    net.weight[syn] = model::potentiate(pj.stdp, net.weight[syn], pj.x[src], o2);
                }
            }
        });
        if (triplet) {
            for (const uint32_t s : source_spikes(pj.source)) pj.r2[s] = pj.r2[s] + 1.0f;
            for (const uint32_t t : post) pj.o2[t] = pj.o2[t] + 1.0f;
        }
    }
}

// Windows (DESIGN.md section 4): no spike reaches any cell sooner than the shortest delay, so
// the cells of a window of at most that many steps advance first (phases 1 and 2b-5, their
// spikes kept per step); then, step by step in order, the traces, the propagation with
// pre-side depression and the post-side STDP, exactly as single steps order them on the
// synapses (cells never read a trace or a weight; a spike of the window arrives after it). A
// rank's engine exchanges the window's spikes between the two halves. With a zero delay the
// window is one step, and its delivery and integration follow the propagation.
void CpuEngine::window_cells(int64_t step, int64_t count) {
    if (count < 1 || count > window_)
        throw Error("window_cells: " + std::to_string(count) + " steps, at most " +
                    std::to_string(window_));
    win_local_.reset(pops_.size(), step, count);
    traces_in_detect_ = false;
    for (int64_t k = 0; k < count; ++k) {
        const int64_t n = step + k;
        detect_spikes(n);
        for (uint32_t p = 0; p < pops_.size(); ++p) {
            auto& ids = win_local_.ids[p];
            ids.insert(ids.end(), pops_[p].spike_ids.begin(), pops_[p].spike_ids.end());
            win_local_.start[p][k + 1] = static_cast<uint32_t>(ids.size());
        }
        if (zero_delay_) continue;
        deliver(n);
        integrate_dendrites(n);
        integrate_somata(n);
    }
    traces_in_detect_ = true;
    win_mine_ = win_local_;
    if (distributed_)
        for (uint32_t p = 0; p < pops_.size(); ++p)
            for (auto& id : win_mine_.ids[p]) id = pops_[p].gid[id];
}

void CpuEngine::window_synapses(const WindowSpikes& all) {
    const int64_t first = win_local_.first, count = win_local_.steps;
    check_window_spikes(cfg_, all, first, count);
    for (auto& s : pops_) std::fill(s.spiked.begin(), s.spiked.end(), uint8_t{0});
    for (int64_t k = 0; k < count; ++k) {
        const int64_t n = first + k;
        for (uint32_t p = 0; p < pops_.size(); ++p) {
            auto& s = pops_[p];
            const auto& loc = win_local_;
            s.spike_ids.assign(loc.ids[p].begin() + loc.start[p][k],
                               loc.ids[p].begin() + loc.start[p][k + 1]);
            for (uint32_t i : s.spike_ids) s.spiked[i] = 1;
            if (distributed_) {
                // The step's spikes of the sources this rank holds, as their rows (others
                // have no synapse here).
                s.all_spikes.clear();
                for (uint32_t q = all.start[p][k]; q < all.start[p][k + 1]; ++q) {
                    const uint32_t g = all.ids[p][q];
                    const auto at = std::lower_bound(s.src_gid.begin(), s.src_gid.end(), g);
                    if (at != s.src_gid.end() && *at == g)
                        s.all_spikes.push_back(static_cast<uint32_t>(at - s.src_gid.begin()));
                }
                step_source_traces(p);
            }
        }
        for_blocks([&](int64_t w) {
            const Block& b = blocks_[w];
            step_traces_block(b.pop, b.begin, b.count);
        });
        for (auto& s : pops_)
            for (uint32_t i : s.spike_ids) s.spiked[i] = 0;
        plan_propagation();
        run_propagation(n);
        if (zero_delay_) {
            deliver(n);
            integrate_dendrites(n);
            integrate_somata(n);
        }
        plasticity(n);
    }
}

}  // namespace l5sim::cpu
