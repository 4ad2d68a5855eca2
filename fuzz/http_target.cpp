// Request targets and query strings of the REST API, usernames, and REDIS_URL values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/rest_api.hpp"
#include "chat/rules.hpp"
#include "config/redis_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string target = redchat::chat::normalize_target(text);
    (void)redchat::chat::rest_api::match(target);
    (void)redchat::chat::username_problem(text, 32);
    (void)redchat::chat::private_room_members(text);
    (void)redchat::config::parse_redis_url(text);
    return 0;
}
