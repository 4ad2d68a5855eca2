#pragma once
// CPU time and resident memory of another process on this machine, from /proc.

#include <optional>

namespace redchat::bench {

class process_probe {
  public:
    process_probe() = default;
    explicit process_probe(int pid) : pid_(pid) {}

    bool enabled() const { return pid_ > 0; }
    int pid() const { return pid_; }

    // utime + stime of /proc/<pid>/stat, in seconds; nullopt when disabled or unreadable.
    std::optional<double> cpu_seconds() const;
    // VmRSS of /proc/<pid>/status, in KiB.
    std::optional<long> rss_kb() const;
    // Context switches (voluntary and not) of all its threads so far, from
    // /proc/<pid>/task/*/status: mostly the times a thread slept waiting for work.
    std::optional<unsigned long long> context_switches() const;
    // Read-like and write-like system calls so far (syscr + syscw of /proc/<pid>/io: read,
    // recvmsg, write, writev, sendmsg...; not epoll). Needs the right to read that file.
    std::optional<unsigned long long> io_syscalls() const;
    // The soft "Max open files" of /proc/<pid>/limits.
    std::optional<long> max_open_files() const;

  private:
    int pid_ = 0;
};

// CPU seconds (user + system) used by this process so far.
double own_cpu_seconds();

}  // namespace redchat::bench
