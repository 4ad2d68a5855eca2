#pragma once
// Base64 (RFC 4648, with padding): Engine.IO's binary packets on polling, the WebSocket
// handshake's accept key. decode returns errc::bad_input on malformed input; never throws.

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace redchat {

std::string base64_encode(std::string_view bytes);
result<std::string> base64_decode(std::string_view text);

}  // namespace redchat
