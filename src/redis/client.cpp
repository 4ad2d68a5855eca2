#include "redis/client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "redis/hiredis_asio.hpp"

namespace redchat::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using batch_handler = asio::any_completion_handler<void(error_code, std::vector<reply>)>;

struct client::batch {
    // Constructed in place: Boost 1.81's any_completion_handler move-assignment recurses.
    batch(batch_handler h, asio::any_io_executor ex, metrics::shard* s)
        : handler(std::move(h)), executor(std::move(ex)), stats(s) {}

    std::vector<reply> replies;
    std::size_t remaining = 0;
    bool done = false;
    bool keep_errors = false;  // error replies are replies (exec_raw), not a failed call
    batch_handler handler;
    clock_type::time_point deadline;
    asio::any_io_executor executor;
    metrics::shard* stats = nullptr;

    // Completes the call once; later replies for it are ignored.
    void finish(error_code ec) {
        if (done)
            return;
        done = true;
        if (ec)
            replies.clear();
        asio::post(executor, [h = std::move(handler), ec, r = std::move(replies)]() mutable {
            std::move(h)(ec, std::move(r));
        });
    }
};

namespace {

struct reply_slot {
    std::shared_ptr<client::batch> owner;
    std::size_t index;
};

void on_reply(redisAsyncContext*, void* raw, void* privdata) {
    std::unique_ptr<reply_slot> slot(static_cast<reply_slot*>(privdata));
    auto& b = *slot->owner;
    if (b.done)
        return;
    if (raw == nullptr) {  // connection lost or freed with this call in flight
        b.stats->redis_failures.fetch_add(1, std::memory_order_relaxed);
        b.finish(errc::redis_lost);
        return;
    }
    const auto& r = *static_cast<redisReply*>(raw);
    if (r.type == REDIS_REPLY_ERROR && !b.keep_errors) {
        const std::string_view text(r.str, r.len);
        if (text.starts_with("NOSCRIPT")) {  // expected after a Redis restart: not an error
            b.finish(errc::redis_noscript);
            return;
        }
        b.stats->redis_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("event=redis_error_reply error=\"{}\"", text.substr(0, 200));
        b.finish(errc::redis_error);
        return;
    }
    b.replies[slot->index] = from_hiredis(r);
    if (--b.remaining == 0)
        b.finish({});
}

bool send_argv(redisAsyncContext* ac, redisCallbackFn* fn, void* privdata, const command& cmd) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(cmd.size());
    lens.reserve(cmd.size());
    for (const auto& a : cmd) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(ac, fn, privdata, static_cast<int>(cmd.size()), argv.data(),
                                 lens.data()) == REDIS_OK;
}

}  // namespace

client::client(asio::any_io_executor executor, options opts, metrics::shard& stats)
    : executor_(executor),
      opts_(std::move(opts)),
      stats_(stats),
      reconnect_timer_(executor),
      tick_timer_(executor),
      resolver_(executor) {
    set_state(state::created);
}

client::~client() {
    stop();
}

void client::subscribe(std::vector<std::string> channels, message_handler on_message) {
    channels_ = std::move(channels);
    on_message_ = std::move(on_message);
    for (const auto& c : channels_)
        subs_.want(c);
}

void client::want_channel(std::string_view channel) {
    subs_.want(channel);
    schedule_subscriptions();
}

void client::drop_channel(std::string_view channel) {
    subs_.drop(channel);
    schedule_subscriptions();
}

void client::schedule_subscriptions() {
    if (subscriptions_scheduled_)
        return;
    subscriptions_scheduled_ = true;
    asio::post(executor_, [this] {
        subscriptions_scheduled_ = false;
        send_subscriptions();
    });
}

namespace {
// Channels per SUBSCRIBE or UNSUBSCRIBE command: big enough to batch a wave of connects, small
// enough that one command stays a few kilobytes.
constexpr std::size_t channels_per_command = 256;
}  // namespace

