#include "redis/chat_store.hpp"

#include <boost/json/parse.hpp>

#include <charconv>
#include <cmath>

#include "chat/bus_event.hpp"
#include "chat/message.hpp"
#include "chat/routing.hpp"
#include "chat/rules.hpp"
#include "core/random_id.hpp"
#include "core/sha1.hpp"
#include "redis/command_link.hpp"
#include "redis/keys.hpp"

namespace redchat::redis {
namespace {

using boost::asio::awaitable;
template <typename T>
using task = awaitable<result<T>>;

// Registers a user atomically: the name check, the id and every key of the user in one step,
// so that two servers registering the same name at once cannot both win. A new user has read
// General up to now: its whole history is not "unread".
constexpr std::string_view create_user_script = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], '@USER_VALUE@' .. id)
redis.call('HSET', user_key(id), 'username', ARGV[1], 'password', ARGV[2])
redis.call('SADD', user_rooms_key(id), '0')
redis.call('ZADD', '@NAMES@', 0, string.lower(ARGV[1]) .. '\0' .. id)
local newest = redis.call('ZREVRANGE', room_key('0'), 0, 0, 'WITHSCORES')
if #newest > 0 then redis.call('HSET', reads_key('0'), id, newest[2]) end
return id
)lua";

// On a cluster, registration is in single-slot steps (see create_user): this one gives the new
// user General's newest message as its read position. KEYS: General's zset, its reads hash.
// ARGV: the user id.
constexpr std::string_view join_general_script = R"lua(
local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #newest > 0 then redis.call('HSET', KEYS[2], ARGV[1], newest[2]) end
)lua";

// Builds a command from strings and literals. (A braced list of literals inside a coroutine
// trips a GCC 12 bug, "array used as initializer"; a function template does not.)
template <typename... Parts>
command cmd(const Parts&... parts) {
    return command{std::string(parts)...};
}

std::vector<command> one(command c) {
    std::vector<command> list;
    list.push_back(std::move(c));
    return list;
}

// Publishing, shared by the scripts that publish (prepended): on the channels the caller chose
// (chat/routing.hpp, separated by spaces: no channel name has one), or presence, on the
// presence channels when it is routed and else on the tutorial's.
constexpr std::string_view publish_lua_prelude = R"lua(
local function publish_to(channels, envelope)
  for channel in string.gmatch(channels, '%S+') do redis.call('@PUBLISH@', channel, envelope) end
end
local function username_of(uid)
  if @CLUSTER@ then return redis.call('HGET', '@PRESENCE_NAMES@', uid) or '' end
  return redis.call('HGET', user_key(uid), 'username') or ''
end
local function publish_presence(routed, uid, envelope)
  if routed then
    redis.call('@PUBLISH@', '@PRESENCE@', envelope)
    redis.call('@PUBLISH@', '@PRESENCE@:' .. uid, envelope)
  else
    redis.call('PUBLISH', '@CHANNEL@', envelope)
  end
end
)lua";

// Stores and publishes a message atomically. The date is the server's clock, raised to 1 ms
// after the room's last date when needed, so dates (and scores) are unique and increasing per
// room; the id starts with the date in milliseconds, which makes it a stable paging cursor.
// The sender has read the room up to the new message. With a client id (a 4th key, and '1' in
// ARGV[10]), a repeat returns the message stored the first time and publishes nothing. A group
// room (a 5th key, its members) takes messages only from members.
// KEYS: room zset, room-last, reads hash, sent key (without a client id any key of the room's
// slot, unused) [, group members]. ARGV: now, random suffix, roomId, from, text (JSON-quoted),
// serverId, then the sender's id, the sent key's TTL, the channels to publish on, and '1' with
// a client id. Returns {json, first in room, 0}, {stored json, 0, 1} for a
// repeat, {'', 0, 2} for a sender who is no member.
constexpr std::string_view post_message_script = R"lua(
local once = ARGV[10] == '1'
if once then
  local stored = redis.call('GET', KEYS[4])
  if stored then return {stored, 0, 1} end
end
if KEYS[5] and redis.call('SISMEMBER', KEYS[5], ARGV[7]) == 0 then return {'', 0, 2} end
local now = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < last + 0.001 then now = last + 0.001 end
local date = string.format('%.3f', now)
redis.call('SET', KEYS[2], date)
local id = string.format('%.0f', tonumber(date) * 1000) .. '-' .. ARGV[2]
local first = redis.call('EXISTS', KEYS[1]) == 0
local json = '{"id":"' .. id .. '","roomId":' .. ARGV[3] .. ',"from":' .. ARGV[4] ..
             ',"date":' .. date .. ',"message":' .. ARGV[5] .. '}'
redis.call('ZADD', KEYS[1], date, json)
publish_to(ARGV[9], '{"serverId":' .. ARGV[6] .. ',"type":"message","data":' .. json .. '}')
redis.call('HSET', KEYS[3], ARGV[7], date)
if once then redis.call('SET', KEYS[4], json, 'EX', ARGV[8]) end
if first then return {json, 1, 0} end
return {json, 0, 0}
)lua";

// Raises a reader's position, never past the room's newest message, and announces it.
// KEYS: room zset, reads hash. ARGV: user id, position, envelope before and after the date
// (nothing is published when both are empty), the channels to publish on.
// Returns the new position, or false when it did not rise.
constexpr std::string_view mark_read_script = R"lua(
local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #newest == 0 then return false end
local pos = math.min(tonumber(ARGV[2]), tonumber(newest[2]))
local before = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '')
if before and pos <= before then return false end
local date = string.format('%.3f', pos)
if before and tonumber(date) <= before then return false end
redis.call('HSET', KEYS[2], ARGV[1], date)
if ARGV[3] ~= '' then publish_to(ARGV[5], ARGV[3] .. date .. ARGV[4]) end
return date
)lua";

// Finds a message of ours by its id among the room's members of its score; shared by the
// scripts below (prepended). Returns the member and its decoded form, or nil.
constexpr std::string_view find_message_lua_prelude = R"lua(
local function find_message(score, id)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], score, score)) do
    local ok, m = pcall(cjson.decode, member)
    if ok and type(m) == 'table' and m.id == id then return member, m end
  end
  return nil
end
)lua";

// Edits or deletes a message, textually: the stored JSON keeps every field before "message"
// exactly as written (the date's digits are its score). KEYS: room zset, reactions hash.
// ARGV: score, message id, author, new text (JSON-quoted; '' to delete), edit date, serverId
// (JSON-quoted), the channels to publish on. Returns {'ok', new JSON} or {outcome}.
constexpr std::string_view edit_message_script = R"lua(
local member, m = find_message(ARGV[1], ARGV[2])
if not member or m.deleted then return {'not_found'} end
if tostring(m.from) ~= ARGV[3] then return {'forbidden'} end
local cut = string.find(member, ',"message":', 1, true)
if not cut then return {'not_found'} end
local json
if ARGV[4] == '' then
  json = string.sub(member, 1, cut - 1) .. ',"message":"Message deleted","deleted":true}'
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  json = string.sub(member, 1, cut - 1) .. ',"message":' .. ARGV[4] .. ',"edited":' .. ARGV[5] .. '}'
end
redis.call('ZREM', KEYS[1], member)
redis.call('ZADD', KEYS[1], ARGV[1], json)
publish_to(ARGV[7], '{"serverId":' .. ARGV[6] .. ',"type":"message.updated","data":' .. json .. '}')
return {'ok', json}
)lua";

