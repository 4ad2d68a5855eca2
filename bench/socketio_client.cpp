#include "socketio_client.hpp"

#include "ws_frame.hpp"

#include <boost/asio/post.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

namespace redchat::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A delivery is a few hundred bytes: a small buffer per connection keeps 50k sockets cheap; it
// grows (and stays grown) for the rare larger frame.
constexpr std::uint32_t initial_read_buffer = 2048;
constexpr std::size_t max_frame_payload = 1 << 20;
constexpr std::size_t max_upgrade_response = std::size_t{16} * 1024;

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string base64_of_16(const unsigned char (&bytes)[16]) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= 15; i += 3) {
        const unsigned v =
            (unsigned{bytes[i]} << 16) | (unsigned{bytes[i + 1]} << 8) | bytes[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    const unsigned v = unsigned{bytes[15]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
    return out;
}

}  // namespace

socketio_client::socketio_client(asio::io_context& ioc, socketio_handler& handler,
                                 std::uint32_t tag)
    : socket_(ioc), handler_(handler), tag_(tag), random_(tag * 2654435761u + 0x9E3779B9u) {}

socketio_client::~socketio_client() = default;

std::uint32_t socketio_client::next_random() {
    // xorshift32: mask keys and handshake nonces need to vary, not to be secret.
    std::uint32_t x = random_;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    random_ = x == 0 ? 0x1234567u : x;
    return random_;
}

void socketio_client::connect(const server_target& target,
                              std::optional<asio::ip::address_v4> source, std::string_view cookie) {
    state_ = state::connecting;
    started_ns_ = 0;
    boost::system::error_code ec;
    socket_.open(tcp::v4(), ec);
    if (!ec && source) {
        // Choose the port at connect() time, per 4-tuple, not at bind() time per address:
        // otherwise every bound socket takes one of the ~28k ephemeral ports for itself.
        const int one = 1;
        ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof one);
        socket_.bind(tcp::endpoint(*source, 0), ec);
    }
    if (ec) {
        fail_later(close_cause::connect_failed, "socket: " + ec.message());
        return;
    }
    unsigned char nonce[16];
    for (int i = 0; i < 16; i += 4) {
        const std::uint32_t r = next_random();
        std::memcpy(nonce + i, &r, 4);
    }
    out_.clear();
    out_ += "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ";
    out_ += target.host_header;
    out_ += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    out_ += "Sec-WebSocket-Key: ";
    out_ += base64_of_16(nonce);
    if (!cookie.empty()) {
        out_ += "\r\nCookie: redchat_sid=";
        out_ += cookie;
    }
    out_ += "\r\n\r\n";
    started_ns_ = steady_ns();
    socket_.async_connect(target.endpoint,
                          [this](const boost::system::error_code& cec) { on_connected(cec); });
}

void socketio_client::on_connected(const boost::system::error_code& ec) {
    if (state_ == state::closed)
        return;
    if (ec) {
        fail(close_cause::connect_failed, "connect: " + ec.message());
        return;
    }
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    state_ = state::upgrading;
    in_ = std::make_unique<char[]>(initial_read_buffer);
    in_capacity_ = initial_read_buffer;
    in_used_ = 0;
    flush();
    if (state_ != state::closed)
        read_more();
}

void socketio_client::read_more() {
    socket_.async_read_some(
        asio::buffer(in_.get() + in_used_, in_capacity_ - in_used_),
        [this](const boost::system::error_code& ec, std::size_t n) { on_read(ec, n); });
}

