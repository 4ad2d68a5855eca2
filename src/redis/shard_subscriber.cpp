#include "redis/shard_subscriber.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

namespace redchat::redis {

namespace asio = boost::asio;
using asio::awaitable;
using clock = std::chrono::steady_clock;

namespace {

// An idle link is probed this often (as redis::client does).
std::chrono::milliseconds probe_interval(std::chrono::milliseconds timeout) {
    return std::clamp(timeout * 2, std::chrono::milliseconds(1000),
                      std::chrono::milliseconds(15000));
}

void append_command(std::string& out, const std::vector<std::string>& args) {
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (const auto& a : args) {
        out += '$';
        out += std::to_string(a.size());
        out += "\r\n";
        out += a;
        out += "\r\n";
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

shard_subscriber::shard_subscriber(asio::any_io_executor executor, options opts,
                                   metrics::shard& stats, handlers on)
    : executor_(std::move(executor)),
      opts_(std::move(opts)),
      stats_(stats),
      on_(std::move(on)),
      resolver_(executor_),
      reader_(nullptr, redisReaderFree),
      tick_timer_(executor_),
      reconnect_timer_(executor_) {
    set_state(state::created);
}

shard_subscriber::~shard_subscriber() {
    *alive_ = false;
    stop();
}

void shard_subscriber::set_state(state next) {
    const auto down = [](state s) { return s != state::stopped && s != state::ready; };
    if (opts_.counted && down(state_) != down(next))
        stats_.redis_connections_down.fetch_add(down(next) ? 1 : -1, std::memory_order_relaxed);
    state_ = next;
}

void shard_subscriber::start() {
    if (state_ != state::created)
        return;
    set_state(state::down);
    asio::co_spawn(executor_, run(), asio::detached);
    tick();
}

void shard_subscriber::stop() {
    if (state_ == state::stopped)
        return;
    set_state(state::stopped);
    tick_timer_.cancel();
    reconnect_timer_.cancel();
    resolver_.cancel();
    if (socket_) {
        boost::system::error_code ignored;
        socket_->close(ignored);
    }
}

void shard_subscriber::want(const std::string& channel) {
    subs_.want(channel);
    schedule_subscriptions();
}

void shard_subscriber::drop(const std::string& channel) {
    subs_.drop(channel);
    schedule_subscriptions();
}

void shard_subscriber::schedule_subscriptions() {
    if (subscriptions_scheduled_)
        return;
    subscriptions_scheduled_ = true;
    asio::post(executor_, [this, alive = alive_] {
        if (!*alive)
            return;
        subscriptions_scheduled_ = false;
        send_subscriptions();
    });
}

// While connected: a connection that is down subscribes everything in its handshake.
void shard_subscriber::send_subscriptions() {
    if (state_ != state::handshaking && state_ != state::ready)
        return;
    auto changes = subs_.take();
    // One channel per command: a cluster refuses channels of several slots in one.
    for (auto& c : changes.subscribe)
        send({"SSUBSCRIBE", c}, sent_kind::ssubscribe, c);
    for (auto& c : changes.unsubscribe)
        send({"SUNSUBSCRIBE", c}, sent_kind::sunsubscribe, c);
    flush();
}

void shard_subscriber::send(std::vector<std::string> args, sent_kind kind, std::string channel) {
    append_command(out_, args);
    sent_.push_back({kind, std::move(channel), clock::now()});
}

void shard_subscriber::flush() {
    if (write_busy_ || out_.empty() || !socket_ || !socket_->is_open())
        return;
    write_busy_ = true;
    writing_.swap(out_);
    out_.clear();
    asio::async_write(*socket_, asio::buffer(writing_),
                      [this, alive = alive_](const boost::system::error_code& ec, std::size_t) {
                          if (!*alive)
                              return;
                          write_busy_ = false;
                          writing_.clear();
                          if (ec) {
                              end_connection("write failed: " + ec.message());
                              return;
                          }
                          flush();
                      });
}

// Closes the socket; the read under way ends, and run() reconnects.
void shard_subscriber::end_connection(std::string cause) {
    if (cause_.empty())
        cause_ = std::move(cause);
    if (socket_) {
        boost::system::error_code ignored;
        socket_->close(ignored);
    }
}

awaitable<void> shard_subscriber::run() {
    auto alive = alive_;
    while (state_ != state::stopped) {
        auto cause = co_await connection();
        if (!*alive || state_ == state::stopped)
            co_return;
        end_connection(cause);
        // Down: every wanted channel is subscribed anew on the next connection.
        set_state(state::down);
        subs_.reset();
        sent_.clear();
        out_.clear();
        if (opts_.reporter != nullptr) {
            opts_.reporter->failed(opts_.name, cause);
        } else {
            spdlog::warn("event=redis_unavailable connection={} cause=\"{}\"", opts_.name, cause);
        }
        if (on_.on_down)
            on_.on_down();
        backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(50),
                              std::chrono::milliseconds(2000));
        reconnect_timer_.expires_after(backoff_);
        co_await reconnect_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!*alive)
            co_return;
    }
}

awaitable<std::string> shard_subscriber::connection() {
    auto alive = alive_;
    cause_.clear();
    set_state(state::connecting);
    connect_started_ = clock::now();
    socket_.emplace(executor_);
    write_busy_ = false;
    auto [rec, endpoints] = co_await resolver_.async_resolve(
        opts_.node.host, std::to_string(opts_.node.port), asio::as_tuple(asio::use_awaitable));
    if (!*alive || state_ == state::stopped)
        co_return "stopped";
    if (rec)
        co_return cause_.empty() ? "cannot resolve " + opts_.node.host + ": " + rec.message()
                                 : cause_;
    auto [cec, ep] =
        co_await asio::async_connect(*socket_, endpoints, asio::as_tuple(asio::use_awaitable));
    if (!*alive || state_ == state::stopped)
        co_return "stopped";
    if (cec)
        co_return cause_.empty() ? "cannot connect: " + cec.message() : cause_;
    boost::system::error_code ignored;
    socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
    socket_->set_option(asio::socket_base::keep_alive(true), ignored);
    // The handshake, then every wanted channel: up once the handshake is answered.
    set_state(state::handshaking);
    connect_started_ = clock::now();
    last_heard_ = connect_started_;
    reader_.reset(redisReaderCreate());
    if (opts_.password) {
        std::vector<std::string> auth{"AUTH"};
        if (opts_.username)
            auth.push_back(*opts_.username);
        auth.push_back(*opts_.password);
        send(std::move(auth), sent_kind::setup);
    }
    send({"CLIENT", "SETNAME", opts_.name}, sent_kind::setup);
    send({"PING"}, sent_kind::setup);
    send_subscriptions();
    if (ever_connected_)
        stats_.redis_reconnects.fetch_add(1, std::memory_order_relaxed);
    ever_connected_ = true;
    std::array<char, 16384> buf;
    for (;;) {
        auto [ec, n] = co_await socket_->async_read_some(asio::buffer(buf),
                                                         asio::as_tuple(asio::use_awaitable));
        if (!*alive || state_ == state::stopped)
            co_return "stopped";
        if (ec) {
            if (!cause_.empty())
                co_return cause_;
            co_return ec == asio::error::eof ? std::string("connection lost: closed by the server")
                                             : "connection lost: " + ec.message();
        }
        last_heard_ = clock::now();
        redisReaderFeed(reader_.get(), buf.data(), n);
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK)
                co_return "protocol error: " + std::string(reader_->errstr);
            if (raw == nullptr)
                break;
            auto r = from_hiredis(*static_cast<redisReply*>(raw));
            freeReplyObject(raw);
            auto cause = handle(r);
            if (!*alive || state_ == state::stopped)
                co_return "stopped";
            if (!cause.empty())
                co_return cause;
        }
    }
}

