#pragma once
// Runs bcrypt on a small pool of worker threads so that I/O threads never block on it.

#include <boost/asio/thread_pool.hpp>

#include <memory>

#include "chat/store.hpp"

namespace redchat::app {

class password_pool final : public chat::password_hasher {
  public:
    password_pool(unsigned threads, int cost);
    ~password_pool() override;

    // Each call hops to a worker and back to the awaiting coroutine's executor.
    boost::asio::awaitable<std::optional<std::string>> hash(std::string password) override;
    boost::asio::awaitable<bool> verify(std::string password, std::string stored_hash) override;

    void stop();

  private:
    boost::asio::thread_pool pool_;
    int cost_;
};

}  // namespace redchat::app
