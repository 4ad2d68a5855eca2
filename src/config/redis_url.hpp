#pragma once
// Where Redis is: parsed from REDIS_URL.

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

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

// Accepts `redis://[[user]:password@]host[:port][/db]` and `unix:///path/to.sock[?db=N]`.
// Anything else (other schemes, a bad port or db, an empty host) is errc::bad_input.
result<redis_endpoint> parse_redis_url(std::string_view url);

}  // namespace redchat::config