std::string shard_subscriber::handle(const reply& r) {
    if (r.type == reply::kind::array && r.elements.size() >= 2 &&
        r.elements[0].type == reply::kind::string) {
        const auto kind = lower(r.elements[0].str);
        const auto& channel = r.elements[1].str;
        if (kind == "smessage") {
            if (r.elements.size() == 3 && r.elements[2].type == reply::kind::string)
                on_.on_message(channel, r.elements[2].str);
            return {};
        }
        if (kind == "ssubscribe") {
            if (!sent_.empty() && sent_.front().kind == sent_kind::ssubscribe)
                sent_.pop_front();
            const bool fresh = subs_.subscribed(channel);
            schedule_subscriptions();  // dropped meanwhile: unsubscribe it
            if (fresh && on_.on_active)
                on_.on_active(channel);
            return {};
        }
        if (kind == "sunsubscribe") {
            if (!sent_.empty() && sent_.front().kind == sent_kind::sunsubscribe &&
                sent_.front().channel == channel) {
                sent_.pop_front();
                subs_.unsubscribed(channel);
            } else {
                // Not asked for: the channel's slot left this node.
                subs_.lost(channel);
                if (on_.on_moved)
                    on_.on_moved(channel);
            }
            schedule_subscriptions();
            return {};
        }
        if (kind == "pong") {
            if (!sent_.empty() && sent_.front().kind == sent_kind::ping)
                sent_.pop_front();
            return {};
        }
        return {};
    }
    if (sent_.empty())
        return "an answer to nothing asked: " + r.str.substr(0, 100);
    auto asked = std::move(sent_.front());
    sent_.pop_front();
    switch (asked.kind) {
        case sent_kind::setup:
            if (r.is_error()) {
                return (r.str.starts_with("WRONGPASS") ? "authentication failed: " : "refused: ") +
                       r.str;
            }
            if (std::none_of(sent_.begin(), sent_.end(),
                             [](const sent& s) { return s.kind == sent_kind::setup; })) {
                set_state(state::ready);
                backoff_ = std::chrono::milliseconds(0);
                if (opts_.reporter != nullptr)
                    opts_.reporter->up(opts_.name);
            }
            return {};
        case sent_kind::ssubscribe:
        case sent_kind::sunsubscribe:
            // Refused: MOVED (the slot is elsewhere) or the cluster is down. Either way the bus
            // finds the channel's owner again.
            if (!r.str.starts_with("MOVED"))
                spdlog::warn("event=redis_error_reply connection={} error=\"{}\"", opts_.name,
                             r.str.substr(0, 200));
            subs_.lost(asked.channel);
            if (on_.on_moved)
                on_.on_moved(asked.channel);
            schedule_subscriptions();
            return {};
        case sent_kind::ping:
            return {};
    }
    return {};
}

// A coarse watchdog: a connection stuck connecting or handshaking, or an answer overdue, ends
// the connection; an idle one is probed.
void shard_subscriber::tick() {
    if (state_ == state::stopped)
        return;
    const auto now = clock::now();
    const auto ms = std::to_string(opts_.timeout.count());
    if ((state_ == state::connecting || state_ == state::handshaking) &&
        now - connect_started_ > opts_.timeout) {
        end_connection(state_ == state::connecting
                           ? "connect timed out after " + ms + " ms"
                           : "no answer to the connection handshake within " + ms + " ms");
        resolver_.cancel();
    } else if (state_ == state::ready && !sent_.empty() && now - sent_.front().at > opts_.timeout) {
        end_connection("no answer within " + ms + " ms");
    } else if (state_ == state::ready && sent_.empty() &&
               now - last_heard_ > probe_interval(opts_.timeout)) {
        send({"PING"}, sent_kind::ping);
        flush();
    }
    tick_timer_.expires_after(std::clamp(opts_.timeout / 8, std::chrono::milliseconds(5),
                                         std::chrono::milliseconds(250)));
    tick_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (!ec && *alive)
            tick();
    });
}

}  // namespace redchat::redis
