#pragma once
// Expected failures are values: result<T> carries either a T or an error_code in our category.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace redchat {

enum class errc {
    ok = 0,
    redis_unavailable,   // no connection to Redis right now
    redis_timeout,       // Redis did not answer before the call's deadline (it may have run it)
    redis_lost,          // the connection went with the call in flight (it may have run it)
    redis_error,         // Redis answered with an error reply
    redis_noscript,      // EVALSHA of a script Redis does not have (yet): send it with EVAL
    redis_protocol,      // Redis answered with a reply of an unexpected shape
    redis_unreplicated,  // done on the master, but too few replicas confirmed it in time (WAIT)
    bad_input,           // the caller's data is malformed or out of bounds
    not_found,
    conflict,
    forbidden,
    unauthorized,
    shutting_down,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

template <typename T>
using result = boost::system::result<T>;

// An error result, unambiguous even for result<bool>.
template <typename T>
result<T> failure(boost::system::error_code ec) {
    return result<T>(boost::system::in_place_error, ec);
}

}  // namespace redchat

template <>
struct boost::system::is_error_code_enum<redchat::errc> : std::true_type {};
