// The Engine of a rank of a run over MPI (mpi/mpi_rank.hpp: make_mpi_engine): the rank's CPU
// engine stepping windows with the exchange between their halves, and every read gathered to rank
// 0, so that the Simulation and the output writers on rank 0 see the whole network as one process
// would.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "l5sim/error.hpp"
#include "l5sim/state_vars.hpp"
#include "mpi/mpi_rank.hpp"

namespace l5sim::mpi {

namespace {

template <class T>
MPI_Datatype type_of();
template <>
MPI_Datatype type_of<uint32_t>() {
    return MPI_UINT32_T;
}
template <>
MPI_Datatype type_of<int64_t>() {
    return MPI_INT64_T;
}
template <>
MPI_Datatype type_of<uint64_t>() {
    return MPI_UINT64_T;
}
template <>
MPI_Datatype type_of<float>() {
    return MPI_FLOAT;
}
template <>
MPI_Datatype type_of<uint8_t>() {
    return MPI_BYTE;
}

// Every rank's `v` on rank 0, in rank order (empty elsewhere).
template <class T>
std::vector<T> gather(const std::vector<T>& v, MPI_Comm comm) {
    const int size = size_of(comm), rank = rank_of(comm);
    int n = static_cast<int>(v.size());
    std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
    check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
    int total = 0;
    for (int r = 0; r < size; ++r) {
        displs[r] = total;
        total += counts[r];
    }
    std::vector<T> all(rank == 0 ? static_cast<size_t>(total) : 0);
    check(MPI_Gatherv(v.data(), n, type_of<T>(), all.data(), counts.data(), displs.data(),
                      type_of<T>(), 0, comm),
          "MPI_Gatherv");
    return all;
}

uint64_t sum(uint64_t x, MPI_Comm comm) {
    unsigned long long in = x, out = 0;
    check(MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm), "MPI_Allreduce");
    return out;
}

class MpiEngine final : public Engine {
  public:
    MpiEngine(const Config& cfg, MPI_Comm comm, uint64_t extra_bytes, RankBackend backend)
        : cfg_(cfg), comm_(comm), rank_(rank_of(comm)) {
        // One piece size for every rank (rank 0's): the pieces are collective.
        unsigned long long piece = requested_piece_bytes();
        check(MPI_Bcast(&piece, 1, MPI_UNSIGNED_LONG_LONG, 0, comm), "MPI_Bcast");
        piece_bytes_ = piece;
        Needs needs;
        inner_ = make_rank_engine(cfg, comm, backend, &cells_, &needs, extra_bytes);
        exchange_ = std::make_unique<SpikeExchange>(cfg, comm, cells_, needs);
    }

    std::string name() const override { return inner_->name(); }
    const std::vector<uint32_t>* local_cells(uint32_t pop) const override {
        return &cells_.gid[pop];
    }
    // A window: the cells' half, the exchange of its spikes, the synapses' half.
    void run_window(int64_t step, int64_t count) override {
        inner_->window_cells(step, count);
        exchange_->exchange(inner_->window_spikes(), &all_);
        inner_->window_synapses(all_);
    }
    int64_t max_window() const override { return inner_->max_window(); }
    // Single steps (a window of one step: a zero delay, or profiling) are windows of one step,
    // timed as a whole under detect_spikes.
    void detect_spikes(int64_t step) override { run_window(step, 1); }
    void propagate(int64_t) override {}
    void deliver(int64_t) override {}
    void integrate_dendrites(int64_t) override {}
    void integrate_somata(int64_t) override {}
    void plasticity(int64_t) override {}
    void set_profiling(bool on) override { inner_->set_profiling(on); }

