#pragma once
// A Redis reply as an owned value, copied out of hiredis's reply tree.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct redisReply;

namespace redchat::redis {

struct reply {
    enum class kind : std::uint8_t { nil, integer, string, status, error, array };
    kind type = kind::nil;
    std::int64_t integer = 0;
    std::string str;              // string, status and error
    std::vector<reply> elements;  // array

    bool is_nil() const { return type == kind::nil; }
    bool is_error() const { return type == kind::error; }
    // The bulk or status string, nullopt for other kinds.
    std::optional<std::string> as_string() const;
    std::optional<std::int64_t> as_integer() const;
    // Every element that is a string; nullopt when this is not an array.
    std::optional<std::vector<std::string>> as_strings() const;
};

reply from_hiredis(const redisReply& r);

}  // namespace redchat::redis
