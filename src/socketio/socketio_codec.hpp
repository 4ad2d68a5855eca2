#pragma once
// Socket.IO protocol 5 packets, carried in Engine.IO message packets:
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
// Sans-I/O and non-throwing: malformed input is errc::bad_input with a reason.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/error.hpp"

namespace redchat::socketio {

enum class sio_type : char {
    connect = '0',
    disconnect = '1',
    event = '2',
    ack = '3',
    connect_error = '4',
    binary_event = '5',
    binary_ack = '6',
};

struct sio_packet {
    sio_type type = sio_type::event;
    std::string nsp = "/";
    std::optional<std::uint64_t> ack_id;
    std::size_t attachments = 0;  // binary packets only
    std::string data;             // raw JSON text, empty when absent
};

// Decodes and validates the packet's shape; the JSON data must parse (and for events be an
// array starting with a string event name). `max_data_bytes` bounds the JSON text.
result<sio_packet> decode(std::string_view text, std::string* reason = nullptr,
                          std::size_t max_data_bytes = 1 << 20);

// An event's name and arguments (the JSON array after the name), of an event or a binary event
// (whose arguments hold placeholders of its attachments: {"_placeholder":true,"num":i}).
struct event {
    std::string name;
    boost::json::array args;
};
result<event> parse_event(const sio_packet& p);

// Encoders. `payload_json` is inserted as is (already valid JSON). With `attachments` > 0 the
// packet is a binary event (ack) announcing that many attachments, sent after it as binary
// messages.
std::string encode_event(std::string_view nsp, std::string_view name, std::string_view payload_json,
                         std::optional<std::uint64_t> ack_id = std::nullopt,
                         std::size_t attachments = 0);
std::string encode_ack(std::string_view nsp, std::uint64_t ack_id, std::string_view args_json_array,
                       std::size_t attachments = 0);
std::string encode_connect(std::string_view nsp, std::string_view socket_id);
std::string encode_connect_error(std::string_view nsp, std::string_view message);

// A client's namespace, fit to be echoed back: at most 64 of its bytes, every byte outside
// [A-Za-z0-9/_.~-] percent-encoded (so no comma, quote, control or invalid UTF-8 goes back out).
std::string echoable_namespace(std::string_view nsp);

}  // namespace redchat::socketio
