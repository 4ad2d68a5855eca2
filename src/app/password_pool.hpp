#pragma once
// Runs bcrypt on a small pool of worker threads so that I/O threads never block on it.

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>

#include "chat/store.hpp"

namespace redchat::app {

class password_pool final : public chat::password_hasher {
  public:
    // At most `max_pending` jobs wait or run at once; more are refused (nullopt), not queued.
    password_pool(unsigned threads, int cost, std::size_t max_pending);
    ~password_pool() override;

    // Each call hops to a worker and back to the awaiting coroutine's executor.
    boost::asio::awaitable<std::optional<std::string>> hash(std::string password) override;
    boost::asio::awaitable<std::optional<bool>> verify(std::string password,
                                                       std::string stored_hash) override;

    void stop();

  private:
    // A place in the bounded queue, or false when it is full.
    bool enter();
    void leave();

    boost::asio::thread_pool pool_;
    int cost_;
    std::size_t max_pending_;
    std::atomic<std::size_t> pending_{0};
};

}  // namespace redchat::app
