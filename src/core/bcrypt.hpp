#pragma once
// bcrypt through libxcrypt. These calls take tens of milliseconds at cost 10: run them on the
// worker pool (app/password_pool), never on an I/O thread.

#include <optional>
#include <string>
#include <string_view>

namespace redchat::bcrypt {

inline constexpr int default_cost = 10;
// bcrypt ignores bytes after the 72nd; longer passwords are refused by the callers' rules.
inline constexpr std::size_t max_password_bytes = 72;

// A new `$2b$` hash of `password`, or nullopt if libxcrypt refused (bad cost, no entropy).
std::optional<std::string> hash(std::string_view password, int cost = default_cost);

// True when `password` matches `stored` (`$2a$`, `$2b$` or `$2y$`). Any other or malformed
// hash is a mismatch, never an error. Compares in constant time.
bool verify(std::string_view password, std::string_view stored);

}  // namespace redchat::bcrypt
