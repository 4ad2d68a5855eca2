#pragma once
// SHA-1 (FIPS 180-4), for the identifiers protocols define with it: the WebSocket accept key and
// Redis script ids (EVALSHA). Never for security.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace redchat {

std::array<std::uint8_t, 20> sha1(std::string_view data);
// The digest as 40 lowercase hex digits.
std::string sha1_hex(std::string_view data);

}  // namespace redchat
