#pragma once
// In-memory chat::store and password_hasher for domain tests: they keep state the way Redis
// would and record what was asked of them. `unavailable` makes every store call fail,
// `fail_next` the next few.

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat/bus_event.hpp"
#include "chat/message.hpp"
#include "chat/rules.hpp"
#include "chat/store.hpp"

namespace redchat::testing {

class fake_store final : public chat::store {
  public:
    template <typename T>
    using task = chat::store::task<T>;

    std::map<std::string, std::string> user_by_name;                   // name -> id
    std::map<std::string, std::pair<std::string, std::string>> users;  // id -> (name, hash)
    std::map<std::string, std::set<std::string>> rooms_of;             // user id -> room ids
    std::map<std::string, std::string> room_name;
    std::map<std::string, std::vector<std::pair<double, std::string>>> messages;  // by score
    std::map<std::string, std::string> sessions;
    std::set<std::string> online;
    long long total_users = -1;  // -1: key absent
    bool unavailable = false;
    int fail_next = 0;   // this many of the next calls fail as if Redis were down
    int fail_every = 0;  // when > 0, every n-th call fails (Redis hiccups)
    int calls = 0;

    std::string add_user(const std::string& name, const std::string& hash) {
        if (total_users < 0)
            total_users = 0;
        const std::string id = std::to_string(++total_users);
        user_by_name[name] = id;
        users[id] = {name, hash};
        rooms_of[id].insert("0");
        name_index.insert(chat::search_key(name) + std::string(1, '\0') + id);
        return id;
    }

