#pragma once
// Files that survive a crash or a power loss once written: contents synced before the rename
// that publishes them, the rename synced in its directory. Errors name the file and the cause.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "l5sim/error.hpp"

namespace l5sim {

/// The contents of `path` on the disk (fsync), or an Error naming it and the cause.
inline void sync_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const std::string cause = std::strerror(errno);
        if (fd >= 0) ::close(fd);
        throw Error("cannot write " + path.string() + ": " + cause);
    }
    ::close(fd);
}

/// The entries of directory `dir` on the disk (a rename or a removal in it); best effort.
inline void sync_dir(const std::filesystem::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

/// `tmp`, complete and synced, renamed to `final_path`, and the rename synced.
inline void commit_file(const std::filesystem::path& tmp, const std::filesystem::path& final_path) {
    std::error_code ec;
    std::filesystem::rename(tmp, final_path, ec);
    if (ec)
        throw Error("cannot rename " + tmp.string() + " to " + final_path.string() + ": " +
                    ec.message());
    sync_dir(final_path.parent_path());
}

}  // namespace l5sim