void socketio_client::on_read(const boost::system::error_code& ec, std::size_t n) {
    if (state_ == state::closed)
        return;
    const auto cause =
        state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed;
    if (ec) {
        fail(cause, ec == asio::error::eof ? std::string("closed by the server")
                                           : "read: " + ec.message());
        return;
    }
    in_used_ += static_cast<std::uint32_t>(n);
    std::size_t pos = 0;
    if (state_ == state::upgrading) {
        if (!consume_upgrade_response()) {
            if (state_ != state::closed)
                read_more();
            return;
        }
    }
    const std::int64_t now = steady_ns();
    std::size_t needed = 0;
    cork();
    while (state_ != state::closed) {
        const std::string_view bytes(in_.get() + pos, in_used_ - pos);
        const auto r = ws::parse_frame(bytes, max_frame_payload);
        if (r.status == ws::parse_status::need_more) {
            needed = r.frame_size;
            break;
        }
        if (r.status == ws::parse_status::invalid) {
            fail(state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed,
                 std::string("WebSocket: ") + r.reason);
            return;
        }
        pos += r.f.size;
        on_frame(static_cast<unsigned>(r.f.op), r.f.fin, r.f.payload, now);
    }
    if (state_ == state::closed)
        return;  // a callback closed it: the buffer may be gone
    if (pos > 0) {
        std::memmove(in_.get(), in_.get() + pos, in_used_ - pos);
        in_used_ -= static_cast<std::uint32_t>(pos);
    }
    if (needed > in_capacity_) {
        auto capacity = in_capacity_;
        while (capacity < needed)
            capacity *= 2;
        auto bigger = std::make_unique<char[]>(capacity);
        std::memcpy(bigger.get(), in_.get(), in_used_);
        in_ = std::move(bigger);
        in_capacity_ = capacity;
    }
    uncork();
    if (state_ != state::closed)
        read_more();
}

bool socketio_client::consume_upgrade_response() {
    const std::string_view bytes(in_.get(), in_used_);
    const auto end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (in_used_ == in_capacity_) {
            if (in_capacity_ >= max_upgrade_response) {
                fail(close_cause::handshake_failed, "upgrade response too large");
                return false;
            }
            auto bigger = std::make_unique<char[]>(std::size_t{in_capacity_} * 2);
            std::memcpy(bigger.get(), in_.get(), in_used_);
            in_ = std::move(bigger);
            in_capacity_ *= 2;
        }
        return false;
    }
    if (!bytes.starts_with("HTTP/1.1 101")) {
        // The status line and whatever body arrived, e.g. 429 {"message":"Too many ..."}.
        const auto status_line = bytes.substr(0, std::min(bytes.find("\r\n"), std::size_t{80}));
        const auto body = bytes.substr(end + 4, 120);
        fail(close_cause::handshake_failed,
             "upgrade refused: " + std::string(status_line) + " " + std::string(body));
        return false;
    }
    const std::size_t header_size = end + 4;
    std::memmove(in_.get(), in_.get() + header_size, in_used_ - header_size);
    in_used_ -= static_cast<std::uint32_t>(header_size);
    state_ = state::engineio;
    return true;
}

void socketio_client::on_frame(unsigned op, bool fin, std::string_view payload, std::int64_t now) {
    switch (static_cast<ws::opcode>(op)) {
        case ws::opcode::text:
        case ws::opcode::binary:
            if (fragmented_) {
                fail(close_cause::dropped, "WebSocket: new message inside a fragmented one");
                return;
            }
            if (fin) {
                on_engineio(payload, now);
            } else {
                fragments_.assign(payload);
                fragmented_ = true;
            }
            return;
        case ws::opcode::continuation:
            if (!fragmented_) {
                fail(close_cause::dropped, "WebSocket: continuation without a message");
                return;
            }
            fragments_.append(payload);
            if (fin) {
                fragmented_ = false;
                const std::string whole = std::move(fragments_);
                fragments_.clear();
                on_engineio(whole, now);
            }
            return;
        case ws::opcode::ping:
            send_frame(static_cast<unsigned>(ws::opcode::pong), payload);
            return;
        case ws::opcode::pong:
            return;
        case ws::opcode::close: {
            unsigned code = 0;
            if (payload.size() >= 2) {
                code = (unsigned{static_cast<unsigned char>(payload[0])} << 8) |
                       static_cast<unsigned char>(payload[1]);
            }
            fail(state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed,
                 "WebSocket close " + std::to_string(code) + " " +
                     std::string(payload.size() > 2 ? payload.substr(2) : std::string_view{}));
            return;
        }
    }
}

