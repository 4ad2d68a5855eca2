#pragma once
// The domain's rules for names, ids and rooms. Pure functions, no I/O.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/utf8.hpp"

namespace redchat::chat {

// The public room every user belongs to.
inline constexpr std::string_view general_room_id = "0";

using redchat::utf8_length;  // core/utf8.hpp

// Why `name` cannot be registered as a new user, or nullopt when it can: 1 to `max_chars` code
// points of valid UTF-8, no whitespace, no control characters, no ':'.
std::optional<std::string> username_problem(std::string_view name, std::size_t max_chars);

// Why `password` cannot be set for a new account, or nullopt when it can.
std::optional<std::string> password_problem(std::string_view password, std::size_t min_chars);

// Login throttling with growing delays: after `free_attempts` failures in a window, each failure
// locks the key out for twice as long as the last (2 s, 4 s, 8 s, ...), at most `window`.
// Zero while failures are still free.
std::chrono::seconds login_lockout(std::int64_t failures, std::size_t free_attempts,
                                   std::chrono::seconds window);

// User ids are what INCR total_users produced: 1 to 18 decimal digits, no leading zero.
bool is_user_id(std::string_view id);

// Accepts a JSON-ish user id given as a string or a non-negative integer and normalises it.
std::optional<std::string> normalize_user_id(std::string_view id);

// "{min}:{max}" of two user ids compared as numbers.
std::string private_room_id(std::string_view a, std::string_view b);

// The two user ids of a private room id "a:b" (a < b), or nullopt.
std::optional<std::pair<std::string, std::string>> private_room_members(std::string_view room_id);

// Room ids we accept from clients: "0", a private id "a:b", or another id of up to 64 printable
// ASCII characters without spaces (rooms written by other ports).
bool is_room_id(std::string_view room_id);

// Group rooms (ours): "g" and 16 lowercase hex digits. Never "0", never "{a}:{b}".
bool is_group_room_id(std::string_view room_id);
std::string new_group_room_id();

// Why `name` cannot name a group, or nullopt when it can: 1 to `max_chars` code points of valid
// UTF-8, no control characters, not only spaces.
std::optional<std::string> group_name_problem(std::string_view name, std::size_t max_chars);

// A username's search key: ASCII letters lowered, every other byte as is.
std::string search_key(std::string_view name);

// A message's client-generated id (reliable send): 1 to 64 of [A-Za-z0-9_-], enough for a UUID
// or a ULID, and safe inside a Redis key.
bool is_client_id(std::string_view id);

}  // namespace redchat::chat
