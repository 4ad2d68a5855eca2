#include "chat/realtime.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cmath>
#include <variant>

#include "chat/bus_event.hpp"
#include "chat/message.hpp"
#include "chat/patiently.hpp"
#include "chat/rules.hpp"

namespace redchat::chat {
namespace {

using boost::asio::awaitable;
namespace asio = boost::asio;
namespace json = boost::json;

event_outcome refuse(std::string reason, bool rate_limited = false) {
    event_outcome o;
    o.rate_limited = rate_limited;
    o.ack_json = "[{\"error\":" + json_quote(reason) + "}]";
    o.error = std::move(reason);
    return o;
}

std::optional<std::string> room_id_of(const json::value& v) {
    if (v.is_string())
        return std::string(v.get_string());
    if (v.is_int64() && v.get_int64() >= 0)
        return std::to_string(v.get_int64());
    return std::nullopt;
}

// The room id of a protocol-1 event whose first argument is an object with a `roomId`.
std::optional<std::string> event_room(const json::array& args) {
    if (args.empty() || !args[0].is_object())
        return std::nullopt;
    const auto* v = args[0].get_object().if_contains("roomId");
    auto room = v != nullptr ? room_id_of(*v) : std::nullopt;
    if (!room || !is_room_id(*room))
        return std::nullopt;
    return room;
}

// A position in a room: a message id of ours or a date (cursor_score), as a string, or a date
// as a number.
std::optional<double> position_of(const json::value* v) {
    if (v == nullptr)
        return std::nullopt;
    if (v->is_string())
        return cursor_score(v->get_string());
    if (v->is_number()) {
        boost::system::error_code ec;
        const double d = v->to_number<double>(ec);
        if (!ec && std::isfinite(d) && d >= 0)
            return d;
    }
    return std::nullopt;
}

// The text of a message event, checked: valid UTF-8, 1 to `max_chars` code points.
std::variant<std::string, event_outcome> message_text(const json::value* v, std::size_t max_chars) {
    if (v == nullptr || !v->is_string())
        return refuse("The message text must be a string");
    std::string text(v->get_string());
    const auto length = utf8_length(text);
    if (!length)
        return refuse("The message must be valid UTF-8");
    if (*length == 0)
        return refuse("The message is empty");
    if (*length > max_chars)
        return refuse("The message is longer than " + std::to_string(max_chars) + " characters");
    return text;
}

// A message id of ours (the only ones that can be edited or reacted to) and its score.
std::optional<std::pair<std::string, double>> own_message_id(const json::object& o) {
    const auto* v = o.if_contains("messageId");
    if (v == nullptr || !v->is_string())
        return std::nullopt;
    const std::string id(v->get_string());
    if (id.find('-') == std::string::npos)
        return std::nullopt;
    auto score = cursor_score(id);
    if (!score)
        return std::nullopt;
    return std::make_pair(id, *score);
}

// A reaction: 1 to 32 bytes of valid UTF-8, no spaces or control characters.
bool is_reaction(std::string_view emoji) {
    if (emoji.empty() || emoji.size() > 32 || !utf8_length(emoji))
        return false;
    return std::none_of(emoji.begin(), emoji.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

// The message an edit, a delete or a reaction is about.
struct message_target {
    std::string room;
    std::string id;
    double score = 0;
};

std::variant<message_target, event_outcome> message_target_of(const client_socket& socket,
                                                              const json::array& args) {
    if (!socket.account)
        return refuse("Log in first");
    auto room = event_room(args);
    if (!room)
        return refuse("Invalid room id");
    auto id = own_message_id(args[0].get_object());
    if (!id)
        return refuse("messageId must be the id of a message");
    return message_target{std::move(*room), std::move(id->first), id->second};
}

event_outcome change_refusal(change_outcome o);

// A change's outcome as an ack: its JSON between `before` and `after`, or the refusal.
event_outcome change_acked(result<message_change> changed, std::string_view before,
                           std::string_view after) {
    if (!changed)
        return refuse("Storage is unavailable, please try again");
    if (changed->outcome != change_outcome::ok)
        return change_refusal(changed->outcome);
    event_outcome ok;
    ok.ack_json = std::string(before) + changed->json + std::string(after);
    return ok;
}

event_outcome change_refusal(change_outcome o) {
    switch (o) {
        case change_outcome::not_found:
            return refuse("No such message");
        case change_outcome::forbidden:
            return refuse("Only its author can change a message");
        case change_outcome::too_many:
            return refuse("This message has too many different reactions");
        case change_outcome::ok:
            break;
    }
    return refuse("Unexpected outcome");
}

}  // namespace

connect_options announced_options(std::string_view connect_payload) {
    connect_options out;
    if (connect_payload.empty())
        return out;
    boost::system::error_code ec;
    auto v = json::parse(connect_payload, ec);
    if (ec || !v.is_object())
        return out;
    const auto& o = v.get_object();
    const auto* p = o.if_contains("redchat");
    if (p == nullptr || !p->is_int64() || p->get_int64() < 1)
        return out;
    out.protocol = static_cast<int>(std::min<std::int64_t>(p->get_int64(), newest_protocol));
    const auto* presence = o.if_contains("presence");
    out.watches_presence =
        presence != nullptr && presence->is_string() && presence->get_string() == "watched";
    return out;
}

realtime::realtime(store& db, hub& local, const config::server_config& cfg, std::string server_id,
                   std::string instance_id, clock_fn now, keyed_buckets& user_rates)
    : db_(db),
      hub_(local),
      cfg_(cfg),
      server_id_(std::move(server_id)),
      instance_id_(std::move(instance_id)),
      now_(std::move(now)),
      user_rates_(user_rates) {}

awaitable<bool> realtime::connecting(client_socket& socket) {
    hub_.add(socket);
    if (socket.account) {
        // compat-spec §6.7: the server joins the socket to every room of its user, since the
        // reference client never re-joins after a reconnect. Without them the socket would
        // miss its private rooms for good, so a failed read is tried again (Redis may be
        // coming up, as right after a restart) and, failing that, the connect is refused.
        const std::string& id = socket.account->id;
        auto rooms = co_await patiently(2 * cfg_.redis_timeout, [&] { return db_.user_rooms(id); });
        if (!rooms) {
            hub_.remove(socket);
            co_return false;
        }
        std::vector<std::string> joined_rooms;
        for (auto& r : *rooms) {
            if (is_room_id(r))
                joined_rooms.push_back(std::move(r));
        }
        joined_rooms.emplace_back(general_room_id);
        hub_.join_rooms(socket, joined_rooms);
    }
    co_await hub_.routes_ready(socket);
    co_return true;
}

awaitable<result<std::optional<user>>> realtime::identify(std::string session_id) {
    auto uid = co_await patiently(2 * cfg_.redis_timeout,
                                  [&] { return db_.session_user(session_id, cfg_.session_ttl); });
    if (!uid)
        co_return failure<std::optional<user>>(uid.error());
    if (!*uid)
        co_return std::optional<user>{};  // no such session (or it ended): anonymous
    std::vector<std::string> ids(1, **uid);
    auto names = co_await patiently(2 * cfg_.redis_timeout, [&] { return db_.usernames(ids); });
    if (!names)
        co_return failure<std::optional<user>>(names.error());
    if (!(*names)[0])
        co_return std::optional<user>{};  // the account is gone
    co_return std::optional<user>(user{**uid, *(*names)[0]});
}

awaitable<void> realtime::connected(client_socket& socket) {
    using state = client_socket::presence_state;
    if (!socket.in_hub()) {  // the transport did not call connecting()
        const bool in = co_await connecting(socket);
        if (!in)
            co_return;
    }
    if (!socket.account || socket.presence != state::none)
        co_return;  // a repeated connect: the socket is counted once
    const user account = *socket.account;
    socket.presence = state::joining;
    socket.leave_pending = false;
    hub_.count_presence(account.id, 1);
    auto joined = co_await db_.presence_join(
        instance_id_, account.id,
        make_envelope(server_id_, "user.connected",
                      user_event_data(account.id, account.username, true)),
        cfg_.presence_ttl);
    // A failed join is not counted in Redis, so its leave must not be either; the socket stays
    // counted here, and the periodic rewrite of this instance's presence puts it in Redis.
    socket.presence = joined ? state::joined : state::failed;
    if (socket.leave_pending) {
        // The socket went while its join was on the way: the leave follows it, in order.
        socket.leave_pending = false;
        co_await leave(socket, account);
    }
}

awaitable<void> realtime::disconnected(client_socket& socket) {
    hub_.remove(socket);
    if (!socket.account)
        co_return;
    if (socket.presence == client_socket::presence_state::joining) {
        socket.leave_pending = true;  // connected() leaves once its join is done
        co_return;
    }
    co_await leave(socket, *socket.account);
}

awaitable<void> realtime::leave(client_socket& socket, user account) {
    const auto was = socket.presence;
    socket.presence = client_socket::presence_state::none;
    if (was == client_socket::presence_state::none)
        co_return;  // never counted, or already gone
    if (was == client_socket::presence_state::joined && !shutting_down_) {
        (void)co_await db_.presence_leave(
            instance_id_, account.id,
            make_envelope(server_id_, "user.disconnected",
                          user_event_data(account.id, account.username, false)));
    }
    // Counted here until its leave is done: a rewrite of the presence state in between keeps
    // the user online rather than flapping it offline.
    forget_local(account.id);
}

void realtime::forget_local(const std::string& user_id) {
    hub_.count_presence(user_id, -1);
}

awaitable<event_outcome> realtime::on_event(client_socket& socket, std::string name,
                                            json::array args) {
    struct counted {
        std::size_t& n;
        explicit counted(std::size_t& c) : n(c) { ++n; }
        ~counted() { --n; }
    } busy(in_flight_);
    if (name == "message")
        co_return co_await send(socket, std::move(args));
    if (name == "room.join")
        co_return co_await join(socket, std::move(args));
    // Protocol 1 (docs/realtime.md): unknown to a socket that did not announce it.
    if (socket.protocol >= 1) {
        if (name == "typing")
            co_return co_await typing(socket, std::move(args));
        if (name == "room.read")
            co_return co_await mark_read(socket, std::move(args));
        if (name == "room.sync")
            co_return co_await sync(socket, std::move(args));
        if (name == "message.edit")
            co_return co_await edit(socket, std::move(args), false);
        if (name == "message.delete")
            co_return co_await edit(socket, std::move(args), true);
        if (name == "message.react")
            co_return co_await react(socket, std::move(args));
        if (name == "presence.watch")
            co_return co_await watch_presence(socket, std::move(args));
    }
    co_return refuse("Unknown event: " + name.substr(0, 64));
}

awaitable<bool> realtime::is_member(client_socket& socket, std::string room_id) {
    if (socket.rooms().contains(room_id))
        co_return true;
    // Rooms added since the socket connected (POST /room, or a room made elsewhere).
    auto member = co_await db_.is_room_member(socket.account->id, room_id);
    if (member && *member) {
        std::vector<std::string> room(1, room_id);
        hub_.join_rooms(socket, room);
        co_await hub_.routes_ready(socket);
        co_return true;
    }
    co_return false;
}

awaitable<event_outcome> realtime::join(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in before joining a room");
    if (args.empty())
        co_return refuse("room.join needs a room id");
    auto room = room_id_of(args[0]);
    if (!room || !is_room_id(*room))
        co_return refuse("Invalid room id");
    if (!co_await is_member(socket, *room))
        co_return refuse("You are not a member of this room");
    co_return event_outcome{};
}

void realtime::set_bus_congested(bool congested) {
    bus_congested_ = congested;
    if (!congested) {
        for (auto* t : bus_waiters_)
            t->cancel();  // each waiter resumes later and takes itself off the list
    }
}

awaitable<void> realtime::wait_for_bus() {
    if (!bus_congested_)
        co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, max_bus_wait);
    bus_waiters_.push_back(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(bus_waiters_, &timer);
}

awaitable<event_outcome> realtime::send(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in before sending messages");
    if (args.empty() || !args[0].is_object())
        co_return refuse("A message must be an object");
    const auto& o = args[0].get_object();
    // compat-spec §6.1: `from` and `date` come from the session and our clock, never the client.
    const auto* room_value = o.if_contains("roomId");
    const auto* text_value = o.if_contains("message");
    auto room = room_value != nullptr ? room_id_of(*room_value) : std::nullopt;
    if (!room || !is_room_id(*room))
        co_return refuse("Invalid room id");
    auto checked = message_text(text_value, cfg_.limit.max_message_chars);
    if (auto* refused = std::get_if<event_outcome>(&checked))
        co_return *refused;
    const std::string text = std::get<std::string>(std::move(checked));
    std::string client_id;
    if (const auto* cid = o.if_contains("clientId"); cid != nullptr && !cid->is_null()) {
        if (!cid->is_string() || !is_client_id(cid->get_string()))
            co_return refuse("clientId must be 1 to 64 letters, digits, '_' or '-'");
        client_id = std::string(cid->get_string());
    }
    if (auto refused = over_rate(socket))
        co_return *refused;
    if (!co_await is_member(socket, *room))
        co_return refuse("You are not a member of this room");

    // Checked, and now held back while the process cannot deliver what it stores.
    co_await wait_for_bus();
    const user sender = *socket.account;
    const bool group = is_group_room_id(*room);
    auto posted = co_await db_.post_message(*room, sender.id, text, now_(), server_id_,
                                            std::move(client_id), group);
    if (!posted) {
        // A deadline missed or a connection lost with the script in flight: Redis may have
        // stored (and delivered) it. Say so, rather than "not stored", so that a client does
        // not resend blindly.
        const auto ec = posted.error();
        const bool unknown = ec == make_error_code(errc::redis_timeout) ||
                             ec == make_error_code(errc::redis_lost) ||
                             ec == make_error_code(errc::redis_unreplicated);
        event_outcome failed =
            refuse(unknown ? "The message may or may not have been stored: " + ec.message()
                           : "The message was not stored: " + ec.message());
        failed.ack_json = "[{\"error\":" + json_quote(*failed.error) +
                          (unknown ? ",\"stored\":\"unknown\"}]" : ",\"stored\":false}]");
        co_return failed;
    }

    if (posted->not_member) {
        hub_.leave_room(socket, *room);  // removed meanwhile: the live event is on its way
        co_return refuse("You are not a member of this room");
    }
    if (posted->first_in_room && !posted->duplicate) {
        if (auto members = private_room_members(*room)) {
            std::vector<std::string> ids;
            ids.push_back(members->first);
            ids.push_back(members->second);
            auto names = co_await db_.usernames(std::move(ids));
            if (names && (*names)[0] && (*names)[1]) {
                (void)co_await db_.publish(
                    *room, make_envelope(server_id_, "show.room",
                                         show_room_data(*room, *(*names)[0], *(*names)[1])));
            }
        }
    }
    event_outcome ok;
    ok.ack_json = "[" + posted->json + "]";
    co_return ok;
}

awaitable<event_outcome> realtime::typing(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in first");
    auto room = event_room(args);
    if (!room)
        co_return refuse("Invalid room id");
    // A signal within the interval of the last is dropped: clients repeat it while typing.
    const auto now = std::chrono::steady_clock::now();
    event_outcome ok;
    if (now - socket.active().last_typing < cfg_.limit.typing_interval) {
        ok.ack_json = R"([{"dropped":true}])";
        co_return ok;
    }
    if (!co_await is_member(socket, *room))
        co_return refuse("You are not a member of this room");
    socket.active().last_typing = now;
    const user& who = *socket.account;
    auto published = co_await db_.publish_event(
        *room, make_envelope(server_id_, "typing", typing_data(*room, who.id, who.username)));
    if (!published)
        co_return refuse("Storage is unavailable, please try again");
    ok.ack_json = "[{}]";
    co_return ok;
}

awaitable<event_outcome> realtime::mark_read(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in first");
    auto room = event_room(args);
    if (!room)
        co_return refuse("Invalid room id");
    auto position = position_of(args[0].get_object().if_contains("messageId"));
    if (!position)
        co_return refuse("messageId must be a message id or a date");
    const auto now = std::chrono::steady_clock::now();
    auto& bucket = socket.active().read_bucket;
    if (!bucket)
        bucket.emplace(cfg_.limit.reads_per_second, cfg_.limit.read_burst, now);
    if (!bucket->try_take(now))
        co_return refuse("You are marking rooms read too fast, slow down", true);
    if (!co_await is_member(socket, *room))
        co_return refuse("You are not a member of this room");
    const std::string user_id = socket.account->id;
    auto raised = co_await db_.mark_read(
        *room, user_id, *position,
        make_envelope(server_id_, "room.read", room_read_data(*room, user_id)));
    if (!raised)
        co_return refuse("Storage is unavailable, please try again");
    event_outcome ok;
    if (*raised)
        ok.ack_json = "[{\"date\":" + format_date(**raised) + "}]";
    else
        ok.ack_json = "[{\"date\":null}]";
    co_return ok;
}

std::optional<event_outcome> realtime::over_rate(client_socket& socket) {
    // Token buckets per connection and per user (all threads): a flood is refused, not queued.
    const auto now = std::chrono::steady_clock::now();
    auto& bucket = socket.active().send_bucket;
    if (!bucket)
        bucket.emplace(cfg_.limit.messages_per_second, cfg_.limit.message_burst, now);
    if (!bucket->try_take(now) || user_rates_.try_take(socket.account->id, now).count() > 0) {
        return refuse("You are sending messages too fast, slow down", true);
    }
    return std::nullopt;
}

awaitable<event_outcome> realtime::edit(client_socket& socket, json::array args, bool remove) {
    auto target = message_target_of(socket, args);
    if (auto* refused = std::get_if<event_outcome>(&target))
        co_return *refused;
    auto& [room, id, score] = std::get<message_target>(target);
    std::string text;
    if (!remove) {
        auto checked =
            message_text(args[0].get_object().if_contains("message"), cfg_.limit.max_message_chars);
        if (auto* refused = std::get_if<event_outcome>(&checked))
            co_return *refused;
        text = std::get<std::string>(std::move(checked));
    }
    if (auto refused = co_await may_change(socket, room))
        co_return *refused;
    auto changed = co_await db_.edit_message(room, id, score, socket.account->id, std::move(text),
                                             remove, now_(), server_id_);
    co_return change_acked(std::move(changed), "[", "]");
}

awaitable<event_outcome> realtime::react(client_socket& socket, json::array args) {
    auto target = message_target_of(socket, args);
    if (auto* refused = std::get_if<event_outcome>(&target))
        co_return *refused;
    auto& [room, id, score] = std::get<message_target>(target);
    const auto* emoji = args[0].get_object().if_contains("emoji");
    if (emoji == nullptr || !emoji->is_string() || !is_reaction(emoji->get_string()))
        co_return refuse("emoji must be 1 to 32 bytes without spaces");
    if (auto refused = co_await may_change(socket, room))
        co_return *refused;
    auto changed = co_await db_.toggle_reaction(room, id, score, socket.account->id,
                                                std::string(emoji->get_string()),
                                                cfg_.limit.max_reaction_kinds, server_id_);
    co_return change_acked(std::move(changed), "[{\"reactions\":", "}]");
}

awaitable<std::optional<event_outcome>> realtime::may_change(client_socket& socket,
                                                             std::string room_id) {
    if (auto refused = over_rate(socket))
        co_return refused;
    if (!co_await is_member(socket, std::move(room_id)))
        co_return refuse("You are not a member of this room");
    co_return std::nullopt;
}

// Presence by subscription: from now on this socket gets user.connected / user.disconnected
// only for these users. The ack says which of them are online now.
awaitable<event_outcome> realtime::watch_presence(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in first");
    const json::array* list = nullptr;
    if (!args.empty() && args[0].is_object()) {
        if (const auto* u = args[0].get_object().if_contains("users"); u != nullptr)
            list = u->if_array();
    }
    if (list == nullptr)
        co_return refuse("presence.watch needs {\"users\":[user ids]}");
    if (list->size() > max_watched_users)
        co_return refuse("At most " + std::to_string(max_watched_users) + " users can be watched");
    std::vector<std::string> ids;
    ids.reserve(list->size());
    for (const auto& v : *list) {
        if (!v.is_string() || !is_user_id(v.get_string()))
            co_return refuse("Invalid user id");
        ids.emplace_back(v.get_string());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    hub_.watch_presence(socket, ids);
    co_await hub_.routes_ready(socket);  // events for these users reach it from now on
    auto online = co_await db_.online_flags(ids);
    if (!online)
        co_return refuse("Storage is unavailable, please try again");
    std::string out = "[{\"online\":[";
    bool first = true;
    for (std::size_t i = 0; i < ids.size() && i < online->size(); ++i) {
        if (!(*online)[i])
            continue;
        if (!first)
            out += ',';
        first = false;
        out += json_quote(ids[i]);
    }
    out += "]}]";
    event_outcome ok;
    ok.ack_json = std::move(out);
    co_return ok;
}

awaitable<event_outcome> realtime::sync(client_socket& socket, json::array args) {
    if (!socket.account)
        co_return refuse("Log in first");
    auto room = event_room(args);
    if (!room)
        co_return refuse("Invalid room id");
    const auto& o = args[0].get_object();
    auto after = position_of(o.if_contains("after"));
    if (!after)
        co_return refuse("after must be a message id or a date");
    std::size_t limit = cfg_.limit.max_sync_messages;
    if (const auto* l = o.if_contains("limit"); l != nullptr) {
        if (!l->is_int64() || l->get_int64() < 1)
            co_return refuse("limit must be a positive integer");
        limit = std::min<std::size_t>(limit, static_cast<std::size_t>(l->get_int64()));
    }
    if (!co_await is_member(socket, *room))
        co_return refuse("You are not a member of this room");
    // One more than asked for says whether there is more.
    auto page = co_await db_.room_messages_after(*room, *after, limit + 1);
    if (!page)
        co_return refuse("Storage is unavailable, please try again");
    const bool more = page->size() > limit;
    std::string out = "[{\"messages\":[";
    std::size_t n = 0;
    for (const auto& text : *page) {
        if (n == limit)
            break;
        auto m = parse_message(text);
        if (!m)
            continue;  // unreadable data of another port: skipped, as in history
        if (n++ > 0)
            out += ',';
        out += to_json(*m);
    }
    out += "],\"more\":";
    out += more ? "true" : "false";
    out += "}]";
    event_outcome ok;
    ok.ack_json = std::move(out);
    co_return ok;
}

}  // namespace redchat::chat
