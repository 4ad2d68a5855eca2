#include "core/bcrypt.hpp"

#include <crypt.h>

#include <cstring>
#include <memory>

namespace redchat::bcrypt {
namespace {

bool is_bcrypt_hash(std::string_view h) {
    // $2?$NN$ + 53 characters of salt and digest.
    if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$')
        return false;
    return h[2] == 'a' || h[2] == 'b' || h[2] == 'y';
}

}  // namespace

std::optional<std::string> hash(std::string_view password, int cost) {
    if (password.find('\0') != std::string_view::npos)
        return std::nullopt;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) ==
        nullptr) {
        return std::nullopt;
    }
    auto data = std::make_unique<crypt_data>();
    const std::string pw(password);
    const char* out = crypt_r(pw.c_str(), salt, data.get());
    if (out == nullptr || out[0] == '*')
        return std::nullopt;
    return std::string(out);
}

bool verify(std::string_view password, std::string_view stored) {
    if (!is_bcrypt_hash(stored) || password.find('\0') != std::string_view::npos)
        return false;
    std::string setting(stored);
    // libxcrypt computes $2y$ exactly like $2b$; it accepts both prefixes directly.
    auto data = std::make_unique<crypt_data>();
    const std::string pw(password);
    const char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
    if (out == nullptr || std::strlen(out) != stored.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < stored.size(); ++i) {
        diff |= static_cast<unsigned char>(out[i] ^ stored[i]);
    }
    return diff == 0;
}

}  // namespace redchat::bcrypt
