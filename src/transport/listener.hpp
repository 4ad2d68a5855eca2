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
    // A success after failures: the episode ends (one `accept_recovered` line) once accepts
    // have worked for `settle_time` without a failure. Accepting the backlog that piled up can
    // run out of descriptors again at once; that is the same episode, not a new log line.
    void settle();

    static constexpr std::chrono::seconds settle_time{1};

    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<boost::asio::io_context*> threads_;
    accept_handler on_accept_;
    std::size_t next_ = 0;
    unsigned short port_ = 0;
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer settle_timer_;
    std::chrono::milliseconds backoff_{0};
    bool failing_ = false;   // an episode of failed accepts is open (its line is logged)
    bool settling_ = false;  // accepts work again; `settle_timer_` will close the episode
    metrics::shard& stats_;  // counts failed accepts (redchat_accept_errors_total)
};

}  // namespace redchat::transport