// Toggles a reaction. KEYS: room zset, reactions hash. ARGV: score, message id, user id, emoji,
// max kinds, serverId (JSON-quoted), room id, the channels to publish on. Returns {'ok', reactions
// JSON} or {outcome}.
constexpr std::string_view toggle_reaction_script = R"lua(
local member, m = find_message(ARGV[1], ARGV[2])
if not member or m.deleted then return {'not_found'} end
local all = {}
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if stored then all = cjson.decode(stored) end
local users = all[ARGV[4]]
if users then
  local kept, had = {}, false
  for _, u in ipairs(users) do
    if u == ARGV[3] then had = true else kept[#kept + 1] = u end
  end
  if not had then kept[#kept + 1] = ARGV[3] end
  if #kept == 0 then all[ARGV[4]] = nil else all[ARGV[4]] = kept end
else
  local kinds = 0
  for _ in pairs(all) do kinds = kinds + 1 end
  if kinds >= tonumber(ARGV[5]) then return {'too_many'} end
  all[ARGV[4]] = {ARGV[3]}
end
local json = '{}'
if next(all) then
  json = cjson.encode(all)
  redis.call('HSET', KEYS[2], ARGV[2], json)
else
  redis.call('HDEL', KEYS[2], ARGV[2])
end
publish_to(ARGV[8], '{"serverId":' .. ARGV[6] .. ',"type":"message.reactions","data":{"roomId":' ..
  cjson.encode(ARGV[7]) .. ',"messageId":' .. cjson.encode(ARGV[2]) .. ',"reactions":' .. json .. '}}')
return {'ok', json}
)lua";

// Group rooms. A group.changed event names the group, its owner and members, and who left;
// its JSON is built here, where the state is. The helpers below are shared by every group
// script (prepended to each).
constexpr std::string_view group_lua_prelude = R"lua(
local CLUSTER = @CLUSTER@
local function json_list(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = cjson.encode(v) end
  return '[' .. table.concat(out, ',') .. ']'
end
local function announce(room, server, removed)
  local members = redis.call('SMEMBERS', KEYS[2])
  table.sort(members, function(a, b) return #a < #b or (#a == #b and a < b) end)
  local data = '{"roomId":' .. cjson.encode(room) .. ',"name":' ..
    cjson.encode(redis.call('GET', KEYS[3]) or '') .. ',"owner":' ..
    cjson.encode(redis.call('HGET', KEYS[1], 'owner') or '') .. ',"members":' ..
    json_list(members) .. ',"removed":' .. json_list(removed) .. '}'
  -- On the channel of every user it concerns: the new members' sockets are not in the room yet.
  local envelope = '{"serverId":' .. server .. ',"type":"group.changed","data":' .. data .. '}'
  if not CLUSTER then  -- on a cluster the users' channels are in other slots: the store publishes
    for _, list in ipairs({members, removed}) do
      for _, uid in ipairs(list) do
        redis.call('@PUBLISH@', '@USER_CHANNEL@' .. uid .. '}', envelope)
      end
    end
  end
  return {'ok', data}
end
local function known_users(from)
  if CLUSTER then return nil end  -- checked by the store first: users are in other slots
  for i = from, #ARGV do
    if redis.call('EXISTS', user_key(ARGV[i])) == 0 then return ARGV[i] end
  end
  return nil
end
)lua";

// KEYS: group hash, members set, name key. ARGV: room id, owner, name, serverId (JSON-quoted),
// max members, then the other members' ids.
constexpr std::string_view create_group_script = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local unknown = known_users(6)
if unknown then return {'no_such_user', unknown} end
redis.call('SADD', KEYS[2], ARGV[2])
for i = 6, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
if redis.call('SCARD', KEYS[2]) > tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[2])
  return {'too_many'}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
if not CLUSTER then  -- on a cluster the store adds the room to each member's set
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    redis.call('SADD', user_rooms_key(id), ARGV[1])
  end
end
return announce(ARGV[1], ARGV[4], {})
)lua";

// KEYS: group hash, members set, name key. ARGV: room id, actor, serverId (JSON-quoted), op,
// then for 'rename' the name, for 'add' the max members and the ids, for 'remove' the member.
constexpr std::string_view change_group_script = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {'not_found'} end
local actor, op = ARGV[2], ARGV[4]
local removed = {}
if op == 'rename' then
  if actor ~= owner then return {'forbidden'} end
  redis.call('SET', KEYS[3], ARGV[5])
elseif op == 'add' then
  if actor ~= owner then return {'forbidden'} end
  local unknown = known_users(6)
  if unknown then return {'no_such_user', unknown} end
  local count = redis.call('SCARD', KEYS[2])
  for i = 6, #ARGV do
    if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then count = count + 1 end
  end
  if count > tonumber(ARGV[5]) then return {'too_many'} end
  for i = 6, #ARGV do
    redis.call('SADD', KEYS[2], ARGV[i])
    if not CLUSTER then redis.call('SADD', user_rooms_key(ARGV[i]), ARGV[1]) end
  end
elseif op == 'remove' then
  local member = ARGV[5]
  if actor ~= member and actor ~= owner then
    if redis.call('SISMEMBER', KEYS[2], actor) == 0 then return {'not_found'} end
    return {'forbidden'}
  end
  if redis.call('SREM', KEYS[2], member) == 0 then return {'not_member'} end
  if not CLUSTER then redis.call('SREM', user_rooms_key(member), ARGV[1]) end
  removed = {member}
  if member == owner then
    local heir = nil
    for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
      if not heir or #id < #heir or (#id == #heir and id < heir) then heir = id end
    end
    redis.call('HSET', KEYS[1], 'owner', heir or '')
  end
else
  return {'bad_op'}
end
return announce(ARGV[1], ARGV[3], removed)
)lua";

// The name index, filled from the users that exist (also those registered by other servers):
// one SCAN step. ARGV: cursor, count. Returns {next cursor, users seen}.
constexpr std::string_view index_usernames_script = R"lua(
local step = redis.call('SCAN', ARGV[1], 'MATCH', 'username:*', 'COUNT', ARGV[2])
local seen = 0
for _, key in ipairs(step[2]) do
  local target = redis.call('GET', key)
  if target then
    local id = string.match(target, '^@USER_VALUE@(%d+)$') or string.match(target, '^(%d+)$')
    if id then
      redis.call('ZADD', '@NAMES@', 0, string.lower(string.sub(key, 10)) .. '\0' .. id)
      seen = seen + 1
    end
  end
end
return {step[1], seen}
)lua";

// Per room of a user: the room id, the read position ('' when none), the messages after it
// (all of them when there is no position) and the newest message's score ('' when none).
// KEYS: the user's room set. ARGV: the user id.
constexpr std::string_view read_state_script = R"lua(
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local pos = redis.call('HGET', reads_key(id), ARGV[1])
  local n
  if pos then
    n = redis.call('ZCOUNT', room_key(id), '(' .. pos, '+inf')
  else
    n = redis.call('ZCARD', room_key(id))
  end
  local top = redis.call('ZREVRANGE', room_key(id), 0, 0, 'WITHSCORES')
  out[#out + 1] = id
  out[#out + 1] = pos or ''
  out[#out + 1] = n
  out[#out + 1] = top[2] or ''
end
return out
)lua";

// One room's part of read_state_script, on a cluster where a user's rooms are in other slots.
// KEYS: the room's reads hash, its zset. ARGV: the user id. Returns {position or '', count,
// newest score or ''}.
constexpr std::string_view read_state_room_script = R"lua(
local pos = redis.call('HGET', KEYS[1], ARGV[1])
local n
if pos then n = redis.call('ZCOUNT', KEYS[2], '(' .. pos, '+inf') else n = redis.call('ZCARD', KEYS[2]) end
local top = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {pos or '', n, top[2] or ''}
)lua";

// Sessions: "<user id> <absolute deadline, Redis unix seconds>", with the idle TTL as the key's
// expiry. Redis's clock decides, so every instance agrees.
// KEYS: session. ARGV: user id, idle ttl, max age.
constexpr std::string_view put_session_script = R"lua(
local now = tonumber(redis.call('TIME')[1])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. (now + tonumber(ARGV[3])), 'EX', ARGV[2])
)lua";

