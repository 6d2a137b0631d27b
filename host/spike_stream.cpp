#include "l5sim/spike_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "l5sim/error.hpp"

namespace l5sim {

namespace fs = std::filesystem;

SpikeStream::SpikeStream(fs::path path, uint64_t keep_bytes) : path_(std::move(path)) {
    std::error_code ec;
    if (keep_bytes % kRecordBytes != 0)
        throw Error(path_.string() + ": a spike stream length must be a multiple of 16 bytes");
    if (keep_bytes > 0) {
        const auto size = fs::file_size(path_, ec);
        if (ec || size < keep_bytes)
            throw Error(path_.string() + ": the spike stream holds " +
                        (ec ? std::string("nothing readable") : std::to_string(size) + " bytes") +
                        ", the checkpoint needs " + std::to_string(keep_bytes));
        fs::resize_file(path_, keep_bytes, ec);
        if (ec) throw Error("cannot cut " + path_.string() + ": " + ec.message());
        // The spikes per population so far (read once, at resume).
        for_each_streamed_spike(path_, keep_bytes, [&](uint32_t pop, uint32_t, int64_t) {
            if (pop >= per_pop_.size()) per_pop_.resize(pop + 1, 0);
            ++per_pop_[pop];
        });
    }
    f_ = std::fopen(path_.c_str(), keep_bytes > 0 ? "ab" : "wb");
    if (!f_) throw Error("cannot open " + path_.string() + " for writing: " + std::strerror(errno));
    bytes_ = keep_bytes;
}

SpikeStream::~SpikeStream() {
    if (f_) std::fclose(f_);
}

void SpikeStream::append(uint32_t pop, const SpikeRecord& r) {
    const size_t n = r.ids.size();
    if (n == 0) return;
    std::vector<unsigned char> buf(n * kRecordBytes);
    for (size_t i = 0; i < n; ++i) {
        unsigned char* b = buf.data() + i * kRecordBytes;
        const uint32_t id = r.ids[i];
        const int64_t step = r.steps[i];
        std::memcpy(b, &pop, 4);  // little-endian hosts (x86-64, aarch64)
        std::memcpy(b + 4, &id, 4);
        std::memcpy(b + 8, &step, 8);
    }
    if (std::fwrite(buf.data(), 1, buf.size(), f_) != buf.size())
        throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
    bytes_ += buf.size();
    if (pop >= per_pop_.size()) per_pop_.resize(pop + 1, 0);
    per_pop_[pop] += n;
}

void SpikeStream::flush(bool durable) {
    if (std::fflush(f_) != 0)
        throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
    if (durable && ::fsync(fileno(f_)) != 0)
        throw Error("cannot sync " + path_.string() + ": " + std::strerror(errno));
}

uint64_t SpikeStream::spikes(uint32_t pop) const {
    return pop < per_pop_.size() ? per_pop_[pop] : 0;
}

void for_each_streamed_spike(const fs::path& path, uint64_t bytes,
                             const std::function<void(uint32_t, uint32_t, int64_t)>& f) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (!in) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
    std::vector<unsigned char> buf(SpikeStream::kRecordBytes * 65536);
    uint64_t left = bytes;
    while (left > 0) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        if (std::fread(buf.data(), 1, want, in) != want) {
            std::fclose(in);
            throw Error(path.string() + ": the spike stream ends early");
        }
        for (size_t o = 0; o < want; o += SpikeStream::kRecordBytes) {
            uint32_t pop, id;
            int64_t step;
            std::memcpy(&pop, buf.data() + o, 4);
            std::memcpy(&id, buf.data() + o + 4, 4);
            std::memcpy(&step, buf.data() + o + 8, 8);
            f(pop, id, step);
        }
        left -= want;
    }
    std::fclose(in);
}

}  // namespace l5sim
