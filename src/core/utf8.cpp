#include "core/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace redchat {

std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) {
        ++i;
        return c;
    }
    std::size_t extra = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
        extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return std::nullopt;
    }
    if (i + extra >= s.size())
        return std::nullopt;
    for (std::size_t k = 1; k <= extra; ++k) {
        const unsigned char cc = byte(i + k);
        if ((cc & 0xC0) != 0x80)
            return std::nullopt;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return std::nullopt;
    i += extra + 1;
    return cp;
}

std::optional<std::size_t> utf8_length(std::string_view s) {
    constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        // Eight ASCII bytes at a time: most of a chat text, and all of the JSON around it.
        while (s.size() - i >= 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, s.data() + i, sizeof word);
            if ((word & high_bits) != 0)
                break;
            i += 8;
            count += 8;
        }
        if (i == s.size())
            break;
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;  // an ASCII byte between others
        } else if (!next_code_point(s, i)) {
            return std::nullopt;
        }
        ++count;
    }
    return count;
}

}  // namespace redchat
