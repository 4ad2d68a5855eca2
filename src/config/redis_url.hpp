#pragma once
// Where Redis is: parsed from REDIS_URL.

#include <optional>
#include <string>
#include <string_view>

namespace redchat::config {

struct redis_endpoint {
    std::string host;  // empty when unix_socket is set
    unsigned short port = 6379;
    std::string unix_socket;  // path; empty for TCP
    std::optional<std::string> username;
    std::optional<std::string> password;
    int database = 0;

    // For logs: the URL without its password.
    std::string redacted() const;
};

// The outcome of parsing a URL: an endpoint, or a sentence saying what is wrong with it.
struct redis_url_parse {
    std::optional<redis_endpoint> endpoint;
    std::string problem;  // empty when endpoint is set

    explicit operator bool() const noexcept { return endpoint.has_value(); }
    const redis_endpoint& operator*() const { return *endpoint; }
    const redis_endpoint* operator->() const { return &*endpoint; }
};

// Accepts `redis://[[user]:password@]host[:port][/db]` and `unix:///path/to.sock[?db=N]`.
// Anything else (other schemes, TLS, a bad port or db, an empty host, a relative socket path,
// unknown query parameters, a fragment) is refused with a problem naming the cause.
redis_url_parse parse_redis_url(std::string_view url);

}  // namespace redchat::config