// Returns the session's user id (nil when gone), ending it at its deadline and extending its
// idle expiry (at most once per `slack` ms, so that reads rarely write). A value without a
// deadline (written before absolute expiry existed) only has the idle expiry.
// KEYS: session. ARGV: idle ttl seconds, slack ms.
constexpr std::string_view session_user_script = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return false end
local left = tonumber(ARGV[1])
local sp = string.find(v, ' ', 1, true)
if sp then
  local deadline = tonumber(string.sub(v, sp + 1)) or 0
  local remain = deadline - tonumber(redis.call('TIME')[1])
  if remain <= 0 then
    redis.call('DEL', KEYS[1])
    return false
  end
  if remain < left then left = remain end
  v = string.sub(v, 1, sp - 1)
end
if redis.call('PTTL', KEYS[1]) < left * 1000 - tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], left)
end
return v
)lua";

// Presence: per-instance and total connection counts per user. KEYS: instance hash, totals
// hash, online_users, instance set, instance heartbeat. ARGV: user id, envelope to publish on
// the 0 -> 1 (join) transition, instance id, heartbeat ttl, the channels to publish on. The
// instance registers itself (and its heartbeat) here, so that it is swept if it dies even before
// its first heartbeat.
constexpr std::string_view presence_join_script = R"lua(
if @CLUSTER@ then redis.call('HSET', '@PRESENCE_NAMES@', ARGV[1], ARGV[6]) end
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('SET', KEYS[5], '1', 'EX', ARGV[4], 'NX')
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if total == 1 then
  redis.call('SADD', KEYS[3], ARGV[1])
  publish_to(ARGV[5], ARGV[2])
end
return total
)lua";

// The 1 -> 0 transition publishes ARGV[2] on ARGV[3] and takes the user out of online_users.
constexpr std::string_view presence_leave_script = R"lua(
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[1])
  publish_to(ARGV[3], ARGV[2])
end
return total
)lua";

// Rewrites one instance's presence to the state it reports, with its heartbeat. KEYS: its hash,
// totals, online_users, instance set, heartbeat. ARGV: instance id, ttl, serverId (JSON-quoted),
// '1' when presence is routed (else it goes on `MESSAGES`), then user id and count pairs. Only
// users whose count differs are touched.
constexpr std::string_view presence_rewrite_script = R"lua(
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SET', KEYS[5], '1', 'EX', ARGV[2])
local want = {}
for i = 5, #ARGV, 2 do want[ARGV[i]] = tonumber(ARGV[i + 1]) end
local have = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do have[entries[i]] = tonumber(entries[i + 1]) or 0 end
local function announce(uid, online)
  local name = username_of(uid)
  local kind = online and 'user.connected' or 'user.disconnected'
  publish_presence(ARGV[4] == '1', uid, '{"serverId":' .. ARGV[3] .. ',"type":"' .. kind ..
    '","data":{"id":' .. cjson.encode(uid) .. ',"username":' .. cjson.encode(name) ..
    ',"online":' .. tostring(online) .. '}}')
end
local function adjust(uid, delta)
  local before = tonumber(redis.call('HGET', KEYS[2], uid) or '0') or 0
  local after = before + delta
  if after <= 0 then
    redis.call('HDEL', KEYS[2], uid)
    if before > 0 then
      redis.call('SREM', KEYS[3], uid)
      announce(uid, false)
    end
  else
    redis.call('HSET', KEYS[2], uid, after)
    if before <= 0 then
      redis.call('SADD', KEYS[3], uid)
      announce(uid, true)
    end
  end
end
local changed = 0
for uid, n in pairs(have) do
  local w = want[uid] or 0
  if w ~= n then
    if w > 0 then redis.call('HSET', KEYS[1], uid, w) else redis.call('HDEL', KEYS[1], uid) end
    adjust(uid, w - n)
    changed = changed + 1
  end
end
for uid, w in pairs(want) do
  if have[uid] == nil and w > 0 then
    redis.call('HSET', KEYS[1], uid, w)
    adjust(uid, w)
    changed = changed + 1
  end
end
return changed
)lua";

// Removes one instance's connections from the totals. KEYS: its hash, totals, online_users,
// instance set. ARGV: instance id, serverId (JSON-quoted) for the user.disconnected events, '1'
// when presence is routed.
constexpr std::string_view presence_sweep_script = R"lua(
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local uid = entries[i]
  local total = redis.call('HINCRBY', KEYS[2], uid, -tonumber(entries[i + 1]))
  if total <= 0 then
    redis.call('HDEL', KEYS[2], uid)
    redis.call('SREM', KEYS[3], uid)
    local name = username_of(uid)
    publish_presence(ARGV[3] == '1', uid, '{"serverId":' .. ARGV[2] ..
      ',"type":"user.disconnected","data":{"id":' .. cjson.encode(uid) .. ',"username":' ..
      cjson.encode(name) .. ',"online":false}}')
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[1])
return #entries / 2
)lua";

// Login throttling: counts one attempt against every key at once, or refuses it. KEYS: per
// check, its failures counter and its lockout. ARGV: the window (seconds), then each check's
// free attempts. Returns the seconds to wait: a running lockout, or the lockout this attempt
// starts by going past a key's free attempts (2^(attempt - free) s, at most the window, as
// chat::login_lockout). A refused attempt during a lockout is not counted again.
constexpr std::string_view login_attempt_script = R"lua(
local n = #KEYS / 2
for i = 1, n do
  local ttl = redis.call('TTL', KEYS[2 * i])
  if ttl > 0 then return ttl end
end
local window = tonumber(ARGV[1])
local wait = 0
for i = 1, n do
  local c = redis.call('INCR', KEYS[2 * i - 1])
  if c == 1 then redis.call('EXPIRE', KEYS[2 * i - 1], window) end
  local free = tonumber(ARGV[i + 1])
  if c > free then
    local lock = math.min(2 ^ math.min(c - free, 30), window)
    lock = math.floor(lock)
    redis.call('SET', KEYS[2 * i], '1', 'EX', lock)
    if lock > wait then wait = lock end
  end
end
return wait
)lua";

// After a successful login. KEYS: the failures counter and lockout of each key to forget, then
// the failures counter of each key that gets its attempt back. ARGV[1]: how many keys to forget.
constexpr std::string_view login_success_script = R"lua(
local forget = tonumber(ARGV[1])
for i = 1, 2 * forget do redis.call('DEL', KEYS[i]) end
for i = 2 * forget + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('DECR', KEYS[i]) <= 0 then
    redis.call('DEL', KEYS[i])
  end
end
)lua";

// A script as Redis runs it: the layout's key functions (keys::layout::lua_prelude) first,
// then `text` with its tokens replaced: `@USER_VALUE@` (`user:`, how `username:<name>` names its
// user), `@CHANNEL@` (`MESSAGES`), `@NAMES@` (the name index), `@PUBLISH@` (SPUBLISH on a
// cluster, whose channels are sharded), and the routed channels' `@USER_CHANNEL@` (up to the
// user id, which a `}` closes) and `@PRESENCE@`; `@CLUSTER@` (true or false) and
// `@PRESENCE_NAMES@` (keys::layout::presence_names).
std::string script_text(std::string_view text, const keys::layout& layout) {
    std::string out = layout.lua_prelude();
    const std::string presence_names = layout.presence_names();
    out.append(text);
    const std::pair<std::string_view, std::string_view> names[] = {
        {"@USER_VALUE@", keys::user_value_prefix},
        {"@CHANNEL@", keys::messages_channel},
        {"@NAMES@", keys::usernames_index},
        {"@PUBLISH@", layout.cluster() ? "SPUBLISH" : "PUBLISH"},
        {"@CLUSTER@", layout.cluster() ? "true" : "false"},
        {"@PRESENCE_NAMES@", presence_names},
        {"@USER_CHANNEL@", chat::routing::user_prefix},
        {"@PRESENCE@", chat::routing::presence_channel},
    };
    for (const auto& [token, value] : names) {
        for (auto at = out.find(token); at != std::string::npos; at = out.find(token, at))
            out.replace(at, token.size(), value);
    }
    return out;
}

