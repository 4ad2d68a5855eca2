#include "chat/bus_event.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "chat/message.hpp"
#include "chat/rules.hpp"

namespace redchat::chat {
namespace {

namespace json = boost::json;

std::optional<std::string> id_text(const json::value* v) {
    if (v == nullptr)
        return std::nullopt;
    if (v->is_string())
        return std::string(v->get_string());
    if (v->is_int64())
        return std::to_string(v->get_int64());
    if (v->is_uint64())
        return std::to_string(v->get_uint64());
    return std::nullopt;
}

// The raw text of a top-level member of a JSON object already known to be valid, so that its
// numbers keep their exact spelling (Boost.JSON 1.81 rounds some decimals). nullopt if absent
// (or spelled with escapes in its key). Of a member given twice, the last, as Boost.JSON keeps.
std::optional<std::string_view> raw_member(std::string_view text, std::string_view key) {
    std::size_t i = 0;
    auto skip_ws = [&] {
        while (i < text.size() &&
               (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
            ++i;
    };
    auto skip_string = [&] {  // at the opening quote
        for (++i; i < text.size() && text[i] != '"'; ++i) {
            if (text[i] == '\\')
                ++i;
        }
        ++i;
    };
    auto skip_value = [&] {
        if (text[i] == '"') {
            skip_string();
            return;
        }
        int depth = 0;
        while (i < text.size()) {
            const char c = text[i];
            if (c == '"') {
                skip_string();
                continue;
            }
            if (c == '{' || c == '[')
                ++depth;
            if (c == '}' || c == ']') {
                if (depth == 0)
                    return;
                --depth;
            }
            if (c == ',' && depth == 0)
                return;
            ++i;
            if (depth == 0 && (c == '}' || c == ']'))
                return;
        }
    };
    skip_ws();
    if (i >= text.size() || text[i] != '{')
        return std::nullopt;
    ++i;
    std::optional<std::string_view> found;
    while (i < text.size()) {
        skip_ws();
        if (i >= text.size() || text[i] != '"')
            return std::nullopt;
        const std::size_t key_start = i + 1;
        skip_string();
        const auto name = text.substr(key_start, i - 1 - key_start);
        skip_ws();
        if (i >= text.size() || text[i] != ':')
            return std::nullopt;
        ++i;
        skip_ws();
        const std::size_t value_start = i;
        skip_value();
        std::size_t value_end = i;
        while (value_end > value_start &&
               (text[value_end - 1] == ' ' || text[value_end - 1] == '\t' ||
                text[value_end - 1] == '\n' || text[value_end - 1] == '\r')) {
            --value_end;
        }
        if (name == key)
            found = text.substr(value_start, value_end - value_start);
        skip_ws();
        if (i < text.size() && text[i] == '}')
            return found;
        if (i >= text.size() || text[i] != ',')
            return std::nullopt;
        ++i;
    }
    return std::nullopt;
}

}  // namespace

std::optional<bus_event> parse_envelope(std::string_view payload, bool own_channel) {
    // The envelope's tree lives only in this call (the event keeps copies): it is built in a
    // stack buffer, and beyond it in a few growing blocks, instead of an allocation per
    // object, member and string (about 18 allocations per message before; bench/RESULTS.md).
    unsigned char buffer[4096];
    json::monotonic_resource arena(buffer, sizeof buffer);
    boost::system::error_code ec;
    json::value v = json::parse(payload, ec, &arena);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    const auto* type = o.if_contains("type");
    const auto* data = o.if_contains("data");
    if (type == nullptr || !type->is_string() || data == nullptr)
        return std::nullopt;

    bus_event ev;
    if (const auto* sid = o.if_contains("serverId"); sid != nullptr) {
        if (sid->is_string()) {
            ev.server_id = std::string(sid->get_string());
        } else if (sid->is_double()) {
            ev.server_id = format_date(sid->get_double());  // Python's random float
        } else {
            ev.server_id = json::serialize(*sid);
        }
    }
    const std::string_view t = type->get_string();
    ev.name = std::string(t);
    if (t == "message" || (own_channel && t == "message.updated")) {
        // Re-parse the data as a stored message: the same lenient reader as history.
        // The data's own text, not a re-serialisation: dates must keep every digit.
        std::string text;
        if (data->is_string()) {
            text = std::string(data->get_string());
        } else if (auto raw = raw_member(payload, "data")) {
            text = std::string(*raw);
        } else {
            text = json::serialize(*data);
        }
        auto m = parse_message(text);
        if (!m || !is_room_id(m->room_id))
            return std::nullopt;
        ev.type = t == "message" ? bus_event_type::message : bus_event_type::message_updated;
        ev.room_id = m->room_id;
        ev.date = m->date;
        ev.data_json = to_json(*m);
        return ev;
    }
    if (!data->is_object())
        return std::nullopt;
    const auto& d = data->get_object();
    if (t == "user.connected" || t == "user.disconnected") {
        auto id = id_text(d.if_contains("id"));
        const auto* name = d.if_contains("username");
        if (!id || !is_user_id(*id) || name == nullptr || !name->is_string())
            return std::nullopt;
        const bool online = t == "user.connected";
        ev.type = online ? bus_event_type::user_connected : bus_event_type::user_disconnected;
        ev.user_id = *id;
        ev.data_json = user_event_data(*id, name->get_string(), online);
        return ev;
    }
    if (t == "show.room") {
        auto id = id_text(d.if_contains("id"));
        if (!id || !private_room_members(*id))
            return std::nullopt;
        ev.type = bus_event_type::show_room;
        ev.room_id = *id;
        ev.data_json = json::serialize(*data);
        return ev;
    }
    // Our own events: written by our servers, their data goes out as written (dates keep every
    // digit).
    auto data_text = [&] {
        auto raw = raw_member(payload, "data");
        return raw ? std::string(*raw) : json::serialize(*data);
    };
    if (own_channel && t == "message.reactions") {
        const auto* room = d.if_contains("roomId");
        const auto* id = d.if_contains("messageId");
        const auto* reactions = d.if_contains("reactions");
        if (room == nullptr || !room->is_string() || !is_room_id(room->get_string()) ||
            id == nullptr || !id->is_string() || reactions == nullptr || !reactions->is_object()) {
            return std::nullopt;
        }
        ev.type = bus_event_type::message_reactions;
        ev.room_id = std::string(room->get_string());
        ev.data_json = data_text();
        return ev;
    }
    if (own_channel && t == "group.changed") {
        ev.data_json = data_text();
        auto group = parse_group_data(ev.data_json, &ev.removed);
        if (!group)
            return std::nullopt;
        ev.type = bus_event_type::group_changed;
        ev.room_id = group->room_id;
        ev.members = std::move(group->members);
        return ev;
    }
    if (own_channel && (t == "typing" || t == "room.read")) {
        const auto* room = d.if_contains("roomId");
        auto user_id = id_text(d.if_contains("userId"));
        if (room == nullptr || !room->is_string() || !is_room_id(room->get_string()) || !user_id ||
            !is_user_id(*user_id)) {
            return std::nullopt;
        }
        if (t == "room.read") {
            const auto* date = d.if_contains("date");
            if (date == nullptr || !date->is_number())
                return std::nullopt;
        }
        ev.type = t == "typing" ? bus_event_type::typing : bus_event_type::room_read;
        ev.room_id = std::string(room->get_string());
        ev.user_id = *user_id;
        ev.data_json = data_text();
        return ev;
    }
    return std::nullopt;
}

std::string make_envelope(std::string_view server_id, std::string_view type,
                          std::string_view data_json) {
    std::string out =
        "{\"serverId\":" + json_quote(server_id) + ",\"type\":" + json_quote(type) + ",\"data\":";
    out += data_json;
    out += '}';
    return out;
}

namespace {

// A JSON array of user ids, or nullopt.
std::optional<std::vector<std::string>> user_ids(const json::value* v) {
    if (v == nullptr || !v->is_array())
        return std::nullopt;
    std::vector<std::string> out;
    for (const auto& id : v->get_array()) {
        if (!id.is_string() || !is_user_id(id.get_string()))
            return std::nullopt;
        out.emplace_back(id.get_string());
    }
    return out;
}

}  // namespace

std::optional<group_info> parse_group_data(std::string_view data_json,
                                           std::vector<std::string>* removed) {
    boost::system::error_code ec;
    json::value v = json::parse(data_json, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    const auto* room = o.if_contains("roomId");
    const auto* name = o.if_contains("name");
    const auto* owner = o.if_contains("owner");
    auto members = user_ids(o.if_contains("members"));
    auto gone = user_ids(o.if_contains("removed"));
    if (room == nullptr || !room->is_string() || !is_group_room_id(room->get_string()) ||
        name == nullptr || !name->is_string() || owner == nullptr || !owner->is_string() ||
        !members || !gone) {
        return std::nullopt;
    }
    if (removed != nullptr)
        *removed = std::move(*gone);
    return group_info{std::string(room->get_string()), std::string(name->get_string()),
                      std::string(owner->get_string()), std::move(*members)};
}

std::string typing_data(std::string_view room_id, std::string_view user_id,
                        std::string_view username) {
    return "{\"roomId\":" + json_quote(room_id) + ",\"userId\":" + json_quote(user_id) +
           ",\"username\":" + json_quote(username) + "}";
}

std::string room_read_data(std::string_view room_id, std::string_view user_id) {
    return "{\"roomId\":" + json_quote(room_id) + ",\"userId\":" + json_quote(user_id) +
           ",\"date\":@DATE@}";
}

std::string user_event_data(std::string_view id, std::string_view username, bool online) {
    return "{\"id\":" + json_quote(id) + ",\"username\":" + json_quote(username) +
           ",\"online\":" + (online ? "true" : "false") + "}";
}

std::string show_room_data(std::string_view room_id, std::string_view first_name,
                           std::string_view second_name) {
    return "{\"id\":" + json_quote(room_id) + ",\"names\":[[" + json_quote(first_name) + "],[" +
           json_quote(second_name) + "]]}";
}

}  // namespace redchat::chat