void socketio_client::on_engineio(std::string_view packet, std::int64_t now) {
    if (packet.empty()) {
        fail(close_cause::dropped, "empty Engine.IO packet");
        return;
    }
    switch (packet[0]) {
        case '0':  // open: connect the default namespace
            if (state_ == state::engineio)
                send_text("40" + connect_payload_);
            return;
        case '2':  // ping
            ++pings_;
            send_text("3");
            return;
        case '3':  // pong
        case '6':  // noop
            return;
        case '1':
            fail(state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed,
                 "Engine.IO close");
            return;
        case '4':
            on_socketio(packet.substr(1), now);
            return;
        default:
            fail(close_cause::dropped, "unknown Engine.IO packet type");
            return;
    }
}

void socketio_client::on_socketio(std::string_view packet, std::int64_t now) {
    if (packet.empty())
        return;
    switch (packet[0]) {
        case '0':
            if (state_ == state::engineio) {
                state_ = state::ready;
                handler_.on_ready(*this);
            }
            return;
        case '2':
            handler_.on_event(*this, packet.substr(1), now);
            return;
        case '3': {
            std::uint64_t id = 0;
            const char* first = packet.data() + 1;
            const char* last = packet.data() + packet.size();
            const auto [end, ec] = std::from_chars(first, last, id);
            if (ec == std::errc{})
                handler_.on_ack(*this, id,
                                std::string_view(end, static_cast<std::size_t>(last - end)), now);
            return;
        }
        case '4':
            fail(close_cause::handshake_failed,
                 "Socket.IO connect refused: " + std::string(packet.substr(1, 120)));
            return;
        case '1':
            fail(close_cause::dropped, "Socket.IO disconnect");
            return;
        default:
            return;  // binary events and acks: not used by the server
    }
}

void socketio_client::send_text(std::string_view packet) {
    if (state_ != state::engineio && state_ != state::ready)
        return;
    send_frame(static_cast<unsigned>(ws::opcode::text), packet);
}

void socketio_client::send_frame(unsigned op, std::string_view payload) {
    ws::append_frame(out_, static_cast<ws::opcode>(op), payload, next_random());
    if (corked_ == 0)
        flush();
}

void socketio_client::uncork() {
    if (corked_ > 0 && --corked_ == 0)
        flush();
}

void socketio_client::flush() {
    if (write_waiting_ || out_.empty() || state_ == state::closed || state_ == state::connecting)
        return;
    boost::system::error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(out_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        n = 0;
    } else if (ec) {
        fail(state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed,
             "write: " + ec.message());
        return;
    }
    if (n == out_.size()) {
        out_.clear();
        return;
    }
    out_.erase(0, n);
    write_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_write, [this](const boost::system::error_code& wec) {
        write_waiting_ = false;
        if (state_ == state::closed)
            return;
        if (wec) {
            fail(state_ == state::ready ? close_cause::dropped : close_cause::handshake_failed,
                 "write: " + wec.message());
            return;
        }
        flush();
    });
}

void socketio_client::close() {
    if (state_ == state::closed)
        return;
    state_ = state::closed;
    boost::system::error_code ignored;
    socket_.close(ignored);
    // Pending handlers still run (with operation_aborted) and must find the buffers harmless:
    // they only look at state_.
    in_.reset();
    in_capacity_ = in_used_ = 0;
    std::string().swap(out_);
    std::string().swap(fragments_);
}

void socketio_client::fail(close_cause cause, std::string_view detail) {
    if (state_ == state::closed)
        return;
    close();
    handler_.on_closed(*this, cause, detail);
}

void socketio_client::fail_later(close_cause cause, std::string detail) {
    // Not from inside connect(): the caller may be opening sockets in a loop.
    asio::post(socket_.get_executor(), [this, cause, detail = std::move(detail)] {
        if (state_ != state::closed)
            fail(cause, detail);
    });
}

}  // namespace redchat::bench