// A script and its SHA-1, the name EVALSHA knows it by.
struct lua_script {
    std::string body;
    std::string sha;
    lua_script(std::string_view text, const keys::layout& layout)
        : body(script_text(text, layout)), sha(sha1_hex(body)) {}
};

std::string joined(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto p : parts)
        out.append(p);
    return out;
}

// Every script, for one key layout.
struct script_set {
    explicit script_set(const keys::layout& k)
        : create_user(create_user_script, k),
          put_session(put_session_script, k),
          session_user(session_user_script, k),
          post_message(joined({publish_lua_prelude, post_message_script}), k),
          mark_read(joined({publish_lua_prelude, mark_read_script}), k),
          read_state(read_state_script, k),
          create_group(joined({group_lua_prelude, create_group_script}), k),
          change_group(joined({group_lua_prelude, change_group_script}), k),
          index_usernames(index_usernames_script, k),
          edit_message(joined({publish_lua_prelude, find_message_lua_prelude, edit_message_script}),
                       k),
          toggle_reaction(
              joined({publish_lua_prelude, find_message_lua_prelude, toggle_reaction_script}), k),
          presence_join(joined({publish_lua_prelude, presence_join_script}), k),
          presence_leave(joined({publish_lua_prelude, presence_leave_script}), k),
          presence_sweep(joined({publish_lua_prelude, presence_sweep_script}), k),
          presence_rewrite(joined({publish_lua_prelude, presence_rewrite_script}), k),
          login_attempt(login_attempt_script, k),
          login_success(login_success_script, k),
          join_general(join_general_script, k),
          read_state_room(read_state_room_script, k) {}

    lua_script create_user, put_session, session_user, post_message, mark_read, read_state,
        create_group, change_group, index_usernames, edit_message, toggle_reaction, presence_join,
        presence_leave, presence_sweep, presence_rewrite, login_attempt, login_success,
        join_general, read_state_room;
};

const script_set& scripts_for(const keys::layout& k) {
    static const script_set single(keys::single_redis);
    static const script_set cluster(keys::redis_cluster);
    return k.cluster() ? cluster : single;
}

// How long a client id keeps a message from being stored twice: far longer than any client
// retries, short enough that the keys do not pile up.
constexpr std::chrono::seconds sent_ttl{24 * 3600};

// `username:{name}` holds "user:{id}"; tolerate a bare id written by other ports.
std::string_view user_id_of(std::string_view key) {
    if (key.starts_with(keys::user_value_prefix))
        key.remove_prefix(keys::user_value_prefix.size());
    return key;
}

class redis_chat_store final : public chat::store {
  public:
    redis_chat_store(command_link& redis, bool tutorial_bus, const keys::layout& layout,
                     durability durable)
        : redis_(redis),
          tutorial_bus_(tutorial_bus),
          k_(layout),
          lua_(scripts_for(layout)),
          durable_(durable) {}

    task<void> ping() override {
        auto r = co_await redis_.exec(cmd("PING"));
        if (!r)
            co_return r.error();
        co_return result<void>{};
    }

    task<std::optional<chat::user_credentials>> find_user(std::string username) override {
        auto key = co_await redis_.exec(cmd("GET", k_.username(username)));
        if (!key)
            co_return key.error();
        auto value = key->as_string();
        if (!value)
            co_return std::optional<chat::user_credentials>{};
        std::string id(user_id_of(*value));
        auto fields = co_await redis_.exec(cmd("HMGET", k_.user(id), "username", "password"));
        if (!fields)
            co_return fields.error();
        if (fields->elements.size() != 2)
            co_return make_error_code(errc::redis_protocol);
        auto name = fields->elements[0].as_string();
        auto hash = fields->elements[1].as_string();
        if (!name || !hash)
            co_return std::optional<chat::user_credentials>{};  // dangling
        co_return chat::user_credentials{{id, *name}, *hash};
    }

    task<std::optional<chat::user>> create_user(std::string username, std::string hash) override {
        if (k_.cluster())
            co_return co_await create_user_in_steps(std::move(username), std::move(hash));
        auto r = co_await eval(lua_.create_user,
                               cmd("2", k_.username(username), keys::total_users, username, hash));
        if (!r)
            co_return r.error();
        if (r->is_nil())
            co_return std::optional<chat::user>{};
        auto id = r->as_integer();
        if (!id)
            co_return make_error_code(errc::redis_protocol);
        co_return chat::user{std::to_string(*id), username};
    }

    // On a cluster, where the name, the counter and the user's keys are in different slots: the
    // user's keys first, then the name (SET NX, the step that decides who gets it), then the
    // index and General's read position. A name taken meanwhile deletes the keys made for it; a
    // crash between the steps leaves unreachable keys at worst, never a name without a user.
    task<std::optional<chat::user>> create_user_in_steps(std::string username, std::string hash) {
        auto next = co_await redis_.exec(cmd("INCR", keys::total_users));
        if (!next)
            co_return next.error();
        const auto number = next->as_integer();
        if (!number)
            co_return make_error_code(errc::redis_protocol);
        const std::string id = std::to_string(*number);
        std::vector<command> user_keys;
        user_keys.push_back(cmd("HSET", k_.user(id), "username", username, "password", hash));
        user_keys.push_back(cmd("SADD", k_.user_rooms(id), "0"));
        auto made = co_await redis_.exec_all(std::move(user_keys));
        if (!made)
            co_return made.error();
        auto claimed = co_await redis_.exec(
            cmd("SET", k_.username(username), std::string(keys::user_value_prefix) + id, "NX"));
        if (!claimed)
            co_return claimed.error();
        if (claimed->is_nil()) {
            (void)co_await redis_.exec(cmd("DEL", k_.user(id), k_.user_rooms(id)));
            co_return std::optional<chat::user>{};
        }
        std::string entry = chat::search_key(username);
        entry.push_back('\0');
        entry.append(id);
        auto indexed = co_await redis_.exec(cmd("ZADD", keys::usernames_index, "0", entry));
        if (!indexed)
            co_return indexed.error();
        auto general = co_await eval(lua_.join_general, cmd("2", k_.room("0"), k_.reads("0"), id));
        if (!general)
            co_return general.error();
        co_return chat::user{id, username};
    }

    task<std::vector<std::optional<std::string>>> usernames(std::vector<std::string> ids) override {
        std::vector<command> cmds;
        cmds.reserve(ids.size());
        for (const auto& id : ids)
            cmds.push_back(cmd("HGET", k_.user(id), "username"));
        auto r = co_await redis_.exec_all(std::move(cmds));
        if (!r)
            co_return r.error();
        std::vector<std::optional<std::string>> out;
        out.reserve(r->size());
        for (const auto& rep : *r)
            out.push_back(rep.as_string());
        co_return out;
    }

    task<std::vector<std::string>> online_user_ids() override {
        co_return co_await strings(cmd("SMEMBERS", k_.online_users()));
    }

    task<std::vector<bool>> online_flags(std::vector<std::string> ids) override {
        std::vector<command> cmds;
        for (const auto& id : ids)
            cmds.push_back(cmd("SISMEMBER", k_.online_users(), id));
        auto r = co_await redis_.exec_all(std::move(cmds));
        if (!r)
            co_return r.error();
        std::vector<bool> out;
        for (const auto& rep : *r)
            out.push_back(rep.as_integer().value_or(0) == 1);
        co_return out;
    }

