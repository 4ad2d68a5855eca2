#pragma once
// One voice for all Redis connections of a process: each connection reports why it cannot
// connect (or that it is up again), and the process logs one line per change of the cause,
// not one per connection, reconnect attempt or command.

#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace redchat::redis {

class status_reporter {
  public:
    explicit status_reporter(std::string endpoint) : endpoint_(std::move(endpoint)) {}

    // `connection` cannot serve: `cause` says why ("cannot connect: Connection refused",
    // "authentication failed: WRONGPASS ..."). Logged at error when the cause is new.
    void failed(std::string_view connection, std::string_view cause);
    // `connection` is up. Once no connection is failing any more, logs that Redis is back.
    void up(std::string_view connection);

  private:
    std::mutex mutex_;  // connections of every I/O thread report here; held only to compare
    std::string endpoint_;
    std::string cause_;  // the cause logged last; empty while everything is up
    std::set<std::string, std::less<>> failing_;
};

}  // namespace redchat::redis
