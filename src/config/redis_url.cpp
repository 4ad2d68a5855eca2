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

redis_url_parse refuse(std::string problem) {
    return {std::nullopt, std::move(problem)};
}

// `db=N` is the only parameter of a unix:// URL. The query is split here, on its encoded
// text, rather than through Boost.URL's params view (1.81 crashes iterating some empty
// queries, such as the one of `unix:x?#`).
std::string apply_unix_query(std::string_view query, redis_endpoint& ep) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty())
            continue;
        const auto eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        if (key != "db")
            return "unknown parameter in the query (only db=N is understood)";
        const auto db =
            eq == std::string_view::npos ? std::nullopt : parse_int(item.substr(eq + 1), 15);
        if (!db)
            return "db must be a number from 0 to 15";
        ep.database = *db;
    }
    return {};
}

}  // namespace

std::string redis_endpoint::redacted() const {
    std::string auth = password ? (username.value_or("") + ":***@") : "";
    if (!unix_socket.empty())
        return "unix://" + unix_socket + (database != 0 ? "?db=" + std::to_string(database) : "");
    return "redis://" + auth + host + ":" + std::to_string(port) + "/" + std::to_string(database);
}

redis_url_parse parse_redis_url(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed)
        return refuse("not a URL (expected redis://host[:port][/db] or unix:///path.sock)");
    const boost::urls::url_view u = *parsed;
    const std::string scheme(u.scheme());
    if (scheme == "rediss")
        return refuse(
            "TLS (rediss://) is not supported; reach Redis over a private network "
            "or a local TLS tunnel and use redis://");
    if (scheme != "redis" && scheme != "unix")
        return refuse("the scheme must be redis:// or unix://, not " + scheme + "://");
    if (u.has_fragment())
        return refuse("a Redis URL has no #fragment");
    redis_endpoint ep;
    if (scheme == "unix") {
        if (u.has_authority() && !u.encoded_host().empty())
            return refuse("a unix:// URL has no host: write unix:///absolute/path.sock");
        ep.unix_socket = std::string(u.path());
        if (ep.unix_socket.empty() || ep.unix_socket.front() != '/')
            return refuse("the socket path must be absolute: unix:///absolute/path.sock");
        if (u.has_query()) {
            if (auto problem = apply_unix_query(u.encoded_query(), ep); !problem.empty())
                return refuse(std::move(problem));
        }
        return {std::move(ep), {}};
    }
    if (u.has_query())
        return refuse("a redis:// URL takes no query; the database goes in the path: /N");
    ep.host = std::string(u.host_address());
    if (ep.host.empty())
        return refuse("the host is missing: redis://host[:port][/db]");
    if (u.has_port()) {
        auto port = parse_int(u.port(), 65535);
        if (!port || *port == 0)
            return refuse("the port must be a number from 1 to 65535");
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
            return refuse("the database (the path) must be a number from 0 to 15");
        ep.database = *db;
    }
    return {std::move(ep), {}};
}

}  // namespace redchat::config