// While connected (handshaking or ready): a connection that is down subscribes everything in
// its handshake.
void client::send_subscriptions() {
    if (ctx_ == nullptr || (state_ != state::handshaking && state_ != state::ready))
        return;
    auto changes = subs_.take();
    for (const auto* list : {&changes.subscribe, &changes.unsubscribe}) {
        const bool sub = list == &changes.subscribe;
        for (std::size_t at = 0; at < list->size(); at += channels_per_command) {
            const std::size_t n = std::min(channels_per_command, list->size() - at);
            command c{sub ? "SUBSCRIBE" : "UNSUBSCRIBE"};
            c.insert(c.end(), list->begin() + static_cast<std::ptrdiff_t>(at),
                     list->begin() + static_cast<std::ptrdiff_t>(at + n));
            if (!send_argv(ctx_, &client::on_subscription, nullptr, c))
                continue;
            if (sub) {
                // Each confirmation must come within the timeout, like a probe's.
                if (confirms_pending_ == 0)
                    confirm_due_ = clock_type::now() + opts_.timeout;
                confirms_pending_ += static_cast<int>(n);
            }
        }
    }
}

namespace {

// An idle connection is probed this often: a silent link is found within this plus the timeout.
std::chrono::milliseconds probe_interval(std::chrono::milliseconds timeout) {
    return std::clamp(timeout * 2, std::chrono::milliseconds(1000),
                      std::chrono::milliseconds(15000));
}

std::string reply_text(const redisReply& r) {
    return std::string(r.str, r.len);
}

// The handshake's steps, passed to hiredis as the callbacks' privdata.
constexpr const char* step_auth = "AUTH";
constexpr const char* step_select = "SELECT";
constexpr const char* step_name = "CLIENT SETNAME";
constexpr const char* step_ping = "PING";

}  // namespace

void client::on_subscription(redisAsyncContext* ac, void* raw, void*) {
    auto* self = static_cast<client*>(ac->data);
    if (raw == nullptr || self == nullptr)
        return;  // the connection went away; on_disconnect reconnects
    const auto& r = *static_cast<redisReply*>(raw);
    if (r.type != REDIS_REPLY_ARRAY || r.elements != 3)
        return;
    const auto* kind = r.element[0];
    const auto* payload = r.element[2];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    const std::string_view what(kind->str, kind->len);
    self->last_used_ = clock_type::now();
    const auto* channel = r.element[1];
    if (channel->type != REDIS_REPLY_STRING)
        return;
    const std::string_view name(channel->str, channel->len);
    if (what == "subscribe") {
        // A confirmation of a SUBSCRIBE (one per channel: the handshake's, a later one's, or a
        // probe's): the link is alive.
        if (self->confirms_pending_ > 0)
            --self->confirms_pending_;
        const bool fresh = self->subs_.subscribed(name);
        self->schedule_subscriptions();  // dropped meanwhile: unsubscribe it
        if (fresh && self->on_active_)
            self->on_active_(name);
        self->handshake_progress();
        return;
    }
    if (what == "unsubscribe") {
        self->subs_.unsubscribed(name);
        self->schedule_subscriptions();  // wanted again meanwhile: subscribe it again
        return;
    }
    if (what == "message" && payload->type == REDIS_REPLY_STRING)
        self->on_message_(name, std::string_view(payload->str, payload->len));
}

void client::start() {
    if (state_ != state::created)
        return;
    set_state(state::disconnected);
    connect();
    tick();
}

void client::stop() {
    set_state(state::stopped);
    reconnect_timer_.cancel();
    tick_timer_.cancel();
    resolver_.cancel();
    if (ctx_ != nullptr) {
        redisAsyncContext* ac = ctx_;
        ctx_ = nullptr;
        ac->data = nullptr;
        redisAsyncFree(ac);  // fails the calls in flight
    }
    for (auto& weak : in_flight_) {
        if (auto b = weak.lock())
            b->finish(errc::shutting_down);
    }
    in_flight_.clear();
}

