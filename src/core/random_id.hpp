#pragma once
// Unpredictable identifiers from the kernel's CSPRNG (getrandom), for sessions and messages.

#include <cstddef>
#include <string>

namespace redchat {

// Fills `out` with `size` random bytes. Never fails: getrandom on Linux blocks only until the
// pool is first seeded, and a failure there is a broken system (we abort). Requests of up to 64
// bytes come from a per-thread block of the kernel's bytes, refilled 512 at a time.
void random_bytes(void* out, std::size_t size);

// 128 random bits as 32 lowercase hex characters.
std::string random_hex_id();

// `bytes` random bytes as lowercase hex.
std::string random_hex(std::size_t bytes);

// `chars` random characters of the URL-safe base64 alphabet (A-Z a-z 0-9 - _), 6 random bits
// each: a 12-character token (72 bits) fits in a std::string without a heap block.
std::string random_token(std::size_t chars);

}  // namespace redchat
