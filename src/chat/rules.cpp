#include "chat/rules.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "core/random_id.hpp"
#include "core/utf8.hpp"

namespace redchat::chat {
namespace {

bool is_space_or_control(char32_t cp) {
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return true;  // C0, DEL, C1
    switch (cp) {
        case 0x20:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
        case 0xFEFF:
        case 0x180E:
        case 0x200B:
        case 0x200C:
        case 0x200D:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

}  // namespace

std::optional<std::string> username_problem(std::string_view name, std::size_t max_chars) {
    if (name.empty())
        return "Username must not be empty";
    std::size_t count = 0;
    for (std::size_t i = 0; i < name.size();) {
        auto cp = next_code_point(name, i);
        if (!cp)
            return "Username must be valid UTF-8";
        if (is_space_or_control(*cp))
            return "Username must not contain spaces or control characters";
        if (*cp == U':')
            return "Username must not contain ':'";
        if (++count > max_chars) {
            return "Username must be at most " + std::to_string(max_chars) + " characters";
        }
    }
    return std::nullopt;
}

std::optional<std::string> password_problem(std::string_view password, std::size_t min_chars) {
    auto length = utf8_length(password);
    if (!length)
        return "Password must be valid UTF-8";
    if (*length < min_chars) {
        return "Password must be at least " + std::to_string(min_chars) + " characters";
    }
    if (password.size() > 72)
        return "Password must be at most 72 bytes";
    if (password.find('\0') != std::string_view::npos)
        return "Password must not contain NUL";
    return std::nullopt;
}

bool is_user_id(std::string_view id) {
    if (id.empty() || id.size() > 18 || id[0] == '0')
        return false;
    for (char c : id) {
        if (c < '0' || c > '9')
            return false;
    }
    return true;
}

std::optional<std::string> normalize_user_id(std::string_view id) {
    if (is_user_id(id))
        return std::string(id);
    return std::nullopt;
}

std::string private_room_id(std::string_view a, std::string_view b) {
    // Equal-length decimal strings without leading zeros compare like their numbers.
    const bool a_first = a.size() < b.size() || (a.size() == b.size() && a <= b);
    return a_first ? std::string(a) + ":" + std::string(b) : std::string(b) + ":" + std::string(a);
}

std::optional<std::pair<std::string, std::string>> private_room_members(std::string_view room_id) {
    const auto colon = room_id.find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    auto a = room_id.substr(0, colon);
    auto b = room_id.substr(colon + 1);
    if (!is_user_id(a) || !is_user_id(b) || a == b)
        return std::nullopt;
    if (private_room_id(a, b) != room_id)
        return std::nullopt;
    return std::pair{std::string(a), std::string(b)};
}

bool is_room_id(std::string_view room_id) {
    if (room_id.empty() || room_id.size() > 64)
        return false;
    for (char c : room_id) {
        if (c <= 0x20 || c >= 0x7F)
            return false;
    }
    return true;
}

bool is_group_room_id(std::string_view room_id) {
    if (room_id.size() != 17 || room_id[0] != 'g')
        return false;
    return room_id.find_first_not_of("0123456789abcdef", 1) == std::string_view::npos;
}

std::string new_group_room_id() {
    return "g" + random_hex(8);
}

std::optional<std::string> group_name_problem(std::string_view name, std::size_t max_chars) {
    std::size_t count = 0;
    bool visible = false;
    for (std::size_t i = 0; i < name.size();) {
        auto cp = next_code_point(name, i);
        if (!cp)
            return "The group name must be valid UTF-8";
        if (*cp < 0x20 || (*cp >= 0x7F && *cp < 0xA0) || *cp == 0x2028 || *cp == 0x2029)
            return "The group name must not contain control characters";
        visible = visible || !is_space_or_control(*cp);
        if (++count > max_chars) {
            return "The group name must be at most " + std::to_string(max_chars) + " characters";
        }
    }
    if (!visible)
        return "The group needs a name";
    return std::nullopt;
}

std::string search_key(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool is_client_id(std::string_view id) {
    if (id.empty() || id.size() > 64)
        return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

std::chrono::seconds login_lockout(std::int64_t failures, std::size_t free_attempts,
                                   std::chrono::seconds window) {
    const auto free = static_cast<std::int64_t>(free_attempts);
    if (failures < free)
        return std::chrono::seconds(0);
    const auto doublings = std::min<std::int64_t>(failures - free, 30);
    return std::min(window, std::chrono::seconds(std::int64_t{2} << doublings));
}

}  // namespace redchat::chat
