#include "transport/listener.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace redchat::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

listener::listener(asio::io_context& home, std::vector<asio::io_context*> threads,
                   const std::string& address, unsigned short port, accept_handler on_accept,
                   metrics::shard& stats)
    : acceptor_(home),
      threads_(std::move(threads)),
      on_accept_(std::move(on_accept)),
      retry_timer_(home),
      settle_timer_(home),
      stats_(stats) {
    tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
}

void listener::start() {
    accept_next();
}

void listener::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    settle_timer_.cancel();
}

void listener::accept_next() {
    const std::size_t index = next_;
    next_ = (next_ + 1) % threads_.size();
    // The socket is created on the target thread's io_context: its I/O runs there for life.
    acceptor_.async_accept(
        *threads_[index], [this, index](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                return;
            if (ec) {
                // EMFILE and friends: keep accepting, but after a pause, rather than spin on
                // a connection the process cannot take or die.
                stats_.accept_errors.fetch_add(1, std::memory_order_relaxed);
                if (settling_) {
                    settling_ = false;
                    settle_timer_.cancel();
                }
                if (!failing_) {
                    failing_ = true;
                    // The errno's text from libc: an error_category's virtual message()
                    // trips UBSan's vptr check across the GCC-built libraries.
                    char text[128];
                    spdlog::error(
                        "event=accept_failing error=\"{}\" hint=\"raise ulimit -n or "
                        "lower --max-connections-per-address\"",
                        ::strerror_r(ec.value(), text, sizeof text));
                }
                back_off();
                return;
            }
            if (backoff_.count() > 0) {
                backoff_ = std::chrono::milliseconds(0);
                settle();
            }
            socket.set_option(tcp::no_delay(true));
            asio::post(*threads_[index], [this, index, s = std::move(socket)]() mutable {
                on_accept_(index, std::move(s));
            });
            accept_next();
        });
}

void listener::back_off() {
    backoff_ =
        std::clamp(backoff_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    retry_timer_.expires_after(backoff_);
    retry_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && acceptor_.is_open())
            accept_next();
    });
}

void listener::settle() {
    settling_ = true;
    settle_timer_.expires_after(settle_time);
    settle_timer_.async_wait([this](const boost::system::error_code& ec) {
        // A handler already queued when a failure re-armed the timer finds its expiry ahead.
        if (ec || !settling_ || !acceptor_.is_open() ||
            settle_timer_.expiry() > std::chrono::steady_clock::now())
            return;
        settling_ = false;
        failing_ = false;
        spdlog::info("event=accept_recovered");
    });
}

}  // namespace redchat::transport
