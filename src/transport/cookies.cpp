#include "transport/cookies.hpp"

namespace redchat::transport {

std::optional<std::string> session_from_cookie(std::string_view header) {
    const std::string_view name = session_cookie_name;
    while (!header.empty()) {
        auto end = header.find(';');
        auto part = header.substr(0, end);
        header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
        while (!part.empty() && (part.front() == ' ' || part.front() == '\t'))
            part.remove_prefix(1);
        while (!part.empty() && (part.back() == ' ' || part.back() == '\t'))
            part.remove_suffix(1);
        if (!part.starts_with(name) || part.size() <= name.size() || part[name.size()] != '=')
            continue;
        auto value = part.substr(name.size() + 1);
        if (value.size() != 32)
            continue;
        bool hex = true;
        for (char c : value)
            hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (hex)
            return std::string(value);
    }
    return std::nullopt;
}

std::string session_cookie(std::string_view value, long long max_age, bool secure) {
    std::string c = std::string(session_cookie_name) + "=" + std::string(value) +
                    "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age);
    if (secure)
        c += "; Secure";
    return c;
}

}  // namespace redchat::transport
