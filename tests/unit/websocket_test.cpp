// transport::websocket_connection on a real loopback TCP connection inside one io_context: the
// test is the client, writing masked frames it builds by hand and reading the server's raw frames.
// Everything is asserted on bytes seen by the client and on the connection's return values.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transport/websocket_connection.hpp"
#include "transport/ws_codec.hpp"
#include "ws_client.hpp"

namespace redchat::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

using testing::client_frame;
using testing::close_payload;
using testing::server_frame;

// An io_context whose pending handlers (a lingering close, say) can be destroyed while
// everything they refer to is still alive.
struct test_context : asio::io_context {
    void destroy_pending() { shutdown(); }
};

constexpr websocket_connection::limits default_limits{
    .max_message_bytes = 64 * 1024, .max_queued_bytes = 1 << 20, .max_queued_frames = 1024};

class websocket_test : public ::testing::Test {
  protected:
    websocket_test() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), client_(ioc_) {
        client_.connect(acceptor_.local_endpoint());
        client_.set_option(tcp::no_delay(true));  // each small write goes out on its own
    }
    ~websocket_test() override {
        ioc_.destroy_pending();
        ws_.reset();
        EXPECT_EQ(stats_.queued_output_bytes.load(), 0);
    }

    // The server's end of the connection. `send_buffer`: the kernel's send buffer, when a test
    // needs it to fill up soon.
    std::shared_ptr<websocket_connection> open(websocket_connection::limits lim = default_limits,
                                               int send_buffer = 0) {
        tcp::socket server(ioc_);
        acceptor_.accept(server);
        if (send_buffer > 0)
            server.set_option(asio::socket_base::send_buffer_size(send_buffer));
        // A batch per connection: the limits are the batch's (one per thread in the server).
        ws_ = std::make_shared<websocket_connection>(std::move(server),
                                                     batches_.emplace_back(ioc_, stats_, lim));
        return ws_;
    }

    // The application's side: every message read() returns, then the end of the reader.
    static asio::awaitable<void> read_all(std::shared_ptr<websocket_connection> ws,
                                          std::vector<ws_message>* got, bool* ended) {
        while (auto msg = co_await ws->read())
            got->push_back(std::move(*msg));
        *ended = true;
        ws->reader_done();
    }
    void start_reader() {
        asio::co_spawn(ioc_, read_all(ws_, &got_, &reader_ended_), [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    }

    // The client reads whatever the server sends into received_, until the end of the stream.
    void start_client_reading() {
        client_.async_read_some(asio::buffer(client_buffer_),
                                [this](boost::system::error_code ec, std::size_t n) {
                                    if (ec) {
                                        client_eof_ = true;
                                        return;
                                    }
                                    received_.append(client_buffer_.data(), n);
                                    start_client_reading();
                                });
    }
    void client_write(std::string_view bytes) { asio::write(client_, asio::buffer(bytes)); }

    // Runs the loop until `done()` holds (ws_client.hpp).
    template <typename Done>
    bool run_until(Done done) {
        return redchat::testing::run_until(ioc_, std::move(done));
    }

    // The next frame from the server; nullopt if the stream ended first.
    std::optional<server_frame> next_frame() {
        std::optional<server_frame> f;
        run_until([&] {
            f = testing::take_server_frame(received_);
            return f.has_value() || client_eof_;
        });
        EXPECT_FALSE(f && f->masked) << "a masked server frame";
        return f;
    }
    // True when the server ended the stream with nothing after what was read.
    bool server_ended_stream() {
        run_until([&] { return client_eof_; });
        return client_eof_ && received_.empty();
    }

    test_context ioc_;
    metrics::shard stats_{};
    std::list<write_batch> batches_;
    tcp::acceptor acceptor_;
    tcp::socket client_;
    std::shared_ptr<websocket_connection> ws_;
    std::vector<ws_message> got_;
    bool reader_ended_ = false;
    std::array<char, 16 * 1024> client_buffer_{};
    std::string received_;
    bool client_eof_ = false;
};

TEST_F(websocket_test, delivers_a_masked_text_message_and_a_binary_one) {
    open();
    start_reader();
    client_write(client_frame(ws_opcode::text, "42[\"hello\"]") +
                 client_frame(ws_opcode::binary, std::string("\x00\xff", 2)));
    ASSERT_TRUE(run_until([&] { return got_.size() == 2; }));
    EXPECT_EQ(got_[0].opcode, ws_opcode::text);
    EXPECT_EQ(got_[0].payload, "42[\"hello\"]");
    EXPECT_EQ(got_[1].opcode, ws_opcode::binary);
    EXPECT_EQ(got_[1].payload, std::string("\x00\xff", 2));
    EXPECT_FALSE(reader_ended_);
    EXPECT_TRUE(ws_->is_open());
}

// The reader that holds nothing while its client is silent (engineio_server) is built on
// try_read: it never waits, decodes what is already buffered without reading, and reads the
// socket at most once per readiness, so that a client that keeps sending waits its turn.
TEST_F(websocket_test, try_read_never_waits_and_reads_once_per_readiness) {
    auto ws = open();
    using result = websocket_connection::read_result;
    ws_message msg;
    bool may_read = true;
    EXPECT_EQ(ws->try_read(msg, may_read), result::would_block);  // nothing was sent
    EXPECT_FALSE(may_read);                                       // the readiness is used

    const auto wait_readable = [&] {
        bool readable = false;
        ws->when_readable([&](const boost::system::error_code&) { readable = true; });
        return run_until([&] { return readable; });
    };
    client_write(client_frame(ws_opcode::text, "4a") + client_frame(ws_opcode::text, "4b"));
    ASSERT_TRUE(wait_readable());
    may_read = true;
    ASSERT_EQ(ws->try_read(msg, may_read), result::message);
    EXPECT_EQ(msg.payload, "4a");
    EXPECT_FALSE(may_read);
    // Already received with the first: decoded without reading.
    ASSERT_EQ(ws->try_read(msg, may_read), result::message);
    EXPECT_EQ(msg.payload, "4b");
    EXPECT_EQ(ws->try_read(msg, may_read), result::would_block);

    // More bytes have arrived, but this readiness was used: the reader waits for the next one.
    client_write(client_frame(ws_opcode::text, "4c"));
    ASSERT_TRUE(wait_readable());
    EXPECT_EQ(ws->try_read(msg, may_read), result::would_block);
    may_read = true;
    ASSERT_EQ(ws->try_read(msg, may_read), result::message);
    EXPECT_EQ(msg.payload, "4c");

    // The client goes away: the connection is over.
    client_.close();
    ASSERT_TRUE(wait_readable());
    may_read = true;
    EXPECT_EQ(ws->try_read(msg, may_read), result::closed);
    EXPECT_FALSE(ws->is_open());
}

// The coalescing the design promises, counted as /metrics shows it: the frames queued for a
// connection during one loop turn leave in one gather write (at most 64 frames per write).
TEST_F(websocket_test, frames_queued_in_one_loop_turn_leave_in_one_gather_write) {
    open();
    start_client_reading();
    for (int i = 0; i < 50; ++i)
        ASSERT_TRUE(ws_->send(make_text_frame("42[\"m" + std::to_string(i) + "\"]")));
    EXPECT_EQ(stats_.ws_writes.load(), 0u);  // nothing before the turn ends
    for (int i = 0; i < 50; ++i) {
        auto f = next_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->payload, "42[\"m" + std::to_string(i) + "\"]");
    }
    EXPECT_EQ(stats_.ws_writes.load(), 1u);
    EXPECT_EQ(stats_.ws_frames_written.load(), 50u);
    // 100 more in one turn: two writes, as one takes at most 64 buffers.
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(ws_->send(make_text_frame("42[\"n\"]")));
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(next_frame());
    EXPECT_EQ(stats_.ws_writes.load(), 3u);
    EXPECT_EQ(stats_.ws_frames_written.load(), 150u);
}

