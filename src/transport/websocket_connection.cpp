#include "transport/websocket_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <span>

namespace redchat::transport {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Reads of every connection of a thread land here first (they never overlap: a read is a
// non-blocking call made after the socket turned readable).
constexpr std::size_t read_chunk = 64 * 1024;
thread_local std::array<char, read_chunk> thread_read_buffer;

packet_ptr make_frame(ws_opcode op, std::string_view payload) {
    outgoing_packet p;
    p.prefix_size = ws_header_size(payload.size());
    p.binary = op == ws_opcode::binary;
    p.bytes.reserve(p.prefix_size + payload.size());
    p.bytes.resize(p.prefix_size);
    write_ws_header(p.bytes.data(), op, payload.size());
    p.bytes.append(payload);
    return std::make_shared<const outgoing_packet>(std::move(p));
}

}  // namespace

packet_ptr make_text_frame(std::string_view text) {
    return make_frame(ws_opcode::text, text);
}

packet_ptr make_binary_frame(std::string_view bytes) {
    return make_frame(ws_opcode::binary, bytes);
}

void write_batch::mark(std::shared_ptr<websocket_connection> connection) {
    dirty_.push_back(std::move(connection));
    if (!posted_) {
        posted_ = true;
        asio::post(ioc_, [this] { flush_all(); });
    }
}

void write_batch::flush_all() {
    posted_ = false;
    auto dirty = std::move(dirty_);
    dirty_.clear();
    for (auto& c : dirty)
        c->flush();
    if (dirty_.empty() && dirty.capacity() > dirty_.capacity()) {
        dirty.clear();
        dirty_ = std::move(dirty);  // keeps the capacity for the next turn
    }
}

// An idle connection holds this object (bench/RESULTS.md, "idle"): with make_shared's reference
// counts it stays within jemalloc's 192-byte class.
static_assert(sizeof(websocket_connection) <= 176, "a connection grew out of its size class");

namespace {

// The same open socket with the io_context's own executor: the descriptor leaves the reactor and
// comes back under the new type. A socket that fails to move stays closed, and the connection's
// first read ends it.
websocket_connection::socket_type adopt(asio::ip::tcp::socket socket, asio::io_context& ioc) {
    websocket_connection::socket_type adopted(ioc.get_executor());
    boost::system::error_code ec;
    const auto local = socket.local_endpoint(ec);
    if (ec)
        return adopted;
    const auto native = socket.release(ec);
    if (ec)
        return adopted;
    adopted.assign(local.protocol(), native, ec);
    if (ec)
        ::close(native);
    return adopted;
}

}  // namespace

websocket_connection::websocket_connection(asio::ip::tcp::socket socket, write_batch& batch)
    : socket_(adopt(std::move(socket), batch.context())),
      batch_(batch),
      queued_gauge_(batch.queued_gauge()),
      decoder_(batch.limits().max_message_bytes) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

websocket_connection::~websocket_connection() {
    add_queued(-static_cast<std::int64_t>(queued_bytes_));
}

void websocket_connection::add_queued(std::int64_t delta) {
    queued_gauge_.fetch_add(delta, std::memory_order_relaxed);
}

websocket_connection::step websocket_connection::decode(std::string_view& in, ws_message& msg) {
    switch (decoder_.next(in, msg)) {
        case ws_decoder::status::error:
            abort(decoder_.error(), "Protocol error");
            return step::stop;
        case ws_decoder::status::need_more:
            return step::need_bytes;
        case ws_decoder::status::message:
            break;
    }
    switch (msg.opcode) {
        case ws_opcode::ping:
            send(make_frame(ws_opcode::pong, msg.payload));
            return step::read_more;
        case ws_opcode::pong:
            return step::read_more;
        case ws_opcode::close: {
            close_received_ = true;
            const auto code = ws_close_code(msg.payload);
            close(code == 1005 ? ws_close::normal : code, "");
            return step::stop;
        }
        default:
            return step::deliver;
    }
}

awaitable<std::optional<ws_message>> websocket_connection::read() {
    bool may_read = false;  // what is buffered first, then a read after each readiness
    for (;;) {
        ws_message msg;
        const auto got = try_read(msg, may_read);
        if (got == read_result::message)
            co_return msg;
        if (got == read_result::closed)
            co_return std::nullopt;
        auto [ec] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, nothrow);
        if (ec || !open_) {
            shut_down();
            co_return std::nullopt;
        }
        may_read = true;
    }
}

