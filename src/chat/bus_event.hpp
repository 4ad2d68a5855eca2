#pragma once
// Events on the `MESSAGES` pub/sub channel, in the reference envelope
//   {"serverId": <opaque>, "type": "<event name>", "data": <event payload>}
// Readers accept what reference servers publish (numeric `from`, float dates, float or missing
// serverId); the data is normalised once here so each receiver gets identical bytes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/store.hpp"

namespace redchat::chat {

enum class bus_event_type {
    message,
    user_connected,
    user_disconnected,
    show_room,
    // Ours, only on our own channel and only for sockets that speak protocol 1
    // (docs/realtime.md): never on `MESSAGES`, never to a tutorial client.
    typing,
    room_read,
    group_changed,
    message_updated,    // an edit or a delete: the message as it is now
    message_reactions,  // a message's reactions as they are now
};

struct bus_event {
    bus_event_type type = bus_event_type::message;
    std::string server_id;  // as text; empty when absent
    std::string room_id;    // message, show_room, typing, room_read
    std::string user_id;    // user_connected, user_disconnected, typing, room_read
    std::string name;       // the Socket.IO event name ("message", "user.connected", ...)
    std::string data_json;  // normalised payload
    double date = 0;        // message: its date (seconds since the epoch)
    std::vector<std::string> members;  // group_changed: the members now
    std::vector<std::string> removed;  // group_changed: who left or was removed
};

// nullopt for payloads we cannot or need not deliver (unknown types, malformed data). Our own
// event types are taken only from our own channel (`own_channel`).
std::optional<bus_event> parse_envelope(std::string_view payload, bool own_channel = false);

std::string make_envelope(std::string_view server_id, std::string_view type,
                          std::string_view data_json);

// {"id":"1","username":"Pablo","online":true}
std::string user_event_data(std::string_view id, std::string_view username, bool online);

// The data of a group.changed event,
//   {"roomId":"g…","name":"Team","owner":"1","members":["1","2"],"removed":["3"]}
// as a group (and who left, into `removed`); nullopt when malformed.
std::optional<group_info> parse_group_data(std::string_view data_json,
                                           std::vector<std::string>* removed = nullptr);

// {"roomId":"0","userId":"1","username":"Pablo"}
std::string typing_data(std::string_view room_id, std::string_view user_id,
                        std::string_view username);

// {"roomId":"0","userId":"1","date":@DATE@}: the date is filled in where the position is known
// (chat::store::mark_read).
std::string room_read_data(std::string_view room_id, std::string_view user_id);

// {"id":"1:2","names":[["Pablo"],["Joe"]]}
std::string show_room_data(std::string_view room_id, std::string_view first_name,
                           std::string_view second_name);

}  // namespace redchat::chat
