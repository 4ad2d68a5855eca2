#include "core/random_id.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace redchat {
namespace {

void getrandom_all(void* out, std::size_t size) {
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

// Small requests (a message id's 4 bytes, a session's 16) are served from a per-thread block
// of the kernel's bytes, one getrandom(2) per 512 bytes instead of one per id. A byte is handed
// out once and wiped as it goes.
struct random_pool {
    static constexpr std::size_t size = 512;
    std::array<unsigned char, size> bytes{};
    std::size_t used = size;

    void take(unsigned char* out, std::size_t n) {
        if (size - used < n) {
            getrandom_all(bytes.data(), size);
            used = 0;
        }
        std::memcpy(out, bytes.data() + used, n);
        std::memset(bytes.data() + used, 0, n);
        used += n;
    }
};

constexpr std::size_t pooled_max = 64;

}  // namespace

void random_bytes(void* out, std::size_t size) {
    if (size > pooled_max) {
        getrandom_all(out, size);
        return;
    }
    thread_local random_pool pool;
    pool.take(static_cast<unsigned char*>(out), size);
}

std::string random_hex(std::size_t bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(bytes * 2, '\0');
    random_bytes(out.data(), bytes);  // then spread from the back, two digits per byte
    for (std::size_t i = bytes; i-- > 0;) {
        const auto c = static_cast<unsigned char>(out[i]);
        out[2 * i] = digits[c >> 4];
        out[2 * i + 1] = digits[c & 0xf];
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