    task<std::vector<std::string>> user_rooms(std::string user_id) override {
        co_return co_await strings(cmd("SMEMBERS", k_.user_rooms(user_id)));
    }

    task<bool> is_room_member(std::string user_id, std::string room_id) override {
        auto r = co_await redis_.exec(cmd("SISMEMBER", k_.user_rooms(user_id), room_id));
        if (!r)
            co_return failure<bool>(r.error());
        co_return r->as_integer().value_or(0) == 1;
    }

    task<std::vector<std::optional<std::string>>> room_names(
        std::vector<std::string> room_ids) override {
        std::vector<command> cmds;
        for (const auto& id : room_ids)
            cmds.push_back(cmd("GET", k_.room_name(id)));
        auto r = co_await redis_.exec_all(std::move(cmds));
        if (!r)
            co_return r.error();
        std::vector<std::optional<std::string>> out;
        for (const auto& rep : *r)
            out.push_back(rep.as_string());
        co_return out;
    }

    task<void> add_room(std::string room_id, std::vector<std::string> member_ids) override {
        std::vector<command> cmds;
        for (const auto& id : member_ids)
            cmds.push_back(cmd("SADD", k_.user_rooms(id), room_id));
        co_return co_await done(redis_.exec_all(std::move(cmds)));
    }

    task<void> set_room_name(std::string room_id, std::string name) override {
        co_return co_await done(redis_.exec_all(one(cmd("SET", k_.room_name(room_id), name))));
    }

    // The command that reads a history page (count > 0).
    command page_command(const std::string& room_id, std::size_t offset, std::size_t count,
                         double before) const {
        if (std::isfinite(before)) {
            return cmd("ZREVRANGEBYSCORE", k_.room(room_id), "(" + chat::format_date(before),
                       "-inf", "LIMIT", std::to_string(offset), std::to_string(count));
        }
        return cmd("ZREVRANGE", k_.room(room_id), std::to_string(offset),
                   std::to_string(offset + count - 1));
    }

    task<std::vector<std::string>> room_messages(std::string room_id, std::size_t offset,
                                                 std::size_t count, double before) override {
        if (count == 0)
            co_return std::vector<std::string>{};
        co_return co_await strings(page_command(room_id, offset, count, before));
    }

    // The session script and the page, written together: one round trip. After a Redis restart
    // (NOSCRIPT) the script is loaded the usual way, in two.
    task<session_page> session_and_page(std::string session_id, std::chrono::seconds idle_ttl,
                                        std::string room_id, std::size_t offset, std::size_t count,
                                        double before) override {
        std::vector<command> cmds;
        cmds.push_back(cmd("EVALSHA", lua_.session_user.sha));
        for (auto& a : session_args(session_id, idle_ttl))
            cmds.back().push_back(std::move(a));
        if (count > 0)
            cmds.push_back(page_command(room_id, offset, count, before));
        auto r = co_await redis_.exec_all(std::move(cmds));
        if (!r && r.error() == make_error_code(errc::redis_noscript)) {
            co_return co_await chat::store::session_and_page(
                std::move(session_id), idle_ttl, std::move(room_id), offset, count, before);
        }
        if (!r)
            co_return r.error();
        session_page out;
        out.user_id = (*r)[0].as_string();
        if (out.user_id && count > 0) {
            auto list = (*r)[1].as_strings();
            if (!list)
                co_return make_error_code(errc::redis_protocol);
            out.messages = std::move(*list);
        }
        co_return out;
    }

    task<void> append_message(std::string room_id, double score, std::string json) override {
        co_return co_await done(
            redis_.exec_all(one(cmd("ZADD", k_.room(room_id), chat::format_date(score), json))));
    }

    task<void> put_session(std::string session_id, std::string user_id,
                           std::chrono::seconds idle_ttl, std::chrono::seconds max_age) override {
        co_return co_await done(
            eval(lua_.put_session, cmd("1", k_.session(session_id), user_id,
                                       std::to_string(std::min(idle_ttl, max_age).count()),
                                       std::to_string(max_age.count()))));
    }

    task<std::optional<std::string>> session_user(std::string session_id,
                                                  std::chrono::seconds idle_ttl) override {
        auto r = co_await eval(lua_.session_user, session_args(session_id, idle_ttl));
        if (!r)
            co_return r.error();
        co_return r->as_string();
    }

