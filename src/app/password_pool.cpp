#include "app/password_pool.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/bcrypt.hpp"

namespace redchat::app {

namespace asio = boost::asio;

password_pool::password_pool(unsigned threads, int cost, std::size_t max_pending)
    : pool_(threads), cost_(cost), max_pending_(max_pending) {}

bool password_pool::enter() {
    if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending_) {
        pending_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    return true;
}

void password_pool::leave() {
    pending_.fetch_sub(1, std::memory_order_relaxed);
}

password_pool::~password_pool() {
    stop();
}

void password_pool::stop() {
    pool_.stop();
    pool_.join();
}

asio::awaitable<std::optional<std::string>> password_pool::hash(std::string password) {
    if (!enter())
        co_return std::nullopt;
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    auto hashed = bcrypt::hash(password, cost_);
    leave();
    co_await asio::post(home, asio::use_awaitable);
    co_return hashed;
}

asio::awaitable<std::optional<bool>> password_pool::verify(std::string password,
                                                           std::string stored_hash) {
    if (!enter())
        co_return std::nullopt;
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    const bool ok = bcrypt::verify(password, stored_hash);
    leave();
    co_await asio::post(home, asio::use_awaitable);
    co_return ok;
}

}  // namespace redchat::app
