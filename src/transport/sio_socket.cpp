#include "transport/sio_socket.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "core/random_id.hpp"

namespace redchat::transport {

namespace asio = boost::asio;
using asio::awaitable;

void sio_socket::send_packet(std::string_view packet) {
    std::string text;
    text.reserve(1 + packet.size());
    text += '4';
    text += packet;
    session_.send(text);
}

void sio_socket::emit(std::string_view nsp, std::string_view name, std::string_view args_json,
                      const std::vector<std::string>& attachments,
                      std::optional<std::uint64_t> ack_id) {
    send_packet(socketio::encode_event(nsp, name, args_json, ack_id, attachments.size()));
    for (const auto& a : attachments)
        session_.send_binary(a);
}

void sio_socket::ack(std::string_view nsp, std::uint64_t ack_id, std::string_view args_array_json,
                     const std::vector<std::string>& attachments) {
    send_packet(socketio::encode_ack(nsp, ack_id, args_array_json, attachments.size()));
    for (const auto& a : attachments)
        session_.send_binary(a);
}

const sio_socket::namespace_state* sio_socket::find_namespace(std::string_view nsp) const {
    if (nsp == "/")
        return &root_;
    if (!others_)
        return nullptr;
    auto it = others_->find(nsp);
    return it == others_->end() ? nullptr : &it->second;
}

sio_socket::namespace_state& sio_socket::make_namespace(const std::string& nsp) {
    if (nsp == "/")
        return root_;
    if (!others_)
        others_ = std::make_unique<std::map<std::string, namespace_state, std::less<>>>();
    return (*others_)[nsp];
}

bool sio_socket::connected(std::string_view nsp) const {
    const auto* state = find_namespace(nsp);
    return state != nullptr && state->connected;
}

void sio_socket::on_protocol_error(std::string_view reason) {
    (void)reason;
    session_.close();
}

bool sio_socket::can_pipeline(const socketio::eio_packet& packet) const {
    // A plain event of a joined namespace; never while attachments are awaited (the next
    // message must be one of them).
    if (assembler_.awaiting_attachments() || !packet.data.starts_with('2'))
        return false;
    std::string_view nsp = "/";
    if (packet.data.size() > 1 && packet.data[1] == '/') {
        const auto comma = packet.data.find(',');
        nsp = std::string_view(packet.data)
                  .substr(1, comma == std::string::npos ? std::string::npos : comma - 1);
    }
    return connected(nsp);
}

awaitable<void> sio_socket::on_message(socketio::eio_packet packet) {
    std::string reason;
    auto whole = packet.binary ? assembler_.feed_binary(std::move(packet.data), &reason)
                               : assembler_.feed_text(packet.data, &reason);
    if (!whole) {
        on_protocol_error(reason);
        co_return;
    }
    if (!*whole)
        co_return;  // attachments are awaited
    socketio::assembled_packet complete = std::move(**whole);
    co_await dispatch(std::move(complete.packet), std::move(complete.attachments));
}

awaitable<void> sio_socket::connect(const socketio::sio_packet& packet) {
    if (const auto* known = find_namespace(packet.nsp); known != nullptr && known->connected) {
        // A repeated connect keeps the one socket: same id, events still delivered once.
        send_packet(socketio::encode_connect(packet.nsp, known->id_text()));
        co_return;
    }
    auto refusal = co_await accept(packet.nsp, packet.data);
    if (session_.closed())
        co_return;  // closed while it was being accepted: nothing to answer
    if (refusal) {
        send_packet(
            socketio::encode_connect_error(socketio::echoable_namespace(packet.nsp), *refusal));
        co_return;
    }
    auto& state = make_namespace(packet.nsp);
    if (!state.has_id) {
        const std::string id = random_token(namespace_state::id_size);
        std::copy(id.begin(), id.end(), state.id.begin());
        state.has_id = true;
    }
    send_packet(socketio::encode_connect(packet.nsp, state.id_text()));
    // The answer itself can overflow a full queue and close the session: a closed session
    // connects nowhere.
    if (session_.closed())
        co_return;
    state.connected = true;
    ever_connected_ = true;
    co_await on_connect(packet.nsp, packet.data);
}

awaitable<void> sio_socket::dispatch(socketio::sio_packet packet,
                                     std::vector<std::string> attachments) {
    switch (packet.type) {
        case socketio::sio_type::connect:
            co_await connect(packet);
            break;
        case socketio::sio_type::disconnect: {
            if (connected(packet.nsp)) {
                make_namespace(packet.nsp).connected = false;
                co_await on_disconnect(packet.nsp);
            }
            break;
        }
        case socketio::sio_type::event:
        case socketio::sio_type::binary_event: {
            if (!connected(packet.nsp)) {
                on_unconnected_event(packet.nsp);
                break;
            }
            auto ev = socketio::parse_event(packet);
            if (!ev) {
                on_protocol_error("Malformed event");
                break;
            }
            // A named event, not a temporary in the co_await: GCC 12 destroys such a
            // temporary twice.
            incoming_event event{std::move(packet.nsp), std::move(ev->name), std::move(ev->args),
                                 std::move(attachments), packet.ack_id};
            co_await on_event(std::move(event));
            break;
        }
        case socketio::sio_type::ack:
        case socketio::sio_type::binary_ack:
        case socketio::sio_type::connect_error:
            break;  // we never ask clients for acks; a CONNECT_ERROR is the server's to send
    }
}

}  // namespace redchat::transport