void client::connect() {
    set_state(state::connecting);
    connect_started_ = clock_type::now();
    const auto& ep = opts_.endpoint;
    boost::system::error_code literal;
    if (!ep.unix_socket.empty() || (asio::ip::make_address(ep.host, literal), !literal)) {
        connect_to(ep.host);
        return;
    }
    // A host name: hiredis would call getaddrinfo on this thread and block it; Asio's resolver
    // does it elsewhere. The connect deadline (tick) covers a slow resolver too.
    resolver_.async_resolve(
        ep.host, std::to_string(ep.port),
        [this](const error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
            if (state_ != state::connecting || ctx_ != nullptr)
                return;  // stopped, or given up on meanwhile
            if (ec || results.empty()) {
                fail_connection("cannot resolve " + opts_.endpoint.host + " (error " +
                                std::to_string(ec.value()) + ")");
                return;
            }
            connect_to(results.begin()->endpoint().address().to_string());
        });
}

void client::connect_to(const std::string& host) {
    const auto& ep = opts_.endpoint;
    redisAsyncContext* ac = ep.unix_socket.empty() ? redisAsyncConnect(host.c_str(), ep.port)
                                                   : redisAsyncConnectUnix(ep.unix_socket.c_str());
    if (ac == nullptr || ac->err != 0) {
        std::string cause = "cannot connect: ";
        cause += ac != nullptr ? ac->errstr : "out of memory";
        if (ac != nullptr)
            redisAsyncFree(ac);
        fail_connection(std::move(cause));
        return;
    }
    if (ep.unix_socket.empty())
        (void)redisEnableKeepAlive(&ac->c);  // the kernel notices a peer that vanished, too
    ac->data = this;
    attach_to_asio(ac, executor_, &stats_.redis_write_waits);
    redisAsyncSetConnectCallback(ac, &client::on_connect);
    redisAsyncSetDisconnectCallback(ac, &client::on_disconnect);
    ctx_ = ac;
}

void client::on_connect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<client*>(ac->data);
    if (self == nullptr)
        return;
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        self->ctx_ = nullptr;
        self->fail_connection(std::string("cannot connect: ") + ac->errstr);
        return;
    }
    auto* ctx = self->ctx_;
    const auto& ep = self->opts_.endpoint;
    // The handshake, pipelined ahead of any call: the connection is up only once Redis has
    // answered all of it, so every call runs authenticated on the right database.
    self->set_state(state::handshaking);
    self->connect_started_ = clock_type::now();  // the handshake has its own deadline
    self->setup_pending_ = 0;
    auto step = [&](const char* name, const command& c) {
        if (send_argv(ctx, &client::on_setup_reply, const_cast<char*>(name), c))
            ++self->setup_pending_;
    };
    if (ep.password) {
        command auth{"AUTH"};
        if (ep.username)
            auth.push_back(*ep.username);
        auth.push_back(*ep.password);
        step(step_auth, auth);
    }
    if (ep.database != 0)
        step(step_select, {"SELECT", std::to_string(ep.database)});
    step(step_name, {"CLIENT", "SETNAME", self->opts_.name});
    // A PING answers for the setup (a NOAUTH shows here: a subscriber's error replies have no
    // callback in hiredis), then a subscriber waits for its SUBSCRIBE confirmation too.
    step(step_ping, {"PING"});
    if (!self->channels_.empty()) {
        // Every channel wanted, anew: the handshake ends once all of them are confirmed.
        self->subs_.reset();
        self->confirms_pending_ = 0;
        self->send_subscriptions();
    }
    if (self->ever_connected_)
        self->stats_.redis_reconnects.fetch_add(1, std::memory_order_relaxed);
    self->ever_connected_ = true;
}

void client::on_setup_reply(redisAsyncContext* ac, void* raw, void* privdata) {
    auto* self = static_cast<client*>(ac->data);
    if (self == nullptr || raw == nullptr)
        return;  // dropped meanwhile; on_disconnect or fail_connection took care of it
    self->handshake_reply(static_cast<const char*>(privdata), raw);
}

void client::handshake_reply(const char* step, const void* raw) {
    if (state_ != state::handshaking)
        return;
    const auto& r = *static_cast<const redisReply*>(raw);
    if (r.type == REDIS_REPLY_ERROR) {
        const std::string text = reply_text(r);
        if (step == step_name) {
            // An ACL may forbid CLIENT: the name is only for `CLIENT LIST`, so carry on.
            spdlog::debug("event=redis_setname_refused connection={}", opts_.name);
        } else if (step == step_auth) {
            fail_connection("authentication failed: " + text);
            return;
        } else if (step == step_select) {
            fail_connection("SELECT " + std::to_string(opts_.endpoint.database) +
                            " failed: " + text);
            return;
        } else if (text.starts_with("NOAUTH")) {
            fail_connection("Redis requires a password (put it in the URL): " + text);
            return;
        } else {
            fail_connection(std::string(step) + " failed: " + text);
            return;
        }
    }
    --setup_pending_;
    handshake_progress();
}

