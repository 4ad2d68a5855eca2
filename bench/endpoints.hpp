#pragma once
// Where the tool connects to (the server) and from (loopback source addresses).

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace redchat::bench {

struct server_target {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host_header;  // "host:port", as given in the URL
};

// Parses "http://host:port[/]" and resolves host to an IPv4 address. nullopt (with the reason on
// stderr) when the URL is not of that form or does not resolve.
std::optional<server_target> parse_server_url(const std::string& url);

// Client sockets are bound to 127.0.0.1, 127.0.0.2, ... before connect, round robin: the kernel
// gives each (source, server) pair its own ephemeral ports (~28k by default), so 50k+
// connections to one server port fit. With IP_BIND_ADDRESS_NO_PORT the port is chosen at
// connect time, per 4-tuple. Off (no bind at all) when the server is not on loopback.
class source_addresses {
  public:
    source_addresses() = default;
    explicit source_addresses(std::size_t count) : count_(count) {}

    // The address for the i-th client socket; nullopt: do not bind.
    std::optional<boost::asio::ip::address_v4> for_socket(std::size_t i) const;
    std::size_t count() const { return count_; }

    // One source per `per_source` sockets (at least one). Linux's connect() tries ports of one
    // parity first, so once a source uses more than half of the ephemeral range every further
    // connect scans thousands of ports: 10,000 per source stays well below that.
    static std::size_t derived_count(std::size_t sockets, std::size_t per_source = 10000);

  private:
    std::size_t count_ = 0;
};

}  // namespace redchat::bench
