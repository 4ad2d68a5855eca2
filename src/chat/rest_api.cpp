#include "chat/rest_api.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <variant>
#include <vector>

#include "chat/message.hpp"
#include "chat/rules.hpp"
#include "core/random_id.hpp"

namespace redchat::chat {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

api_response reply(int status, const json::value& v) {
    return {status, json::serialize(v)};
}

api_response fail(int status, std::string_view text) {
    return {status, error_body(text)};
}

// A request body that is a JSON object, or nullopt.
std::optional<json::value> object_body(std::string_view text) {
    boost::system::error_code ec;
    json::value body = json::parse(text, ec);
    if (ec || !body.is_object())
        return std::nullopt;
    return body;
}

// A failed store call: the backing store is unavailable or misbehaving, never the client's fault.
api_response store_failure(const boost::system::error_code& ec) {
    (void)ec;
    api_response res = fail(503, "Storage is unavailable, please try again");
    res.retry_after = 1;
    return res;
}

std::optional<std::size_t> parse_count(std::string_view s) {
    std::size_t v = 0;
    if (s.empty() || s.size() > 12)
        return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size())
        return std::nullopt;
    return v;
}

// A user id from JSON: a string of digits or a non-negative integer.
std::optional<std::string> json_user_id(const json::value* v) {
    if (v == nullptr)
        return std::nullopt;
    if (v->is_string())
        return normalize_user_id(v->get_string());
    if (v->is_int64() && v->get_int64() > 0)
        return std::to_string(v->get_int64());
    if (v->is_uint64() && v->get_uint64() > 0)
        return std::to_string(v->get_uint64());
    return std::nullopt;
}

json::object user_json(std::string_view id, std::string_view name, std::optional<bool> online) {
    json::object o;
    o["id"] = id;
    o["username"] = name;
    if (online)
        o["online"] = *online;
    return o;
}

// Private rooms are named by their members: [["Pablo"],["Joe"]] as the reference writes it.
json::array member_names(const std::vector<std::optional<std::string>>& names,
                         const std::vector<std::string>& ids) {
    json::array out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        json::array one;
        one.emplace_back(names[i] ? json::string(*names[i]) : json::string("user " + ids[i]));
        out.emplace_back(std::move(one));
    }
    return out;
}

// Coroutines below build lists with these helpers: an initializer list inside a coroutine trips
// a GCC 12 bug ("array used as initializer").
std::vector<std::string> pair_of(std::string a, std::string b) {
    std::vector<std::string> out;
    out.push_back(std::move(a));
    out.push_back(std::move(b));
    return out;
}

json::array single(std::string_view name) {
    json::array out;
    out.emplace_back(json::string(name));
    return out;
}

}  // namespace

std::string normalize_target(std::string_view target) {
    static constexpr std::string_view unsafe = "[]{}|^\"<>\\`";
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(target.size());
    for (char c : target) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80 || unsafe.find(c) != std::string_view::npos) {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0xF];
        } else {
            out += c;
        }
    }
    return out;
}

std::string error_body(std::string_view text) {
    json::object o;
    o["message"] = text;
    return json::serialize(o);
}

struct rest_api::context {
    api_request req;
    boost::urls::url_view url;
    std::vector<std::string> segments;
    std::optional<std::string> user_id;  // of the session, once loaded
};

// GET /room/{id}/messages?offset=&size=|limit=&before=, checked.
struct rest_api::page_query {
    std::string room_id;
    std::size_t offset = 0;
    std::size_t size = 15;
    double before = std::numeric_limits<double>::infinity();
};

rest_api::rest_api(store& db, password_hasher& hasher, const config::server_config& cfg,
                   keyed_buckets& room_rates, keyed_buckets& registration_rates,
                   std::string server_id)
    : db_(db),
      hasher_(hasher),
      cfg_(cfg),
      room_rates_(room_rates),
      registration_rates_(registration_rates),
      server_id_(std::move(server_id)) {}

