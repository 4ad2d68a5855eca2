#pragma once
// CPU time and resident memory of another process on this machine, from /proc.

#include <optional>
#include <vector>

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
    // The soft "Max open files" of /proc/<pid>/limits.
    std::optional<long> max_open_files() const;

  private:
    int pid_ = 0;
};

// The system calls of another process's threads (those alive when this is made), counted by the
// kernel: a perf counter on the raw_syscalls:sys_enter tracepoint per thread. Needs tracefs and
// the right to trace the process (root, or perf_event_paranoid <= 1 for the same user);
// without them total() is nullopt.
class syscall_counter {
  public:
    syscall_counter() = default;
    explicit syscall_counter(int pid);
    ~syscall_counter();
    syscall_counter(const syscall_counter&) = delete;
    syscall_counter& operator=(const syscall_counter&) = delete;

    std::optional<unsigned long long> total() const;

  private:
    void close_all();
    std::vector<int> fds_;
};

// CPU seconds (user + system) used by this process so far.
double own_cpu_seconds();

}  // namespace redchat::bench
