#include "chat_load.hpp"

#include "harness.hpp"

#include <boost/asio/post.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>

namespace redchat::bench {

namespace asio = boost::asio;

namespace {

constexpr std::string_view timestamp_marker = "~ts~";
constexpr std::string_view message_event = "[\"message\",";
constexpr std::string_view error_event = "[\"error\",";
constexpr std::string_view error_ack = "[{\"error\"";
constexpr std::string_view read_event = "[\"room.read\",";
constexpr std::string_view read_ack = "[{\"date\"";
constexpr std::string_view id_field = "\"id\":\"";

}  // namespace

std::int64_t find_timestamp(std::string_view packet) {
    const auto at = packet.find(timestamp_marker);
    if (at == std::string_view::npos)
        return -1;
    const char* first = packet.data() + at + timestamp_marker.size();
    const char* last = packet.data() + packet.size();
    std::int64_t ns = 0;
    const auto [end, ec] = std::from_chars(first, last, ns);
    if (ec != std::errc{} || end == last || *end != '~')
        return -1;
    return ns;
}

// Open loop on one thread: every millisecond, send as many messages as the thread's share of
// the rate says are due, round robin over its ready senders.
struct chat_load::pacer {
    explicit pacer(asio::io_context& ioc) : timer(ioc) {}
    asio::steady_timer timer;
    std::vector<std::uint32_t> senders;  // socket indexes on this thread
    std::size_t next = 0;
    double rate = 0;  // this thread's share
    std::int64_t start_ns = 0;
    std::uint64_t sent = 0;
    std::vector<socketio_client*> corked;
};

chat_load::chat_load(worker_pool& pool, settings s, std::size_t sockets)
    : pool_(pool), settings_(s), senders_(sockets), scratch_(pool.size()) {
    for (unsigned w = 0; w < pool.size(); ++w)
        pacers_.push_back(std::make_unique<pacer>(pool.context(w)));
}

chat_load::~chat_load() = default;

void chat_load::set_room(std::size_t index, const std::string& room) {
    senders_[index].room_json = json_quote(room);
}

void chat_load::set_user(std::size_t index, const std::string& user_id) {
    senders_[index].own_from = "\"from\":" + json_quote(user_id);
}

void chat_load::attach(socket_set& sockets) {
    sockets_ = &sockets;
    std::size_t total = 0;
    for (std::size_t i = 0; i < senders_.size(); ++i) {
        if (!senders_[i].room_json.empty()) {
            pacers_[sockets.worker_of(i)]->senders.push_back(static_cast<std::uint32_t>(i));
            ++total;
        }
    }
    for (auto& p : pacers_) {
        p->rate = total == 0 ? 0
                             : settings_.rate * static_cast<double>(p->senders.size()) /
                                   static_cast<double>(total);
    }
}

void chat_load::start_sending() {
    sending_.store(true);
    pool_.run_everywhere([this](unsigned w) {
        if (settings_.rate > 0) {
            start_pacer(w);
            return;
        }
        for (const auto index : pacers_[w]->senders) {
            auto& c = sockets_->at(index);
            if (c.ready())
                fill_window(c);
        }
    });
}

void chat_load::stop_sending() {
    sending_.store(false);
    pool_.run_everywhere([this](unsigned w) { pacers_[w]->timer.cancel(); });
}

// Starts `out` as an event of `c` that asks for an ack, up to the data's first field:
// 42<ack id>["<name>",{"roomId":<room>
void chat_load::begin_event(std::string& out, socketio_client& c, std::string_view name,
                            const sender& s) {
    out.clear();
    out += "42";
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, c.next_ack_id()).ptr);
    out += "[\"";
    out += name;
    out += "\",{\"roomId\":";
    out += s.room_json;
}