TEST_F(websocket_test, reassembles_a_message_split_across_tcp_writes_and_fragments) {
    open();
    start_reader();
    start_client_reading();
    std::string big(20000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 7);
    const std::string stream =
        client_frame(ws_opcode::text, "Hel", false) +
        client_frame(ws_opcode::ping, "between fragments") +  // allowed inside a message
        client_frame(ws_opcode::continuation, "lo, w\xc3", false) +
        client_frame(ws_opcode::continuation, "\xb6rld") +  // "ö" split across fragments
        client_frame(ws_opcode::binary, big.substr(0, 5000), false) +
        client_frame(ws_opcode::continuation, big.substr(5000, 15000 - 5000), false) +
        client_frame(ws_opcode::continuation, big.substr(15000));
    // Writes of 1 to 13 bytes, each read by the server before the next is written.
    std::size_t pos = 0;
    for (std::size_t n = 1; pos < stream.size(); n = n % 13 + 1) {
        const auto piece = std::string_view(stream).substr(pos, n);
        client_write(piece);
        pos += piece.size();
        ioc_.poll();
        ioc_.restart();
    }
    ASSERT_TRUE(run_until([&] { return got_.size() == 2; }));
    EXPECT_EQ(got_[0].opcode, ws_opcode::text);
    EXPECT_EQ(got_[0].payload, "Hello, w\xc3\xb6rld");
    EXPECT_EQ(got_[1].opcode, ws_opcode::binary);
    EXPECT_EQ(got_[1].payload, big);
    // The ping between the fragments was answered, and is never handed to the application.
    auto pong = next_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, ws_opcode::pong);
    EXPECT_EQ(pong->payload, "between fragments");
}