void client::handshake_progress() {
    if (state_ != state::handshaking || setup_pending_ > 0 || confirms_pending_ > 0)
        return;
    set_state(state::ready);
    backoff_ = std::chrono::milliseconds(0);
    last_used_ = clock_type::now();
    if (opts_.reporter != nullptr)
        opts_.reporter->up(opts_.name);
}

void client::on_disconnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<client*>(ac->data);
    if (self == nullptr)
        return;
    // hiredis frees the context after this callback.
    self->ctx_ = nullptr;
    if (self->state_ == state::stopped)
        return;
    self->fail_connection(status == REDIS_OK ? std::string("connection closed by Redis")
                                             : std::string("connection lost: ") + ac->errstr);
}

// Every state change goes through here, so that the process can tell whether all of its
// connections are up (`/readyz`, `redchat_redis_connections_down`).
void client::set_state(state next) {
    const auto down = [](state s) { return s != state::stopped && s != state::ready; };
    if (opts_.counted && down(state_) != down(next))
        stats_.redis_connections_down.fetch_add(down(next) ? 1 : -1, std::memory_order_relaxed);
    state_ = next;
}

void client::schedule_reconnect() {
    if (state_ == state::stopped)
        return;
    backoff_ =
        std::clamp(backoff_ * 2, std::chrono::milliseconds(50), std::chrono::milliseconds(2000));
    reconnect_timer_.expires_after(backoff_);
    reconnect_timer_.async_wait([this](const error_code& ec) {
        if (!ec && state_ == state::disconnected)
            connect();
    });
}

void client::fail_connection(std::string cause) {
    if (state_ == state::stopped)
        return;
    if (opts_.reporter != nullptr) {
        opts_.reporter->failed(opts_.name, cause);
    } else {
        spdlog::warn("event=redis_unavailable connection={} cause=\"{}\"", opts_.name, cause);
    }
    confirms_pending_ = 0;
    subs_.reset();
    resolver_.cancel();
    if (ctx_ != nullptr) {
        redisAsyncContext* ac = ctx_;
        ctx_ = nullptr;
        ac->data = nullptr;  // our callbacks ignore the context from now on
        redisAsyncFree(ac);  // fails the calls in flight with a null reply
    }
    set_state(state::disconnected);
    schedule_reconnect();
}

// An idle connection gets a probe: a PING (a call like any other, with its deadline), or on a
// subscriber, where PING has no reply hiredis can route, the SUBSCRIBE again, whose
// confirmation must come back within the timeout.
void client::probe(clock_type::time_point now) {
    if (state_ != state::ready || now - last_used_ < probe_interval(opts_.timeout))
        return;
    if (!channels_.empty()) {
        if (confirms_pending_ > 0)
            return;
        // One channel's confirmation proves the link.
        if (send_argv(ctx_, &client::on_subscription, nullptr, {"SUBSCRIBE", channels_.front()})) {
            confirms_pending_ = 1;
            confirm_due_ = now + opts_.timeout;
            last_used_ = now;
        }
        return;
    }
    if (!in_flight_.empty())
        return;  // busy: the calls' own deadlines watch the link
    auto b = std::make_shared<batch>(batch_handler([](error_code, std::vector<reply>) {}),
                                     executor_, &stats_);
    std::vector<command> ping;
    ping.push_back({"PING"});
    submit(std::move(ping), std::move(b));
}

