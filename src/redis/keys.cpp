#include "redis/keys.hpp"

namespace redchat::redis::keys {

namespace {

// `local function <name>(id) return '<before>' .. id .. '<after>' end`, from a key made with a
// marker for the id: the Lua functions build exactly the names the C++ ones do.
std::string lua_function(std::string_view name, const std::string& with_marker) {
    const auto at = with_marker.find('\x01');
    std::string out = "local function ";
    out.append(name);
    out.append("(id) return '");
    out.append(with_marker.substr(0, at));
    out.append("' .. id");
    if (at + 1 < with_marker.size()) {
        out.append(" .. '");
        out.append(with_marker.substr(at + 1));
        out.append("'");
    }
    out.append(" end\n");
    return out;
}

}  // namespace

std::string layout::lua_prelude() const {
    const std::string marker(1, '\x01');
    return lua_function("user_key", user(marker)) +
           lua_function("user_rooms_key", user_rooms(marker)) +
           lua_function("room_key", room(marker)) + lua_function("reads_key", reads(marker));
}

}  // namespace redchat::redis::keys
