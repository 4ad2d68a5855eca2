#include "app/embedded_redis.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace redchat::app {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos)
        return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/sbin:/sbin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
        start = end + 1;
    }
    return {};
}

bool answers_ping(const config::redis_endpoint& ep) {
    timeval timeout{0, 200'000};
    redisContext* c = ep.unix_socket.empty()
                          ? redisConnectWithTimeout(ep.host.c_str(), ep.port, timeout)
                          : redisConnectUnixWithTimeout(ep.unix_socket.c_str(), timeout);
    if (c == nullptr)
        return false;
    bool ok = false;
    if (c->err == 0) {
        redisSetTimeout(c, timeout);
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r != nullptr && r->type == REDIS_REPLY_STATUS;  // -LOADING is an error reply
        if (r != nullptr)
            freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

}  // namespace

embedded_redis::embedded_redis(std::string binary, fs::path data_dir)
    : binary_(std::move(binary)), data_dir_(std::move(data_dir)) {}

embedded_redis::~embedded_redis() {
    stop();
}

config::redis_endpoint embedded_redis::start() {
    const std::string path = find_in_path(binary_);
    if (path.empty()) {
        throw std::runtime_error("redis-server not found (run scripts/setup.sh, or set REDIS_URL)");
    }
    binary_ = path;
    fs::create_directories(data_dir_);
    data_dir_ = fs::canonical(data_dir_);

    const fs::path socket = data_dir_ / "redis.sock";
    args_ = {binary_,
             "--dir",
             data_dir_.string(),
             "--appendonly",
             "yes",
             "--appendfsync",
             "everysec",
             "--daemonize",
             "no",
             "--logfile",
             (data_dir_ / "redis.log").string(),
             "--protected-mode",
             "yes",
             "--bind",
             "127.0.0.1"};
    // Only ever a unix socket, never a passwordless TCP port. A socket path must fit in
    // sockaddr_un (108 bytes): when the data folder's is too long, the socket lives in a short
    // private folder of our own (mode 700) instead.
    fs::path socket_path = socket;
    if (socket_path.string().size() >= 100) {
        std::string dir_template = (fs::temp_directory_path() / "redchat-XXXXXX").string();
        if (::mkdtemp(dir_template.data()) == nullptr)
            throw std::runtime_error("cannot create a private folder for the Redis socket");
        socket_dir_ = dir_template;
        socket_path = socket_dir_ / "redis.sock";
        if (socket_path.string().size() >= 100) {
            throw std::runtime_error("no short path for the private Redis socket (" +
                                     socket_path.string() + "); set TMPDIR to a short folder");
        }
    }
    endpoint_.unix_socket = socket_path.string();
    fs::remove(socket_path);
    args_.insert(args_.end(),
                 {"--port", "0", "--unixsocket", socket_path.string(), "--unixsocketperm", "700"});

    {
        std::lock_guard lock(mutex_);
        pid_ = spawn();
        running_ = true;
    }
    watcher_ = std::thread([this] { supervise(); });

    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!answers_ping(endpoint_)) {
        {
            std::lock_guard lock(mutex_);
            if (!running_) {
                throw std::runtime_error("redis-server exited at start; see " +
                                         (data_dir_ / "redis.log").string());
            }
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("redis-server did not answer within 30 s");
        }
        std::this_thread::sleep_for(50ms);
    }
    spdlog::info("event=embedded_redis_ready pid={} endpoint={} data_dir={}", pid_,
                 endpoint_.redacted(), data_dir_.string());
    return endpoint_;
}

pid_t embedded_redis::spawn() {
    std::vector<char*> argv;
    for (auto& a : args_)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the chat server
        if (::getppid() != parent)
            ::_exit(1);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
        }
        ::close_range(3, ~0U, 0);
        ::setpgid(0, 0);  // Ctrl-C in a terminal reaches us, and we stop Redis in order
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

void embedded_redis::supervise() {
    for (;;) {
        pid_t pid;
        {
            std::lock_guard lock(mutex_);
            pid = pid_;
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        std::unique_lock lock(mutex_);
        running_ = false;
        changed_.notify_all();
        if (stopping_)
            return;
        spdlog::error("event=embedded_redis_exited status={} action=restart_in_1s", status);
        if (changed_.wait_for(lock, 1s, [this] { return stopping_; }))
            return;
        try {
            pid_ = spawn();
            running_ = true;
        } catch (const std::exception& e) {
            spdlog::critical("event=embedded_redis_restart_failed error=\"{}\"", e.what());
            return;
        }
    }
}

void embedded_redis::stop() {
    {
        std::unique_lock lock(mutex_);
        if (!watcher_.joinable())
            return;
        stopping_ = true;
        changed_.notify_all();
        if (running_) {
            ::kill(pid_, SIGTERM);  // Redis flushes its AOF and exits
            if (!changed_.wait_for(lock, 10s, [this] { return !running_; })) {
                spdlog::warn("event=embedded_redis_kill reason=\"no exit 10 s after SIGTERM\"");
                ::kill(pid_, SIGKILL);
            }
        }
    }
    watcher_.join();
    if (!socket_dir_.empty()) {
        std::error_code ec;
        fs::remove_all(socket_dir_, ec);
    }
    spdlog::info("event=embedded_redis_stopped");
}

}  // namespace redchat::app
