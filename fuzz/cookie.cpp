// Cookie and Origin/Host header values: the session id reader and the Origin allow-list.
// The first byte splits the input into an Origin and a Host value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transport/cookies.hpp"
#include "transport/origin_policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto sid = redchat::transport::session_from_cookie(text)) {
        if (sid->size() != 32)
            __builtin_trap();  // only well-formed ids come out
    }
    static const redchat::transport::origin_policy origins({"https://chat.example.com"});
    if (size == 0)
        return 0;
    const std::size_t split = std::min<std::size_t>(data[0], size - 1);
    (void)origins.allows(text.substr(1, split), text.substr(1 + split));
    return 0;
}