    // Rank 0 receives every rank's spikes, in the order one engine records them (step, id).
    void take_spikes(uint32_t pop, SpikeRecord* out) override {
        SpikeRecord mine;
        inner_->take_spikes(pop, &mine);
        const auto steps = gather(mine.steps, comm_);
        const auto ids = gather(mine.ids, comm_);
        if (rank_ != 0) return;
        std::vector<size_t> idx(steps.size());
        std::iota(idx.begin(), idx.end(), size_t{0});
        std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
            return std::tie(steps[a], ids[a]) < std::tie(steps[b], ids[b]);
        });
        for (size_t i : idx) {
            out->steps.push_back(steps[i]);
            out->ids.push_back(ids[i]);
        }
    }
    uint64_t spike_count(uint32_t pop) const override {
        return sum(inner_->spike_count(pop), comm_);
    }
    uint64_t calcium_spikes(uint32_t pop) const override {
        return sum(inner_->calcium_spikes(pop), comm_);
    }
    uint64_t synaptic_events() const override { return sum(inner_->synaptic_events(), comm_); }

    void set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) override {
        inner_->set_drive(pop, d, step);
    }
    void set_gamma(uint32_t pop, const std::vector<float>& g) override {
        inner_->set_gamma(pop, g);
    }
    void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) override {
        inner_->set_current(pop, c, pA);
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        inner_->set_projection(j, gain, eta);
    }

    // Each rank reads the cells it owns; rank 0 places them.
    void read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                    float* out) const override {
        const auto& gid = cells_.gid[pop];
        std::vector<uint32_t> local, where;
        for (uint32_t k = 0; k < cells.size(); ++k) {
            const auto it = std::lower_bound(gid.begin(), gid.end(), cells[k]);
            if (it != gid.end() && *it == cells[k]) {
                local.push_back(static_cast<uint32_t>(it - gid.begin()));
                where.push_back(k);
            }
        }
        std::vector<float> values(local.size());
        if (!local.empty()) inner_->read_state(pop, var, local, values.data());
        const auto all_where = gather(where, comm_);
        const auto all_values = gather(values, comm_);
        if (rank_ != 0) {
            std::fill(out, out + cells.size(), 0.0f);
            return;
        }
        for (size_t i = 0; i < all_where.size(); ++i) out[all_where[i]] = all_values[i];
    }
    // Weights and synapses in the single process's CSR order (by source, then target, a
    // target's draws in draw order). A weight snapshot's sample (every stride-th position): each
    // rank sends rank 0 only its synapses in the sample, with their places.
    void read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const override {
        const Sample& smp = sample_of(j, stride, count);
        const uint64_t m = inner_->synapse_count(j);
        std::vector<float> w(m);
        inner_->read_weights(j, 1, m, w.data());
        std::vector<float> val;
        for (const uint32_t i : smp.local) val.push_back(w[i]);
        const auto all_at = gather(smp.slot, comm_);
        const auto all_val = gather(val, comm_);
        if (rank_ != 0) return;
        for (size_t k = 0; k < all_at.size(); ++k) out[all_at[k]] = all_val[k];
    }
    // The same sample's sources and targets: each rank sends its own, with their places.
    void read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                       uint32_t* tgt) const override {
        const Sample& smp = sample_of(j, stride, count);
        std::vector<uint32_t> s_all, t_all;
        local_synapses(j, &s_all, &t_all);
        std::vector<uint32_t> s_val, t_val;
        for (const uint32_t i : smp.local) {
            s_val.push_back(s_all[i]);
            t_val.push_back(t_all[i]);
        }
        const auto all_at = gather(smp.slot, comm_);
        const auto all_s = gather(s_val, comm_);
        const auto all_t = gather(t_val, comm_);
        if (rank_ != 0) return;
        for (size_t k = 0; k < all_at.size(); ++k) {
            src[all_at[k]] = all_s[k];
            tgt[all_at[k]] = all_t[k];
        }
    }
    uint64_t synapse_count(uint32_t j) const override {
        return sum(inner_->synapse_count(j), comm_);
    }
    // The first variable in table order, then the lowest cell, over every rank.
    bool find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const override {
        std::string v;
        uint32_t c = 0;
        unsigned long long key = ~0ull, best = ~0ull;
        if (inner_->find_nonfinite(pop, &v, &c))
            key = (static_cast<unsigned long long>(find_var(v)->var) << 32) | cells_.gid[pop][c];
        check(MPI_Allreduce(&key, &best, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm_),
              "MPI_Allreduce");
        if (best == ~0ull) return false;
        *var = var_info(static_cast<Var>(best >> 32)).name;
        *cell = static_cast<uint32_t>(best & 0xffffffffu);
        return true;
    }
    uint64_t connectivity_bytes() const override {
        return sum(inner_->connectivity_bytes(), comm_);
    }
    // CUDA ranks: the device memory of every rank.
    uint64_t device_bytes() const override { return sum(inner_->device_bytes(), comm_); }
    void synchronize() override { inner_->synchronize(); }
    int ring_fixed_exponent(uint32_t j) const override { return inner_->ring_fixed_exponent(j); }
    // Per rank: its cells, synapses and connectivity bytes, and the exchange's bytes and time.
    std::string mpi_summary() const override {
        uint64_t cells = 0, synapses = 0, held = 0;
        for (const auto& g : cells_.gid) cells += g.size();
        for (const auto& s : cells_.sources) held += s.size();
        for (uint32_t j = 0; j < cfg_.projections.size(); ++j) synapses += inner_->synapse_count(j);
        const SpikeExchange& x = *exchange_;
        const std::vector<int64_t> mine = {static_cast<int64_t>(cells),
                                           static_cast<int64_t>(synapses),
                                           static_cast<int64_t>(inner_->connectivity_bytes()),
                                           static_cast<int64_t>(x.subscribed_cells()),
                                           static_cast<int64_t>(x.destinations()),
                                           static_cast<int64_t>(x.sources()),
                                           static_cast<int64_t>(x.bytes_sent()),
                                           static_cast<int64_t>(x.messages()),
                                           static_cast<int64_t>(x.exchanges()),
                                           static_cast<int64_t>(held),
                                           static_cast<int64_t>(inner_->device_bytes())};
        constexpr size_t kFields = 11;
        const auto all = gather(mine, comm_);
        const auto secs = gather(std::vector<float>{static_cast<float>(x.seconds())}, comm_);
        if (rank_ != 0) return "{}";
        nlohmann::ordered_json j;
        const size_t ranks = secs.size();
        j["ranks"] = ranks;
        j["engine"] = inner_->name();
        j["exchange"] =
            "once per window of window_steps steps, each spike to the ranks subscribed to its "
            "cell: MPI_Neighbor_alltoall of counts + MPI_Neighbor_alltoallv of (cell, step) "
            "pairs over the graph of ranks that connect";
        j["window_steps"] = inner_->max_window();
        if (inner_->max_window() == 1)
            j["window_note"] = "a window of one step: the network has a delay shorter than 2 steps";
        for (size_t r = 0; r < ranks; ++r) {
            const int64_t* f = all.data() + r * kFields;
            j["per_rank"].push_back({{"cells", f[0]},
                                     {"synapses", f[1]},
                                     {"connectivity_bytes", f[2]},
                                     {"subscribed_cells", f[3]},
                                     {"sends_to_ranks", f[4]},
                                     {"receives_from_ranks", f[5]},
                                     {"exchange_bytes_sent", f[6]},
                                     {"exchange_messages", f[7]},
                                     {"exchanges", f[8]},
                                     {"source_rows", f[9]},
                                     {"device_bytes", f[10]},
                                     {"exchange_s", secs[r]}});
        }
        return j.dump();
    }
    // Checkpoint blocks in the single process's layout (state_layout of the whole network): a
    // rank's share of each block gathered to rank 0 by global id (dst is written on rank 0);
    // written back from the whole block (write_block; a checkpoint goes through
    // write_block_from, read in pieces), each rank taking its share. Counters are summed out
    // and held by rank 0 in.
    void read_block(const StateBlock& b, int64_t step, void* dst) const override {
        if (b.var == "x" || b.var == "r2") return read_source_traces(b, step, dst);
        const Share sh = share_of(b);
        std::vector<uint8_t> mine(sh.local.bytes());
        if (sh.how != Share::Whole || rank_ == 0) inner_->read_block(sh.local, step, mine.data());
        auto* out = static_cast<uint8_t*>(dst);
        switch (sh.how) {
            case Share::Whole:  // identical on every rank: rank 0's
                if (rank_ == 0) std::memcpy(out, mine.data(), mine.size());
                return;
            case Share::Sum: {
                uint64_t v = 0;
                std::memcpy(&v, mine.data(), 8);
                v = sum(v, comm_);
                if (rank_ == 0) std::memcpy(out, &v, 8);
                return;
            }
            case Share::Synapses: {  // each value with its single-process position
                const auto all = gather(mine, comm_);
                const auto at = gather(positions_of(b.index), comm_);  // transient
                if (rank_ != 0) return;
                for (uint64_t i = 0; i < at.size(); ++i)
                    std::memcpy(out + at[i] * 4, all.data() + i * 4, 4);
                return;
            }
            case Share::Sources:  // x, r2: read_source_traces
                throw Error("read_block " + b.name + ": presynaptic traces come from their owners");
            case Share::Cells: {
                const auto all = gather(mine, comm_);
                const auto gids = gather(*sh.gid, comm_);
                const auto counts =
                    gather(std::vector<int64_t>{static_cast<int64_t>(sh.gid->size())}, comm_);
                if (rank_ != 0) return;
                // Rank by rank: rows [row][local cell] of that rank's cells.
                const uint64_t n_global = b.count / sh.rows, e = b.elem_bytes;
                uint64_t at = 0, cell = 0;
                for (const int64_t n64 : counts) {
                    const auto n = static_cast<uint64_t>(n64);
                    for (uint64_t row = 0; row < sh.rows; ++row)
                        for (uint64_t i = 0; i < n; ++i, at += e)
                            std::memcpy(out + (row * n_global + gids[cell + i]) * e,
                                        all.data() + at, e);
                    cell += n;
                }
                return;
            }
        }
    }
    void write_block(const StateBlock& b, int64_t step, const void* src) override {
        const Share sh = share_of(b);
        const auto* in = static_cast<const uint8_t*>(src);
        if (sh.how == Share::Whole || sh.how == Share::Sum) {
            std::vector<uint8_t> mine(sh.local.bytes());
            if (sh.how == Share::Whole) std::memcpy(mine.data(), in, mine.size());
            // Sum: the total on rank 0, nothing elsewhere: the sum is kept.
            if (sh.how == Share::Sum && rank_ == 0) std::memcpy(mine.data(), in, 8);
            return inner_->write_block(sh.local, step, mine.data());
        }
        // A share: taken from the whole block as from a checkpoint's pieces.
        uint64_t at = 0;
        write_block_from(b, step, [&](void* dst, uint64_t bytes) {
            std::memcpy(dst, in + at, bytes);
            at += bytes;
        });
    }

    // A checkpoint's block read in pieces of at most piece_bytes() bytes, each rank keeping
    // only its share (the elements it holds, in ascending place in the whole block): no rank
    // holds a whole block of the network.
    void write_block_from(const StateBlock& b, int64_t step, const BlockSource& read) override {
        const Share sh = share_of(b);
        if (sh.how == Share::Whole || sh.how == Share::Sum)
            return Engine::write_block_from(b, step, read);
        const uint64_t e = b.elem_bytes;
        std::vector<uint8_t> mine(sh.local.bytes());
        Places at(sh, b, sh.how == Share::Synapses ? positions_of(b.index) : Positions{});
        const uint64_t per_piece = std::max<uint64_t>(1, piece_bytes() / e);
        std::vector<uint8_t> piece(std::min(per_piece, b.count) * e);
        for (uint64_t first = 0; first < b.count; first += per_piece) {
            const uint64_t count = std::min(per_piece, b.count - first);
            read(piece.data(), count * e);
            for (; at.more() && at.whole() < first + count; at.next())
                std::memcpy(mine.data() + at.local() * e, piece.data() + (at.whole() - first) * e,
                            e);
        }
        inner_->write_block(sh.local, step, mine.data());
    }

    // A block for rank 0's checkpoint, in pieces of at most piece_bytes() bytes: every rank
    // sends rank 0 its elements of each piece with their places in it (a gather per piece),
    // rank 0 hands the piece to `write`; no rank holds the whole block (rank 0 a piece and
    // what came for it). Collective; `write` is called on rank 0 only.
    void read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const override {
        Share sh = share_of(b);
        if (sh.how == Share::Whole || sh.how == Share::Sum)
            return Engine::read_block_to(
                b, step, rank_ == 0 ? write : [](const void*, uint64_t) {});
        const uint64_t e = b.elem_bytes;
        std::vector<uint8_t> mine;
        if (sh.how == Share::Sources) {
            // The values of the rank's own cells, from the rows it holds (it is their owner).
            const auto values = own_source_traces(b, step);
            mine.resize(values.size() * 4);
            std::memcpy(mine.data(), values.data(), mine.size());
            sh.how = Share::Cells;
            sh.gid = &cells_.gid[cfg_.projections[b.index].source];
            sh.rows = 1;
        } else {
            mine.resize(sh.local.bytes());
            inner_->read_block(sh.local, step, mine.data());
        }
        Places at(sh, b, sh.how == Share::Synapses ? positions_of(b.index) : Positions{});
        // A piece's elements with their 4-byte places: bounded by the places for 1-byte ones.
        const uint64_t per_piece = std::max<uint64_t>(1, piece_bytes() / std::max<uint64_t>(e, 4));
        std::vector<uint8_t> piece(rank_ == 0 ? std::min(per_piece, b.count) * e : 0);
        for (uint64_t first = 0; first < b.count; first += per_piece) {
            const uint64_t count = std::min(per_piece, b.count - first);
            std::vector<uint32_t> where;
            std::vector<uint8_t> values;
            for (; at.more() && at.whole() < first + count; at.next()) {
                where.push_back(static_cast<uint32_t>(at.whole() - first));
                values.insert(values.end(), mine.data() + at.local() * e,
                              mine.data() + (at.local() + 1) * e);
            }
            const auto all_where = gather(where, comm_);
            const auto all_values = gather(values, comm_);
            if (rank_ != 0) continue;
            if (all_where.size() != count)
                throw Error("checkpoint block " + b.name + ": the ranks hold " +
                            std::to_string(all_where.size()) + " of the " + std::to_string(count) +
                            " elements from " + std::to_string(first));
            for (size_t k = 0; k < all_where.size(); ++k) {
                if (all_where[k] >= count)
                    throw Error("checkpoint block " + b.name + ": an element placed at " +
                                std::to_string(first + all_where[k]) + " in a piece of " +
                                std::to_string(count) + " from " + std::to_string(first));
                std::memcpy(piece.data() + uint64_t(all_where[k]) * e, all_values.data() + k * e,
                            e);
            }
            write(piece.data(), count * e);
        }
        if (at.more())
            throw Error("checkpoint block " + b.name + ": this rank holds an element at " +
                        std::to_string(at.whole()) + ", beyond the block's " +
                        std::to_string(b.count));
    }

  private:
    // Presynaptic traces (one per source cell): every rank keeps them for the sources it holds
    // (LocalCells::sources: its own cells and those it subscribes to); rank 0 takes each
    // cell's value from its owner.
    void read_source_traces(const StateBlock& b, int64_t step, void* dst) const {
        const uint32_t pop = cfg_.projections[b.index].source;
        const auto& gid = cells_.gid[pop];
        const auto values = gather(own_source_traces(b, step), comm_);
        const auto gids = gather(gid, comm_);
        if (rank_ != 0) return;
        auto* out = static_cast<float*>(dst);
        for (size_t i = 0; i < gids.size(); ++i) out[gids[i]] = values[i];
    }
    // This rank's own cells' values of presynaptic trace block b (x or r2), in cell order.
    std::vector<float> own_source_traces(const StateBlock& b, int64_t step) const {
        const uint32_t pop = cfg_.projections[b.index].source;
        const auto& held = cells_.sources[pop];
        StateBlock local = b;
        local.count = held.size();
        std::vector<float> rows(held.size());
        inner_->read_block(local, step, rows.data());
        const auto& gid = cells_.gid[pop];
        std::vector<float> mine(gid.size());
        for (size_t i = 0; i < gid.size(); ++i)
            mine[i] = rows[static_cast<size_t>(std::lower_bound(held.begin(), held.end(), gid[i]) -
                                               held.begin())];
        return mine;
    }
    // Checkpoint blocks move between a file and the ranks in pieces of at most this many
    // bytes (16 MiB: rank 0 holds a piece and, while writing, what came for it; agreed at
    // construction). L5SIM_RESTORE_PIECE: other pieces, 1 byte to 1 GiB, for the tests of the
    // pieces (anything else: the default).
    static uint64_t requested_piece_bytes() {
        uint64_t bytes = uint64_t(16) << 20;
        if (const char* v = std::getenv("L5SIM_RESTORE_PIECE")) {
            char* end = nullptr;
            const unsigned long long x = std::strtoull(v, &end, 10);
            if (end != v && *end == '\0' && x >= 1 && x <= (uint64_t(1) << 30)) bytes = x;
        }
        return bytes;
    }
    uint64_t piece_bytes() const { return piece_bytes_; }
    uint64_t piece_bytes_ = uint64_t(16) << 20;
    // How a block of the whole network's layout maps onto this rank's engine.
    struct Share {
        enum How { Cells, Synapses, Sources, Whole, Sum } how = Whole;
        StateBlock local;                            // the rank's block (its engine's sizes)
        const std::vector<uint32_t>* gid = nullptr;  // Cells: the rank's cells; Sources: its
                                                     // sources (LocalCells::sources)
        uint64_t rows = 1;                           // Cells: rows of the block ([d][cell] rings)
    };
    Share share_of(const StateBlock& b) const {
        Share sh;
        sh.local = b;
        auto cells = [&](uint32_t pop, uint64_t rows) {
            sh.how = Share::Cells;
            sh.gid = &cells_.gid[pop];
            sh.rows = rows;
            sh.local.count = rows * sh.gid->size();
        };
        if (b.kind == StateBlock::Kind::global) {
            sh.how = Share::Sum;  // events
        } else if (b.kind == StateBlock::Kind::population) {
            if (b.var == "spikes" || b.var == "calcium_spikes") {
                sh.how = Share::Sum;
            } else {
                cells(b.index, 1);
            }
        } else {
            const auto& pc = cfg_.projections[b.index];
            const uint64_t n_tgt = cfg_.populations[pc.target].n;
            if (b.var == "ring") {
                cells(pc.target, b.count / n_tgt);
            } else if (b.var == "y" || b.var == "o2") {
                cells(pc.target, 1);
            } else if (b.var == "weight") {
                sh.how = Share::Synapses;
                sh.local.count = inner_->synapse_count(b.index);
            } else if (b.var == "x" || b.var == "r2") {  // read from owners: read_source_traces
                sh.how = Share::Sources;
                sh.gid = &cells_.sources[pc.source];
                sh.local.count = sh.gid->size();
            }
        }
        return sh;
    }
    using Positions = std::vector<uint64_t>;
    // A rank's elements of a whole block (its share sh) in ascending place in the block:
    // whole() is the place in the whole block, local() the place in the rank's share; next()
    // moves on while more(). Cells: [row][cell] by global id; Sources: the rows it holds by
    // source id; Synapses: by `positions` (positions_of).
    class Places {
      public:
        Places(const Share& sh, const StateBlock& b, Positions positions)
            : sh_(sh), pos_(std::move(positions)) {
            if (sh_.how == Share::Cells) n_global_ = b.count / sh_.rows;
            if (sh_.how == Share::Synapses) {
                by_place_.resize(pos_.size());
                std::iota(by_place_.begin(), by_place_.end(), 0u);
                std::sort(by_place_.begin(), by_place_.end(),
                          [&](uint32_t x, uint32_t y) { return pos_[x] < pos_[y]; });
            }
            next();
        }
        bool more() const { return more_; }
        uint64_t whole() const { return whole_; }
        uint64_t local() const { return local_; }
        void next() {
            more_ = true;
            switch (sh_.how) {
                case Share::Cells: {
                    const uint64_t n = sh_.gid->size();
                    if (n == 0 || row_ >= sh_.rows) break;
                    whole_ = row_ * n_global_ + (*sh_.gid)[k_];
                    local_ = row_ * n + k_;
                    if (++k_ == n) {
                        k_ = 0;
                        ++row_;
                    }
                    return;
                }
                case Share::Sources:
                    if (k_ >= sh_.gid->size()) break;
                    whole_ = (*sh_.gid)[k_];
                    local_ = k_++;
                    return;
                case Share::Synapses:
                    if (k_ >= by_place_.size()) break;
                    whole_ = pos_[by_place_[k_]];
                    local_ = by_place_[k_++];
                    return;
                default:
                    break;
            }
            more_ = false;
        }

      private:
        const Share& sh_;
        Positions pos_;
        std::vector<uint32_t> by_place_;  // Synapses: local indices by position
        uint64_t n_global_ = 0, k_ = 0, row_ = 0, whole_ = 0, local_ = 0;
        bool more_ = false;
    };
    // This rank's synapses of projection j: sources and global targets, in its CSR order.
    void local_synapses(uint32_t j, std::vector<uint32_t>* src, std::vector<uint32_t>* tgt) const {
        const uint64_t m = inner_->synapse_count(j);
        src->resize(m);
        tgt->resize(m);
        inner_->read_synapses(j, 1, m, src->data(), tgt->data());
        const auto& gid = cells_.gid[cfg_.projections[j].target];
        for (auto& t : *tgt) t = gid[t];
    }
    // The single process's CSR position of each of this rank's synapses of projection j, in
    // this rank's order, found without gathering the projection anywhere: a synapse's position
    // is its source's row start plus the synapses of that source onto lower target ids plus
    // its place among those onto its own target (all on this rank: a target's synapses live
    // with it). Sources are dealt to "row owners" in blocks of ids; every rank sends each row
    // owner one (source, target, count) record per run of synapses from one source onto one
    // target; the owner sorts them by (source, target), adds up the row lengths (MPI_Exscan of
    // its block's total gives the block's first position) and sends back each run's first
    // position. Memory and traffic per rank are proportional to its synapses. Collective on
    // every rank, with or without synapses of j; computed once per projection.
    //
    // Not kept (8 bytes per synapse on every rank): a weight snapshot keeps only its sample
    // (sample_of), a checkpoint computes them again.
    std::vector<uint64_t> positions_of(uint32_t j) const {
        const int size = size_of(comm_);
        const auto ranks = static_cast<uint64_t>(size);
        const uint64_t n_src = cfg_.populations[cfg_.projections[j].source].n;
        std::vector<uint32_t> src, tgt;
        local_synapses(j, &src, &tgt);
        std::vector<uint64_t> pos(src.size());
        // Runs of (source, target) in this rank's CSR order (by source, then target, a target's
        // draws together): the end of the run starting at i.
        auto run_end = [&](uint64_t i) {
            uint64_t e = i + 1;
            while (e < src.size() && src[e] == src[i] && tgt[e] == tgt[i]) ++e;
            return e;
        };
        // In rounds over ranges of source ids, so that no round holds more than about
        // 2^21 runs on this rank (the same number of rounds on every rank): a round's
        // runs are consecutive in the CSR, and its positions follow the rounds before.
        uint64_t runs_per_round = uint64_t(1) << 21;
        if (const char* v = std::getenv("L5SIM_PLACE_RUNS"))  // tests of several rounds
            runs_per_round = std::max<uint64_t>(1, std::strtoull(v, nullptr, 10));
        unsigned long long mine_runs = 0, most = 0;
        for (uint64_t i = 0; i < src.size(); i = run_end(i)) ++mine_runs;
        check(MPI_Allreduce(&mine_runs, &most, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm_),
              "MPI_Allreduce");
        const uint64_t rounds = std::clamp<uint64_t>((most + runs_per_round - 1) / runs_per_round,
                                                     1, std::max<uint64_t>(n_src, 1));
        struct Run {
            uint32_t s, t, count;
        };
        MPI_Datatype run_type = MPI_DATATYPE_NULL;
        check(MPI_Type_contiguous(3, MPI_UINT32_T, &run_type), "MPI_Type_contiguous");
        check(MPI_Type_commit(&run_type), "MPI_Type_commit");
        uint64_t base = 0, cursor = 0;  // positions before this round; this rank's next synapse
        int rc = MPI_SUCCESS;
        for (uint64_t c = 0; c < rounds && rc == MPI_SUCCESS; ++c) {
            const uint64_t lo = n_src * c / rounds, hi = n_src * (c + 1) / rounds;
            auto owner = [&](uint32_t s) { return static_cast<int>((s - lo) * ranks / (hi - lo)); };
            // This round's runs, counted per row owner, then packed for them.
            const uint64_t first_syn = cursor;
            std::vector<int> send_n(ranks, 0), recv_n(ranks), send_d(ranks), recv_d(ranks);
            uint64_t end = first_syn;
            while (end < src.size() && src[end] < hi) {
                ++send_n[owner(src[end])];
                end = run_end(end);
            }
            cursor = end;
            int sent = 0;
            for (int r = 0; r < size; ++r) {
                send_d[r] = sent;
                sent += send_n[r];
            }
            std::vector<Run> recv;
            {
                std::vector<Run> send(static_cast<size_t>(sent));
                std::vector<int> next(send_d);
                for (uint64_t i = first_syn; i < end; i = run_end(i))
                    send[static_cast<size_t>(next[owner(src[i])]++)] =
                        Run{src[i], tgt[i], static_cast<uint32_t>(run_end(i) - i)};
                check(MPI_Alltoall(send_n.data(), 1, MPI_INT, recv_n.data(), 1, MPI_INT, comm_),
                      "MPI_Alltoall");
                int total = 0;
                for (int r = 0; r < size; ++r) {
                    recv_d[r] = total;
                    total += recv_n[r];
                }
                recv.resize(static_cast<size_t>(total));
                rc = MPI_Alltoallv(send.data(), send_n.data(), send_d.data(), run_type, recv.data(),
                                   recv_n.data(), recv_d.data(), run_type, comm_);
                if (rc != MPI_SUCCESS) break;
            }
            // As row owner: the runs of its sources by (source, target) (one rank per target,
            // so no ties), each run's first position, in the order they came.
            std::vector<uint64_t> start(recv.size());
            unsigned long long block = 0, first = 0, round_total = 0;
            for (const Run& r : recv) block += r.count;
            check(MPI_Exscan(&block, &first, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm_),
                  "MPI_Exscan");
            check(MPI_Allreduce(&block, &round_total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm_),
                  "MPI_Allreduce");
            if (rank_ == 0) first = 0;  // MPI_Exscan leaves rank 0's undefined
            {
                std::vector<uint32_t> by(recv.size());
                std::iota(by.begin(), by.end(), 0u);
                std::sort(by.begin(), by.end(), [&](uint32_t a, uint32_t b) {
                    return std::tie(recv[a].s, recv[a].t) < std::tie(recv[b].s, recv[b].t);
                });
                uint64_t at = base + first;
                for (const uint32_t k : by) {
                    start[k] = at;
                    at += recv[k].count;
                }
            }
            base += round_total;
            recv = std::vector<Run>();
            // Back to the ranks the runs came from, in the order they sent them.
            std::vector<uint64_t> back(static_cast<size_t>(sent));
            rc = MPI_Alltoallv(start.data(), recv_n.data(), recv_d.data(), MPI_UINT64_T,
                               back.data(), send_n.data(), send_d.data(), MPI_UINT64_T, comm_);
            if (rc != MPI_SUCCESS) break;
            std::vector<int> next(send_d);
            for (uint64_t i = first_syn; i < end;) {
                const uint64_t e = run_end(i);
                const uint64_t p0 = back[static_cast<size_t>(next[owner(src[i])]++)];
                for (uint64_t k = i; k < e; ++k) pos[k] = p0 + (k - i);
                i = e;
            }
        }
        MPI_Type_free(&run_type);
        check(rc, "MPI_Alltoallv");
        return pos;
    }

    const Config& cfg_;
    MPI_Comm comm_;
    int rank_;
    LocalCells cells_;
    std::unique_ptr<Engine> inner_;
    std::unique_ptr<SpikeExchange> exchange_;
    WindowSpikes all_;  // the window's spikes this rank receives (its own included)
    // A weight record's sample on this rank (every stride-th position below count * stride):
    // its synapses (local indices) and their slots in the record; one per projection, found
    // again when the stride or count change.
    struct Sample {
        uint64_t stride = 0, count = 0;
        std::vector<uint32_t> local;
        std::vector<int64_t> slot;
    };
    const Sample& sample_of(uint32_t j, uint64_t stride, uint64_t count) const {
        if (samples_.size() <= j) samples_.resize(cfg_.projections.size());
        Sample& smp = samples_[j];
        if (smp.stride == stride && smp.count == count) return smp;
        const std::vector<uint64_t> pos = positions_of(j);
        smp = Sample{stride, count, {}, {}};
        for (uint64_t i = 0; i < pos.size(); ++i) {
            if (pos[i] % stride != 0 || pos[i] / stride >= count) continue;
            smp.local.push_back(static_cast<uint32_t>(i));
            smp.slot.push_back(static_cast<int64_t>(pos[i] / stride));
        }
        return smp;
    }
    mutable std::vector<Sample> samples_;
};

}  // namespace

std::unique_ptr<Engine> make_mpi_engine(const Config& cfg, MPI_Comm comm, uint64_t extra_bytes,
                                        RankBackend backend) {
    return std::make_unique<MpiEngine>(cfg, comm, extra_bytes, backend);
}

}  // namespace l5sim::mpi
