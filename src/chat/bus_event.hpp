#pragma once
// Events on the `MESSAGES` pub/sub channel, in the reference envelope
//   {"serverId": <opaque>, "type": "<event name>", "data": <event payload>}
// Readers accept what reference servers publish (numeric `from`, float dates, float or missing
// serverId); the data is normalised once here so each receiver gets identical bytes.

#include <optional>
#include <string>
#include <string_view>

namespace redchat::chat {

enum class bus_event_type { message, user_connected, user_disconnected, show_room };

struct bus_event {
    bus_event_type type = bus_event_type::message;
    std::string server_id;  // as text; empty when absent
    std::string room_id;    // message, show_room
    std::string user_id;    // user_connected, user_disconnected
    std::string name;       // the Socket.IO event name ("message", "user.connected", ...)
    std::string data_json;  // normalised payload
};

// nullopt for payloads we cannot or need not deliver (unknown types, malformed data).
std::optional<bus_event> parse_envelope(std::string_view payload);

std::string make_envelope(std::string_view server_id, std::string_view type,
                          std::string_view data_json);

// {"id":"1","username":"Pablo","online":true}
std::string user_event_data(std::string_view id, std::string_view username, bool online);

// {"id":"1:2","names":[["Pablo"],["Joe"]]}
std::string show_room_data(std::string_view room_id, std::string_view first_name,
                           std::string_view second_name);

}  // namespace redchat::chat