    // The session script's arguments: 1 session:<id> <idle ttl> <slack ms>.
    command session_args(const std::string& session_id, std::chrono::seconds idle_ttl) const {
        const auto slack_ms = std::min<long long>(60'000, idle_ttl.count() * 100);
        return cmd("1", k_.session(session_id), std::to_string(idle_ttl.count()),
                   std::to_string(slack_ms));
    }

    task<void> delete_session(std::string session_id) override {
        co_return co_await done(redis_.exec_all(one(cmd("DEL", k_.session(session_id)))));
    }

    task<chat::posted_message> post_message(std::string room_id, std::string from, std::string text,
                                            double now, std::string server_id,
                                            std::string client_id, bool group) override {
        // On every message: one allocation for the whole command. (Statements, not conditional
        // expressions with temporaries: GCC 12 miscompiles those in coroutines.)
        command c;
        c.reserve(16);
        c.emplace_back(group ? "5" : "4");
        c.push_back(k_.room(room_id));
        c.push_back(k_.room_last(room_id));
        c.push_back(k_.reads(room_id));
        // The sent key; without a client id a key of the room's slot stands in (unused).
        if (client_id.empty())
            c.push_back(k_.room_last(room_id));
        else
            c.push_back(k_.sent(room_id, from, client_id));
        if (group)
            c.push_back(k_.group_members(room_id));
        c.push_back(chat::format_date(now));
        c.push_back(random_hex(4));
        c.push_back(chat::json_quote(room_id));
        c.push_back(chat::json_quote(from));
        c.push_back(chat::json_quote(text));
        c.push_back(chat::json_quote(server_id));
        c.push_back(from);
        c.push_back(std::to_string(sent_ttl.count()));
        c.push_back(channels(event_channels(room_id, !group)));
        if (client_id.empty())
            c.emplace_back("0");
        else
            c.emplace_back("1");
        auto r = co_await eval(lua_.post_message, std::move(c), durable_.replicas);
        if (!r)
            co_return r.error();
        if (r->elements.size() != 3 || !r->elements[0].as_string()) {
            co_return make_error_code(errc::redis_protocol);
        }
        const auto kind = r->elements[2].as_integer().value_or(0);
        co_return chat::posted_message{*r->elements[0].as_string(),
                                       r->elements[1].as_integer().value_or(0) == 1, kind == 1,
                                       kind == 2};
    }

    task<chat::group_change> create_group(std::string room_id, std::string owner, std::string name,
                                          std::vector<std::string> members, std::size_t max_members,
                                          std::string server_id) override {
        command c =
            cmd("3", k_.group(room_id), k_.group_members(room_id), k_.room_name(room_id), room_id,
                owner, name, chat::json_quote(server_id), std::to_string(max_members));
        for (const auto& m : members)
            c.push_back(m);
        co_return co_await group_call(lua_.create_group, std::move(c), std::move(members),
                                      std::move(server_id));
    }

    task<std::optional<chat::group_info>> group(std::string room_id) override {
        std::vector<command> cmds;
        cmds.push_back(cmd("HGET", k_.group(room_id), "owner"));
        cmds.push_back(cmd("GET", k_.room_name(room_id)));
        cmds.push_back(cmd("SMEMBERS", k_.group_members(room_id)));
        auto r = co_await redis_.exec_all(std::move(cmds));
        if (!r)
            co_return r.error();
        auto owner = (*r)[0].as_string();
        if (!owner)
            co_return std::optional<chat::group_info>{};
        auto members = (*r)[2].as_strings();
        if (!members)
            co_return make_error_code(errc::redis_protocol);
        co_return chat::group_info{room_id, (*r)[1].as_string().value_or(""), *owner,
                                   std::move(*members)};
    }

    task<chat::group_change> rename_group(std::string room_id, std::string actor, std::string name,
                                          std::string server_id) override {
        command c = cmd("3", k_.group(room_id), k_.group_members(room_id), k_.room_name(room_id),
                        room_id, actor, chat::json_quote(server_id), "rename", name);
        co_return co_await group_call(lua_.change_group, std::move(c), {}, std::move(server_id));
    }

    task<chat::group_change> add_group_members(std::string room_id, std::string actor,
                                               std::vector<std::string> members,
                                               std::size_t max_members,
                                               std::string server_id) override {
        command c =
            cmd("3", k_.group(room_id), k_.group_members(room_id), k_.room_name(room_id), room_id,
                actor, chat::json_quote(server_id), "add", std::to_string(max_members));
        for (const auto& m : members)
            c.push_back(m);
        co_return co_await group_call(lua_.change_group, std::move(c), std::move(members),
                                      std::move(server_id));
    }

    task<chat::group_change> remove_group_member(std::string room_id, std::string actor,
                                                 std::string member,
                                                 std::string server_id) override {
        command c = cmd("3", k_.group(room_id), k_.group_members(room_id), k_.room_name(room_id),
                        room_id, actor, chat::json_quote(server_id), "remove", member);
        co_return co_await group_call(lua_.change_group, std::move(c), {}, std::move(server_id));
    }

    task<chat::message_change> edit_message(std::string room_id, std::string message_id,
                                            double score, std::string author, std::string text,
                                            bool remove, double now,
                                            std::string server_id) override {
        // The new text, or '' for a delete. (Not a conditional expression inside the co_await
        // below: GCC 12 miscompiles temporaries of one there.)
        std::string quoted;
        if (!remove)
            quoted = chat::json_quote(text);
        command c = cmd("2", k_.room(room_id), k_.reactions(room_id), chat::format_date(score),
                        message_id, author, quoted, chat::format_date(now),
                        chat::json_quote(server_id), channels(event_channels(room_id, false)));
        co_return change_result(co_await eval(lua_.edit_message, std::move(c)));
    }

    task<chat::message_change> toggle_reaction(std::string room_id, std::string message_id,
                                               double score, std::string user_id, std::string emoji,
                                               std::size_t max_kinds,
                                               std::string server_id) override {
        co_return change_result(co_await eval(
            lua_.toggle_reaction,
            cmd("2", k_.room(room_id), k_.reactions(room_id), chat::format_date(score), message_id,
                user_id, emoji, std::to_string(max_kinds), chat::json_quote(server_id), room_id,
                channels(event_channels(room_id, false)))));
    }

    task<std::vector<std::optional<std::string>>> reactions(
        std::string room_id, std::vector<std::string> message_ids) override {
        if (message_ids.empty())
            co_return std::vector<std::optional<std::string>>{};
        command c = cmd("HMGET", k_.reactions(room_id));
        for (auto& id : message_ids)
            c.push_back(std::move(id));
        auto r = co_await redis_.exec(std::move(c));
        if (!r)
            co_return r.error();
        std::vector<std::optional<std::string>> out;
        for (const auto& e : r->elements)
            out.push_back(e.as_string());
        co_return out;
    }

    task<std::vector<chat::user_match>> search_users(std::string prefix, std::string after,
                                                     std::size_t count) override {
        // UTF-8 never holds the byte 0xFF: "(<prefix>\xFF" ends the range of the prefix.
        std::string low = after.empty() || after < prefix ? "[" + prefix : "(" + after;
        auto found =
            co_await strings(cmd("ZRANGEBYLEX", keys::usernames_index, low, "(" + prefix + "\xFF",
                                 "LIMIT", "0", std::to_string(count)));
        if (!found)
            co_return found.error();
        std::vector<std::string> ids;
        for (const auto& member : *found)
            ids.push_back(member.substr(member.rfind('\0') + 1));
        auto names = co_await usernames(ids);
        if (!names)
            co_return names.error();
        std::vector<chat::user_match> out;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if ((*names)[i])  // a user gone since: left out
                out.push_back({ids[i], *(*names)[i]});
        }
        co_return out;
    }

    task<std::size_t> index_usernames() override {
        // For users registered by tutorial servers, which cannot use a cluster: there, every
        // user is indexed when registered.
        if (k_.cluster())
            co_return std::size_t{0};
        std::string cursor = "0";
        std::size_t seen = 0;
        do {
            auto r = co_await eval(lua_.index_usernames, cmd("0", cursor, "500"));
            if (!r)
                co_return r.error();
            if (r->elements.size() != 2 || !r->elements[0].as_string())
                co_return make_error_code(errc::redis_protocol);
            cursor = *r->elements[0].as_string();
            seen += static_cast<std::size_t>(r->elements[1].as_integer().value_or(0));
        } while (cursor != "0");
        co_return seen;
    }

    task<void> publish(std::string room_id, std::string envelope) override {
        co_return co_await publish_on(
            chat::routing::room_event_channels(room_id, true, tutorial_bus_), std::move(envelope));
    }

    task<void> publish_event(std::string room_id, std::string envelope) override {
        co_return co_await publish_on(event_channels(room_id, false), std::move(envelope));
    }

    task<std::vector<std::string>> room_messages_after(std::string room_id, double after,
                                                       std::size_t count) override {
        if (count == 0)
            co_return std::vector<std::string>{};
        co_return co_await strings(cmd("ZRANGEBYSCORE", k_.room(room_id),
                                       "(" + chat::format_date(after), "+inf", "LIMIT", "0",
                                       std::to_string(count)));
    }

    task<std::optional<double>> mark_read(std::string room_id, std::string user_id, double position,
                                          std::string envelope) override {
        auto at = envelope.find("@DATE@");
        std::string after;
        if (at != std::string::npos) {
            after = envelope.substr(at + 6);
            envelope.resize(at);
        }
        // On a cluster a read in General goes to the reader's channel, in another slot: it is
        // published after the script.
        const bool after_script = k_.cluster() && room_id == chat::general_room_id;
        std::string targets;
        if (!after_script && k_.cluster())
            targets = chat::routing::room_channel(room_id);
        else if (!after_script)
            targets = channels(chat::routing::read_channels(room_id, user_id));
        std::string before_date;
        if (!after_script)
            before_date = envelope;
        auto r = co_await eval(lua_.mark_read,
                               cmd("2", k_.room(room_id), k_.reads(room_id), user_id,
                                   chat::format_date(position), before_date, after, targets));
        if (!r)
            co_return r.error();
        if (r->is_nil())
            co_return std::optional<double>{};
        auto date = r->as_string();
        if (!date)
            co_return make_error_code(errc::redis_protocol);
        if (after_script && !envelope.empty()) {
            std::vector<std::string> reader(1, chat::routing::user_channel(user_id));
            auto published = co_await publish_on(std::move(reader), envelope + *date + after);
            if (!published)
                co_return published.error();
        }
        co_return chat::parse_date(*date);
    }

    task<std::vector<chat::room_read_state>> read_state(std::string user_id) override {
        if (k_.cluster())
            co_return co_await read_state_per_room(std::move(user_id));
        auto r = co_await eval(lua_.read_state, cmd("1", k_.user_rooms(user_id), user_id));
        if (!r)
            co_return r.error();
        std::vector<chat::room_read_state> out;
        const auto& e = r->elements;
        for (std::size_t i = 0; i + 3 < e.size(); i += 4) {
            auto id = e[i].as_string();
            auto pos = e[i + 1].as_string();
            auto newest = e[i + 3].as_string();
            if (!id || !pos || !newest)
                co_return make_error_code(errc::redis_protocol);
            chat::room_read_state s;
            s.room_id = std::move(*id);
            if (!pos->empty())
                s.read = chat::parse_date(*pos);
            s.unread = e[i + 2].as_integer().value_or(0);
            if (!newest->empty())
                s.newest = chat::parse_date(*newest);
            out.push_back(std::move(s));
        }
        co_return out;
    }

