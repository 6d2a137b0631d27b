#include "l5sim/spike_stream.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <vector>

#include "l5sim/error.hpp"

namespace l5sim {

namespace fs = std::filesystem;

static std::FILE* open_cut(const fs::path& path, uint64_t keep_bytes) {
    std::error_code ec;
    if (keep_bytes > 0) {
        const auto size = fs::file_size(path, ec);
        if (ec || size < keep_bytes)
            throw Error(path.string() + ": the stream holds " +
                        (ec ? std::string("nothing readable") : std::to_string(size) + " bytes") +
                        ", the checkpoint needs " + std::to_string(keep_bytes));
        fs::resize_file(path, keep_bytes, ec);
        if (ec) throw Error("cannot cut " + path.string() + ": " + ec.message());
    }
    std::FILE* f = std::fopen(path.c_str(), keep_bytes > 0 ? "ab" : "wb");
    if (!f) throw Error("cannot open " + path.string() + " for writing: " + std::strerror(errno));
    return f;
}

uint32_t crc_of_prefix(const fs::path& path, uint64_t bytes) {
    uLong crc = crc32(0L, Z_NULL, 0);
    if (bytes == 0) return static_cast<uint32_t>(crc);
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (!in) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
    std::vector<unsigned char> buf(1 << 20);
    for (uint64_t left = bytes; left > 0;) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        if (std::fread(buf.data(), 1, want, in) != want) {
            std::fclose(in);
            throw Error(path.string() + ": the stream ends early");
        }
        crc = crc32(crc, buf.data(), static_cast<uInt>(want));
        left -= want;
    }
    std::fclose(in);
    return static_cast<uint32_t>(crc);
}

static uint32_t crc_update(uint32_t crc, const void* p, size_t n) {
    return static_cast<uint32_t>(crc32(crc, static_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

static void flush_file(std::FILE* f, const fs::path& path, bool durable) {
    if (std::fflush(f) != 0)
        throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
    if (durable && ::fsync(fileno(f)) != 0)
        throw Error("cannot sync " + path.string() + ": " + std::strerror(errno));
}

SpikeStream::SpikeStream(fs::path path, uint64_t keep_bytes) : path_(std::move(path)) {
    if (keep_bytes % kRecordBytes != 0)
        throw Error(path_.string() + ": a spike stream length must be a multiple of 16 bytes");
    f_ = open_cut(path_, keep_bytes);
    bytes_ = keep_bytes;
    // The spikes per population so far and the CRC of the kept bytes (read once, at resume).
    try {
        crc_ = crc_of_prefix(path_, keep_bytes);
        for_each_streamed_spike(path_, keep_bytes, [&](uint32_t pop, uint32_t, int64_t) {
            if (pop >= per_pop_.size()) per_pop_.resize(pop + 1, 0);
            ++per_pop_[pop];
        });
    } catch (...) {
        std::fclose(f_);
        throw;
    }
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
    crc_ = crc_update(crc_, buf.data(), buf.size());
    if (pop >= per_pop_.size()) per_pop_.resize(pop + 1, 0);
    per_pop_[pop] += n;
}

void SpikeStream::flush(bool durable) { flush_file(f_, path_, durable); }

uint64_t SpikeStream::spikes(uint32_t pop) const {
    return pop < per_pop_.size() ? per_pop_[pop] : 0;
}

FrameStream::FrameStream(fs::path path, uint64_t width, uint64_t keep_frames)
    : path_(std::move(path)), width_(width) {
    const uint64_t frame_bytes = 8 + 4 * width_;
    if (keep_frames > UINT64_MAX / frame_bytes)
        throw Error(path_.string() + ": " + std::to_string(keep_frames) + " frames cannot be kept");
    f_ = open_cut(path_, keep_frames * frame_bytes);
    frames_ = keep_frames;
    try {
        crc_ = crc_of_prefix(path_, keep_frames * frame_bytes);
    } catch (...) {
        std::fclose(f_);
        throw;
    }
}

FrameStream::~FrameStream() {
    if (f_) std::fclose(f_);
}

void FrameStream::append(int64_t step, const float* values) {
    if (std::fwrite(&step, 8, 1, f_) != 1 ||
        (width_ > 0 && std::fwrite(values, 4, width_, f_) != width_))
        throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
    ++frames_;
    crc_ = crc_update(crc_, &step, 8);
    if (width_ > 0) crc_ = crc_update(crc_, values, 4 * width_);
}

void FrameStream::flush(bool durable) { flush_file(f_, path_, durable); }

void for_each_frame(const fs::path& path, uint64_t width, uint64_t frames,
                    const std::function<void(uint64_t, int64_t, const float*)>& f) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (!in) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
    std::vector<float> values(width);
    for (uint64_t i = 0; i < frames; ++i) {
        int64_t step = 0;
        if (std::fread(&step, 8, 1, in) != 1 ||
            (width > 0 && std::fread(values.data(), 4, width, in) != width)) {
            std::fclose(in);
            throw Error(path.string() + ": the stream ends early");
        }
        f(i, step, values.data());
    }
    std::fclose(in);
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
