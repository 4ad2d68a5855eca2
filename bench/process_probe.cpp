#include "process_probe.hpp"

#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace redchat::bench {
namespace {

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<double> process_probe::cpu_seconds() const {
    if (!enabled())
        return std::nullopt;
    auto text = read_file("/proc/" + std::to_string(pid_) + "/stat");
    if (!text)
        return std::nullopt;
    // Field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'.
    const auto close = text->rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(text->substr(close + 1));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int index = 3; fields >> field; ++index) {
        if (index == 14)
            utime = std::stoull(field);
        if (index == 15) {
            stime = std::stoull(field);
            return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
        }
    }
    return std::nullopt;
}

std::optional<long> process_probe::rss_kb() const {
    if (!enabled())
        return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmRSS:"))
            return std::stol(line.substr(6));
    }
    return std::nullopt;
}

std::optional<unsigned long long> process_probe::context_switches() const {
    if (!enabled())
        return std::nullopt;
    std::error_code ec;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    unsigned long long total = 0;
    bool any = false;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
        std::ifstream in(task.path() / "status");
        std::string line;
        while (std::getline(in, line)) {
            if (line.starts_with("voluntary_ctxt_switches:") ||
                line.starts_with("nonvoluntary_ctxt_switches:")) {
                total += std::stoull(line.substr(line.find(':') + 1));
                any = true;
            }
        }
    }
    if (ec || !any)
        return std::nullopt;
    return total;
}

std::optional<long> process_probe::max_open_files() const {
    if (!enabled())
        return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("Max open files")) {
            std::istringstream words(line.substr(14));
            long soft = 0;
            if (words >> soft)
                return soft;
        }
    }
    return std::nullopt;
}

syscall_counter::syscall_counter(int pid) {
    if (pid <= 0)
        return;
    // The tracepoint's id, from tracefs (mounted at either place).
    unsigned long long id = 0;
    for (const char* path : {"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                             "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"}) {
        std::ifstream in(path);
        if (in >> id)
            break;
    }
    if (id == 0)
        return;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        perf_event_attr attr{};
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.size = sizeof attr;
        attr.config = id;
        const auto tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
        const long fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            close_all();
            return;
        }
        fds_.push_back(static_cast<int>(fd));
    }
}

syscall_counter::~syscall_counter() {
    close_all();
}

void syscall_counter::close_all() {
    for (int fd : fds_)
        ::close(fd);
    fds_.clear();
}

std::optional<unsigned long long> syscall_counter::total() const {
    if (fds_.empty())
        return std::nullopt;
    unsigned long long sum = 0;
    for (int fd : fds_) {
        std::uint64_t value = 0;
        if (::read(fd, &value, sizeof value) != sizeof value)
            return std::nullopt;
        sum += value;
    }
    return sum;
}

double own_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace redchat::bench
