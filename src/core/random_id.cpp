#include "core/random_id.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace redchat {

void random_bytes(void* out, std::size_t size) {
    auto* p = static_cast<unsigned char*>(out);
    while (size > 0) {
        const ssize_t n = ::getrandom(p, size, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::abort();
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

std::string random_hex(std::size_t bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::vector<unsigned char> raw(bytes);
    random_bytes(raw.data(), raw.size());
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

std::string random_token(std::size_t chars) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out(chars, '\0');
    random_bytes(out.data(), out.size());
    for (char& c : out)
        c = alphabet[static_cast<unsigned char>(c) & 63];  // 256 is a multiple of 64: unbiased
    return out;
}

std::string random_hex_id() {
    return random_hex(16);
}

}  // namespace redchat