void chat_load::send_one(socketio_client& c, sender& s, unsigned w) {
    auto& out = scratch_[w];
    begin_event(out, c, "message", s);
    out += ",\"message\":\"";
    const std::size_t text_start = out.size();
    out += timestamp_marker;
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, now_ns()).ptr);
    out += '~';
    const std::size_t text_size = out.size() - text_start;
    if (text_size < settings_.message_bytes)
        out.append(settings_.message_bytes - text_size, 'x');
    out += "\"}]";
    c.send_text(out);
    ++s.outstanding;
    pool_.counters(w).add(counter::sent);
}

// `message` is the arguments of a "message" event; the read request names the message's id
// (canonical messages start with it, so the search is short).
void chat_load::mark_read(socketio_client& c, std::string_view message, unsigned w) {
    auto& s = senders_[c.tag()];
    if (s.room_json.empty() || (!s.own_from.empty() && message.find(s.own_from) != message.npos))
        return;
    const auto at = message.find(id_field);
    if (at == message.npos)
        return;
    const auto first = at + id_field.size();
    const auto last = message.find('"', first);
    if (last == message.npos)
        return;
    auto& out = scratch_[w];
    begin_event(out, c, "room.read", s);
    out += ",\"messageId\":\"";
    out += message.substr(first, last - first);
    out += "\"}]";
    c.send_text(out);
    pool_.counters(w).add(counter::reads_sent);
}

void chat_load::fill_window(socketio_client& c) {
    auto& s = senders_[c.tag()];
    if (s.room_json.empty())
        return;
    const unsigned w = sockets_->worker_of(c.tag());
    c.cork();
    while (s.outstanding < settings_.window && c.ready())
        send_one(c, s, w);
    c.uncork();
}

void chat_load::start_pacer(unsigned w) {
    auto& p = *pacers_[w];
    p.start_ns = now_ns();
    p.sent = 0;
    tick(w);
}

void chat_load::tick(unsigned w) {
    auto& p = *pacers_[w];
    if (!sending_.load(std::memory_order_relaxed) || p.senders.empty())
        return;
    const double elapsed_s = static_cast<double>(now_ns() - p.start_ns) / 1e9;
    const auto due_total = static_cast<std::uint64_t>(std::floor(p.rate * elapsed_s));
    std::uint64_t due = due_total > p.sent ? due_total - p.sent : 0;
    while (due > 0) {
        // The next ready sender whose output is not backed up.
        socketio_client* chosen = nullptr;
        for (std::size_t tries = 0; tries < p.senders.size() && chosen == nullptr; ++tries) {
            auto& c = sockets_->at(p.senders[p.next]);
            p.next = (p.next + 1) % p.senders.size();
            if (c.ready() && !c.backlogged())
                chosen = &c;
        }
        if (chosen == nullptr)
            break;  // nobody can send now: the due messages are skipped, not sent in a burst later
        if (!chosen->corked()) {
            chosen->cork();
            p.corked.push_back(chosen);
        }
        send_one(*chosen, senders_[chosen->tag()], w);
        --due;
    }
    p.sent = due_total;
    for (auto* c : p.corked)
        c->uncork();
    p.corked.clear();
    p.timer.expires_after(std::chrono::milliseconds(1));
    p.timer.async_wait([this, w](const boost::system::error_code& ec) {
        if (!ec)
            tick(w);
    });
}

void chat_load::on_ready(socketio_client& c) {
    if (settings_.rate == 0 && sending_.load(std::memory_order_relaxed))
        fill_window(c);
}

void chat_load::on_event(socketio_client& c, std::string_view args, std::int64_t now) {
    const unsigned w = sockets_->worker_of(c.tag());
    if (args.starts_with(message_event)) {
        pool_.counters(w).add(counter::delivered);
        if (pool_.measuring.load(std::memory_order_relaxed)) {
            const auto sent_at = find_timestamp(args);
            if (sent_at >= 0)
                pool_.histogram_of(w, histogram::delivery).record(now - sent_at);
        }
        if (settings_.read_receipts && sending_.load(std::memory_order_relaxed))
            mark_read(c, args, w);
    } else if (args.starts_with(read_event)) {
        pool_.counters(w).add(counter::receipts);
    } else if (args.starts_with(error_event)) {
        pool_.counters(w).add(counter::error_events);
        report("error event", args);
    }
}

