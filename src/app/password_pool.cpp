#include "app/password_pool.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/bcrypt.hpp"

namespace redchat::app {

namespace asio = boost::asio;

password_pool::password_pool(unsigned threads, int cost) : pool_(threads), cost_(cost) {}

password_pool::~password_pool() {
    stop();
}

void password_pool::stop() {
    pool_.stop();
    pool_.join();
}

asio::awaitable<std::optional<std::string>> password_pool::hash(std::string password) {
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    auto hashed = bcrypt::hash(password, cost_);
    co_await asio::post(home, asio::use_awaitable);
    co_return hashed;
}

asio::awaitable<bool> password_pool::verify(std::string password, std::string stored_hash) {
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    const bool ok = bcrypt::verify(password, stored_hash);
    co_await asio::post(home, asio::use_awaitable);
    co_return ok;
}

}  // namespace redchat::app
