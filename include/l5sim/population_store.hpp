#pragma once
/// The one owner of a population's per-cell state (the variables of l5sim/state_vars.hpp), for
/// either engine: templated on where the arrays live (HostStorage here, cuda::DeviceStorage in
/// kernels/device_storage.cuh), as HOOMD-blue's PotentialPair / PotentialPairGPU share one state
/// owner and Arbor's backends one shared_state shape. It allocates every variable the cell type
/// has, gives it its starting value, finds it by name for checkpoint blocks and probes, copies it
/// in and out, and scans it for NaN and infinities. The engines keep only their loops and
/// launches: they take the arrays' pointers from here (floats(), history(), burst()).
/// C++17: the CUDA sources include it.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim {

/// Arrays in host memory (the CPU engine): std::vector, plain copies and loops.
struct HostStorage {
    template <class T>
    using Array = std::vector<T>;
    template <class T>
    Array<T> make(const std::vector<T>& values) const {
        return values;
    }
    void to_host(void* dst, const void* src, size_t bytes) const {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    void from_host(void* dst, const void* src, size_t bytes) const {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    /// The lowest j * n + i with a[j][i] NaN or infinite (j < k, i < n), or ~0ull.
    uint64_t first_nonfinite(const float* const* a, size_t k, uint32_t n) const {
        for (size_t j = 0; j < k; ++j)
            for (uint32_t i = 0; i < n; ++i)
                if (!std::isfinite(a[j][i])) return j * uint64_t(n) + i;
        return ~0ull;
    }
    /// out[k] = src[cells[k]].
    template <class T>
    void gather(const T* src, const std::vector<uint32_t>& cells, float* out) const {
        for (size_t k = 0; k < cells.size(); ++k) out[k] = static_cast<float>(src[cells[k]]);
    }
};

template <class Storage>
class PopulationStore {
  public:
    template <class T>
    using Array = typename Storage::template Array<T>;

    PopulationStore() = default;
    /// Every variable of the state table that population `pop`'s type has, at its start
    /// (VarInfo::start: init entry, 0, poisson_never or the population's gamma); for the cells
    /// `cells` (global ids, a rank's) when given, else for all.
    PopulationStore(const Config& cfg, uint32_t pop, const Storage* io,
                    const std::vector<uint32_t>* cells = nullptr)
        : io_(io),
          n_(cells ? static_cast<uint32_t>(cells->size()) : cfg.populations.at(pop).n),
          dendrite_(cfg.populations.at(pop).caps.has_dendrite),
          all_receptors_(cfg.populations.at(pop).all_receptors) {
        for (const VarInfo& r : kVarTable) {
            if (!has_var(r, dendrite_, all_receptors_)) continue;
            switch (r.type) {
                case VarInfo::Type::f32: {
                    std::vector<float> v = initial_floats(cfg, pop, r);
                    if (cells) {
                        std::vector<float> mine(n_);
                        for (uint32_t i = 0; i < n_; ++i) mine[i] = v.at((*cells)[i]);
                        v.swap(mine);
                    }
                    floats_[index(r.var)] = io_->make(v);
                    break;
                }
                case VarInfo::Type::u32:  // history: every start of a u32 row is zero
                    history_ = io_->make(std::vector<uint32_t>(n_, 0));
                    break;
                case VarInfo::Type::u8:  // burst
                    burst_ = io_->make(std::vector<uint8_t>(n_, 0));
                    break;
            }
        }
    }

    uint32_t size() const { return n_; }
    bool has_dendrite() const { return dendrite_; }
    /// Whether this population has variable `v` (its type's rows of the table).
    bool has(Var v) const { return has_var(var_info(v), dendrite_, all_receptors_); }
    /// Whether the population steps every receptor, not only the core ones.
    bool all_receptors() const { return all_receptors_; }

    /// The float array of `v`: null where the type lacks it or it is not a float (history,
    /// burst).
    float* floats(Var v) {
        auto& a = floats_[index(v)];
        return a.size() ? a.data() : nullptr;
    }
    const float* floats(Var v) const { return const_cast<PopulationStore*>(this)->floats(v); }
    /// The container of a float variable (host code that wants the vector itself).
    Array<float>& array(Var v) { return floats_[index(v)]; }
    const Array<float>& array(Var v) const { return floats_[index(v)]; }
    uint32_t* history() { return history_.size() ? history_.data() : nullptr; }
    const uint32_t* history() const { return history_.size() ? history_.data() : nullptr; }
    uint8_t* burst() { return burst_.size() ? burst_.data() : nullptr; }
    const uint8_t* burst() const { return burst_.size() ? burst_.data() : nullptr; }

    /// The memory of variable `v` and its bytes (0 and null where the type lacks it).
    void* memory(Var v, uint64_t* bytes) const {
        auto* self = const_cast<PopulationStore*>(this);
        const VarInfo& r = var_info(v);
        void* p = r.type == VarInfo::Type::f32   ? static_cast<void*>(self->floats(v))
                  : r.type == VarInfo::Type::u32 ? static_cast<void*>(self->history())
                                                 : static_cast<void*>(self->burst());
        *bytes = has(v) ? uint64_t(n_) * var_bytes(r) : 0;  // 0 cells: no memory, 0 bytes
        return p;
    }
    /// Checkpoint blocks: the variable called `b.var` copied out or in whole, its size checked
    /// against the layout's. False when `b.var` is not a table variable (the engine's own
    /// counters); an Error when this population lacks it or the sizes differ.
    bool read_block(const StateBlock& b, void* dst) const {
        const VarInfo* r = find_var(b.var);
        if (!r) return false;
        io_->to_host(dst, checked(b, r->var), b.bytes());
        return true;
    }
    /// Where state block b is held (in the storage's memory: the host's or the device's),
    /// checked for size; false when b is none of this store's variables.
    bool block_memory(const StateBlock& b, const void** where) const {
        const VarInfo* r = find_var(b.var);
        if (!r) return false;
        *where = checked(b, r->var);
        return true;
    }
    bool write_block(const StateBlock& b, const void* src) {
        const VarInfo* r = find_var(b.var);
        if (!r) return false;
        io_->from_host(checked(b, r->var), src, b.bytes());
        return true;
    }
    /// Replaces every cell's value of float variable `v` (knobs: gamma, injected currents).
    void set(Var v, const std::vector<float>& values) {
        const bool here = has(v) && var_info(v).type == VarInfo::Type::f32;
        if (!here || values.size() != n_)
            throw Error(std::string("state variable ") + var_info(v).name + ": " +
                        std::to_string(values.size()) + " values for " + std::to_string(n_) +
                        (here ? " cells" : " cells of a type without it"));
        if (n_) io_->from_host(floats(v), values.data(), values.size() * sizeof(float));
    }
    /// The first health-checked variable (table order) holding a NaN or an infinity, and its
    /// lowest such cell; false when every one is finite. One scan of all of them.
    bool find_nonfinite(std::string* var, uint32_t* cell) const {
        const VarInfo* rows[kVarCount];
        const float* arrays[kVarCount];
        size_t k = 0;
        for (const VarInfo& r : kVarTable) {
            if (!r.health || !floats(r.var)) continue;
            rows[k] = &r;
            arrays[k++] = floats(r.var);
        }
        const uint64_t first = io_->first_nonfinite(arrays, k, n_);
        if (first == ~0ull) return false;
        *var = rows[first / n_]->name;
        *cell = static_cast<uint32_t>(first % n_);
        return true;
    }
    /// Probe readback: out[k] = the value of probe variable `var` (recording.probes names) at
    /// cells[k], as float; burst_mode reads 0 for a type without a dendrite.
    void read_probe(const std::string& var, const std::vector<uint32_t>& cells, float* out) const {
        const VarInfo* r = find_probe_var(var);
        if (r && r->var == Var::burst) {
            if (burst()) {
                io_->gather(burst(), cells, out);
            } else {
                for (size_t k = 0; k < cells.size(); ++k) out[k] = 0.0f;
            }
            return;
        }
        const float* src = r ? floats(r->var) : nullptr;
        if (!src) throw Error("no state variable '" + var + "' in this population");
        io_->gather(src, cells, out);
    }

  private:
    static constexpr size_t index(Var v) { return static_cast<size_t>(v); }
    void* checked(const StateBlock& b, Var v) const {
        uint64_t have = 0;
        void* p = memory(v, &have);
        if (!has(v) || have != b.bytes())
            throw Error("state block " + b.name + ": the engine holds " + std::to_string(have) +
                        " bytes, the layout says " + std::to_string(b.bytes()));
        return p;
    }

    const Storage* io_ = nullptr;
    uint32_t n_ = 0;
    bool dendrite_ = false;
    bool all_receptors_ = false;
    std::array<Array<float>, kVarCount> floats_{};  // empty: not a float, or not this type's
    Array<uint32_t> history_;
    Array<uint8_t> burst_;
};

}  // namespace l5sim