TEST_F(websocket_test, answers_a_ping_with_a_pong_carrying_the_same_payload) {
    open();
    start_reader();
    start_client_reading();
    const std::string longest(125, 'p');  // the largest control frame payload
    client_write(client_frame(ws_opcode::ping, longest) + client_frame(ws_opcode::ping, "") +
                 client_frame(ws_opcode::pong, "unsolicited"));  // ignored
    for (const std::string& expected : {longest, std::string()}) {
        auto pong = next_frame();
        ASSERT_TRUE(pong);
        EXPECT_TRUE(pong->fin);
        EXPECT_EQ(pong->opcode, ws_opcode::pong);
        EXPECT_EQ(pong->payload, expected);
    }
    client_write(client_frame(ws_opcode::text, "after"));
    ASSERT_TRUE(run_until([&] { return !got_.empty(); }));
    ASSERT_EQ(got_.size(), 1u);  // control frames never reach the application
    EXPECT_EQ(got_[0].payload, "after");
    EXPECT_TRUE(received_.empty());  // and the pong from the client was not answered
}

TEST_F(websocket_test, echoes_a_client_close_and_read_returns_nullopt) {
    open();
    start_reader();
    start_client_reading();
    client_write(client_frame(ws_opcode::close, close_payload(4001, "bye")));
    auto echo = next_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, ws_opcode::close);
    EXPECT_EQ(echo->close_code(), 4001);
    EXPECT_TRUE(server_ended_stream());
    EXPECT_TRUE(reader_ended_);
    EXPECT_TRUE(got_.empty());
    // Both sides closed: the connection ends at once, without lingering for a close frame
    // that has already arrived (no time passes here: only what is ready runs).
    ioc_.poll();
    EXPECT_FALSE(ws_->is_open());
    EXPECT_FALSE(ws_->send(make_text_frame("too late")));
}

TEST_F(websocket_test, a_close_without_a_code_is_echoed_as_normal) {
    open();
    start_reader();
    start_client_reading();
    client_write(client_frame(ws_opcode::close, ""));
    auto echo = next_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, ws_opcode::close);
    EXPECT_EQ(echo->close_code(), ws_close::normal);
    EXPECT_TRUE(server_ended_stream());
    EXPECT_TRUE(reader_ended_);
}