std::optional<metrics::route> rest_api::match(std::string_view target) {
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        return std::nullopt;
    std::vector<std::string> seg;
    for (auto s : url->segments())
        seg.push_back(s);
    using metrics::route;
    if (seg.size() == 1) {
        if (seg[0] == "me")
            return route::me;
        if (seg[0] == "login")
            return route::login;
        if (seg[0] == "logout")
            return route::logout;
        if (seg[0] == "users")
            return route::users;
        if (seg[0] == "room")
            return route::create_room;
        if (seg[0] == "links")
            return route::links;
        if (seg[0] == "read-state")
            return route::read_state;
        if (seg[0] == "groups")
            return route::groups;
    }
    if (seg.size() == 2 && seg[0] == "users" && seg[1] == "online")
        return route::users_online;
    if (seg.size() == 2 && seg[0] == "users" && seg[1] == "search")
        return route::users_search;
    if (seg.size() == 2 && seg[0] == "groups")
        return route::group;
    if ((seg.size() == 3 || seg.size() == 4) && seg[0] == "groups" && seg[2] == "members")
        return route::group_members;
    if (seg.size() == 2 && seg[0] == "rooms")
        return route::rooms;
    if (seg.size() == 3 && seg[0] == "room" && seg[2] == "messages")
        return route::room_messages;
    if (seg.size() == 3 && seg[0] == "room" && seg[2] == "reads")
        return route::room_reads;
    if (seg.size() == 3 && seg[0] == "room" && seg[2] == "reactions")
        return route::room_reactions;
    return std::nullopt;
}

awaitable<api_response> rest_api::handle(api_request req) {
    auto r = match(req.target);
    if (!r)
        co_return fail(404, "Not found");
    context ctx{std::move(req), {}, {}, {}};
    ctx.url = *boost::urls::parse_origin_form(ctx.req.target);
    for (auto s : ctx.url.segments())
        ctx.segments.push_back(s);

    const bool get = ctx.req.method == "GET" || ctx.req.method == "HEAD";
    const bool post = ctx.req.method == "POST";
    auto only = [](const char* allowed) {
        api_response res = fail(405, "Method not allowed");
        res.allow = allowed;
        return res;
    };

    using metrics::route;
    switch (*r) {
        case route::links: {
            if (!get)
                co_return only("GET, HEAD");
            json::object o;
            o["github"] = cfg_.github_url;
            co_return reply(200, o);
        }
        case route::login:
            if (!post)
                co_return only("POST");
            co_return co_await login(ctx);
        case route::logout:
            if (!post)
                co_return only("POST");
            co_return co_await logout(ctx);
        case route::create_room:
        case route::groups:
            if (!post)
                co_return only("POST");
            break;
        case route::group:
            if (!get && ctx.req.method != "PATCH")
                co_return only("GET, HEAD, PATCH");
            break;
        case route::group_members:
            if (ctx.segments.size() == 3 && !post)
                co_return only("POST");
            if (ctx.segments.size() == 4 && ctx.req.method != "DELETE")
                co_return only("DELETE");
            break;
        default:
            if (!get)
                co_return only("GET, HEAD");
            break;
    }

    // The busiest request reads the session and the page in one round trip. (A query that is
    // refused goes the usual way, so that a missing session still answers 401 first.)
    if (*r == route::room_messages && ctx.req.session_id) {
        auto query = page_query_of(ctx, cfg_);
        if (auto* q = std::get_if<page_query>(&query))
            co_return co_await room_page(ctx, std::move(*q));
    }

    // Everything below needs to know the session's user.
    if (ctx.req.session_id) {
        auto uid = co_await db_.session_user(*ctx.req.session_id, cfg_.session_ttl);
        if (!uid)
            co_return store_failure(uid.error());
        ctx.user_id = std::move(*uid);
    }
    if (*r == route::me)
        co_return co_await me(ctx);
    if (!ctx.user_id)
        co_return fail(401, "Not logged in");
    switch (*r) {
        case route::users_online:
            co_return co_await users_online(ctx);
        case route::users:
            co_return co_await users(ctx);
        case route::rooms:
            co_return co_await rooms(ctx);
        case route::room_messages:
            co_return co_await room_messages(ctx);
        case route::create_room:
            co_return co_await create_room(ctx);
        case route::read_state:
            co_return co_await read_state(ctx);
        case route::groups:
            co_return co_await create_group(ctx);
        case route::group:
            // (Not a conditional expression: GCC 12 miscompiles co_await inside one.)
            if (get)
                co_return co_await show_group(ctx);
            co_return co_await rename_group(ctx);
        case route::group_members:
            if (ctx.segments.size() == 3)
                co_return co_await add_group_members(ctx);
            co_return co_await remove_group_member(ctx);
        case route::users_search:
            co_return co_await search_users(ctx);
        case route::room_reads:
            co_return co_await room_reads(ctx);
        case route::room_reactions:
            co_return co_await room_reactions(ctx);
        default:
            break;
    }
    co_return fail(404, "Not found");
}