// A coarse sweep instead of one timer per call: expires calls past their deadline, replaces a
// connection that is stuck connecting, handshaking or silent, and probes idle ones.
void client::tick() {
    const auto now = clock_type::now();
    bool expired = false;
    while (!in_flight_.empty()) {
        auto b = in_flight_.front().lock();
        if (!b || b->done) {
            in_flight_.pop_front();
            continue;
        }
        if (b->deadline > now)
            break;
        stats_.redis_failures.fetch_add(1, std::memory_order_relaxed);
        b->finish(errc::redis_timeout);
        in_flight_.pop_front();
        expired = true;
    }
    const auto ms = std::to_string(opts_.timeout.count());
    if (expired && ctx_ != nullptr) {
        fail_connection("no answer within " + ms + " ms");
    } else if (state_ == state::connecting && now - connect_started_ > opts_.timeout) {
        fail_connection("connect timed out after " + ms + " ms");
    } else if (state_ == state::handshaking && now - connect_started_ > opts_.timeout) {
        fail_connection("no answer to the connection handshake within " + ms + " ms");
    } else if (state_ == state::ready && confirms_pending_ > 0 && now > confirm_due_) {
        fail_connection("no SUBSCRIBE confirmation within " + ms + " ms");
    } else {
        probe(now);
    }
    if (state_ == state::stopped)
        return;
    tick_timer_.expires_after(std::clamp(opts_.timeout / 8, std::chrono::milliseconds(5),
                                         std::chrono::milliseconds(250)));
    tick_timer_.async_wait([this](const error_code& ec) {
        if (!ec)
            tick();
    });
}

void client::submit(std::vector<command> cmds, std::shared_ptr<batch> b) {
    if (state_ != state::ready || ctx_ == nullptr) {
        stats_.redis_failures.fetch_add(1, std::memory_order_relaxed);
        b->finish(state_ == state::stopped ? errc::shutting_down : errc::redis_unavailable);
        return;
    }
    if (cmds.empty()) {
        b->finish({});
        return;
    }
    b->replies.resize(cmds.size());
    b->remaining = cmds.size();
    last_used_ = clock_type::now();
    b->deadline = last_used_ + opts_.timeout;
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        auto* slot = new reply_slot{b, i};
        stats_.redis_commands.fetch_add(1, std::memory_order_relaxed);
        if (!send_argv(ctx_, on_reply, slot, cmds[i])) {
            delete slot;
            b->finish(errc::redis_unavailable);
            return;
        }
    }
    in_flight_.push_back(b);
}

asio::awaitable<result<std::vector<reply>>> client::run(std::vector<command> cmds,
                                                        bool keep_errors) {
    auto token = asio::as_tuple(asio::use_awaitable);
    auto [ec, replies] =
        co_await asio::async_initiate<decltype(token), void(error_code, std::vector<reply>)>(
            [this, keep_errors](auto handler, std::vector<command> c) {
                auto b =
                    std::make_shared<batch>(batch_handler(std::move(handler)), executor_, &stats_);
                b->keep_errors = keep_errors;
                submit(std::move(c), std::move(b));
            },
            token, std::move(cmds));
    if (ec)
        co_return ec;
    co_return std::move(replies);
}

asio::awaitable<result<std::vector<reply>>> client::exec_all(std::vector<command> cmds) {
    co_return co_await run(std::move(cmds), false);
}

asio::awaitable<result<std::vector<reply>>> client::exec_raw(std::vector<command> cmds) {
    co_return co_await run(std::move(cmds), true);
}

// The count WAIT answers: enough replicas, or errc::redis_unreplicated.
result<reply> confirmed(std::vector<reply>& replies, int replicas) {
    if (replies.back().as_integer().value_or(0) < replicas)
        return make_error_code(errc::redis_unreplicated);
    return std::move(replies.front());
}

asio::awaitable<result<reply>> client::exec_replicated(command cmd, int replicas,
                                                       std::chrono::milliseconds timeout) {
    std::vector<command> both;
    both.push_back(std::move(cmd));
    both.push_back({"WAIT", std::to_string(replicas), std::to_string(timeout.count())});
    auto r = co_await exec_all(std::move(both));
    if (!r)
        co_return r.error();
    co_return confirmed(*r, replicas);
}

asio::awaitable<result<reply>> client::exec(command cmd) {
    std::vector<command> one;
    one.push_back(std::move(cmd));
    auto r = co_await exec_all(std::move(one));
    if (!r)
        co_return r.error();
    co_return std::move(r->front());
}

}  // namespace redchat::redis
