#include "io/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "l5sim/error.hpp"

namespace fs = std::filesystem;

namespace l5sim {

OutputLock::OutputLock(const fs::path& dir) : dir_(dir) {
    std::error_code ec;
    created_ = fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create " + dir.string() + ": " + ec.message());
    const fs::path file = dir / kLockFile;
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create " + file.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {0};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        ::close(fd_);
        fd_ = -1;
        created_ = false;  // the directory is the other process's
        if (err == EWOULDBLOCK) {
            std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            throw ConfigError(dir.string() + ": in use by another l5sim process" +
                              (pid.empty() ? std::string() : " (pid " + pid + ")") +
                              "; one process writes an output directory at a time");
        }
        throw Error("cannot lock " + file.string() + ": " + std::strerror(err));
    }
    // The holder's pid, for the message another process prints.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        const ssize_t w = ::pwrite(fd_, pid.data(), pid.size(), 0);
        (void)w;
    }
}

OutputLock::~OutputLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void OutputLock::abandon() {
    if (!created_ || fd_ < 0) return;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
        if (e.path().filename() != kLockFile) return;
    fs::remove(dir_ / kLockFile, ec);
    ::close(fd_);
    fd_ = -1;
    fs::remove(dir_, ec);
}

}  // namespace l5sim
