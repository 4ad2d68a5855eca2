#pragma once
// The session cookie: reading its id out of a Cookie header (untrusted bytes) and writing the
// Set-Cookie value. No I/O and no Beast, so that it is cheap to test and to fuzz.

#include <optional>
#include <string>
#include <string_view>

namespace redchat::transport {

inline constexpr const char* session_cookie_name = "redchat_sid";

// The session id of a Cookie header value, if it holds a well-formed one (32 hex digits).
std::optional<std::string> session_from_cookie(std::string_view cookie_header);

// The Set-Cookie value for session id `value` (empty with `max_age` 0: delete the cookie).
std::string session_cookie(std::string_view value, long long max_age, bool secure);

}  // namespace redchat::transport
