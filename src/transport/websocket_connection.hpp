#pragma once
// One WebSocket connection after the upgrade, on its raw TCP socket and its I/O thread.
//
// Reading: the connection waits until the socket is readable and then reads into a buffer shared
// by every connection of the thread, keeping only the bytes of an unfinished frame for itself; an
// idle connection holds no read buffer at all.
// Writing: frames are queued (shared, already encoded buffers) and everything queued goes out in
// one gather write per event-loop turn: `write_batch` flushes all connections that got output
// in the turn together. What the kernel does not take waits for the socket to become writable.
// The queue is bounded in bytes (not yet accepted by the kernel) and in frames; `send` reports
// when it is full so that the caller can drop the slow client.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.hpp"
#include "core/outgoing_packet.hpp"
#include "core/plain_allocator.hpp"
#include "transport/ws_codec.hpp"

namespace redchat::transport {

class websocket_connection;

// What a WebSocket connection may receive in one message and hold queued for its client.
struct websocket_limits {
    std::size_t max_message_bytes;
    std::size_t max_queued_bytes;
    std::size_t max_queued_frames;
};

// The connections of one thread with output queued during the current event-loop turn, and
// what they share: their limits (kept here, so that a connection holds no copy).
// It counts its gather writes and the frames they completed (redchat_ws_writes_total,
// redchat_ws_frames_written_total): their ratio is the coalescing the design promises.
class write_batch {
  public:
    write_batch(boost::asio::io_context& ioc, metrics::shard& stats, websocket_limits limits)
        : ioc_(ioc), stats_(stats), limits_(limits) {}
    const websocket_limits& limits() const { return limits_; }
    boost::asio::io_context& context() { return ioc_; }
    void mark(std::shared_ptr<websocket_connection> connection);
    // websocket_connection::flush: one gather write that completed `frames` frames.
    void count_write(std::size_t frames) {
        stats_.ws_writes.fetch_add(1, std::memory_order_relaxed);
        stats_.ws_frames_written.fetch_add(frames, std::memory_order_relaxed);
    }
    // The count of queued output of the thread's shard (which outlives the batch), kept up to
    // date by its connections.
    metrics::gauge& queued_gauge() { return stats_.queued_output_bytes; }

  private:
    void flush_all();

    boost::asio::io_context& ioc_;
    metrics::shard& stats_;
    websocket_limits limits_;
    std::vector<std::shared_ptr<websocket_connection>> dirty_;
    bool posted_ = false;
};

// A frame ready to send, shared by all receivers (core/outgoing_packet.hpp): the Engine.IO
// packet, with the WebSocket frame header in front of it. A binary frame carries an Engine.IO
// binary message (its raw bytes).
packet_ptr make_text_frame(std::string_view text);
packet_ptr make_binary_frame(std::string_view bytes);

class websocket_connection : public std::enable_shared_from_this<websocket_connection> {
  public:
    using limits = websocket_limits;
    // The socket carries its io_context's own executor, not the polymorphic `any_io_executor`
    // of `tcp::socket`: 32 bytes less in the connection and in each pending operation.
    using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                         boost::asio::io_context::executor_type>;

    // The connection's limits are its batch's (one per thread); the socket moves to the
    // batch's io_context, which must be the one it was accepted on.
    websocket_connection(boost::asio::ip::tcp::socket socket, write_batch& batch);
    ~websocket_connection();
    websocket_connection(const websocket_connection&) = delete;
    websocket_connection& operator=(const websocket_connection&) = delete;

    // The next data message (text or binary). Pings are answered and a close is echoed inside.
    // nullopt once the connection is over: closed by either side, broken, or a protocol error
    // (answered with its close code).
    boost::asio::awaitable<std::optional<ws_message>> read();

    // The same without waiting: a message in `msg`, nothing yet (wait with when_readable and
    // try again), or the connection is over. A reader that holds no coroutine while its client
    // is silent is built on these two. The socket is read at most once per readiness, as
    // `may_read` allows (it is cleared by a read): a client that keeps sending gets its turn
    // after the other connections of the thread, not before.
    enum class read_result : std::uint8_t { message, would_block, closed };
    read_result try_read(ws_message& msg, bool& may_read);
    // Calls `handler(error_code)` once the socket has something to read (or is closed). The
    // wait may last as long as the client is silent: its memory is taken from malloc at its
    // size, not from Asio's recycling cache (core/plain_allocator.hpp).
    template <typename Handler>
    void when_readable(Handler&& handler) {
        socket_.async_wait(
            socket_type::wait_read,
            boost::asio::bind_allocator(plain_allocator<void>{}, std::forward<Handler>(handler)));
    }

    // Queues a frame. False, with nothing queued, when the queue is full or the connection over.
    bool send(packet_ptr frame);
    // Sends a close frame once everything queued is written, then ends the connection: at once
    // if the client closed too, otherwise after a short linger for its close frame.
    void close(std::uint16_t code, std::string_view reason);
    // Closes now, dropping what is queued; the close frame is attempted without waiting.
    void abort(std::uint16_t code, std::string_view reason);
    // Ends the connection when its reader stops: at once, unless a close is under way.
    void reader_done();

    bool is_open() const { return open_; }
    std::size_t queued_bytes() const { return queued_bytes_; }

    // write_batch: writes everything queued.
    void flush();

  private:
    // Decodes the next frame of `in` and answers control frames: a message to hand over, the
    // end of the connection, or where to go on reading.
    enum class step : std::uint8_t { deliver, read_more, need_bytes, stop };
    step decode(std::string_view& in, ws_message& msg);
    void enqueue(packet_ptr frame);
    std::size_t consume(std::size_t n);  // the number of frames it completed
    void add_queued(std::int64_t delta);
    void written_all();
    void wait_writable();
    void shut_down();
    static boost::asio::awaitable<void> linger(std::shared_ptr<websocket_connection> self);

    // Laid out to stay within 176 bytes (192 with make_shared's count): 32-bit sizes and
    // positions (frames and queues are bounded far below 4 GiB: at most 1 GiB queued), the
    // flags together.
    socket_type socket_;
    write_batch& batch_;  // used while the thread runs (a connection may outlive it at the end)
    metrics::gauge& queued_gauge_;  // the process's count of queued output (outlives us)
    ws_decoder decoder_;
    std::string partial_;             // received bytes not yet decoded, from partial_pos_
    std::vector<packet_ptr> queue_;   // frames not yet (fully) written, from head_
    std::uint32_t queued_bytes_ = 0;  // not yet accepted by the kernel
    std::uint32_t partial_pos_ = 0;   // decoded bytes at the front of partial_
    std::uint32_t head_ = 0;          // the first frame not fully written
    std::uint32_t head_offset_ = 0;   // its bytes already written
    bool open_ = true;
    bool need_bytes_ = true;         // what is buffered holds no whole frame: read first
    bool marked_ = false;            // in the thread's write_batch
    bool waiting_writable_ = false;  // the kernel's buffer is full
    bool close_queued_ = false;      // a close frame is queued: nothing may follow it
    bool close_sent_ = false;
    bool close_received_ = false;  // the client's close frame arrived
};

}  // namespace redchat::transport
