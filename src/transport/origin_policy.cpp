#include "transport/origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace redchat::transport {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

struct parsed_origin {
    std::string scheme;     // "http" or "https"
    std::string authority;  // lowercase host[:port], the scheme's default port dropped
};

// The authority without the default port of `scheme` (":80" for http, ":443" for https).
std::string without_default_port(std::string authority, std::string_view scheme) {
    const std::string_view default_port = scheme == "https" ? ":443" : ":80";
    if (authority.size() > default_port.size() && authority.ends_with(default_port) &&
        authority[authority.size() - default_port.size() - 1] != ':')
        authority.resize(authority.size() - default_port.size());
    return authority;
}

// "http://Host:port" -> {"http", "host:port"}; an empty scheme when it is not an http(s) origin.
parsed_origin parse(std::string_view origin) {
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos)
        return {};
    std::string scheme = lower(origin.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
        return {};
    auto rest = origin.substr(scheme_end + 3);
    while (!rest.empty() && rest.back() == '/')
        rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos)
        return {};
    std::string authority = without_default_port(lower(rest), scheme);
    return {std::move(scheme), std::move(authority)};
}

// The host part of "host:port" or "[v6]:port".
std::string_view host_part(std::string_view authority) {
    if (!authority.empty() && authority.front() == '[') {
        const auto end = authority.find(']');
        return end == std::string_view::npos ? authority : authority.substr(0, end + 1);
    }
    return authority.substr(0, authority.find(':'));
}

}  // namespace

origin_policy::origin_policy(std::vector<std::string> allowed, options opts) : opts_(opts) {
    for (auto& a : allowed) {
        if (a == "*") {
            any_ = true;
            continue;
        }
        auto p = parse(a);
        if (!p.scheme.empty())
            allowed_.push_back(p.scheme + "://" + p.authority);
    }
}

bool origin_policy::allows(std::string_view origin, std::string_view host) const {
    if (origin.empty() || any_)
        return true;
    const auto p = parse(origin);
    if (p.scheme.empty())
        return false;  // "null", file:, extensions...
    // Our own origin: the Host the browser reached us at, port included.
    if (!host.empty() && (p.scheme == "https" || !opts_.require_https) &&
        p.authority == without_default_port(lower(host), p.scheme))
        return true;
    if (opts_.allow_localhost) {
        const auto h = host_part(p.authority);
        if (h == "localhost" || h == "127.0.0.1" || h == "[::1]")
            return true;
    }
    const std::string full = p.scheme + "://" + p.authority;
    return std::find(allowed_.begin(), allowed_.end(), full) != allowed_.end();
}

}  // namespace redchat::transport
