#pragma once
// What the chat domain needs from storage, named for the need. redis/chat_store implements it
// with the exact key layout of docs/redis-schema.md; tests use an in-memory fake.
//
// Every call is a coroutine on the caller's I/O thread and fails with a value (errc::redis_*)
// rather than an exception. Parameters are taken by value (they outlive suspension).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace redchat::chat {

struct user {
    std::string id;
    std::string username;
};

struct posted_message {
    std::string json;         // the stored form, as delivered
    bool first_in_room;       // the room had no message before (a new private room shows up)
    bool duplicate = false;   // its client id was stored before: `json` is that message
    bool not_member = false;  // a group room's sender is no member: nothing was stored
};

// A group room (ours): its name, owner and members.
struct group_info {
    std::string room_id;
    std::string name;
    std::string owner;                 // a user id
    std::vector<std::string> members;  // user ids, the owner among them
};

// What a change of a group came to. `ok`: `group` is the group after it (and the change was
// announced on our channel, with `removed` the users who left or were removed).
enum class group_outcome : std::uint8_t {
    ok,
    not_found,
    forbidden,
    too_many,
    no_such_user,
    not_member
};
struct group_change {
    group_outcome outcome = group_outcome::ok;
    group_info group;
    std::string user_id;  // no_such_user: which
};

// What an edit, a delete or a reaction came to. `ok`: `json` is the message after it (edits,
// deletes) or the message's reactions, `{"👍":["1","2"]}` (reactions).
enum class change_outcome : std::uint8_t { ok, not_found, forbidden, too_many };
struct message_change {
    change_outcome outcome = change_outcome::ok;
    std::string json;
};

// A user found by name.
struct user_match {
    std::string id;
    std::string username;
};

// How far a user has read in one room, and how many messages came after that.
struct room_read_state {
    std::string room_id;
    std::optional<double> read;  // the read position (a message date); nullopt: never read
    std::int64_t unread = 0;
    // The newest message counted (its date): a client adds what arrives after it.
    std::optional<double> newest;
};

// A login-throttling key ("login:user:<name>", ...) and its free attempts per window.
struct attempt_key {
    std::string key;
    std::size_t free = 0;
};

struct user_credentials {
    user account;
    std::string password_hash;
};

class store {
  public:
    template <typename T>
    using task = boost::asio::awaitable<result<T>>;

    virtual ~store() = default;

    // Health: a round trip to the backing store.
    virtual task<void> ping() = 0;

    virtual task<std::optional<user_credentials>> find_user(std::string username) = 0;
    // Registers a new user in General. nullopt when the name was taken meanwhile.
    virtual task<std::optional<user>> create_user(std::string username,
                                                  std::string password_hash) = 0;
    // Usernames of `ids`, in order; nullopt for ids that have no user.
    virtual task<std::vector<std::optional<std::string>>> usernames(
        std::vector<std::string> ids) = 0;
    virtual task<std::vector<std::string>> online_user_ids() = 0;
    virtual task<std::vector<bool>> online_flags(std::vector<std::string> ids) = 0;

    virtual task<std::vector<std::string>> user_rooms(std::string user_id) = 0;
    virtual task<bool> is_room_member(std::string user_id, std::string room_id) = 0;
    // Display names of named rooms (`room:{id}:name`), in order; nullopt for unnamed rooms.
    virtual task<std::vector<std::optional<std::string>>> room_names(
        std::vector<std::string> room_ids) = 0;
    virtual task<void> add_room(std::string room_id, std::vector<std::string> member_ids) = 0;
    virtual task<void> set_room_name(std::string room_id, std::string name) = 0;

    // Stored message JSON, newest first: `count` messages starting `offset` from the newest,
    // or, with a finite `before`, the newest `count` messages whose score is below it.
    // (A plain double, not std::optional: clang 14 corrupts an optional<double> coroutine
    // parameter under UBSan.)
    virtual task<std::vector<std::string>> room_messages(std::string room_id, std::size_t offset,
                                                         std::size_t count, double before) = 0;
    virtual task<void> append_message(std::string room_id, double score, std::string json) = 0;
    // Stored message JSON, oldest first: at most `count` messages whose score is above `after`.
    virtual task<std::vector<std::string>> room_messages_after(std::string room_id, double after,
                                                               std::size_t count) = 0;

