// A rank of a distributed run over MPI (mpi/mpi_rank.hpp).
#include "mpi/mpi_rank.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "l5sim/devices.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/packed.hpp"
#include "l5sim/partition.hpp"

namespace l5sim::mpi {

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(std::string("MPI: ") + what + ": " + std::string(text, static_cast<size_t>(len)));
}

int rank_of(MPI_Comm comm) {
    int r = 0;
    check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
    return r;
}

int size_of(MPI_Comm comm) {
    int n = 1;
    check(MPI_Comm_size(comm, &n), "MPI_Comm_size");
    return n;
}

int run_caught(const std::function<void()>& f, int rank, std::string* what, int* origin) {
    *origin = rank;
    try {
        f();
        return 0;
    } catch (const RankError& e) {
        *what = e.what();
        *origin = e.rank;
        return e.config ? 2 : 1;
    } catch (const ConfigError& e) {
        *what = e.what();
        return 2;
    } catch (const std::exception& e) {
        *what = e.what();
        return 1;
    }
}

void agree_on(MPI_Comm comm, const std::function<void()>& f) {
    const int rank = rank_of(comm), size = size_of(comm);
    std::string what;
    int origin = rank;
    int code = run_caught(f, rank, &what, &origin);  // 0 ok, 1 failure, 2 config error
    int mine = code ? rank : size, first = size;
    check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
    if (first == size) return;
    int head[3] = {code, origin, static_cast<int>(what.size())};
    check(MPI_Bcast(head, 3, MPI_INT, first, comm), "MPI_Bcast");
    what.resize(static_cast<size_t>(head[2]));
    check(MPI_Bcast(what.data(), head[2], MPI_CHAR, first, comm), "MPI_Bcast");
    throw RankError(what, head[1], head[0] == 2);
}

float max_over_ranks(float x, MPI_Comm comm) {
    float out = x;
    check(MPI_Allreduce(&x, &out, 1, MPI_FLOAT, MPI_MAX, comm), "MPI_Allreduce");
    return out;
}

namespace {
std::string size_text(double b);
}  // namespace

void check_rank_memory(const Config& cfg, const std::vector<uint64_t>& counts, uint64_t extra_bytes,
                       MPI_Comm comm, bool cuda) {
    // CUDA ranks build their parts on the host before copying them: host memory for a while.
    const char* on = cuda ? "of host memory (while the CUDA engine's parts are built)"
                          : "of memory on the CPU engine";
    const int rank = rank_of(comm), ranks = size_of(comm);
    uint64_t n_cells = 0;
    for (const uint64_t c : counts) n_cells += c;
    const uint64_t share = estimate_rank_bytes(cfg, counts);
    const uint64_t need = share > UINT64_MAX - extra_bytes ? UINT64_MAX : share + extra_bytes;
    // The ranks on this node share its memory (MemAvailable, the cgroup): their sum too.
    MPI_Comm node = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    double mine = static_cast<double>(need), together = 0;
    int on_node = 1;
    const int rc = MPI_Allreduce(&mine, &together, 1, MPI_DOUBLE, MPI_SUM, node);
    MPI_Comm_size(node, &on_node);
    MPI_Comm_free(&node);
    check(rc, "MPI_Allreduce");
    const auto size = [](double b) { return size_text(b); };
    const std::string with =
        extra_bytes ? fmt::format(" (with {} to read the checkpoint)", size(double(extra_bytes)))
                    : "";
    agree_on(comm, [&] {
        const uint64_t have = host_available_bytes(), shared = host_available_bytes(false);
        if (have != 0 && need > have)
            throw ConfigError(fmt::format(
                "{}: rank {} of {} holds {} cells, whose share of the network needs about {} "
                "{}{}; this process may use {} (MemAvailable, ulimit -v, cgroup memory.max); run "
                "more ranks (on more nodes), or reduce N or K",
                cfg.source_file, rank, ranks, n_cells, size(double(need)), on, with,
                size(double(have))));
        if (shared != 0 && together > static_cast<double>(shared))
            throw ConfigError(fmt::format(
                "{}: the {} ranks on this node need about {} {} together{} (rank {}: {}); the "
                "node has {} available (MemAvailable, cgroup memory.max); run fewer ranks per "
                "node on more nodes, or reduce N or K",
                cfg.source_file, on_node, size(together), on, with, rank, size(double(need)),
                size(double(shared))));
    });
}