awaitable<api_response> rest_api::me(context& ctx) {
    if (!ctx.user_id)
        co_return api_response{200, std::string("null")};
    auto names = co_await db_.usernames(std::vector<std::string>(1, *ctx.user_id));
    if (!names)
        co_return store_failure(names.error());
    if (!(*names)[0])
        co_return api_response{200, std::string("null")};
    co_return reply(200, user_json(*ctx.user_id, *(*names)[0], std::nullopt));
}

awaitable<api_response> rest_api::login(context& ctx) {
    auto parsed = object_body(ctx.req.body);
    if (!parsed)
        co_return fail(400, "Request body must be a JSON object");
    const json::value& body = *parsed;
    const auto& o = body.get_object();
    const auto* u = o.if_contains("username");
    const auto* p = o.if_contains("password");
    if (u == nullptr || !u->is_string() || p == nullptr || !p->is_string()) {
        co_return fail(400, "username and password must be strings");
    }
    std::string username(u->get_string());
    std::string password(p->get_string());
    if (username.empty() || username.size() > 256 || password.empty() || password.size() > 1024) {
        co_return fail(400, "Invalid username or password");
    }

    // Throttling of password guessing (all instances), counted before the password is checked
    // so that parallel guesses are all counted: strictly per username and client address (a
    // stranger cannot lock a user out of their own address), loosely per username, and per
    // client address.
    const std::string pair_key = "login:pair:" + username + "|" + ctx.req.client_address;
    const std::string user_key = "login:user:" + username;
    const std::string addr_key = "login:addr:" + ctx.req.client_address;
    std::vector<attempt_key> checks;
    checks.push_back({pair_key, cfg_.limit.login_failures_per_user});
    checks.push_back({user_key, cfg_.limit.login_failures_per_account});
    checks.push_back({addr_key, cfg_.limit.login_failures_per_address});

    auto found = co_await db_.find_user(username);
    if (!found)
        co_return store_failure(found.error());

    user account;
    int status = 200;
    if (*found) {
        auto wait = co_await db_.count_login_attempt(std::move(checks), cfg_.limit.login_window);
        if (!wait)
            co_return store_failure(wait.error());
        if (wait->count() > 0) {
            api_response res = fail(429, "Too many failed logins, try again later");
            res.retry_after = wait->count();
            co_return res;
        }
        const auto ok = co_await hasher_.verify(password, (*found)->password_hash);
        if (!ok || *ok) {
            // Not a failure: the attempt is given back (a busy queue never checked it).
            std::vector<std::string> forget;
            if (ok)
                forget.push_back(pair_key);
            std::vector<std::string> uncount{user_key, addr_key};
            if (!ok)
                uncount.push_back(pair_key);
            (void)co_await db_.login_succeeded(std::move(forget), std::move(uncount));
        }
        if (!ok) {
            api_response res = fail(503, "The server is busy checking passwords, try again");
            res.retry_after = 1;
            co_return res;
        }
        if (!*ok)
            co_return fail(404, "Invalid username or password");
        account = (*found)->account;
    } else {
        if (auto problem = username_problem(username, cfg_.limit.max_username_chars)) {
            co_return fail(400, *problem);
        }
        if (auto problem = password_problem(password, cfg_.limit.min_password_chars)) {
            co_return fail(400, *problem);
        }
        if (startup_ != nullptr && startup_->holding()) {
            api_response res = fail(503, "The server is still starting; try again in a moment");
            res.retry_after = 1;
            co_return res;
        }
        // Every new account costs a bcrypt hash: a bounded number per client address.
        if (const auto wait = registration_rates_.try_take(ctx.req.client_address,
                                                           std::chrono::steady_clock::now());
            wait.count() > 0) {
            api_response res =
                fail(429, "Too many new accounts from your address, try again later");
            res.retry_after = (wait.count() + 999) / 1000;
            co_return res;
        }
        auto hashed = co_await hasher_.hash(password);
        if (!hashed) {
            api_response res = fail(503, "The server is busy, please try again");
            res.retry_after = 1;
            co_return res;
        }
        auto created = co_await db_.create_user(username, *hashed);
        if (!created)
            co_return store_failure(created.error());
        if (!*created)
            co_return fail(409, "This username was just taken, please choose another");
        account = **created;
        status = 201;
    }

    // A fresh session id at every login; the old session (if any) is ended.
    if (ctx.req.session_id)
        (void)co_await db_.delete_session(*ctx.req.session_id);
    std::string sid = random_hex_id();
    auto stored = co_await db_.put_session(sid, account.id, cfg_.session_ttl, cfg_.session_max_age);
    if (!stored)
        co_return store_failure(stored.error());
    api_response res = reply(status, user_json(account.id, account.username, std::nullopt));
    res.set_session = std::move(sid);
    co_return res;
}