    // A login session ends after `idle_ttl` without use, and `max_age` after login at the latest.
    virtual task<void> put_session(std::string session_id, std::string user_id,
                                   std::chrono::seconds idle_ttl, std::chrono::seconds max_age) = 0;
    // The session's user, if the session is alive; a use extends its idle expiry.
    virtual task<std::optional<std::string>> session_user(std::string session_id,
                                                          std::chrono::seconds idle_ttl) = 0;
    virtual task<void> delete_session(std::string session_id) = 0;

    // session_user and room_messages together: a store may read both in one round trip (the
    // history page, the busiest request, then costs one). The page is read whether or not the
    // session is alive: the caller shows it only to a user who may see it.
    struct session_page {
        std::optional<std::string> user_id;
        std::vector<std::string> messages;
    };
    virtual task<session_page> session_and_page(std::string session_id,
                                                std::chrono::seconds idle_ttl, std::string room_id,
                                                std::size_t offset, std::size_t count,
                                                double before);

    // Stores a message (server time `now`, made unique and increasing per room, and a new id)
    // and publishes it on the bus in one atomic step; the sender has read the room up to it.
    // A non-empty `client_id` stores it at most once per sender and client id (for a day): a
    // repeat gets the message stored the first time, marked `duplicate`, and publishes nothing.
    // A group room's message goes on our channel, and only from a current member (checked in
    // the same atomic step: `not_member` when the sender is not one).
    virtual task<posted_message> post_message(std::string room_id, std::string from,
                                              std::string text, double now, std::string server_id,
                                              std::string client_id, bool group) = 0;
    // Publishes one of the tutorial's own events about `room_id` (show.room): on `MESSAGES`
    // with the tutorial's bus, else on the room's channels (chat/routing.hpp).
    virtual task<void> publish(std::string room_id, std::string envelope) = 0;
    // Publishes one of our events about `room_id` (typing) on the room's channels: never on
    // `MESSAGES`, whose events a tutorial server re-emits to all of its clients.
    virtual task<void> publish_event(std::string room_id, std::string envelope) = 0;

    // Edits and deletes (docs/redis-schema.md): the message `message_id` (an id of ours, whose
    // date is `score`) of `room_id` gets `text` and `"edited":now`, or (`remove`) becomes
    // "Message deleted" with `"deleted":true` and loses its reactions; only when `author` wrote
    // it (`forbidden` otherwise; `not_found` for no such message, or one deleted already). One
    // atomic step, announced as `message.updated` on our channel.
    virtual task<message_change> edit_message(std::string room_id, std::string message_id,
                                              double score, std::string author, std::string text,
                                              bool remove, double now, std::string server_id) = 0;
    // Toggles `user_id`'s `emoji` on a message (not_found for no such message, or a deleted
    // one; too_many past `max_kinds` different emoji), announced as `message.reactions`.
    virtual task<message_change> toggle_reaction(std::string room_id, std::string message_id,
                                                 double score, std::string user_id,
                                                 std::string emoji, std::size_t max_kinds,
                                                 std::string server_id) = 0;
    // The reactions of messages of a room, as JSON objects; nullopt for messages without any.
    virtual task<std::vector<std::optional<std::string>>> reactions(
        std::string room_id, std::vector<std::string> message_ids) = 0;

    // Read state (docs/redis-schema.md). Raises the user's read position in the room to
    // `position`, or to the room's newest message if that is older; never lowers it. When it
    // rose, publishes `envelope` (unless empty) with `@DATE@` replaced by the new position (as
    // JSON), on our channel, and returns the new position; nullopt when nothing changed.
    virtual task<std::optional<double>> mark_read(std::string room_id, std::string user_id,
                                                  double position, std::string envelope) = 0;
    // For every room of the user: the read position and the count of messages after it.
    virtual task<std::vector<room_read_state>> read_state(std::string user_id) = 0;
    // The read positions of a room's readers (user id, position).
    virtual task<std::vector<std::pair<std::string, double>>> room_reads(std::string room_id) = 0;

