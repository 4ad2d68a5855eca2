#include "config/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace redchat::config {
namespace {

std::optional<int> parse_int(std::string_view s, int max) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size() || v < 0 || v > max)
        return std::nullopt;
    return v;
}

}  // namespace

std::string redis_endpoint::redacted() const {
    std::string auth = password ? (username.value_or("") + ":***@") : "";
    if (!unix_socket.empty())
        return "unix://" + unix_socket;
    return "redis://" + auth + host + ":" + std::to_string(port) + "/" + std::to_string(database);
}

result<redis_endpoint> parse_redis_url(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed)
        return make_error_code(errc::bad_input);
    const boost::urls::url_view u = *parsed;
    redis_endpoint ep;
    const std::string scheme(u.scheme());
    if (scheme == "unix") {
        ep.unix_socket = std::string(u.path());
        if (ep.unix_socket.empty())
            return make_error_code(errc::bad_input);
        for (auto param : u.params()) {
            if (param.key == "db") {
                auto db = parse_int(param.value, 15);
                if (!db)
                    return make_error_code(errc::bad_input);
                ep.database = *db;
            }
        }
        return ep;
    }
    if (scheme != "redis")
        return make_error_code(errc::bad_input);
    ep.host = std::string(u.host_address());
    if (ep.host.empty())
        return make_error_code(errc::bad_input);
    if (u.has_port()) {
        auto port = parse_int(u.port(), 65535);
        if (!port || *port == 0)
            return make_error_code(errc::bad_input);
        ep.port = static_cast<unsigned short>(*port);
    }
    if (u.has_userinfo()) {
        if (u.has_password()) {
            ep.password = std::string(u.password());
            std::string user(u.user());
            if (!user.empty())
                ep.username = std::move(user);
        } else if (!u.user().empty()) {
            // `redis://secret@host`: a lone userinfo is the password (as redis-cli reads it).
            ep.password = std::string(u.user());
        }
    }
    const std::string path = u.path();  // decoded copy
    if (!path.empty() && path != "/") {
        auto db = parse_int(path.substr(1), 15);
        if (!db)
            return make_error_code(errc::bad_input);
        ep.database = *db;
    }
    return ep;
}

}  // namespace redchat::config
