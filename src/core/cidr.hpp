#pragma once
// IP networks in CIDR notation ("10.0.0.0/8", "fd00::/8", or a lone address), for the trusted
// proxies whose X-Forwarded-For / Forwarded headers name the client.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace redchat {

struct ip_address {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool v6 = false;
};

// A textual IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as IPv4), or nullopt.
std::optional<ip_address> parse_ip(std::string_view text);

struct cidr {
    ip_address network;
    unsigned prefix = 0;  // bits
    bool contains(const ip_address& a) const;
};

// "a.b.c.d/n", "v6/n" or a lone address (a /32 or /128); nullopt when malformed.
std::optional<cidr> parse_cidr(std::string_view text);

bool in_any(const std::vector<cidr>& networks, std::string_view address);

}  // namespace redchat
