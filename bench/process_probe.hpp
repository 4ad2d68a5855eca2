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
    // The soft "Max open files" of /proc/<pid>/limits.
    std::optional<long> max_open_files() const;

  private:
    int pid_ = 0;
};

// CPU seconds (user + system) used by this process so far.
double own_cpu_seconds();

}  // namespace redchat::bench