// A protocol error: the close frame with its code, then the end of the stream, and read() ends
// without delivering anything of the offending message.
class websocket_refusal_test : public websocket_test {
  protected:
    void expect_refused(const std::string& bytes, std::uint16_t code,
                        websocket_connection::limits lim = default_limits) {
        open(lim);
        start_reader();
        start_client_reading();
        client_write(bytes);
        auto close = next_frame();
        ASSERT_TRUE(close);
        EXPECT_EQ(close->opcode, ws_opcode::close);
        EXPECT_EQ(close->close_code(), code);
        EXPECT_TRUE(server_ended_stream());
        ASSERT_TRUE(run_until([&] { return reader_ended_; }));
        EXPECT_TRUE(got_.empty());
        EXPECT_FALSE(ws_->is_open());
    }
};

TEST_F(websocket_refusal_test, invalid_utf8_text_closes_with_1007) {
    expect_refused(client_frame(ws_opcode::text, "caf\xc3(") +
                       client_frame(ws_opcode::text, "never delivered"),
                   ws_close::invalid_payload);
}

TEST_F(websocket_refusal_test, an_oversized_message_closes_with_1009) {
    auto lim = default_limits;
    lim.max_message_bytes = 1000;
    expect_refused(client_frame(ws_opcode::text, std::string(1001, 'a')), ws_close::too_big, lim);
}

TEST_F(websocket_refusal_test, fragments_adding_up_to_an_oversized_message_close_with_1009) {
    auto lim = default_limits;
    lim.max_message_bytes = 1000;
    expect_refused(client_frame(ws_opcode::binary, std::string(600, 'a'), false) +
                       client_frame(ws_opcode::continuation, std::string(401, 'b')),
                   ws_close::too_big, lim);
}

TEST_F(websocket_refusal_test, an_unmasked_client_frame_closes_with_1002) {
    expect_refused(client_frame(ws_opcode::text, "plain", true, false), ws_close::protocol_error);
}

TEST_F(websocket_test, many_tiny_frames_in_one_write_arrive_in_order) {
    open();
    start_reader();
    constexpr int count = 2000;
    std::string burst;
    for (int i = 0; i < count; ++i)
        burst += client_frame(ws_opcode::text, std::to_string(i));
    client_write(burst);
    ASSERT_TRUE(run_until([&] { return got_.size() == count; }));
    for (int i = 0; i < count; ++i)
        ASSERT_EQ(got_[static_cast<std::size_t>(i)].payload, std::to_string(i)) << i;
    EXPECT_TRUE(ws_->is_open());
}

TEST_F(websocket_test, sends_of_one_turn_are_written_together_and_in_order) {
    open();
    start_client_reading();
    constexpr int count = 500;
    std::int64_t total = 0;
    for (int i = 0; i < count; ++i) {
        auto frame = make_text_frame("s" + std::to_string(i));
        total += static_cast<std::int64_t>(frame->bytes.size());
        ASSERT_TRUE(ws_->send(std::move(frame)));
    }
    // Queued, not written: nothing is written per send()...
    EXPECT_EQ(static_cast<std::int64_t>(ws_->queued_bytes()), total);
    EXPECT_EQ(stats_.queued_output_bytes.load(), total);
    EXPECT_EQ(client_.available(), 0u);
    // ...but by the one handler that flushes the turn's output.
    ASSERT_EQ(ioc_.poll_one(), 1u);
    EXPECT_EQ(ws_->queued_bytes(), 0u);
    EXPECT_EQ(stats_.queued_output_bytes.load(), 0);
    for (int i = 0; i < count; ++i) {
        auto f = next_frame();
        ASSERT_TRUE(f) << i;
        EXPECT_EQ(f->opcode, ws_opcode::text);
        ASSERT_EQ(f->payload, "s" + std::to_string(i));
    }
}

