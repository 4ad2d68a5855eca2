#include "transport/listener.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace redchat::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

listener::listener(asio::io_context& home, std::vector<asio::io_context*> threads,
                   const std::string& address, unsigned short port, accept_handler on_accept)
    : acceptor_(home), threads_(std::move(threads)), on_accept_(std::move(on_accept)) {
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
                // EMFILE and friends: log and keep accepting rather than spin or die.
                spdlog::warn("accept failed: {}", ec.message());
            } else {
                socket.set_option(tcp::no_delay(true));
                asio::post(*threads_[index], [this, index, s = std::move(socket)]() mutable {
                    on_accept_(index, std::move(s));
                });
            }
            accept_next();
        });
}

}  // namespace redchat::transport