    // On a cluster a user's rooms are in other slots than the user: one script per room, sent
    // together (each node's share in one pipeline).
    task<std::vector<chat::room_read_state>> read_state_per_room(std::string user_id) {
        auto rooms = co_await strings(cmd("SMEMBERS", k_.user_rooms(user_id)));
        if (!rooms)
            co_return rooms.error();
        std::vector<command> cmds;
        for (const auto& room : *rooms) {
            cmds.push_back(cmd("EVALSHA", lua_.read_state_room.sha, "2", k_.reads(room),
                               k_.room(room), user_id));
        }
        auto r = co_await redis_.exec_all(cmds);
        if (!r && r.error() == make_error_code(errc::redis_noscript)) {
            // Not loaded on some node yet: EVAL loads it there.
            for (auto& c : cmds) {
                c[0] = "EVAL";
                c[1] = lua_.read_state_room.body;
            }
            r = co_await redis_.exec_all(std::move(cmds));
        }
        if (!r)
            co_return r.error();
        std::vector<chat::room_read_state> out;
        for (std::size_t i = 0; i < rooms->size(); ++i) {
            const auto& e = (*r)[i].elements;
            if (e.size() != 3 || !e[0].as_string() || !e[2].as_string())
                co_return make_error_code(errc::redis_protocol);
            chat::room_read_state st;
            st.room_id = (*rooms)[i];
            if (!e[0].str.empty())
                st.read = chat::parse_date(e[0].str);
            st.unread = e[1].as_integer().value_or(0);
            if (!e[2].str.empty())
                st.newest = chat::parse_date(e[2].str);
            out.push_back(std::move(st));
        }
        co_return out;
    }

    task<std::vector<std::pair<std::string, double>>> room_reads(std::string room_id) override {
        auto r = co_await strings(cmd("HGETALL", k_.reads(room_id)));
        if (!r)
            co_return r.error();
        std::vector<std::pair<std::string, double>> out;
        for (std::size_t i = 0; i + 1 < r->size(); i += 2) {
            if (auto pos = chat::parse_date((*r)[i + 1]))
                out.emplace_back(std::move((*r)[i]), *pos);
        }
        co_return out;
    }

    task<void> presence_join(std::string instance_id, std::string user_id, std::string envelope,
                             std::chrono::seconds ttl) override {
        co_return co_await done(
            eval(lua_.presence_join,
                 cmd("5", k_.presence_of(instance_id), k_.presence_counts(), k_.online_users(),
                     k_.presence_instances(), k_.instance_alive(instance_id), user_id, envelope,
                     instance_id, std::to_string(ttl.count()),
                     channels(chat::routing::presence_channels(user_id, tutorial_bus_)),
                     username_in(envelope))));
    }

    task<void> presence_leave(std::string instance_id, std::string user_id,
                              std::string envelope) override {
        co_return co_await done(eval(
            lua_.presence_leave,
            cmd("3", k_.presence_of(instance_id), k_.presence_counts(), k_.online_users(), user_id,
                envelope, channels(chat::routing::presence_channels(user_id, tutorial_bus_)))));
    }

    task<void> presence_rewrite(std::string instance_id, std::string server_id,
                                std::chrono::seconds ttl,
                                std::vector<std::pair<std::string, int>> counts) override {
        command c =
            cmd("5", k_.presence_of(instance_id), k_.presence_counts(), k_.online_users(),
                k_.presence_instances(), k_.instance_alive(instance_id), instance_id,
                std::to_string(ttl.count()), chat::json_quote(server_id), routed_presence());
        c.reserve(c.size() + 2 * counts.size());
        for (auto& [user_id, n] : counts) {
            c.push_back(std::move(user_id));
            c.push_back(std::to_string(n));
        }
        co_return co_await done(eval(lua_.presence_rewrite, std::move(c)));
    }

    task<void> presence_sweep(std::string instance_id, std::string server_id, bool self) override {
        std::vector<std::string> dead;
        if (self) {
            dead.push_back(instance_id);
        } else {
            auto instances = co_await strings(cmd("SMEMBERS", k_.presence_instances()));
            if (!instances)
                co_return instances.error();
            std::vector<command> checks;
            for (const auto& id : *instances)
                checks.push_back(cmd("EXISTS", k_.instance_alive(id)));
            auto alive = co_await redis_.exec_all(std::move(checks));
            if (!alive)
                co_return alive.error();
            for (std::size_t i = 0; i < instances->size(); ++i) {
                if ((*alive)[i].as_integer().value_or(1) == 0)
                    dead.push_back((*instances)[i]);
            }
        }
        for (const auto& id : dead) {
            auto r = co_await eval(
                lua_.presence_sweep,
                cmd("4", k_.presence_of(id), k_.presence_counts(), k_.online_users(),
                    k_.presence_instances(), id, chat::json_quote(server_id), routed_presence()));
            if (!r)
                co_return r.error();
        }
        if (self) {
            auto r = co_await redis_.exec(cmd("DEL", k_.instance_alive(instance_id)));
            if (!r)
                co_return r.error();
        }
        co_return result<void>{};
    }

    task<std::chrono::seconds> count_login_attempt(std::vector<chat::attempt_key> checks,
                                                   std::chrono::seconds window) override {
        command c = cmd(std::to_string(2 * checks.size()));
        for (const auto& k : checks) {
            c.push_back(k_.failures(k.key));
            c.push_back(k_.lockout(k.key));
        }
        c.push_back(std::to_string(window.count()));
        for (const auto& k : checks)
            c.push_back(std::to_string(k.free));
        auto r = co_await eval(lua_.login_attempt, std::move(c));
        if (!r)
            co_return r.error();
        co_return std::chrono::seconds(std::max<std::int64_t>(0, r->as_integer().value_or(0)));
    }

    task<void> login_succeeded(std::vector<std::string> forget,
                               std::vector<std::string> uncount) override {
        command c = cmd(std::to_string(2 * forget.size() + uncount.size()));
        for (const auto& k : forget) {
            c.push_back(k_.failures(k));
            c.push_back(k_.lockout(k));
        }
        for (const auto& k : uncount)
            c.push_back(k_.failures(k));
        c.push_back(std::to_string(forget.size()));
        auto r = co_await eval(lua_.login_success, std::move(c));
        if (!r)
            co_return r.error();
        co_return result<void>{};
    }

    task<bool> claim_empty_store() override {
        auto r = co_await redis_.exec(cmd("SET", keys::total_users, "0", "NX"));
        if (!r)
            co_return failure<bool>(r.error());
        co_return !r->is_nil();
    }

  private:
    // An edit's or a reaction's answer: {'ok', JSON} or {outcome}.
    static result<chat::message_change> change_result(result<reply> r) {
        if (!r)
            return r.error();
        if (r->elements.empty() || !r->elements[0].as_string())
            return make_error_code(errc::redis_protocol);
        const std::string what = *r->elements[0].as_string();
        chat::message_change out;
        if (what == "ok" && r->elements.size() == 2 && r->elements[1].as_string())
            out.json = *r->elements[1].as_string();
        else if (what == "not_found")
            out.outcome = chat::change_outcome::not_found;
        else if (what == "forbidden")
            out.outcome = chat::change_outcome::forbidden;
        else if (what == "too_many")
            out.outcome = chat::change_outcome::too_many;
        else
            return make_error_code(errc::redis_protocol);
        return out;
    }

