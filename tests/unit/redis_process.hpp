#pragma once
// A private redis-server for one test, on a free loopback port, killed at the end (shared by
// the tests that need a real Redis: redis_test, cluster_client_test), and a test fixture that
// runs a loop until something holds.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace redchat::redis {

inline unsigned short free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

class redis_process {
  public:
    explicit redis_process(std::vector<std::string> extra = {}) : port_(free_port()) {
        dir_ = std::filesystem::temp_directory_path() /
               ("redchat-redis-test-" + std::to_string(port_));
        std::filesystem::create_directories(dir_);
        std::vector<std::string> args{"redis-server",
                                      "--port",
                                      std::to_string(port_),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      dir_.string(),
                                      "--loglevel",
                                      "warning",
                                      "--logfile",
                                      (dir_ / "redis.log").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        if (pid_ == 0) {
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp("redis-server", argv.data());
            ::_exit(127);
        }
    }
    ~redis_process() {
        resume();
        kill();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    redis_process(const redis_process&) = delete;
    redis_process& operator=(const redis_process&) = delete;

    unsigned short port() const { return port_; }
    void pause() {
        if (pid_ > 0)
            ::kill(pid_, SIGSTOP);
    }
    void resume() {
        if (pid_ > 0)
            ::kill(pid_, SIGCONT);
    }
    // SIGKILL: a crash, as its clients see it.
    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

  private:
    unsigned short port_;
    pid_t pid_ = -1;
    std::filesystem::path dir_;
};

// A fixture whose test drives one io_context by hand.
class loop_fixture : public ::testing::Test {
  protected:
    // Runs the loop until `done` holds (or 20 s pass: a failure).
    void run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (ioc_.stopped())
                ioc_.restart();
            // One handler at a time: the condition is looked at as soon as it may hold.
            ioc_.run_one_for(std::chrono::milliseconds(10));
        }
        ASSERT_TRUE(done()) << "timed out";
    }
    template <typename T>
    T await(boost::asio::awaitable<T> task) {
        std::optional<T> out;
        boost::asio::co_spawn(ioc_, std::move(task), [&](std::exception_ptr e, T value) {
            if (e)
                std::rethrow_exception(e);
            out.emplace(std::move(value));
        });
        run_until([&] { return out.has_value(); });
        return std::move(*out);
    }

    boost::asio::io_context ioc_;
};

}  // namespace redchat::redis
