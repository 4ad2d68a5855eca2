#include "transport/chat_socket.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "chat/message.hpp"
#include "transport/sio_socket.hpp"

namespace redchat::transport {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

class chat_socket final : public sio_socket, public chat::client_socket {
  public:
    chat_socket(eio_session& session, chat_application& app)
        : sio_socket(session, {app.config().limit.max_packet_bytes, 0}), app_(app) {}

    // Nothing before the connect is answered: the socket is in the hub from connecting() on.
    void deliver(const packet_ptr& packet) override {
        if (joined_)
            session().deliver(packet);
    }

    void on_close() override {
        user_slot_.reset();  // the user's socket count drops now, not when the last owner lets go
        joined_ = false;
        // Whether or not its connect was answered: the socket is in the hub from connecting()
        // on (and leaving twice, after a namespace disconnect, is harmless).
        // Posted, not dispatched: the close may come from inside hub::deliver, which must not
        // see its socket set change under its iteration.
        asio::post(session().context(), [self = session().shared_from_this(), this] {
            asio::co_spawn(self->context(), leave(self, *this), asio::detached);
        });
    }

  private:
    static awaitable<void> leave(std::shared_ptr<eio_session> keep, chat_socket& socket) {
        (void)keep;
        co_await socket.app_.realtime().disconnected(socket);
    }

    void send_error(std::string_view reason) {
        emit("/", "error", "{\"message\":" + chat::json_quote(reason) + "}");
    }

    awaitable<std::optional<std::string>> accept(const std::string& nsp,
                                                 std::string_view auth_json) override {
        if (nsp != "/")
            co_return "Invalid namespace";
        // The handshake's cookie decides who this socket is, for its whole life: looked up on
        // the first connect, where a Redis failure can still close it.
        if (auto login = session().take_login(); login && !identified_) {
            identified_ = true;
            const std::string cookie = std::move(*login);
            auto who = co_await app_.realtime().identify(cookie);
            if (!who) {
                // Not "anonymous": Redis could not say. Closed without an answer, so that the
                // client reconnects by itself (a connect_error makes socket.io-client give up).
                session().close();
                co_return std::nullopt;
            }
            account = std::move(*who);
        }
        // A closed session takes no place: on_close() gave its slot back already.
        if (account && !user_slot_ && !session().closed()) {
            user_slot_ = app_.per_user().try_acquire(account->id);
            if (!user_slot_) {
                app_.stats().refused_connections.fetch_add(1, std::memory_order_relaxed);
                co_return "Too many connections for this user";
            }
        }
        // What the client announced decides how the hub indexes it (its presence), so it is
        // known before the socket joins the hub.
        const auto announced = chat::announced_options(auth_json);
        protocol = announced.protocol;
        watches_presence = announced.watches_presence;
        const bool in = co_await app_.realtime().connecting(*this);
        if (!in && !session().closed())
            session().close();  // its rooms could not be read: as above
        if (session().closed()) {
            // Closed while it was connecting (its close found it not yet in the hub, or put
            // the leave before it joined): it leaves now.
            co_await app_.realtime().disconnected(*this);
        }
        co_return std::nullopt;
    }

    awaitable<void> on_connect(const std::string& nsp, std::string_view auth_json) override {
        (void)nsp;
        (void)auth_json;  // read by accept()
        joined_ = true;
        co_await app_.realtime().connected(*this);
    }

    awaitable<void> on_disconnect(const std::string& nsp) override {
        (void)nsp;
        if (!joined_)
            co_return;
        joined_ = false;
        co_await app_.realtime().disconnected(*this);
    }

    awaitable<void> on_event(incoming_event ev) override {
        auto outcome =
            co_await app_.realtime().on_event(*this, std::move(ev.name), std::move(ev.args));
        if (outcome.rate_limited)
            app_.stats().rate_limited.fetch_add(1, std::memory_order_relaxed);
        if (session().closed())
            co_return;
        if (ev.ack_id)
            ack("/", *ev.ack_id, outcome.ack_json);
        else if (outcome.error)
            send_error(*outcome.error);
    }

    void on_unconnected_event(const std::string& nsp) override {
        if (nsp == "/")
            send_error("Connect to the namespace first");
    }

    // The chat answers bad input with an `error` event and keeps the connection.
    void on_protocol_error(std::string_view reason) override { send_error(reason); }

    chat_application& app_;
    bool identified_ = false;  // the handshake's cookie was looked up (once per socket)
    bool joined_ = false;      // connected to "/" and not yet left (realtime knows this socket)
    std::optional<connection_limiter::slot> user_slot_;  // for the per-user socket cap
};

// Every open socket of the chat holds one (bench/RESULTS.md, "Idle connections"): it stays
// within jemalloc's 256-byte class.
static_assert(sizeof(chat_socket) <= 256, "a chat socket grew out of its size class");

}  // namespace

awaitable<std::unique_ptr<eio_handler>> chat_application::open(eio_session& session) {
    co_return std::make_unique<chat_socket>(session, *this);
}

}  // namespace redchat::transport