namespace {

// Sizes with at least three significant digits, in MiB or GiB.
std::string size_text(double b) {
    const bool gib = b >= 1073741824.0;
    const double v = b / (gib ? 1073741824.0 : 1048576.0);
    const int digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return fmt::format("{:.{}f} {}", v, digits, gib ? "GiB" : "MiB");
}

// The device of each CUDA rank: its index among the ranks of its node, modulo the devices it
// sees (cuda_use_device). Collective.
// `card`: the card's PCI key (ranks with the same key on one node share it).
int choose_device(MPI_Comm comm, int* card) {
    MPI_Comm node = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_of(comm), MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    const int local = rank_of(node);
    MPI_Comm_free(&node);
    int device = -1;
    agree_on(comm, [&] { device = cuda_use_device(local, card); });
    return device;
}

// The device a CUDA rank builds on, and whether it holds the parts of every rank sharing it.
struct DeviceShare {
    int device = -1;
    int turn = 0;   // this rank's place among the ranks sharing the device
    int turns = 1;  // the most ranks sharing one device, over every node
    bool fits = true;
    std::string why;  // when it does not fit: which rank, how much, how much is free
};

// Whether the ranks sharing a device can hold their parts on it together (cuda_rank_bytes
// against its free memory), before anything is copied there. Collective.
DeviceShare share_device(const Config& cfg, const Network& net, const LocalCells& mine,
                         MPI_Comm comm) {
    int card = 0;
    const int device = choose_device(comm, &card);
    const int rank = rank_of(comm), ranks = size_of(comm);
    DeviceShare sh;
    sh.device = device;
    const uint64_t need = cuda_rank_bytes(cfg, net, mine);
    MPI_Comm node = MPI_COMM_NULL, same = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    int rc = MPI_Comm_split(node, card, rank, &same);
    MPI_Comm_free(&node);
    check(rc, "MPI_Comm_split");
    double mine_b = static_cast<double>(need), together = 0;
    rc = MPI_Allreduce(&mine_b, &together, 1, MPI_DOUBLE, MPI_SUM, same);
    const int sharing = size_of(same);
    sh.turn = rank_of(same);
    MPI_Comm_free(&same);
    check(rc, "MPI_Allreduce");
    check(MPI_Allreduce(&sharing, &sh.turns, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
    uint64_t cells = 0;
    for (const auto& g : mine.gid) cells += g.size();
    const uint64_t free_b = cuda_free_bytes();
    int fits = free_b == 0 || together <= static_cast<double>(free_b) ? 1 : 0, all = 0;
    check(MPI_Allreduce(&fits, &all, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
    sh.fits = all == 1;
    if (!fits)
        sh.why = fmt::format(
            "{}: rank {} of {} holds {} cells, whose share of the network needs about {} of "
            "device memory{}; device {} has {} free; run more ranks (on more devices), or reduce "
            "N or K",
            cfg.source_file, rank, ranks, cells, size_text(mine_b),
            sharing > 1 ? fmt::format(" ({} for the {} ranks sharing the device)",
                                      size_text(together), sharing)
                        : "",
            device, size_text(static_cast<double>(free_b)));
    return sh;
}

}  // namespace

std::unique_ptr<Engine> make_rank_engine(const Config& cfg, MPI_Comm comm, RankBackend backend,
                                         LocalCells* cells, Needs* needs, uint64_t extra_bytes) {
    const auto rank = static_cast<uint32_t>(rank_of(comm));
    const auto ranks = static_cast<uint32_t>(size_of(comm));
    LocalCells mine;
    Network net;
    std::vector<uint32_t> min_delays;
    int64_t asked = 0;
    // Each rank's parts on their own (a part's weights may be refused on one rank only), then
    // the bounds every rank agrees on.
    std::vector<uint64_t> counts;
    agree_on(comm, [&] {
        asked = requested_window();
        for (uint32_t p = 0; p < cfg.populations.size(); ++p)
            counts.push_back(count_cells_of(cfg, p, rank, ranks));
    });
    // CUDA ranks: every rank must see a device (automatic: else every rank runs the CPU
    // engine); each takes one once its parts are built on the host.
    bool cuda = backend == RankBackend::cuda;
    if (backend == RankBackend::automatic) {
        int sees = cuda_available() ? 1 : 0, all = 0;
        check(MPI_Allreduce(&sees, &all, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
        cuda = all == 1;
    }
    check_rank_memory(cfg, counts, extra_bytes, comm, cuda);
    agree_on(comm, [&] {
        for (uint32_t p = 0; p < cfg.populations.size(); ++p)
            mine.gid.push_back(cells_of(cfg, p, rank, ranks));
        for (uint32_t j = 0; j < cfg.projections.size(); ++j)
            net.projections.push_back(
                build_projection_part(cfg, j, mine.gid[cfg.projections[j].target]));
    });
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        Connectivity& c = net.projections[j];
        const float w_max = max_over_ranks(c.w_init_max, comm);
        agree_on(comm, [&] { set_global_bounds(cfg, j, w_max, &c); });
        const auto shortest = std::min_element(c.delay.begin(), c.delay.end());
        min_delays.push_back(shortest == c.delay.end() ? 32u : *shortest);
    }
    // The window: the shortest delay over every rank's synapses, or L5SIM_WINDOW where shorter
    // (the smallest any rank was given).
    long long local = window_bound(min_delays), agreed = local;
    if (asked > 0) local = std::min<long long>(local, asked);
    check(MPI_Allreduce(&local, &agreed, 1, MPI_LONG_LONG, MPI_MIN, comm), "MPI_Allreduce");
    mine.window = agreed;
    // CUDA ranks step windows of at least one step: a delay of 0 steps anywhere is refused
    // (automatic: the CPU engine runs it).
    if (cuda) {
        unsigned shortest = 32, over_ranks = 32;
        for (const uint32_t d : min_delays) shortest = std::min<unsigned>(shortest, d);
        check(MPI_Allreduce(&shortest, &over_ranks, 1, MPI_UNSIGNED, MPI_MIN, comm),
              "MPI_Allreduce");
        if (over_ranks == 0 && backend == RankBackend::automatic) {
            cuda = false;
            if (rank == 0)
                spdlog::info(
                    "--backend auto: the CPU engine on every rank (a projection has a delay of "
                    "0 steps, which CUDA ranks do not step)");
        } else if (over_ranks == 0) {
            agree_on(comm, [&] {
                throw ConfigError(cfg.source_file +
                                  ": a projection has a delay of 0 steps; CUDA ranks step "
                                  "windows of at least one step (use --backend cpu under "
                                  "mpiexec, or delays of at least dt)");
            });
        }
    }
    // Every part from a population gets the same rows: the population's cells this rank owns
    // and those it subscribes to (never a row per cell of the whole network), which index its
    // presynaptic traces too.
    Needs need;
    agree_on(comm, [&] { need = set_rank_sources(cfg, &mine, &net); });
    // CUDA ranks: the ranks sharing a device must fit on it together (auto: else the CPU
    // engine on every rank).
    DeviceShare dev;
    if (cuda) {
        dev = share_device(cfg, net, mine, comm);
        if (!dev.fits && backend == RankBackend::automatic) {
            cuda = false;
            if (rank == 0)
                spdlog::info(
                    "--backend auto: the CPU engine on every rank (a device cannot hold "
                    "the share of the ranks using it)");
        } else if (!dev.fits) {
            agree_on(comm, [&] {
                if (!dev.why.empty()) throw ConfigError(dev.why);
            });
        }
    }
    if (cells) *cells = mine;
    if (needs) *needs = std::move(need);
    std::unique_ptr<Engine> engine;
    if (!cuda) {
        agree_on(comm, [&] { engine = make_cpu_engine(cfg, std::move(net), std::move(mine)); });
        return engine;
    }
    // The ranks sharing a device build their engines on it in turn, so that each measures its
    // own device memory (summary.json's device_bytes).
    for (int t = 0; t < dev.turns; ++t)
        agree_on(comm, [&] {
            if (t == dev.turn) engine = make_cuda_engine(cfg, std::move(net), std::move(mine));
        });
    return engine;
}

std::unique_ptr<Engine> make_rank_cpu_engine(const Config& cfg, MPI_Comm comm, LocalCells* cells,
                                             Needs* needs, uint64_t extra_bytes) {
    return make_rank_engine(cfg, comm, RankBackend::cpu, cells, needs, extra_bytes);
}

SpikeExchange::SpikeExchange(const Config& cfg, MPI_Comm comm, const LocalCells& cells,
                             const Needs& needs)
    : pops_(static_cast<uint32_t>(cfg.populations.size())), gid_(cells.gid) {
    const int me = rank_of(comm), size = size_of(comm);
    const auto ranks = static_cast<uint32_t>(size);
    if (needs.size() != pops_ || gid_.size() != pops_)
        throw Error("SpikeExchange: one list of cells and of needed cells per population");
    // The subscriptions: (population, cell) pairs per owner, to the owners.
    std::vector<std::vector<uint32_t>> want(ranks);
    for (uint32_t p = 0; p < pops_; ++p) {
        for (const uint32_t g : needs[p]) {
            if (g >= cfg.populations[p].n)
                throw Error("SpikeExchange: cell " + std::to_string(g) + " of " +
                            cfg.populations[p].name + " does not exist");
            const uint32_t q = rank_of(cfg, p, g, ranks);
            if (static_cast<int>(q) == me) continue;
            want[q].push_back(p);
            want[q].push_back(g);
            ++subscribed_;
        }
    }
    std::vector<int> send_n(ranks), recv_n(ranks), send_d(ranks), recv_d(ranks);
    int send_total = 0, recv_total = 0;
    for (uint32_t q = 0; q < ranks; ++q) send_n[q] = static_cast<int>(want[q].size());
    check(MPI_Alltoall(send_n.data(), 1, MPI_INT, recv_n.data(), 1, MPI_INT, comm),
          "MPI_Alltoall (subscription counts)");
    for (uint32_t q = 0; q < ranks; ++q) {
        send_d[q] = send_total;
        send_total += send_n[q];
        recv_d[q] = recv_total;
        recv_total += recv_n[q];
    }
    std::vector<uint32_t> flat, got(static_cast<size_t>(recv_total));
    for (const auto& w : want) flat.insert(flat.end(), w.begin(), w.end());
    check(MPI_Alltoallv(flat.data(), send_n.data(), send_d.data(), MPI_UINT32_T, got.data(),
                        recv_n.data(), recv_d.data(), MPI_UINT32_T, comm),
          "MPI_Alltoallv (subscriptions)");
    for (uint32_t q = 0; q < ranks; ++q) {
        if (!want[q].empty()) srcs_.push_back(static_cast<int>(q));
        if (recv_n[q] > 0) dests_.push_back(static_cast<int>(q));
    }
    // Each of this rank's cells: the destinations that asked for it, in rank order.
    std::vector<std::vector<std::pair<uint32_t, uint32_t>>> cell_dest(pops_);  // (cell, dest)
    for (uint32_t d = 0; d < dests_.size(); ++d) {
        const auto r = static_cast<size_t>(dests_[d]);
        for (int k = recv_d[r]; k < recv_d[r] + recv_n[r]; k += 2) {
            const uint32_t p = got[static_cast<size_t>(k)], g = got[static_cast<size_t>(k) + 1];
            const auto& mine = p < pops_ ? gid_[p] : gid_.front();
            const auto it = std::lower_bound(mine.begin(), mine.end(), g);
            if (p >= pops_ || it == mine.end() || *it != g)
                throw Error("SpikeExchange: rank " + std::to_string(r) + " subscribed to cell " +
                            std::to_string(g) + " of population " + std::to_string(p) +
                            ", which rank " + std::to_string(me) + " does not own");
            cell_dest[p].emplace_back(static_cast<uint32_t>(it - mine.begin()), d);
        }
    }
    sub_ptr_.resize(pops_);
    sub_dest_.resize(pops_);
    for (uint32_t p = 0; p < pops_; ++p) {
        auto& cd = cell_dest[p];
        std::stable_sort(cd.begin(), cd.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        sub_ptr_[p].assign(gid_[p].size() + 1, 0);
        for (const auto& [cell, d] : cd) {
            ++sub_ptr_[p][cell + 1];
            sub_dest_[p].push_back(d);
        }
        for (size_t i = 0; i < gid_[p].size(); ++i) sub_ptr_[p][i + 1] += sub_ptr_[p][i];
    }
    check(MPI_Dist_graph_create_adjacent(comm, static_cast<int>(srcs_.size()), srcs_.data(),
                                         MPI_UNWEIGHTED, static_cast<int>(dests_.size()),
                                         dests_.data(), MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &graph_),
          "MPI_Dist_graph_create_adjacent");
    out_.resize(dests_.size());
    send_counts_.resize(dests_.size());
    send_displs_.resize(dests_.size());
    recv_counts_.resize(srcs_.size());
    recv_displs_.resize(srcs_.size());
}

SpikeExchange::~SpikeExchange() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (graph_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&graph_);
}

void SpikeExchange::exchange(const WindowSpikes& mine, WindowSpikes* all) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t steps = mine.steps;
    if (mine.ids.size() != pops_ || mine.start.size() != pops_)
        throw Error("SpikeExchange: the window's spikes hold the wrong populations");
    for (auto& o : out_) o.clear();
    for (uint32_t p = 0; p < pops_; ++p) {
        const auto& cells = gid_[p];
        for (int64_t k = 0; k < steps; ++k) {
            const auto tag = static_cast<uint32_t>(k) * pops_ + p;
            for (uint32_t i = mine.start[p][k]; i < mine.start[p][k + 1]; ++i) {
                const uint32_t g = mine.ids[p][i];
                const auto it = std::lower_bound(cells.begin(), cells.end(), g);
                if (it == cells.end() || *it != g)
                    throw Error("SpikeExchange: a spike of cell " + std::to_string(g) +
                                ", which this rank does not own");
                const auto c = static_cast<size_t>(it - cells.begin());
                for (uint32_t s = sub_ptr_[p][c]; s < sub_ptr_[p][c + 1]; ++s) {
                    out_[sub_dest_[p][s]].push_back(g);
                    out_[sub_dest_[p][s]].push_back(tag);
                }
            }
        }
    }
    send_.clear();
    for (size_t d = 0; d < out_.size(); ++d) {
        send_displs_[d] = static_cast<int>(send_.size());
        send_counts_[d] = static_cast<int>(out_[d].size());
        send_.insert(send_.end(), out_[d].begin(), out_[d].end());
        if (!out_[d].empty()) ++messages_;
    }
    check(MPI_Neighbor_alltoall(send_counts_.data(), 1, MPI_INT, recv_counts_.data(), 1, MPI_INT,
                                graph_),
          "MPI_Neighbor_alltoall (spike counts)");
    int total = 0;
    for (size_t s = 0; s < srcs_.size(); ++s) {
        recv_displs_[s] = total;
        total += recv_counts_[s];
    }
    recv_.resize(static_cast<size_t>(total));
    check(MPI_Neighbor_alltoallv(send_.data(), send_counts_.data(), send_displs_.data(),
                                 MPI_UINT32_T, recv_.data(), recv_counts_.data(),
                                 recv_displs_.data(), MPI_UINT32_T, graph_),
          "MPI_Neighbor_alltoallv (spikes)");
    // Every population's spikes by (step, id): this rank's and the received.
    std::vector<std::vector<uint64_t>> keyed(pops_);
    for (uint32_t p = 0; p < pops_; ++p)
        for (int64_t k = 0; k < steps; ++k)
            for (uint32_t i = mine.start[p][k]; i < mine.start[p][k + 1]; ++i)
                keyed[p].push_back(static_cast<uint64_t>(k) << 32 | mine.ids[p][i]);
    for (size_t i = 0; i + 1 < recv_.size(); i += 2) {
        const uint32_t g = recv_[i], tag = recv_[i + 1];
        const uint32_t p = tag % pops_;
        const uint64_t k = tag / pops_;
        if (static_cast<int64_t>(k) >= steps)
            throw Error("SpikeExchange: a spike of step " + std::to_string(k) + " of a window of " +
                        std::to_string(steps));
        keyed[p].push_back(k << 32 | g);
    }
    all->reset(pops_, mine.first, steps);
    for (uint32_t p = 0; p < pops_; ++p) {
        std::sort(keyed[p].begin(), keyed[p].end());
        auto& ids = all->ids[p];
        ids.reserve(keyed[p].size());
        for (const uint64_t key : keyed[p]) {
            ids.push_back(static_cast<uint32_t>(key));
            ++all->start[p][(key >> 32) + 1];
        }
        for (int64_t k = 0; k < steps; ++k) all->start[p][k + 1] += all->start[p][k];
    }
    bytes_ += send_.size() * sizeof(uint32_t);
    ++exchanges_;
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace l5sim::mpi