awaitable<api_response> rest_api::logout(context& ctx) {
    if (ctx.req.session_id) {
        auto deleted = co_await db_.delete_session(*ctx.req.session_id);
        if (!deleted)
            co_return store_failure(deleted.error());
    }
    api_response res{200, std::string("{}")};
    res.clear_session = true;
    co_return res;
}

awaitable<api_response> rest_api::users_online(context&) {
    auto ids = co_await db_.online_user_ids();
    if (!ids)
        co_return store_failure(ids.error());
    std::vector<std::string> valid;
    for (auto& id : *ids) {
        if (is_user_id(id))
            valid.push_back(std::move(id));
    }
    json::object out;
    if (!valid.empty()) {
        auto names = co_await db_.usernames(valid);
        if (!names)
            co_return store_failure(names.error());
        for (std::size_t i = 0; i < valid.size(); ++i) {
            // A dangling id (no user hash) is skipped rather than shown as a ghost.
            if ((*names)[i])
                out[valid[i]] = user_json(valid[i], *(*names)[i], true);
        }
    }
    co_return reply(200, out);
}

awaitable<api_response> rest_api::users(context& ctx) {
    std::vector<std::string> ids;
    for (auto param : ctx.url.params()) {
        if (param.key != "ids[]" && param.key != "ids")
            continue;
        if (!param.has_value || !is_user_id(param.value))
            co_return fail(400, "ids[] must be user ids");
        if (std::find(ids.begin(), ids.end(), param.value) == ids.end())
            ids.push_back(param.value);
        if (ids.size() > cfg_.limit.max_ids_per_request) {
            co_return fail(400, "At most " + std::to_string(cfg_.limit.max_ids_per_request) +
                                    " ids per request");
        }
    }
    if (ids.empty())
        co_return fail(404, "No user ids given");
    auto names = co_await db_.usernames(ids);
    if (!names)
        co_return store_failure(names.error());
    auto online = co_await db_.online_flags(ids);
    if (!online)
        co_return store_failure(online.error());
    json::object out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if ((*names)[i])
            out[ids[i]] = user_json(ids[i], *(*names)[i], (*online)[i]);
    }
    co_return reply(200, out);
}

awaitable<api_response> rest_api::rooms(context& ctx) {
    const std::string& wanted = ctx.segments[1];
    if (wanted != *ctx.user_id)
        co_return fail(403, "You can only list your own rooms");
    auto room_ids = co_await db_.user_rooms(*ctx.user_id);
    if (!room_ids)
        co_return store_failure(room_ids.error());
    auto& ids = *room_ids;
    std::erase_if(ids, [](const std::string& id) { return !is_room_id(id); });
    // General first, then by id, for a stable answer (the reference client sorts anyway).
    std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
        if ((a == general_room_id) != (b == general_room_id))
            return a == general_room_id;
        return a < b;
    });
    auto names = co_await db_.room_names(ids);
    if (!names)
        co_return store_failure(names.error());

    // One round trip for the usernames of every private room.
    std::vector<std::string> user_ids;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if ((*names)[i])
            continue;
        if (auto members = private_room_members(ids[i])) {
            user_ids.push_back(members->first);
            user_ids.push_back(members->second);
        }
    }
    std::vector<std::optional<std::string>> usernames;
    if (!user_ids.empty()) {
        auto fetched = co_await db_.usernames(user_ids);
        if (!fetched)
            co_return store_failure(fetched.error());
        usernames = std::move(*fetched);
    }

    json::array out;
    std::size_t next_user = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        json::object room;
        room["id"] = ids[i];
        if ((*names)[i]) {
            room["names"] = single(*(*names)[i]);
        } else if (auto members = private_room_members(ids[i])) {
            std::vector<std::optional<std::string>> pair_names;
            pair_names.push_back(usernames[next_user]);
            pair_names.push_back(usernames[next_user + 1]);
            room["names"] = member_names(pair_names, pair_of(members->first, members->second));
            next_user += 2;
        } else {
            room["names"] = single(ids[i]);
        }
        out.emplace_back(std::move(room));
    }
    co_return reply(200, out);
}