TEST_F(websocket_test, send_refuses_beyond_max_queued_frames_until_the_kernel_takes_them) {
    auto lim = default_limits;
    lim.max_queued_frames = 8;
    open(lim);
    for (int i = 0; i < 8; ++i)
        EXPECT_TRUE(ws_->send(make_text_frame("f" + std::to_string(i))));
    const auto queued = ws_->queued_bytes();
    EXPECT_FALSE(ws_->send(make_text_frame("over")));
    EXPECT_EQ(ws_->queued_bytes(), queued);  // nothing of the refused frame was queued
    EXPECT_TRUE(ws_->is_open());             // refusing is the caller's signal: it decides to drop
    // Written (the kernel takes these small frames although the client reads nothing yet).
    ioc_.poll();
    EXPECT_EQ(ws_->queued_bytes(), 0u);
    EXPECT_TRUE(ws_->send(make_text_frame("f8")));
    start_client_reading();
    for (int i = 0; i <= 8; ++i) {
        auto f = next_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->payload, "f" + std::to_string(i));
    }
}

TEST_F(websocket_test, send_refuses_beyond_max_queued_bytes_while_the_client_does_not_read) {
    auto lim = default_limits;
    lim.max_queued_bytes = 64 * 1024;
    client_.set_option(asio::socket_base::receive_buffer_size(4096));
    open(lim, 4096);
    start_reader();
    const std::string payload(1024, 'x');
    std::size_t sent = 0;
    bool refused = false;
    // The client reads nothing: the kernel's buffers fill, then the connection's queue.
    while (!refused && sent < 100000) {
        if (ws_->send(make_text_frame(payload))) {
            ++sent;
            ioc_.poll();
            ioc_.restart();
        } else {
            refused = true;
        }
    }
    ASSERT_TRUE(refused);
    EXPECT_GT(ws_->queued_bytes() + payload.size() + 4, lim.max_queued_bytes);
    EXPECT_LE(ws_->queued_bytes(), lim.max_queued_bytes);
    EXPECT_EQ(stats_.queued_output_bytes.load(), static_cast<std::int64_t>(ws_->queued_bytes()));
    EXPECT_TRUE(ws_->is_open());
    // The client goes away without reading: the connection ends and its queue is let go.
    client_.close();
    ASSERT_TRUE(run_until([&] { return reader_ended_ && !ws_->is_open(); }));
    EXPECT_EQ(ws_->queued_bytes(), 0u);
    EXPECT_EQ(stats_.queued_output_bytes.load(), 0);
    EXPECT_FALSE(ws_->send(make_text_frame(payload)));
}

TEST_F(websocket_test, abort_lets_go_of_the_queue_and_sends_its_close_code) {
    open();
    start_client_reading();
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(ws_->send(make_text_frame("dropped")));
    EXPECT_GT(stats_.queued_output_bytes.load(), 0);
    ws_->abort(ws_close::try_again_later, "Too slow");
    EXPECT_EQ(stats_.queued_output_bytes.load(), 0);
    EXPECT_FALSE(ws_->is_open());
    auto close = next_frame();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->opcode, ws_opcode::close);
    EXPECT_EQ(close->close_code(), ws_close::try_again_later);
    EXPECT_EQ(close->payload.substr(2), "Too slow");
    EXPECT_TRUE(server_ended_stream());  // the queued frames were never written
}

TEST_F(websocket_test, close_sends_its_code_after_the_queued_frames) {
    open();
    start_reader();
    start_client_reading();
    for (const char* text : {"a", "b", "c"})
        ASSERT_TRUE(ws_->send(make_text_frame(text)));
    ws_->close(4000, "done");
    EXPECT_FALSE(ws_->send(make_text_frame("after the close")));
    for (const char* text : {"a", "b", "c"}) {
        auto f = next_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->opcode, ws_opcode::text);
        EXPECT_EQ(f->payload, text);
    }
    auto close = next_frame();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->opcode, ws_opcode::close);
    EXPECT_EQ(close->close_code(), 4000);
    EXPECT_EQ(close->payload.substr(2), "done");
    EXPECT_TRUE(server_ended_stream());
    // The client answers the close: the connection ends then, not after the linger.
    client_write(client_frame(ws_opcode::close, close_payload(4000)));
    ASSERT_TRUE(run_until([&] { return reader_ended_; }));
    ioc_.poll();
    EXPECT_FALSE(ws_->is_open());
    EXPECT_TRUE(got_.empty());
}

}  // namespace
}  // namespace redchat::transport