void chat_load::on_ack(socketio_client& c, std::uint64_t, std::string_view args, std::int64_t now) {
    const unsigned w = sockets_->worker_of(c.tag());
    if (args.starts_with(read_ack)) {
        pool_.counters(w).add(counter::reads_acked);
        return;
    }
    auto& s = senders_[c.tag()];
    if (s.outstanding > 0)
        --s.outstanding;
    if (args.starts_with(error_ack)) {
        pool_.counters(w).add(counter::ack_errors);
        report("message refused", args);
    } else {
        pool_.counters(w).add(counter::acked);
        if (pool_.measuring.load(std::memory_order_relaxed)) {
            const auto sent_at = find_timestamp(args);
            if (sent_at >= 0)
                pool_.histogram_of(w, histogram::ack).record(now - sent_at);
        }
    }
    if (settings_.rate == 0 && sending_.load(std::memory_order_relaxed) && c.ready())
        fill_window(c);
}

void chat_load::on_closed(socketio_client&, close_cause, std::string_view) {}

void chat_load::report(std::string_view what, std::string_view detail) {
    std::lock_guard lock(report_mutex_);
    if (++reports_ <= 5)
        std::cerr << what << ": " << detail.substr(0, 200) << "\n";
    else if (reports_ == 6)
        std::cerr << "(further refusals and error events are counted, not printed)\n";
}

std::optional<chat_run> run_chat(harness& h, chat_load& load, socket_set& set, std::size_t sockets,
                                 const std::function<std::string_view(std::size_t)>& session_of,
                                 const char* label) {
    const auto& o = h.options();
    set.open(sockets, o.concurrency, session_of);
    if (!set.wait_open(o.setup_timeout_s))
        return std::nullopt;
    chat_run run;
    run.opened = h.pool().snapshot();
    if (get(run.opened, counter::connected) == 0) {
        std::cerr << "redchat-bench: no socket connected\n";
        return std::nullopt;
    }
    load.start_sending();
    run.m = h.measure(label);
    load.stop_sending();
    run.total = h.pool().snapshot();
    set.close_all();
    h.stop();
    return run;
}

void add_load_settings(json_line& out, const bench_options& o, std::size_t window,
                       const chat_run& run) {
    out.field("mode", o.rate > 0 ? "rate" : "window");
    if (o.rate > 0)
        out.field("rate_target", o.rate);
    else
        out.field("window", window);
    out.field("message_bytes", o.message_bytes)
        .field("warmup_s", o.warmup_s)
        .field("duration_s", run.m.seconds)
        .field("sent", get(run.m.delta, counter::sent));
}

void add_delivery_fields(json_line& out, harness& h, const chat_run& run) {
    const auto& d = run.m.delta;
    const auto delivered = get(d, counter::delivered);
    const auto acked = get(d, counter::acked);
    out.field("delivered", delivered)
        .field("deliveries_per_s", per_second(delivered, run.m.seconds))
        .field("deliveries_per_message",
               acked == 0 ? 0.0 : static_cast<double>(delivered) / static_cast<double>(acked))
        .percentiles("latency_ms", h.pool().merged(histogram::delivery))
        .percentiles("ack_latency_ms", h.pool().merged(histogram::ack));
    add_process_fields(out, run.m);
}

void add_outcome_fields(json_line& out, const chat_run& run) {
    const auto& d = run.m.delta;
    out.field("dropped", get(run.total, counter::dropped))
        .field("connect_failed", get(run.total, counter::connect_failed))
        .field("errors", get(d, counter::ack_errors) + get(d, counter::error_events));
}

}  // namespace redchat::bench