std::variant<rest_api::page_query, api_response> rest_api::page_query_of(
    const context& ctx, const config::server_config& cfg) {
    page_query q;
    q.room_id = ctx.segments[1];
    if (!is_room_id(q.room_id))
        return fail(400, "Invalid room id");
    bool cursor = false;
    for (auto param : ctx.url.params()) {
        if (param.key == "before") {
            // The stable cursor: messages older than this one (an id of ours, or a date).
            auto before = cursor_score(param.value);
            if (!before)
                return fail(400, "before must be a message id or a date");
            q.before = *before;
            cursor = true;
        } else if (param.key == "offset") {
            auto v = parse_count(param.value);
            if (!v || *v > cfg.limit.max_page_offset) {
                return fail(400, "offset must be an integer from 0 to " +
                                     std::to_string(cfg.limit.max_page_offset));
            }
            q.offset = *v;
        } else if (param.key == "size" || param.key == "limit") {
            auto v = parse_count(param.value);
            if (!v)
                return fail(400, "size must be a non-negative integer");
            q.size = std::min(*v, cfg.limit.max_page_size);
        }
    }
    // An offset next to a cursor would make Redis walk `offset` entries from the cursor on
    // every request: a cursor pages by itself, so the two are never combined.
    if (cursor && q.offset > 0)
        return fail(400, "offset cannot be combined with before");
    return q;
}

namespace {

// A page of stored messages, newest first, as the history answer. Messages we wrote are in the
// canonical form already (they start with our id) and pass through as they are; others (from
// another port: numeric `from`, float dates...) are read and rewritten in it, and those we
// cannot read are skipped, not fatal.
api_response history_reply(const std::vector<std::string>& page) {
    std::string out = "[";
    for (const auto& text : page) {
        const bool canonical = text.starts_with(R"({"id":")");
        std::optional<message> m;
        if (!canonical) {
            m = parse_message(text);
            if (!m)
                continue;
        }
        if (out.size() > 1)
            out += ',';
        if (canonical)
            out += text;
        else
            out += to_json(*m);
    }
    out += ']';
    return api_response{200, std::move(out)};
}

}  // namespace

awaitable<api_response> rest_api::room_page(context& ctx, page_query q) {
    auto got = co_await db_.session_and_page(*ctx.req.session_id, cfg_.session_ttl, q.room_id,
                                             q.offset, q.size, q.before);
    if (!got)
        co_return store_failure(got.error());
    if (!got->user_id)
        co_return fail(401, "Not logged in");
    // Everyone logged in belongs to General (the socket layer joins every socket to it), so its
    // history needs no membership lookup.
    if (q.room_id != general_room_id) {
        auto member = co_await db_.is_room_member(*got->user_id, q.room_id);
        if (!member)
            co_return store_failure(member.error());
        if (!*member)
            co_return fail(403, "You are not a member of this room");
    }
    co_return history_reply(got->messages);
}

awaitable<api_response> rest_api::room_messages(context& ctx) {
    auto query = page_query_of(ctx, cfg_);
    if (auto* refused = std::get_if<api_response>(&query))
        co_return std::move(*refused);
    const auto& q = std::get<page_query>(query);
    if (q.room_id != general_room_id) {
        auto member = co_await db_.is_room_member(*ctx.user_id, q.room_id);
        if (!member)
            co_return store_failure(member.error());
        if (!*member)
            co_return fail(403, "You are not a member of this room");
    }
    std::vector<std::string> page;
    if (q.size > 0) {
        auto raw = co_await db_.room_messages(q.room_id, q.offset, q.size, q.before);
        if (!raw)
            co_return store_failure(raw.error());
        page = std::move(*raw);
    }
    co_return history_reply(page);
}

// {"rooms":{"0":{"read":1718000000.123,"unread":2,"newest":1718000100.5},...}}: one script in
// Redis counts, per room of the user, the messages after its read position, up to the newest.
awaitable<api_response> rest_api::read_state(context& ctx) {
    auto state = co_await db_.read_state(*ctx.user_id);
    if (!state)
        co_return store_failure(state.error());
    std::string out = "{\"rooms\":{";
    bool first = true;
    for (const auto& r : *state) {
        if (!is_room_id(r.room_id))
            continue;
        if (!first)
            out += ',';
        first = false;
        out += json_quote(r.room_id);
        out += ":{\"read\":";
        out += r.read ? format_date(*r.read) : "null";
        out += ",\"unread\":";
        out += std::to_string(r.unread);
        out += ",\"newest\":";
        out += r.newest ? format_date(*r.newest) : "null";
        out += '}';
    }
    out += "}}";
    co_return api_response{200, std::move(out)};
}