    // Presence, counted per user across connections, threads and instances. `envelope` is
    // published when the user comes online (join) or goes offline (leave).
    virtual task<void> presence_join(std::string instance_id, std::string user_id,
                                     std::string envelope, std::chrono::seconds ttl) = 0;
    virtual task<void> presence_leave(std::string instance_id, std::string user_id,
                                      std::string envelope) = 0;
    // Marks this instance alive for `ttl` (an instance that stops doing so is swept) and
    // rewrites its whole presence to `counts` (connections per user id), correcting the totals
    // and publishing user.connected / user.disconnected (as `server_id`) for users whose
    // online state changes. Increments that failed or got lost converge here.
    virtual task<void> presence_rewrite(std::string instance_id, std::string server_id,
                                        std::chrono::seconds ttl,
                                        std::vector<std::pair<std::string, int>> counts) = 0;
    // Takes the connections of dead instances (or of `instance_id` itself when `self` is set:
    // a clean shutdown) out of the counts, publishing user.disconnected for users gone offline.
    virtual task<void> presence_sweep(std::string instance_id, std::string server_id,
                                      bool self) = 0;

    // Group rooms (docs/redis-schema.md). Each change is one atomic step that checks who may
    // make it (the owner renames and adds, the owner removes anyone, a member removes itself),
    // updates the members' room sets, and publishes `group.changed` (as `server_id`) on our
    // channel. `max_members` bounds the members, the owner included.
    virtual task<group_change> create_group(std::string room_id, std::string owner,
                                            std::string name, std::vector<std::string> members,
                                            std::size_t max_members, std::string server_id) = 0;
    virtual task<std::optional<group_info>> group(std::string room_id) = 0;
    virtual task<group_change> rename_group(std::string room_id, std::string actor,
                                            std::string name, std::string server_id) = 0;
    virtual task<group_change> add_group_members(std::string room_id, std::string actor,
                                                 std::vector<std::string> members,
                                                 std::size_t max_members,
                                                 std::string server_id) = 0;
    // Removing the owner (leaving) passes ownership to the member with the smallest id.
    virtual task<group_change> remove_group_member(std::string room_id, std::string actor,
                                                   std::string member, std::string server_id) = 0;

    // Users whose search key (chat::search_key of the name) starts with `prefix`, by key, after
    // the key `after` (paging), at most `count`.
    virtual task<std::vector<user_match>> search_users(std::string prefix, std::string after,
                                                       std::size_t count) = 0;
    // Puts every user into the name index, also those registered by other servers; returns how
    // many it saw. Run at start-up.
    virtual task<std::size_t> index_usernames() = 0;

    // Login throttling, shared by all instances. Counts one attempt against every key at once
    // (one atomic step), before the password is checked, so that parallel guesses are all
    // counted. Returns how long to wait: 0 when the attempt may go on; more while a key is
    // locked out, or when this attempt goes past a key's free attempts in `window`, which then
    // locks the key out for login_lockout() (doubling with every further attempt).
    virtual task<std::chrono::seconds> count_login_attempt(std::vector<attempt_key> keys,
                                                           std::chrono::seconds window) = 0;
    // After a successful login: `forget` keys lose their count and lockout; `uncount` keys get
    // the attempt back (a success is no failure).
    virtual task<void> login_succeeded(std::vector<std::string> forget,
                                       std::vector<std::string> uncount) = 0;

    // Claims the one-time demo-data load: true only for the first caller on an empty store
    // (`total_users` absent), which then owns loading it.
    virtual task<bool> claim_empty_store() = 0;
};

// bcrypt, off the I/O threads: implementations hop to a worker pool and back.
class password_hasher {
  public:
    virtual ~password_hasher() = default;
    // nullopt: the hashing queue is full (or hashing failed): try again later.
    virtual boost::asio::awaitable<std::optional<std::string>> hash(std::string password) = 0;
    // nullopt: the hashing queue is full: the password was not checked.
    virtual boost::asio::awaitable<std::optional<bool>> verify(std::string password,
                                                               std::string stored_hash) = 0;
};

}  // namespace redchat::chat
