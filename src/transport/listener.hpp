#pragma once
// Accepts TCP connections on one thread and hands each to the next I/O thread (round-robin),
// where it stays for life.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

#include <functional>
#include <string>
#include <vector>

#include "core/metrics.hpp"

namespace redchat::transport {

class listener {
  public:
    // Runs on thread `index`'s io_context; `on_accept` is invoked there with the new socket.
    using accept_handler = std::function<void(std::size_t index, boost::asio::ip::tcp::socket)>;

    // Binds and listens at once (throws on failure: a start-up error).
    listener(boost::asio::io_context& home, std::vector<boost::asio::io_context*> threads,
             const std::string& address, unsigned short port, accept_handler on_accept,
             metrics::shard& stats);

    unsigned short port() const { return port_; }
    void start();
    void stop();

  private:
    void accept_next();
    // After a failed accept (EMFILE, ENFILE, ENOBUFS...): wait before the next try, doubling
    // from 10 ms to 1 s, instead of spinning on a listen queue the process cannot serve.
    void back_off();

    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<boost::asio::io_context*> threads_;
    accept_handler on_accept_;
    std::size_t next_ = 0;
    unsigned short port_ = 0;
    boost::asio::steady_timer retry_timer_;
    std::chrono::milliseconds backoff_{0};
    metrics::shard& stats_;  // counts failed accepts (redchat_accept_errors_total)
};

}  // namespace redchat::transport