// {"2":1718000000.123,...}: how far each member has read (read receipts). General has no
// receipts: everyone is in it.
awaitable<api_response> rest_api::room_reads(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_room_id(room_id))
        co_return fail(400, "Invalid room id");
    if (room_id == general_room_id)
        co_return api_response{200, "{}"};
    auto member = co_await db_.is_room_member(*ctx.user_id, room_id);
    if (!member)
        co_return store_failure(member.error());
    if (!*member)
        co_return fail(403, "You are not a member of this room");
    auto reads = co_await db_.room_reads(room_id);
    if (!reads)
        co_return store_failure(reads.error());
    std::string out = "{";
    for (const auto& [user_id, position] : *reads) {
        if (!is_user_id(user_id))
            continue;
        if (out.size() > 1)
            out += ',';
        out += json_quote(user_id) + ":" + format_date(position);
    }
    out += '}';
    co_return api_response{200, std::move(out)};
}

namespace {

// The user ids of a JSON array (strings of digits or positive integers), without repeats; an
// error text when it is not one, or longer than `max`.
std::variant<std::vector<std::string>, std::string> json_user_ids(const json::value* v,
                                                                  std::size_t max) {
    if (v == nullptr || !v->is_array())
        return std::string("members must be an array of user ids");
    if (v->get_array().size() > max)
        return "A group has at most " + std::to_string(max) + " members";
    std::vector<std::string> out;
    for (const auto& item : v->get_array()) {
        auto id = json_user_id(&item);
        if (!id)
            return std::string("members must be an array of user ids");
        if (std::find(out.begin(), out.end(), *id) == out.end())
            out.push_back(std::move(*id));
    }
    return out;
}

// A group's name from a request body (a JSON object), checked; or the refusal.
std::variant<std::string, api_response> group_name(const json::value& body, std::size_t max_chars) {
    const auto* name = body.get_object().if_contains("name");
    if (name == nullptr || !name->is_string())
        return fail(400, "name must be a string");
    if (auto problem = group_name_problem(name->get_string(), max_chars))
        return fail(400, *problem);
    return std::string(name->get_string());
}

// The answer to a refused group change.
api_response group_refusal(const group_change& change, std::size_t max_members) {
    switch (change.outcome) {
        case group_outcome::not_found:
            return fail(404, "No such group");
        case group_outcome::forbidden:
            return fail(403, "Only the group's owner can do that");
        case group_outcome::too_many:
            return fail(400, "A group has at most " + std::to_string(max_members) + " members");
        case group_outcome::no_such_user:
            return fail(404, "No such user: " + change.user_id);
        case group_outcome::not_member:
            return fail(404, "That user is not a member of the group");
        case group_outcome::ok:
            break;
    }
    return fail(500, "Unexpected group outcome");
}

}  // namespace

awaitable<api_response> rest_api::group_changed_reply(result<group_change> changed, int status) {
    if (!changed)
        co_return store_failure(changed.error());
    if (changed->outcome != group_outcome::ok)
        co_return group_refusal(*changed, cfg_.limit.max_room_members);
    co_return co_await group_reply(status, std::move(changed->group));
}

// {"id":"g…","name":"Team","owner":"1","members":[{"id":"1","username":"Pablo","online":true}]}
awaitable<api_response> rest_api::group_reply(int status, group_info group) {
    auto names = co_await db_.usernames(group.members);
    if (!names)
        co_return store_failure(names.error());
    auto online = co_await db_.online_flags(group.members);
    if (!online)
        co_return store_failure(online.error());
    json::array members;
    for (std::size_t i = 0; i < group.members.size(); ++i) {
        if ((*names)[i])  // a user gone since is left out
            members.push_back(user_json(group.members[i], *(*names)[i], (*online)[i]));
    }
    json::object o;
    o["id"] = group.room_id;
    o["name"] = group.name;
    o["owner"] = group.owner;
    o["members"] = std::move(members);
    co_return reply(status, o);
}

