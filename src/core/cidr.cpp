#include "core/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace redchat {

std::optional<ip_address> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > 45)
        return std::nullopt;
    const std::string s(text);
    ip_address a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1)
        return a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
        return std::nullopt;
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), mapped, sizeof mapped) == 0) {
        std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
        std::memset(a.bytes.data() + 4, 0, 12);
        return a;
    }
    a.v6 = true;
    return a;
}

bool cidr::contains(const ip_address& a) const {
    if (a.v6 != network.v6)
        return false;
    unsigned left = prefix;
    for (std::size_t i = 0; i < a.bytes.size() && left > 0; ++i) {
        const unsigned bits = left >= 8 ? 8 : left;
        const auto mask = static_cast<std::uint8_t>(0xFF00u >> bits);
        if ((a.bytes[i] & mask) != (network.bytes[i] & mask))
            return false;
        left -= bits;
    }
    return true;
}

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    auto address = parse_ip(text.substr(0, slash));
    if (!address)
        return std::nullopt;
    const unsigned max = address->v6 ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() ||
            prefix > max)
            return std::nullopt;
    }
    return cidr{*address, prefix};
}

bool in_any(const std::vector<cidr>& networks, std::string_view address) {
    if (networks.empty())
        return false;
    auto a = parse_ip(address);
    if (!a)
        return false;
    for (const auto& n : networks) {
        if (n.contains(*a))
            return true;
    }
    return false;
}

}  // namespace redchat
