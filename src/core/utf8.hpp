#pragma once
// UTF-8 validation, shared by the chat rules (texts, names) and the WebSocket layer (text
// messages must be valid UTF-8, RFC 6455 §8.1).

#include <cstddef>
#include <optional>
#include <string_view>

namespace redchat {

// Decodes one code point at s[i], advancing i; nullopt on invalid UTF-8 (overlong forms,
// surrogates, code points above U+10FFFF, truncated sequences).
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i);

// Number of Unicode code points in `s`, or nullopt when `s` is not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s);

inline bool is_valid_utf8(std::string_view s) {
    return utf8_length(s).has_value();
}

}  // namespace redchat