awaitable<api_response> rest_api::create_group(context& ctx) {
    auto parsed = object_body(ctx.req.body);
    if (!parsed)
        co_return fail(400, "Request body must be a JSON object");
    const json::value& body = *parsed;
    auto name = group_name(body, cfg_.limit.max_group_name_chars);
    if (auto* refused = std::get_if<api_response>(&name))
        co_return *refused;
    auto members =
        json_user_ids(body.get_object().if_contains("members"), cfg_.limit.max_room_members);
    if (auto* problem = std::get_if<std::string>(&members))
        co_return fail(400, *problem);
    auto& ids = std::get<std::vector<std::string>>(members);
    std::erase(ids, *ctx.user_id);  // the owner is a member anyway
    if (ids.size() + 1 > cfg_.limit.max_room_members) {
        co_return fail(
            400, "A group has at most " + std::to_string(cfg_.limit.max_room_members) + " members");
    }
    const auto wait = room_rates_.try_take(*ctx.user_id, std::chrono::steady_clock::now());
    if (wait.count() > 0) {
        api_response res = fail(429, "Too many rooms created, slow down");
        res.retry_after = wait.count() / 1000 + 1;
        co_return res;
    }
    auto created = co_await db_.create_group(new_group_room_id(), *ctx.user_id,
                                             std::get<std::string>(std::move(name)), std::move(ids),
                                             cfg_.limit.max_room_members, server_id_);
    co_return co_await group_changed_reply(std::move(created), 201);
}

awaitable<api_response> rest_api::show_group(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_group_room_id(room_id))
        co_return fail(404, "No such group");
    auto group = co_await db_.group(room_id);
    if (!group)
        co_return store_failure(group.error());
    // A non-member learns nothing, not even that the group exists.
    if (!*group || std::find((*group)->members.begin(), (*group)->members.end(), *ctx.user_id) ==
                       (*group)->members.end()) {
        co_return fail(404, "No such group");
    }
    co_return co_await group_reply(200, std::move(**group));
}

awaitable<api_response> rest_api::rename_group(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_group_room_id(room_id))
        co_return fail(404, "No such group");
    auto parsed = object_body(ctx.req.body);
    if (!parsed)
        co_return fail(400, "Request body must be a JSON object");
    const json::value& body = *parsed;
    auto name = group_name(body, cfg_.limit.max_group_name_chars);
    if (auto* refused = std::get_if<api_response>(&name))
        co_return *refused;
    auto changed = co_await db_.rename_group(room_id, *ctx.user_id,
                                             std::get<std::string>(std::move(name)), server_id_);
    co_return co_await group_changed_reply(std::move(changed), 200);
}

awaitable<api_response> rest_api::add_group_members(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_group_room_id(room_id))
        co_return fail(404, "No such group");
    auto parsed = object_body(ctx.req.body);
    if (!parsed)
        co_return fail(400, "Request body must be a JSON object");
    const json::value& body = *parsed;
    auto members =
        json_user_ids(body.get_object().if_contains("members"), cfg_.limit.max_room_members);
    if (auto* problem = std::get_if<std::string>(&members))
        co_return fail(400, *problem);
    auto changed = co_await db_.add_group_members(
        room_id, *ctx.user_id, std::get<std::vector<std::string>>(std::move(members)),
        cfg_.limit.max_room_members, server_id_);
    co_return co_await group_changed_reply(std::move(changed), 200);
}

// DELETE /groups/{id}/members/{userId}: the owner removes a member; a member leaves (itself).
awaitable<api_response> rest_api::remove_group_member(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_group_room_id(room_id))
        co_return fail(404, "No such group");
    auto member = normalize_user_id(ctx.segments[3]);
    if (!member)
        co_return fail(400, "Invalid user id");
    auto changed = co_await db_.remove_group_member(room_id, *ctx.user_id, *member, server_id_);
    if (!changed)
        co_return store_failure(changed.error());
    if (changed->outcome != group_outcome::ok)
        co_return group_refusal(*changed, cfg_.limit.max_room_members);
    json::object o;
    o["roomId"] = room_id;
    o["removed"] = *member;
    co_return reply(200, o);
}