websocket_connection::read_result websocket_connection::try_read(ws_message& msg, bool& may_read) {
    for (;;) {
        if (need_bytes_) {
            if (!open_)
                return read_result::closed;
            if (!may_read)
                return read_result::would_block;  // wait for readiness first
            may_read = false;
            boost::system::error_code rec;
            const std::size_t n = socket_.read_some(asio::buffer(thread_read_buffer), rec);
            if (rec == asio::error::would_block || rec == asio::error::try_again)
                return read_result::would_block;
            if (rec) {
                shut_down();
                return read_result::closed;
            }
            if (partial_.empty()) {
                // Nothing pending: decode straight from the thread's buffer, keep only the rest.
                std::string_view in(thread_read_buffer.data(), n);
                const auto next = decode(in, msg);
                partial_.assign(in);
                partial_pos_ = 0;
                need_bytes_ = next == step::need_bytes || partial_.empty();
                if (next == step::deliver)
                    return read_result::message;
                if (next == step::stop)
                    return read_result::closed;
                continue;
            }
            // Once per read, not per frame: what was decoded leaves the front of the buffer.
            partial_.erase(0, partial_pos_);
            partial_pos_ = 0;
            partial_.append(thread_read_buffer.data(), n);
        }
        // Frames already received: decoded from an offset, so that many small frames in one
        // read cost one pass over their bytes, not a memmove of the rest after each.
        std::string_view in(partial_);
        in.remove_prefix(partial_pos_);
        const auto next = decode(in, msg);
        partial_pos_ = static_cast<std::uint32_t>(partial_.size() - in.size());
        if (partial_pos_ == partial_.size()) {
            partial_.clear();
            partial_pos_ = 0;
            if (partial_.capacity() > 4096)
                partial_ = std::string();  // a big message went through: give the memory back
        }
        need_bytes_ = next == step::need_bytes || partial_.empty();
        if (next == step::deliver)
            return read_result::message;
        if (next == step::stop)
            return read_result::closed;
    }
}

bool websocket_connection::send(packet_ptr frame) {
    if (!open_ || close_queued_)
        return false;
    if (queued_bytes_ + frame->bytes.size() > batch_.limits().max_queued_bytes ||
        queue_.size() - head_ >= batch_.limits().max_queued_frames) {
        return false;
    }
    enqueue(std::move(frame));
    return true;
}

