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
using clock_type = std::chrono::steady_clock;
using batch_handler = asio::any_completion_handler<void(error_code, std::vector<reply>)>;

struct client::batch {
    // Constructed in place: Boost 1.81's any_completion_handler move-assignment recurses.
    batch(batch_handler h, asio::any_io_executor ex, metrics::shard* s)
        : handler(std::move(h)), executor(std::move(ex)), stats(s) {}

    std::vector<reply> replies;
    std::size_t remaining = 0;
    bool done = false;
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
        b.finish(errc::redis_unavailable);
        return;
    }
    const auto& r = *static_cast<redisReply*>(raw);
    if (r.type == REDIS_REPLY_ERROR) {
        const std::string_view text(r.str, r.len);
        if (text.starts_with("NOSCRIPT")) {  // expected after a Redis restart: not an error
            b.finish(errc::redis_noscript);
            return;
        }
        b.stats->redis_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("redis error reply: {}", text);
        b.finish(errc::redis_error);
        return;
    }
    b.replies[slot->index] = from_hiredis(r);
    if (--b.remaining == 0)
        b.finish({});
}

void on_setup_reply(redisAsyncContext*, void* raw, void*) {
    if (raw == nullptr)
        return;
    const auto& r = *static_cast<redisReply*>(raw);
    if (r.type == REDIS_REPLY_ERROR) {
        spdlog::error("redis connection setup failed: {}", std::string_view(r.str, r.len));
    }
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
      tick_timer_(executor) {}

client::~client() {
    stop();
}

void client::subscribe(std::string channel, message_handler on_message) {
    channel_ = std::move(channel);
    on_message_ = std::move(on_message);
}

void client::on_subscription(redisAsyncContext*, void* raw, void* privdata) {
    if (raw == nullptr)
        return;  // the connection went away; on_disconnect reconnects
    auto* self = static_cast<client*>(privdata);
    const auto& r = *static_cast<redisReply*>(raw);
    if (r.type != REDIS_REPLY_ARRAY || r.elements != 3)
        return;
    const auto* kind = r.element[0];
    const auto* payload = r.element[2];
    if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message") {
        return;  // the subscribe confirmation
    }
    if (payload->type == REDIS_REPLY_STRING)
        self->on_message_(std::string_view(payload->str, payload->len));
}

void client::start() {
    if (state_ != state::stopped)
        return;
    set_state(state::disconnected);
    connect();
    tick();
}

void client::stop() {
    set_state(state::stopped);
    reconnect_timer_.cancel();
    tick_timer_.cancel();
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
    redisAsyncContext* ac = ep.unix_socket.empty() ? redisAsyncConnect(ep.host.c_str(), ep.port)
                                                   : redisAsyncConnectUnix(ep.unix_socket.c_str());
    if (ac == nullptr || ac->err != 0) {
        spdlog::debug("redis connect to {} failed: {}", ep.redacted(),
                      ac != nullptr ? ac->errstr : "out of memory");
        if (ac != nullptr)
            redisAsyncFree(ac);
        set_state(state::disconnected);
        schedule_reconnect();
        return;
    }
    ac->data = this;
    attach_to_asio(ac, executor_);
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
        spdlog::debug("redis connect to {} failed: {}", self->opts_.endpoint.redacted(),
                      ac->errstr);
        self->ctx_ = nullptr;
        self->set_state(state::disconnected);
        self->schedule_reconnect();
        return;
    }
    auto* ctx = self->ctx_;
    const auto& ep = self->opts_.endpoint;
    // Pipelined ahead of any call, so every call runs authenticated on the right database.
    if (ep.password) {
        command auth{"AUTH"};
        if (ep.username)
            auth.push_back(*ep.username);
        auth.push_back(*ep.password);
        send_argv(ctx, on_setup_reply, nullptr, auth);
    }
    if (ep.database != 0)
        send_argv(ctx, on_setup_reply, nullptr, {"SELECT", std::to_string(ep.database)});
    send_argv(ctx, on_setup_reply, nullptr, {"CLIENT", "SETNAME", self->opts_.name});
    if (!self->channel_.empty())
        send_argv(ctx, &client::on_subscription, self, {"SUBSCRIBE", self->channel_});
    if (self->ever_connected_) {
        self->stats_.redis_reconnects.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("redis connection {} re-established", self->opts_.name);
    }
    self->ever_connected_ = true;
    self->backoff_ = std::chrono::milliseconds(0);
    self->set_state(state::ready);
}

void client::on_disconnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<client*>(ac->data);
    if (self == nullptr)
        return;
    // hiredis frees the context after this callback.
    self->ctx_ = nullptr;
    if (self->state_ == state::stopped)
        return;
    spdlog::warn("redis connection {} lost{}", self->opts_.name,
                 status == REDIS_OK ? "" : std::string(": ") + ac->errstr);
    self->set_state(state::disconnected);
    self->schedule_reconnect();
}

// Every state change goes through here, so that the process can tell whether all of its
// connections are up (`/readyz`, `redchat_redis_connections_down`).
void client::set_state(state next) {
    const auto down = [](state s) { return s == state::disconnected || s == state::connecting; };
    if (down(state_) != down(next))
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

void client::drop_connection() {
    if (ctx_ != nullptr) {
        redisAsyncContext* ac = ctx_;
        ctx_ = nullptr;
        ac->data = nullptr;  // our callbacks ignore the context from now on
        redisAsyncFree(ac);  // fails the calls in flight with a null reply
    }
    if (state_ != state::stopped) {
        set_state(state::disconnected);
        schedule_reconnect();
    }
}

// A coarse sweep instead of one timer per call: expires calls past their deadline and replaces
// a connection that is stuck connecting or answering.
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
    if (expired && ctx_ != nullptr) {
        spdlog::warn("redis connection {} missed a deadline; reconnecting", opts_.name);
        drop_connection();
    } else if (state_ == state::connecting && now - connect_started_ > opts_.timeout) {
        spdlog::warn("redis connect to {} timed out", opts_.endpoint.redacted());
        drop_connection();
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
    b->deadline = clock_type::now() + opts_.timeout;
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

asio::awaitable<result<std::vector<reply>>> client::exec_all(std::vector<command> cmds) {
    auto token = asio::as_tuple(asio::use_awaitable);
    auto [ec, replies] =
        co_await asio::async_initiate<decltype(token), void(error_code, std::vector<reply>)>(
            [this](auto handler, std::vector<command> c) {
                auto b =
                    std::make_shared<batch>(batch_handler(std::move(handler)), executor_, &stats_);
                submit(std::move(c), std::move(b));
            },
            token, std::move(cmds));
    if (ec)
        co_return ec;
    co_return std::move(replies);
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
