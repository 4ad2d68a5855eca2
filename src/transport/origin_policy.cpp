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

// "http://Host:port" -> "host:port" (lowercase); empty when it is not an http(s) origin.
std::string authority_of(std::string_view origin) {
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos)
        return {};
    const auto scheme = lower(origin.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
        return {};
    auto rest = origin.substr(scheme_end + 3);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos)
        return {};
    return lower(rest);
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

origin_policy::origin_policy(std::vector<std::string> allowed) {
    for (auto& a : allowed) {
        if (a == "*")
            any_ = true;
        std::string norm = lower(a);
        while (!norm.empty() && norm.back() == '/')
            norm.pop_back();
        allowed_.push_back(std::move(norm));
    }
}

bool origin_policy::allows(std::string_view origin, std::string_view host) const {
    if (origin.empty() || any_)
        return true;
    const std::string authority = authority_of(origin);
    if (authority.empty())
        return false;  // "null", file:, extensions...
    if (!host.empty() && authority == lower(host))
        return true;
    const auto h = host_part(authority);
    if (h == "localhost" || h == "127.0.0.1" || h == "[::1]")
        return true;
    const std::string full = lower(origin);
    return std::find(allowed_.begin(), allowed_.end(), full) != allowed_.end();
}

}  // namespace redchat::transport
