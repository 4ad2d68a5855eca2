#include "transport/forwarded.hpp"

#include <arpa/inet.h>

#include <optional>

namespace redchat::transport {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::string to_text(const ip_address& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf);
    return buf;
}

// One node of a Forwarded `for=` value: `1.2.3.4`, `1.2.3.4:5678`, `"[v6]:port"`, `"[v6]"`.
std::optional<ip_address> forwarded_node(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
        v = v.substr(1, v.size() - 2);
    if (!v.empty() && v.front() == '[') {
        const auto end = v.find(']');
        if (end == std::string_view::npos)
            return std::nullopt;
        return parse_ip(v.substr(1, end - 1));
    }
    if (auto colon = v.find(':'); colon != std::string_view::npos && v.rfind(':') == colon)
        v = v.substr(0, colon);  // IPv4 with a port
    return parse_ip(v);
}

// The addresses of a header's list, left to right (invalid entries as nullopt).
std::vector<std::optional<ip_address>> chain_of(std::string_view x_forwarded_for,
                                                std::string_view forwarded) {
    std::vector<std::optional<ip_address>> chain;
    if (!trim(x_forwarded_for).empty()) {
        while (chain.size() < 64) {
            const auto comma = x_forwarded_for.find(',');
            chain.push_back(forwarded_node(x_forwarded_for.substr(0, comma)));
            if (comma == std::string_view::npos)
                break;
            x_forwarded_for.remove_prefix(comma + 1);
        }
        return chain;
    }
    // Forwarded: for=a;proto=https, for="[v6]:1"
    while (!forwarded.empty() && chain.size() < 64) {
        const auto comma = forwarded.find(',');
        std::string_view element = forwarded.substr(0, comma);
        std::optional<ip_address> node;
        while (!element.empty()) {
            const auto semi = element.find(';');
            const auto pair = trim(element.substr(0, semi));
            if (pair.size() > 4 && (pair.substr(0, 4) == "for=" || pair.substr(0, 4) == "FOR=" ||
                                    pair.substr(0, 4) == "For="))
                node = forwarded_node(pair.substr(4));
            if (semi == std::string_view::npos)
                break;
            element.remove_prefix(semi + 1);
        }
        chain.push_back(node);
        if (comma == std::string_view::npos)
            break;
        forwarded.remove_prefix(comma + 1);
    }
    return chain;
}

}  // namespace

std::string client_address(std::string_view peer, std::string_view x_forwarded_for,
                           std::string_view forwarded, const std::vector<cidr>& trusted) {
    const auto peer_ip = parse_ip(peer);
    const auto trusted_ip = [&](const ip_address& a) {
        for (const auto& n : trusted) {
            if (n.contains(a))
                return true;
        }
        return false;
    };
    if (!peer_ip)
        return std::string(peer);
    if (!trusted_ip(*peer_ip))
        return to_text(*peer_ip);
    const auto chain = chain_of(x_forwarded_for, forwarded);
    // From the right: the first address that is not one of our proxies is the client. A
    // malformed entry ends the walk (whatever is left of it was written by the client itself).
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        if (!*it)
            break;
        if (!trusted_ip(**it))
            return to_text(**it);
    }
    return to_text(*peer_ip);  // only proxies, or nothing usable: the nearest proxy
}

}  // namespace redchat::transport