    // A group script's answer: {'ok', data JSON} or {outcome[, user id]}.
    // A group script. On a cluster the members' keys and channels are in other slots than the
    // group's, so the steps the script takes on one Redis come before it (the new members
    // exist) and after it (each member's room set; group.changed on each one's channel), each
    // idempotent. A crash in between leaves the group right and a member's room list behind,
    // until the next change of the group.
    task<chat::group_change> group_call(const lua_script& script, command c,
                                        std::vector<std::string> new_users, std::string server_id) {
        if (k_.cluster() && !new_users.empty()) {
            std::vector<command> checks;
            for (const auto& u : new_users)
                checks.push_back(cmd("EXISTS", k_.user(u)));
            auto exist = co_await redis_.exec_all(std::move(checks));
            if (!exist)
                co_return exist.error();
            for (std::size_t i = 0; i < new_users.size(); ++i) {
                if ((*exist)[i].as_integer().value_or(0) == 0) {
                    chat::group_change missing;
                    missing.outcome = chat::group_outcome::no_such_user;
                    missing.user_id = new_users[i];
                    co_return missing;
                }
            }
        }
        auto r = co_await eval(script, std::move(c));
        if (!r)
            co_return r.error();
        std::string data;
        if (r->elements.size() == 2 && r->elements[0].as_string() == "ok")
            data = r->elements[1].str;
        auto out = group_result(std::move(r));
        if (!out || !k_.cluster() || data.empty())
            co_return out;
        auto announced = co_await after_group_change(out->group, data, server_id);
        if (!announced)
            co_return announced.error();
        co_return out;
    }

    task<void> after_group_change(const chat::group_info& group, const std::string& data,
                                  const std::string& server_id) {
        std::vector<std::string> removed;
        boost::system::error_code ec;
        auto v = boost::json::parse(data, ec);
        if (!ec && v.is_object()) {
            if (const auto* list = v.get_object().if_contains("removed");
                list && list->is_array()) {
                for (const auto& id : list->get_array()) {
                    if (id.is_string())
                        removed.emplace_back(id.get_string());
                }
            }
        }
        std::vector<command> cmds;
        for (const auto& m : group.members)
            cmds.push_back(cmd("SADD", k_.user_rooms(m), group.room_id));
        for (const auto& m : removed)
            cmds.push_back(cmd("SREM", k_.user_rooms(m), group.room_id));
        const std::string envelope = "{\"serverId\":" + chat::json_quote(server_id) +
                                     ",\"type\":\"group.changed\",\"data\":" + data + "}";
        for (const auto& m : group.members)
            cmds.push_back(cmd("SPUBLISH", chat::routing::user_channel(m), envelope));
        for (const auto& m : removed)
            cmds.push_back(cmd("SPUBLISH", chat::routing::user_channel(m), envelope));
        co_return co_await done(redis_.exec_all(std::move(cmds)));
    }

    static result<chat::group_change> group_result(result<reply> r) {
        if (!r)
            return r.error();
        if (r->elements.empty() || !r->elements[0].as_string())
            return make_error_code(errc::redis_protocol);
        const std::string what = *r->elements[0].as_string();
        chat::group_change out;
        if (what == "ok" && r->elements.size() == 2 && r->elements[1].as_string()) {
            auto info = chat::parse_group_data(*r->elements[1].as_string());
            if (!info)
                return make_error_code(errc::redis_protocol);
            out.group = std::move(*info);
            return out;
        }
        if (what == "not_found")
            out.outcome = chat::group_outcome::not_found;
        else if (what == "forbidden")
            out.outcome = chat::group_outcome::forbidden;
        else if (what == "too_many")
            out.outcome = chat::group_outcome::too_many;
        else if (what == "not_member")
            out.outcome = chat::group_outcome::not_member;
        else if (what == "no_such_user" && r->elements.size() == 2) {
            out.outcome = chat::group_outcome::no_such_user;
            out.user_id = r->elements[1].as_string().value_or("");
        } else
            return make_error_code(errc::redis_protocol);  // "exists": a random id clashed
        return out;
    }

    task<std::vector<std::string>> strings(command c) {
        auto r = co_await redis_.exec(std::move(c));
        if (!r)
            co_return r.error();
        auto list = r->as_strings();
        if (!list)
            co_return make_error_code(errc::redis_protocol);
        co_return std::move(*list);
    }

    static task<void> done(awaitable<result<std::vector<reply>>> call) {
        auto r = co_await std::move(call);
        if (!r)
            co_return r.error();
        co_return result<void>{};
    }
    static task<void> done(awaitable<result<reply>> call) {
        auto r = co_await std::move(call);
        if (!r)
            co_return r.error();
        co_return result<void>{};
    }

    // EVALSHA, then EVAL when Redis does not have the script (its first use since Redis
    // started): the script's text crosses the wire once, not with every call. With `replicas`,
    // answered once that many replicas have its writes (WAIT, durability).
    task<reply> eval(const lua_script& script, command args, int replicas = 0) {
        command c;
        c.reserve(args.size() + 2);
        c.push_back("EVALSHA");
        c.push_back(script.sha);
        for (auto& a : args)
            c.push_back(std::move(a));
        auto r = co_await run(c, replicas);
        if (r || r.error() != make_error_code(errc::redis_noscript))
            co_return r;
        c[0] = "EVAL";
        c[1] = script.body;
        co_return co_await run(std::move(c), replicas);
    }

    task<reply> run(command c, int replicas) {
        if (replicas > 0)
            co_return co_await redis_.exec_replicated(std::move(c), replicas, durable_.wait);
        co_return co_await redis_.exec(std::move(c));
    }

    // A script's channels, in one argument (see publish_lua_prelude).
    static std::string channels(const std::vector<std::string>& list) {
        std::string out;
        for (const auto& c : list) {
            if (!out.empty())
                out += ' ';
            out += c;
        }
        return out;
    }

    std::string routed_presence() const { return tutorial_bus_ ? "0" : "1"; }

    // The username of a user.connected envelope (on a cluster the presence scripts keep it, for
    // the announcements they make later); '' when there is none.
    std::string username_in(const std::string& envelope) const {
        if (!k_.cluster())
            return {};
        boost::system::error_code ec;
        auto v = boost::json::parse(envelope, ec);
        if (ec || !v.is_object())
            return {};
        const auto* data = v.get_object().if_contains("data");
        const auto* name =
            data && data->is_object() ? data->get_object().if_contains("username") : nullptr;
        return name && name->is_string() ? std::string(name->get_string()) : std::string();
    }

    // Where an event in `room_id` is published. On a cluster always on the room's channel: a
    // script publishes only in its keys' slot, so a private room's events cannot go to its
    // users' channels from there (chat/routing.hpp has the one-Redis rule).
    std::vector<std::string> event_channels(const std::string& room_id, bool tutorial_event) const {
        if (k_.cluster())
            return {chat::routing::room_channel(room_id)};
        return chat::routing::room_event_channels(room_id, tutorial_event, tutorial_bus_);
    }

    task<void> publish_on(std::vector<std::string> list, std::string envelope) {
        std::vector<command> cmds;
        cmds.reserve(list.size());
        for (auto& c : list)
            cmds.push_back(cmd(k_.cluster() ? "SPUBLISH" : "PUBLISH", std::move(c), envelope));
        co_return co_await done(redis_.exec_all(std::move(cmds)));
    }

    command_link& redis_;
    bool tutorial_bus_;  // the tutorial's events go on `MESSAGES` (chat/routing.hpp)
    const keys::layout& k_;
    const script_set& lua_;
    durability durable_;
};

}  // namespace

std::unique_ptr<chat::store> make_chat_store(command_link& redis, bool tutorial_bus,
                                             const keys::layout& layout, durability durable) {
    return std::make_unique<redis_chat_store>(redis, tutorial_bus, layout, durable);
}

}  // namespace redchat::redis