    task<void> ping() override {
        if (auto e = begin())
            co_return *e;
        co_return result<void>{};
    }
    task<std::optional<chat::user_credentials>> find_user(std::string name) override {
        if (auto e = begin())
            co_return *e;
        auto it = user_by_name.find(name);
        if (it == user_by_name.end() || !users.contains(it->second)) {
            co_return std::optional<chat::user_credentials>{};
        }
        const auto& [uname, hash] = users[it->second];
        co_return chat::user_credentials{{it->second, uname}, hash};
    }
    task<std::optional<chat::user>> create_user(std::string name, std::string hash) override {
        if (auto e = begin())
            co_return *e;
        if (user_by_name.contains(name))
            co_return std::optional<chat::user>{};
        const std::string id = add_user(name, hash);
        co_return chat::user{id, name};
    }
    task<std::vector<std::optional<std::string>>> usernames(std::vector<std::string> ids) override {
        if (auto e = begin())
            co_return *e;
        std::vector<std::optional<std::string>> out;
        for (const auto& id : ids) {
            auto it = users.find(id);
            out.push_back(it == users.end() ? std::nullopt : std::optional(it->second.first));
        }
        co_return out;
    }
    task<std::vector<std::string>> online_user_ids() override {
        if (auto e = begin())
            co_return *e;
        co_return std::vector<std::string>(online.begin(), online.end());
    }
    task<std::vector<bool>> online_flags(std::vector<std::string> ids) override {
        if (auto e = begin())
            co_return *e;
        std::vector<bool> out;
        for (const auto& id : ids)
            out.push_back(online.contains(id));
        co_return out;
    }
    task<std::vector<std::string>> user_rooms(std::string id) override {
        if (auto e = begin())
            co_return *e;
        const auto& set = rooms_of[id];
        co_return std::vector<std::string>(set.begin(), set.end());
    }
    task<bool> is_room_member(std::string id, std::string room) override {
        if (auto e = begin())
            co_return failure<bool>(*e);
        co_return rooms_of[id].contains(room);
    }
    task<std::vector<std::optional<std::string>>> room_names(
        std::vector<std::string> ids) override {
        if (auto e = begin())
            co_return *e;
        std::vector<std::optional<std::string>> out;
        for (const auto& id : ids) {
            auto it = room_name.find(id);
            out.push_back(it == room_name.end() ? std::nullopt : std::optional(it->second));
        }
        co_return out;
    }
    task<void> add_room(std::string room, std::vector<std::string> members) override {
        if (auto e = begin())
            co_return *e;
        for (const auto& m : members)
            rooms_of[m].insert(room);
        co_return result<void>{};
    }
    task<void> set_room_name(std::string room, std::string name) override {
        if (auto e = begin())
            co_return *e;
        room_name[room] = name;
        co_return result<void>{};
    }
    task<std::vector<std::string>> room_messages(std::string room, std::size_t offset,
                                                 std::size_t count, double before) override {
        if (auto e = begin())
            co_return *e;
        const auto& list = messages[room];
        std::vector<std::string> out;
        std::size_t skipped = 0;
        for (std::size_t i = 0; i < list.size() && out.size() < count; ++i) {
            const auto& [score, json] = list[list.size() - 1 - i];
            if (score >= before)
                continue;
            if (skipped++ < offset)
                continue;
            out.push_back(json);
        }
        co_return out;
    }
    task<void> append_message(std::string room, double score, std::string json) override {
        if (auto e = begin())
            co_return *e;
        auto& list = messages[room];
        list.emplace_back(score, json);
        std::stable_sort(list.begin(), list.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        co_return result<void>{};
    }
    task<void> put_session(std::string sid, std::string uid, std::chrono::seconds,
                           std::chrono::seconds) override {
        if (auto e = begin())
            co_return *e;
        sessions[sid] = uid;
        co_return result<void>{};
    }
    task<std::optional<std::string>> session_user(std::string sid, std::chrono::seconds) override {
        if (auto e = begin())
            co_return *e;
        auto it = sessions.find(sid);
        co_return it == sessions.end() ? std::nullopt : std::optional(it->second);
    }
    task<void> delete_session(std::string sid) override {
        if (auto e = begin())
            co_return *e;
        sessions.erase(sid);
        co_return result<void>{};
    }
    struct presence_call {
        std::string op, instance, user, envelope;
    };
    std::vector<presence_call> presence_calls;
    std::vector<std::string> published;
    std::vector<std::string> published_rooms;  // the room of each publish() / publish_event()
    bool room_existed(const std::string& room) {
        return messages.contains(room) && !messages[room].empty();
    }

    std::optional<errc> post_error;  // post_message fails with this (after counting the call)
    std::map<std::string, std::string> sent;                     // "<user>:<client id>" -> json
    std::map<std::string, std::map<std::string, double>> reads;  // room -> user -> position
    std::vector<std::string> published_events;                   // on our own channel
    task<chat::posted_message> post_message(std::string room, std::string from, std::string text,
                                            double now, std::string server_id,
                                            std::string client_id, bool group) override {
        if (auto e = begin())
            co_return *e;
        if (post_error)
            co_return make_error_code(*post_error);
        if (group && !groups[room].members.contains(from))
            co_return chat::posted_message{"", false, false, true};
        const std::string sent_key = from + ":" + client_id;
        if (!client_id.empty()) {
            if (auto it = sent.find(sent_key); it != sent.end())
                co_return chat::posted_message{it->second, false, true};
        }
        const bool first = !room_existed(room);
        chat::message m{"m" + std::to_string(messages[room].size()), room, from, now, text};
        const std::string json = chat::to_json(m);
        messages[room].emplace_back(now, json);
        (group ? published_events : published)
            .push_back(chat::make_envelope(server_id, "message", json));
        reads[room][from] = now;
        if (!client_id.empty())
            sent[sent_key] = json;
        co_return chat::posted_message{json, first};
    }
    task<void> publish(std::string room, std::string envelope) override {
        if (auto e = begin())
            co_return *e;
        published_rooms.push_back(std::move(room));
        published.push_back(std::move(envelope));
        co_return result<void>{};
    }
    task<void> publish_event(std::string room, std::string envelope) override {
        if (auto e = begin())
            co_return *e;
        published_rooms.push_back(std::move(room));
        published_events.push_back(std::move(envelope));
        co_return result<void>{};
    }
    task<std::vector<std::string>> room_messages_after(std::string room, double after,
                                                       std::size_t count) override {
        if (auto e = begin())
            co_return *e;
        std::vector<std::string> out;
        for (const auto& [score, json] : messages[room]) {
            if (score > after && out.size() < count)
                out.push_back(json);
        }
        co_return out;
    }
    task<std::optional<double>> mark_read(std::string room, std::string user, double position,
                                          std::string envelope) override {
        if (auto e = begin())
            co_return *e;
        const auto& list = messages[room];
        if (list.empty())
            co_return std::optional<double>{};
        position = std::min(position, list.back().first);
        auto& mine = reads[room];
        if (auto it = mine.find(user); it != mine.end() && it->second >= position)
            co_return std::optional<double>{};
        mine[user] = position;
        if (auto at = envelope.find("@DATE@"); at != std::string::npos)
            envelope.replace(at, 6, chat::format_date(position));
        if (!envelope.empty())
            published_events.push_back(std::move(envelope));
        co_return std::optional<double>(position);
    }
    task<std::vector<chat::room_read_state>> read_state(std::string user) override {
        if (auto e = begin())
            co_return *e;
        std::vector<chat::room_read_state> out;
        for (const auto& room : rooms_of[user]) {
            chat::room_read_state s{room, std::nullopt, 0, std::nullopt};
            if (auto it = reads[room].find(user); it != reads[room].end())
                s.read = it->second;
            for (const auto& [score, json] : messages[room]) {
                if (!s.read || score > *s.read)
                    ++s.unread;
            }
            if (!messages[room].empty())
                s.newest = messages[room].back().first;
            out.push_back(std::move(s));
        }
        co_return out;
    }
    task<std::vector<std::pair<std::string, double>>> room_reads(std::string room) override {
        if (auto e = begin())
            co_return *e;
        const auto& r = reads[room];
        co_return std::vector<std::pair<std::string, double>>(r.begin(), r.end());
    }
    // Group rooms, as the scripts keep them.
    struct fake_group {
        std::string name, owner;
        std::set<std::string> members;
    };
    std::map<std::string, fake_group> groups;
    std::set<std::string> name_index;  // "<search key>\0<id>"

    chat::group_change announce(const std::string& room, const std::string& server_id,
                                std::vector<std::string> removed) {
        const auto& g = groups[room];
        chat::group_info info{room, g.name, g.owner, {g.members.begin(), g.members.end()}};
        std::string data = R"({"roomId":")" + room + R"(","name":)" + chat::json_quote(g.name) +
                           R"(,"owner":")" + g.owner + R"(","members":[)";
        for (std::size_t i = 0; i < info.members.size(); ++i)
            data += (i ? ",\"" : "\"") + info.members[i] + "\"";
        data += R"(],"removed":[)";
        for (std::size_t i = 0; i < removed.size(); ++i)
            data += (i ? ",\"" : "\"") + removed[i] + "\"";
        data += "]}";
        published_events.push_back(chat::make_envelope(server_id, "group.changed", data));
        return chat::group_change{chat::group_outcome::ok, std::move(info), {}};
    }
    std::optional<std::string> unknown_user(const std::vector<std::string>& ids) {
        for (const auto& id : ids) {
            if (!users.contains(id))
                return id;
        }
        return std::nullopt;
    }
    static chat::group_change outcome(chat::group_outcome o, std::string user = {}) {
        return chat::group_change{o, {}, std::move(user)};
    }
    task<chat::group_change> create_group(std::string room, std::string owner, std::string name,
                                          std::vector<std::string> members, std::size_t max,
                                          std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        if (auto u = unknown_user(members))
            co_return outcome(chat::group_outcome::no_such_user, *u);
        std::set<std::string> all(members.begin(), members.end());
        all.insert(owner);
        if (all.size() > max)
            co_return outcome(chat::group_outcome::too_many);
        groups[room] = {name, owner, all};
        room_name[room] = name;
        for (const auto& m : all)
            rooms_of[m].insert(room);
        co_return announce(room, server_id, {});
    }
    task<std::optional<chat::group_info>> group(std::string room) override {
        if (auto e = begin())
            co_return *e;
        auto it = groups.find(room);
        if (it == groups.end())
            co_return std::optional<chat::group_info>{};
        const auto& g = it->second;
        co_return chat::group_info{room, g.name, g.owner, {g.members.begin(), g.members.end()}};
    }
    task<chat::group_change> rename_group(std::string room, std::string actor, std::string name,
                                          std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        if (!groups.contains(room))
            co_return outcome(chat::group_outcome::not_found);
        if (groups[room].owner != actor)
            co_return outcome(chat::group_outcome::forbidden);
        groups[room].name = room_name[room] = name;
        co_return announce(room, server_id, {});
    }
    task<chat::group_change> add_group_members(std::string room, std::string actor,
                                               std::vector<std::string> members, std::size_t max,
                                               std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        if (!groups.contains(room))
            co_return outcome(chat::group_outcome::not_found);
        auto& g = groups[room];
        if (g.owner != actor)
            co_return outcome(chat::group_outcome::forbidden);
        if (auto u = unknown_user(members))
            co_return outcome(chat::group_outcome::no_such_user, *u);
        auto all = g.members;
        all.insert(members.begin(), members.end());
        if (all.size() > max)
            co_return outcome(chat::group_outcome::too_many);
        g.members = all;
        for (const auto& m : all)
            rooms_of[m].insert(room);
        co_return announce(room, server_id, {});
    }
    task<chat::group_change> remove_group_member(std::string room, std::string actor,
                                                 std::string member,
                                                 std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        if (!groups.contains(room))
            co_return outcome(chat::group_outcome::not_found);
        auto& g = groups[room];
        if (actor != member && actor != g.owner) {
            co_return outcome(g.members.contains(actor) ? chat::group_outcome::forbidden
                                                        : chat::group_outcome::not_found);
        }
        if (g.members.erase(member) == 0)
            co_return outcome(chat::group_outcome::not_member);
        rooms_of[member].erase(room);
        if (member == g.owner) {
            g.owner.clear();
            for (const auto& m : g.members) {
                if (g.owner.empty() || m.size() < g.owner.size() ||
                    (m.size() == g.owner.size() && m < g.owner))
                    g.owner = m;
            }
        }
        std::vector<std::string> removed;
        removed.push_back(member);
        co_return announce(room, server_id, std::move(removed));
    }
    std::map<std::string, std::map<std::string, std::map<std::string, std::vector<std::string>>>>
        reactions_of;  // room -> message id -> emoji -> user ids
    task<chat::message_change> edit_message(std::string room, std::string id, double score,
                                            std::string author, std::string text, bool remove,
                                            double now, std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        for (auto& [at, json] : messages[room]) {
            auto m = chat::parse_message(json);
            if (at != score || !m || m->id != id)
                continue;
            if (m->deleted)
                break;
            if (m->from != author)
                co_return chat::message_change{chat::change_outcome::forbidden, {}};
            if (remove) {
                m->text = "Message deleted";
                m->deleted = true;
                reactions_of[room].erase(id);
            } else {
                m->text = text;
                m->edited = now;
            }
            json = chat::to_json(*m);
            published_events.push_back(chat::make_envelope(server_id, "message.updated", json));
            co_return chat::message_change{chat::change_outcome::ok, json};
        }
        co_return chat::message_change{chat::change_outcome::not_found, {}};
    }
    static std::string reactions_json(const std::map<std::string, std::vector<std::string>>& all) {
        std::string out = "{";
        for (const auto& [emoji, who] : all) {
            if (out.size() > 1)
                out += ',';
            out += chat::json_quote(emoji) + ":[";
            for (std::size_t i = 0; i < who.size(); ++i)
                out += (i ? "," : "") + chat::json_quote(who[i]);
            out += ']';
        }
        return out + "}";
    }
    task<chat::message_change> toggle_reaction(std::string room, std::string id, double score,
                                               std::string user, std::string emoji,
                                               std::size_t max_kinds,
                                               std::string server_id) override {
        if (auto e = begin())
            co_return *e;
        bool found = false;
        for (const auto& [at, json] : messages[room]) {
            auto m = chat::parse_message(json);
            found = found || (at == score && m && m->id == id && !m->deleted);
        }
        if (!found)
            co_return chat::message_change{chat::change_outcome::not_found, {}};
        auto& all = reactions_of[room][id];
        auto it = all.find(emoji);
        if (it == all.end() && all.size() >= max_kinds)
            co_return chat::message_change{chat::change_outcome::too_many, {}};
        auto& who = all[emoji];
        if (auto u = std::find(who.begin(), who.end(), user); u != who.end())
            who.erase(u);
        else
            who.push_back(user);
        if (who.empty())
            all.erase(emoji);
        const auto json = reactions_json(all);
        published_events.push_back(
            chat::make_envelope(server_id, "message.reactions",
                                R"({"roomId":)" + chat::json_quote(room) + R"(,"messageId":)" +
                                    chat::json_quote(id) + R"(,"reactions":)" + json + "}"));
        co_return chat::message_change{chat::change_outcome::ok, json};
    }
    task<std::vector<std::optional<std::string>>> reactions(std::string room,
                                                            std::vector<std::string> ids) override {
        if (auto e = begin())
            co_return *e;
        std::vector<std::optional<std::string>> out;
        for (const auto& id : ids) {
            auto it = reactions_of[room].find(id);
            if (it == reactions_of[room].end() || it->second.empty())
                out.emplace_back();
            else
                out.emplace_back(reactions_json(it->second));
        }
        co_return out;
    }
    task<std::vector<chat::user_match>> search_users(std::string prefix, std::string after,
                                                     std::size_t count) override {
        if (auto e = begin())
            co_return *e;
        std::vector<chat::user_match> out;
        for (const auto& member : name_index) {
            if (!member.starts_with(prefix) || (!after.empty() && member <= after))
                continue;
            if (out.size() == count)
                break;
            const auto id = member.substr(member.rfind('\0') + 1);
            if (users.contains(id))
                out.push_back({id, users[id].first});
        }
        co_return out;
    }
    task<std::size_t> index_usernames() override {
        if (auto e = begin())
            co_return *e;
        for (const auto& [name, id] : user_by_name)
            name_index.insert(chat::search_key(name) + std::string(1, '\0') + id);
        co_return user_by_name.size();
    }

    // Presence joins that fail (without touching state) or wait until `release_joins()`.
    bool fail_presence_join = false;
    std::optional<boost::asio::steady_timer> join_gate;
    void hold_joins(boost::asio::any_io_executor ex) {
        join_gate.emplace(ex, boost::asio::steady_timer::time_point::max());
    }
    void release_joins() {
        if (join_gate)
            join_gate->cancel();
    }
    task<void> presence_join(std::string instance, std::string user, std::string envelope,
                             std::chrono::seconds) override {
        if (join_gate) {
            boost::system::error_code ec;
            co_await join_gate->async_wait(
                boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
        if (fail_presence_join)
            co_return make_error_code(errc::redis_timeout);
        if (auto e = begin())
            co_return *e;
        presence_calls.push_back({"join", instance, user, envelope});
        co_return result<void>{};
    }
    task<void> presence_leave(std::string instance, std::string user,
                              std::string envelope) override {
        if (auto e = begin())
            co_return *e;
        presence_calls.push_back({"leave", instance, user, envelope});
        co_return result<void>{};
    }
    std::vector<std::pair<std::string, int>> last_rewrite;
    task<void> presence_rewrite(std::string instance, std::string, std::chrono::seconds,
                                std::vector<std::pair<std::string, int>> counts) override {
        if (auto e = begin())
            co_return *e;
        presence_calls.push_back({"rewrite", instance, {}, {}});
        last_rewrite = std::move(counts);
        co_return result<void>{};
    }
    task<void> presence_sweep(std::string instance, std::string, bool self) override {
        if (auto e = begin())
            co_return *e;
        presence_calls.push_back({self ? "sweep-self" : "sweep", instance, {}, {}});
        co_return result<void>{};
    }

    // Lockouts never end by themselves here: tests clear `lockouts` to let time pass.
    std::map<std::string, std::int64_t> failure_counts;
    std::map<std::string, std::chrono::seconds> lockouts;
    task<std::chrono::seconds> count_login_attempt(std::vector<chat::attempt_key> keys,
                                                   std::chrono::seconds window) override {
        if (auto e = begin())
            co_return *e;
        for (const auto& k : keys) {
            if (auto it = lockouts.find(k.key); it != lockouts.end())
                co_return it->second;
        }
        std::chrono::seconds wait{0};
        for (const auto& k : keys) {
            const auto c = ++failure_counts[k.key];
            if (c > static_cast<std::int64_t>(k.free)) {
                const auto lock = chat::login_lockout(c - 1, k.free, window);
                lockouts[k.key] = lock;
                wait = std::max(wait, lock);
            }
        }
        co_return wait;
    }
    task<void> login_succeeded(std::vector<std::string> forget,
                               std::vector<std::string> uncount) override {
        if (auto e = begin())
            co_return *e;
        for (const auto& k : forget) {
            failure_counts.erase(k);
            lockouts.erase(k);
        }
        for (const auto& k : uncount) {
            if (auto it = failure_counts.find(k); it != failure_counts.end() && --it->second <= 0)
                failure_counts.erase(it);
        }
        co_return result<void>{};
    }

    task<bool> claim_empty_store() override {
        if (auto e = begin())
            co_return failure<bool>(*e);
        if (total_users >= 0)
            co_return false;
        total_users = 0;
        co_return true;
    }

  private:
    std::optional<boost::system::error_code> begin() {
        ++calls;
        if (unavailable || fail_next > 0 || (fail_every > 0 && calls % fail_every == 0)) {
            fail_next = std::max(fail_next - 1, 0);
            return make_error_code(errc::redis_unavailable);
        }
        return std::nullopt;
    }
};

// "Hashes" by prefixing, so tests can read what was stored; counts its calls.
class fake_hasher final : public chat::password_hasher {
  public:
    int hashes = 0;
    int verifies = 0;
    boost::asio::awaitable<std::optional<std::string>> hash(std::string password) override {
        if (busy)
            co_return std::nullopt;
        ++hashes;
        co_return "fake$" + password;
    }
    bool busy = false;  // the queue is full: hash and verify refuse
    boost::asio::awaitable<std::optional<bool>> verify(std::string password,
                                                       std::string stored) override {
        if (busy)
            co_return std::nullopt;
        ++verifies;
        co_return stored == "fake$" + password;
    }
};

}  // namespace redchat::testing