// GET /users/search?q=Jo&limit=20&after=<user id>: users whose name starts with q (ASCII letters
// in any case), by name, a page at a time.
awaitable<api_response> rest_api::search_users(context& ctx) {
    std::string prefix;
    std::size_t limit = 20;
    std::optional<std::string> after;
    for (auto param : ctx.url.params()) {
        if (param.key == "q") {
            prefix = param.value;
        } else if (param.key == "limit") {
            auto v = parse_count(param.value);
            if (!v || *v == 0)
                co_return fail(400, "limit must be a positive integer");
            limit = std::min(*v, cfg_.limit.max_search_results);
        } else if (param.key == "after") {
            after = normalize_user_id(param.value);
            if (!after)
                co_return fail(400, "after must be a user id");
        }
    }
    if (prefix.size() > 4 * cfg_.limit.max_username_chars || !utf8_length(prefix))
        co_return fail(400, "q must be a short UTF-8 text");
    std::string after_member;
    if (after) {
        auto names = co_await db_.usernames(std::vector<std::string>(1, *after));
        if (!names)
            co_return store_failure(names.error());
        if ((*names)[0])
            after_member = search_key(*(*names)[0]) + std::string(1, '\0') + *after;
    }
    auto found = co_await db_.search_users(search_key(prefix), after_member, limit);
    if (!found)
        co_return store_failure(found.error());
    std::vector<std::string> ids;
    for (const auto& u : *found)
        ids.push_back(u.id);
    auto online = co_await db_.online_flags(ids);
    if (!online)
        co_return store_failure(online.error());
    json::array users;
    for (std::size_t i = 0; i < found->size(); ++i)
        users.push_back(user_json((*found)[i].id, (*found)[i].username, (*online)[i]));
    json::object o;
    o["users"] = std::move(users);
    // A full page may have a next one: ask again after its last user.
    o["next"] = found->size() == limit ? json::value(found->back().id) : json::value(nullptr);
    co_return reply(200, o);
}

// GET /room/{id}/reactions?ids[]=<message id>...: {"<message id>":{"👍":["1","2"]}} for those
// of the messages that have reactions. Members only.
awaitable<api_response> rest_api::room_reactions(context& ctx) {
    const std::string& room_id = ctx.segments[1];
    if (!is_room_id(room_id))
        co_return fail(400, "Invalid room id");
    std::vector<std::string> ids;
    for (auto param : ctx.url.params()) {
        if (param.key != "ids[]" && param.key != "ids")
            continue;
        if (!param.has_value || !cursor_score(param.value) || param.value.size() > 40)
            co_return fail(400, "ids[] must be message ids");
        if (std::find(ids.begin(), ids.end(), param.value) == ids.end())
            ids.push_back(param.value);
        if (ids.size() > cfg_.limit.max_page_size) {
            co_return fail(
                400, "At most " + std::to_string(cfg_.limit.max_page_size) + " ids per request");
        }
    }
    if (room_id != general_room_id) {
        auto member = co_await db_.is_room_member(*ctx.user_id, room_id);
        if (!member)
            co_return store_failure(member.error());
        if (!*member)
            co_return fail(403, "You are not a member of this room");
    }
    auto found = co_await db_.reactions(room_id, ids);
    if (!found)
        co_return store_failure(found.error());
    std::string out = "{";
    for (std::size_t i = 0; i < ids.size() && i < found->size(); ++i) {
        if (!(*found)[i])
            continue;
        if (out.size() > 1)
            out += ',';
        out += json_quote(ids[i]) + ":" + *(*found)[i];
    }
    out += '}';
    co_return api_response{200, std::move(out)};
}

awaitable<api_response> rest_api::create_room(context& ctx) {
    auto parsed = object_body(ctx.req.body);
    if (!parsed)
        co_return fail(400, "Request body must be a JSON object");
    const json::value& body = *parsed;
    auto a = json_user_id(body.get_object().if_contains("user1"));
    auto b = json_user_id(body.get_object().if_contains("user2"));
    if (!a || !b)
        co_return fail(400, "user1 and user2 must be user ids");
    if (*a == *b)
        co_return fail(400, "A private room needs two different users");
    if (*a != *ctx.user_id && *b != *ctx.user_id) {
        co_return fail(403, "You can only create rooms you are part of");
    }
    {
        const auto now = std::chrono::steady_clock::now();
        const auto wait = room_rates_.try_take(*ctx.user_id, now);
        if (wait.count() > 0) {
            api_response res = fail(429, "Too many rooms created, slow down");
            res.retry_after = wait.count() / 1000 + 1;
            co_return res;
        }
    }
    std::string room_id = private_room_id(*a, *b);
    auto members = *private_room_members(room_id);
    auto names = co_await db_.usernames(pair_of(members.first, members.second));
    if (!names)
        co_return store_failure(names.error());
    if (!(*names)[0] || !(*names)[1])
        co_return fail(404, "No such user");
    auto added = co_await db_.add_room(room_id, pair_of(members.first, members.second));
    if (!added)
        co_return store_failure(added.error());
    json::object out;
    out["id"] = room_id;
    out["names"] = member_names(*names, pair_of(members.first, members.second));
    co_return reply(201, out);
}

}  // namespace redchat::chat
