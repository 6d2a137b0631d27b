#pragma once
/// Spikes streamed to a file while a run goes on (the CLI's runs): memory stays flat however
/// long the run, and the file can be read at any time. Format: 16-byte little-endian records
/// {uint32 population index, uint32 cell id, int64 step}, in time order per population (steps
/// ascending, ids ascending within a step), written in blocks of whole collections. A
/// checkpoint holds the stream's length; resuming truncates it there. At the end of the run
/// spikes.h5 is written from it (blockwise) and the stream is removed.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "l5sim/engine.hpp"

namespace l5sim {

class SpikeStream {
  public:
    static constexpr uint64_t kRecordBytes = 16;
    /// Open `path` for appending, cut to its first `keep_bytes` (0: a new, empty stream). An
    /// Error names the file when it cannot be opened or is shorter than `keep_bytes`.
    SpikeStream(std::filesystem::path path, uint64_t keep_bytes);
    ~SpikeStream();
    SpikeStream(const SpikeStream&) = delete;
    SpikeStream& operator=(const SpikeStream&) = delete;

    void append(uint32_t pop, const SpikeRecord& r);
    /// Everything appended so far in the file (fflush; and fsync when `durable`).
    void flush(bool durable);
    uint64_t bytes() const { return bytes_; }
    /// CRC-32 of the stream's bytes() bytes (kept as they are written): a checkpoint holds it,
    /// so that a resume can tell the stream it was written with from another.
    uint32_t crc() const { return crc_; }
    uint64_t spikes(uint32_t pop) const;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
    std::FILE* f_ = nullptr;
    uint64_t bytes_ = 0;
    uint32_t crc_ = 0;
    std::vector<uint64_t> per_pop_;
};

/// Fixed-size frames (int64 step, then `width` floats, little-endian) appended to a file: the
/// probe samples or weight snapshots of one record of a run in progress, cut at a frame count
/// on resume like the spike stream.
class FrameStream {
  public:
    FrameStream(std::filesystem::path path, uint64_t width, uint64_t keep_frames);
    ~FrameStream();
    FrameStream(const FrameStream&) = delete;
    FrameStream& operator=(const FrameStream&) = delete;

    void append(int64_t step, const float* values);
    void flush(bool durable);
    uint64_t frames() const { return frames_; }
    uint64_t width() const { return width_; }
    /// CRC-32 of the frames() frames (as SpikeStream::crc).
    uint32_t crc() const { return crc_; }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
    uint64_t width_;
    std::FILE* f_ = nullptr;
    uint64_t frames_ = 0;
    uint32_t crc_ = 0;
};

/// CRC-32 of the first `bytes` of a file (Error if it is shorter).
uint32_t crc_of_prefix(const std::filesystem::path& path, uint64_t bytes);

/// Every frame of the first `frames` of a frame stream, in order: f(index, step, values).
void for_each_frame(const std::filesystem::path& path, uint64_t width, uint64_t frames,
                    const std::function<void(uint64_t, int64_t, const float*)>& f);

/// Every record of the first `bytes` of a stream file, in file order: f(pop, id, step).
void for_each_streamed_spike(const std::filesystem::path& path, uint64_t bytes,
                             const std::function<void(uint32_t, uint32_t, int64_t)>& f);

}  // namespace l5sim
