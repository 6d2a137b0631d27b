#pragma once
// One process per output directory: an advisory lock (flock) on DIR/.l5sim.lock, held for the
// whole run or resume and released by the kernel when the process ends, however it ends.
#include <filesystem>

namespace l5sim {

/// The lock file of an output directory (kept after the run: a directory that holds only it
/// counts as empty).
inline constexpr const char* kLockFile = ".l5sim.lock";

class OutputLock {
  public:
    /// Lock `dir`, creating it (and its parents) when absent. ConfigError naming the holder's
    /// pid when another process holds it; Error when the lock file cannot be made.
    explicit OutputLock(const std::filesystem::path& dir);
    ~OutputLock();
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;
    /// The run failed before writing anything: remove the directory again when this lock
    /// created it and it holds nothing but the lock file.
    void abandon();

  private:
    std::filesystem::path dir_;
    int fd_ = -1;
    bool created_ = false;
};

}  // namespace l5sim
