#pragma once
// A Socket.IO 5 socket over one Engine.IO session: decodes the client's packets, puts binary
// attachments back into the packets that announced them, keeps the namespaces the client joined,
// and hands connects, leaves and events to the application's hooks; encodes what the application
// emits (with binary attachments too). The application decides what it accepts: the chat's socket
// refuses binary data and namespaces other than "/" by its own policy; the conformance server
// accepts both.

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socketio/assembler.hpp"
#include "socketio/socketio_codec.hpp"
#include "transport/eio_session.hpp"

namespace redchat::transport {

class sio_socket : public eio_handler {
  public:
    // The JSON text of one packet, and binary attachments per packet (0: binary refused).
    using limits = socketio::packet_assembler::limits;

    sio_socket(eio_session& session, limits lim) : session_(session), assembler_(lim) {}

    eio_session& session() const { return session_; }

    // An event, `args_json` its arguments after the name (JSON values joined by commas, or
    // empty). With attachments, `args_json` holds their placeholders
    // ({"_placeholder":true,"num":i}) and the attachments follow as binary messages.
    void emit(std::string_view nsp, std::string_view name, std::string_view args_json,
              const std::vector<std::string>& attachments = {},
              std::optional<std::uint64_t> ack_id = std::nullopt);
    // The answer to the client's event `ack_id`: `args_array_json` is a JSON array.
    void ack(std::string_view nsp, std::uint64_t ack_id, std::string_view args_array_json,
             const std::vector<std::string>& attachments = {});
    // A Socket.IO packet already encoded (its text, without the Engine.IO `4`).
    void send_packet(std::string_view packet);

    bool connected(std::string_view nsp) const;

    // eio_handler
    boost::asio::awaitable<void> on_message(socketio::eio_packet packet) final;
    bool can_pipeline(const socketio::eio_packet& packet) const override;
    bool joined() const override { return ever_connected_; }

  protected:
    // A client's event, its attachments in place of its placeholders' numbers.
    struct incoming_event {
        std::string nsp;
        std::string name;
        boost::json::array args;
        std::vector<std::string> attachments;
        std::optional<std::uint64_t> ack_id;
    };

    // The client asks to connect to `nsp` with its CONNECT payload (JSON object text, or empty):
    // nullopt accepts, a message refuses (a CONNECT_ERROR with it); a session it closed gets
    // no answer at all.
    virtual boost::asio::awaitable<std::optional<std::string>> accept(
        const std::string& nsp, std::string_view auth_json) = 0;
    // After the CONNECT answer is queued (and only while the session is open).
    virtual boost::asio::awaitable<void> on_connect(const std::string& nsp,
                                                    std::string_view auth_json) = 0;
    // The client left `nsp` (a DISCONNECT packet). The session's end is eio_handler::on_close.
    virtual boost::asio::awaitable<void> on_disconnect(const std::string& nsp) = 0;
    virtual boost::asio::awaitable<void> on_event(incoming_event ev) = 0;
    // An event for a namespace the client has not joined. Ignored by default.
    virtual void on_unconnected_event(const std::string& nsp) { (void)nsp; }
    // A packet this socket cannot take (malformed, a binary packet out of place or over the
    // limits). The default, as the Socket.IO reference does, closes the session.
    virtual void on_protocol_error(std::string_view reason);

  private:
    struct namespace_state {
        // The socket id of this namespace (12 random characters), kept across reconnects; in
        // place rather than in a std::string, which would be twice the size.
        static constexpr std::size_t id_size = 12;
        std::array<char, id_size> id{};
        bool has_id = false;
        bool connected = false;
        std::string_view id_text() const { return {id.data(), has_id ? id_size : 0}; }
    };
    boost::asio::awaitable<void> dispatch(socketio::sio_packet packet,
                                          std::vector<std::string> attachments);
    boost::asio::awaitable<void> connect(const socketio::sio_packet& packet);

    // The root namespace's state, or null for another one that was never accepted.
    const namespace_state* find_namespace(std::string_view nsp) const;
    namespace_state& make_namespace(const std::string& nsp);

    eio_session& session_;
    socketio::packet_assembler assembler_;
    // The namespaces a client connected: "/", which nearly every client joins, in place (its
    // id is empty until it is accepted), any other in a map made on first use, so that a
    // socket of the chat holds no map node.
    namespace_state root_;
    bool ever_connected_ = false;  // a namespace was connected once (the connect timeout)
    std::unique_ptr<std::map<std::string, namespace_state, std::less<>>> others_;
};

}  // namespace redchat::transport