void websocket_connection::enqueue(packet_ptr frame) {
    // A client that is always a little behind never empties the queue: drop the written
    // prefix once it is half of the vector (amortised O(1) per frame), or it grows forever.
    if (head_ >= 16 && head_ * 2 >= queue_.size()) {
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
    queued_bytes_ += static_cast<std::uint32_t>(frame->bytes.size());
    add_queued(static_cast<std::int64_t>(frame->bytes.size()));
    queue_.push_back(std::move(frame));
    if (!marked_ && !waiting_writable_) {
        marked_ = true;
        batch_.mark(shared_from_this());
    }
}

// Writes what is queued with gather writes until the queue is empty or the kernel's buffer is
// full; then waits until the socket is writable and goes on. `queued_bytes_` is therefore
// exactly what the client has not accepted yet: a burst it reads at once never counts against
// it, a client that stops reading soon does.
void websocket_connection::flush() {
    marked_ = false;
    while (open_ && !waiting_writable_ && head_ < queue_.size()) {
        std::array<asio::const_buffer, 64> buffers;
        std::size_t count = 0;
        for (std::size_t i = head_; i < queue_.size() && count < buffers.size(); ++i, ++count) {
            const auto& bytes = queue_[i]->bytes;
            const std::size_t skip = i == head_ ? head_offset_ : 0;
            buffers[count] = asio::const_buffer(bytes.data() + skip, bytes.size() - skip);
        }
        boost::system::error_code ec;
        const std::size_t n =
            socket_.write_some(std::span<const asio::const_buffer>(buffers.data(), count), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            wait_writable();
            return;
        }
        if (ec) {
            shut_down();
            return;
        }
        batch_.count_write(consume(n));
    }
    if (head_ == queue_.size())
        written_all();
}

// Drops `n` written bytes from the front of the queue; returns how many frames are now done.
std::size_t websocket_connection::consume(std::size_t n) {
    queued_bytes_ -= static_cast<std::uint32_t>(n);
    add_queued(-static_cast<std::int64_t>(n));
    std::size_t done = 0;
    while (n > 0) {
        const std::size_t left = queue_[head_]->bytes.size() - head_offset_;
        if (n < left) {
            head_offset_ += static_cast<std::uint32_t>(n);
            return done;
        }
        n -= left;
        queue_[head_++].reset();
        head_offset_ = 0;
        ++done;
    }
    return done;
}

void websocket_connection::written_all() {
    queue_.clear();
    head_ = 0;
    if (queue_.capacity() > 64)
        queue_ = {};  // a burst went through: give the memory back
    if (close_queued_ && !close_sent_) {
        close_sent_ = true;
        if (close_received_) {
            shut_down();  // our answer to the client's close: nothing left to wait for
            return;
        }
        // Our close frame is out: no more writes. Wait a moment for the client's.
        boost::system::error_code ignored;
        socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        asio::co_spawn(socket_.get_executor(), linger(shared_from_this()), asio::detached);
    }
}

void websocket_connection::wait_writable() {
    waiting_writable_ = true;
    socket_.async_wait(asio::ip::tcp::socket::wait_write,
                       [self = shared_from_this()](boost::system::error_code ec) {
                           self->waiting_writable_ = false;
                           if (ec) {
                               self->shut_down();
                               return;
                           }
                           self->flush();
                       });
}

awaitable<void> websocket_connection::linger(std::shared_ptr<websocket_connection> self) {
    asio::steady_timer timer(self->socket_.get_executor());
    timer.expires_after(std::chrono::seconds(2));
    co_await timer.async_wait(nothrow);
    self->shut_down();
}

void websocket_connection::reader_done() {
    if (!close_queued_)
        abort(ws_close::normal, "");
    else if (close_sent_)
        shut_down();  // the client answered our close (or went away): nothing left to wait for
}

void websocket_connection::close(std::uint16_t code, std::string_view reason) {
    if (!open_ || close_queued_)
        return;
    enqueue(make_frame(ws_opcode::close, ws_close_payload(code, reason)));
    close_queued_ = true;
}

void websocket_connection::abort(std::uint16_t code, std::string_view reason) {
    if (!open_)
        return;
    if (head_offset_ == 0 && !close_queued_) {  // not in the middle of a frame
        const std::string frame = ws_close_frame(code, reason);
        boost::system::error_code ignored;
        socket_.write_some(asio::buffer(frame), ignored);  // non-blocking: best effort
    }
    queue_.clear();
    head_ = 0;
    head_offset_ = 0;
    add_queued(-static_cast<std::int64_t>(queued_bytes_));
    queued_bytes_ = 0;
    shut_down();
}

void websocket_connection::shut_down() {
    if (!open_)
        return;
    open_ = false;
    // Nothing queued will ever be written: let the shared packets go now.
    queue_.clear();
    head_ = 0;
    head_offset_ = 0;
    add_queued(-static_cast<std::int64_t>(queued_bytes_));
    queued_bytes_ = 0;
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

}  // namespace redchat::transport
