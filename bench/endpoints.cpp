#include "endpoints.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <charconv>
#include <iostream>
#include <string_view>

namespace redchat::bench {

namespace asio = boost::asio;

std::optional<server_target> parse_server_url(const std::string& url) {
    std::string_view rest = url;
    constexpr std::string_view scheme = "http://";
    if (!rest.starts_with(scheme)) {
        std::cerr << "redchat-bench: --url must start with http:// (got " << url << ")\n";
        return std::nullopt;
    }
    rest.remove_prefix(scheme.size());
    while (rest.ends_with('/'))
        rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || rest.find('/') != std::string_view::npos) {
        std::cerr << "redchat-bench: --url must be http://host:port (got " << url << ")\n";
        return std::nullopt;
    }
    const std::string host(rest.substr(0, colon));
    const std::string_view port_text = rest.substr(colon + 1);
    unsigned short port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0) {
        std::cerr << "redchat-bench: bad port in --url " << url << "\n";
        return std::nullopt;
    }
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    boost::system::error_code rec;
    const auto results = resolver.resolve(asio::ip::tcp::v4(), host, std::string(port_text), rec);
    if (rec || results.empty()) {
        std::cerr << "redchat-bench: cannot resolve " << host << ": " << rec.message() << "\n";
        return std::nullopt;
    }
    return server_target{results.begin()->endpoint(), std::string(rest)};
}

std::optional<asio::ip::address_v4> source_addresses::for_socket(std::size_t i) const {
    if (count_ == 0)
        return std::nullopt;
    const auto base = asio::ip::make_address_v4("127.0.0.1").to_uint();
    return asio::ip::address_v4(static_cast<asio::ip::address_v4::uint_type>(base + i % count_));
}

std::size_t source_addresses::derived_count(std::size_t sockets, std::size_t per_source) {
    return sockets / per_source + 1;
}

}  // namespace redchat::bench
