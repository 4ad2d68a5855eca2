#pragma once
// A private redis-server for local use: started when no REDIS_URL is given, restarted if it
// dies, stopped (SIGTERM, then SIGKILL) with the chat server. Data in `data_dir` with AOF on;
// it listens only on a unix socket there (or, when that path is too long for a socket, in a
// short private folder of its own), never on TCP.

#include <sys/types.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/redis_url.hpp"

namespace redchat::app {

class embedded_redis {
  public:
    embedded_redis(std::string binary, std::filesystem::path data_dir);
    ~embedded_redis();
    embedded_redis(const embedded_redis&) = delete;
    embedded_redis& operator=(const embedded_redis&) = delete;

    // Starts redis-server and waits until it answers PING. Throws std::runtime_error.
    config::redis_endpoint start();
    void stop();

  private:
    pid_t spawn();
    void supervise();

    std::string binary_;
    std::filesystem::path data_dir_;
    std::filesystem::path socket_dir_;  // our private folder for the socket, if we made one
    std::vector<std::string> args_;
    config::redis_endpoint endpoint_;
    std::thread watcher_;
    std::mutex mutex_;
    std::condition_variable changed_;
    pid_t pid_ = -1;
    bool running_ = false;
    bool stopping_ = false;
};

}  // namespace redchat::app
