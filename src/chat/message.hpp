#pragma once
// Chat messages as stored in `room:{id}` and sent to clients, and their JSON codec.
//
// Readers are lenient because other servers share the data: `from` may be a number or a string,
// `date` an integer, a float or a numeric string, keys may be camelCase or PascalCase, and `id`
// is absent in messages written by the reference servers. Writers produce one canonical form:
//   {"id":"...","roomId":"0","from":"1","date":1718000000.123,"message":"text"}
// with `"edited":<date>` after an edit and `"deleted":true` after a delete (docs/realtime.md).

#include <optional>
#include <string>
#include <string_view>

namespace redchat::chat {

struct message {
    std::string id;  // empty for messages written by reference servers
    std::string room_id;
    std::string from;  // user id as a string
    double date = 0;   // seconds since the epoch; also the sorted-set score
    std::string text;
    std::optional<double> edited;  // when its author last edited it (ours)
    bool deleted = false;          // deleted by its author: `text` is "Message deleted" (ours)
};

// nullopt when `json` is not an object with a room, a sender, a date and a string text.
std::optional<message> parse_message(std::string_view json);

// The canonical JSON form (text stored raw, never HTML-escaped).
std::string to_json(const message& m);

// The score a history cursor stands for: a message id written by us ("<date in ms>-<hex>") or a
// date in seconds (for messages without an id). nullopt for anything else.
std::optional<double> cursor_score(std::string_view before);

// A date or score as text (a Redis score, a read position): nullopt unless a finite number.
std::optional<double> parse_date(std::string_view text);

// A new message id for `date` (seconds), in the cursor form: "<date in ms>-<8 hex digits>".
std::string message_id(double date);

// `date` as JSON and as a Redis score: shortest round-trip form, no exponent.
std::string format_date(double seconds);

// JSON string literal for `s`, quotes included.
std::string json_quote(std::string_view s);

}  // namespace redchat::chat
