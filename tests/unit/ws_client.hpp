#pragma once
// The client's side of a WebSocket, by hand, for tests and fuzz targets that talk to the server
// over a real socket: masked client frames, the server's unmasked frames taken off a byte
// stream, and a connected loopback TCP pair. Independent of the server's own codec.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "transport/ws_codec.hpp"

namespace redchat::testing {

// Runs `ioc` until `done()` holds; false if it never does. The 20 s bound only turns a hang into
// a failure: nothing waits for time to pass.
template <typename Done>
bool run_until(boost::asio::io_context& ioc, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
        if (ioc.stopped())
            ioc.restart();
        // Nothing ran: either out of work (nothing can change any more) or out of time.
        if (ioc.run_one_until(deadline) == 0 &&
            (ioc.stopped() || std::chrono::steady_clock::now() >= deadline)) {
            return done();
        }
    }
    return true;
}

// A client frame: FIN as given, masked unless told otherwise.
inline std::string client_frame(transport::ws_opcode op, std::string_view payload, bool fin = true,
                                bool masked = true) {
    const std::array<std::uint8_t, 4> mask{0x37, 0xfa, 0x21, 0x3d};
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op)));
    const int mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(mask_bit | static_cast<int>(payload.size())));
    } else if (payload.size() <= 0xFFFF) {
        f.push_back(static_cast<char>(mask_bit | 126));
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        f.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 7; i >= 0; --i)
            f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xFF));
    }
    if (!masked)
        return f.append(payload);
    for (auto m : mask)
        f.push_back(static_cast<char>(m));
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ mask[i % 4]));
    return f;
}

// A close frame's payload: the code, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = "") {
    std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    return p.append(reason);
}

struct server_frame {
    bool fin = false;
    bool masked = false;  // never, from a server (RFC 6455 §5.1)
    transport::ws_opcode opcode = transport::ws_opcode::text;
    std::string payload;

    // A close frame's code (0 when it has none).
    std::uint16_t close_code() const {
        if (payload.size() < 2)
            return 0;
        return static_cast<std::uint16_t>(static_cast<std::uint8_t>(payload[0]) << 8 |
                                          static_cast<std::uint8_t>(payload[1]));
    }
};

// Takes one whole server frame off the front of `in`, if `in` holds one. The payload of a
// masked frame is returned as it was on the wire.
inline std::optional<server_frame> take_server_frame(std::string& in) {
    if (in.size() < 2)
        return std::nullopt;
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in[i]); };
    std::size_t header = 2;
    std::uint64_t length = byte(1) & 0x7F;
    if (length == 126) {
        if (in.size() < 4)
            return std::nullopt;
        length = std::uint64_t{byte(2)} << 8 | byte(3);
        header = 4;
    } else if (length == 127) {
        if (in.size() < 10)
            return std::nullopt;
        length = 0;
        for (std::size_t i = 2; i < 10; ++i)
            length = length << 8 | byte(i);
        header = 10;
    }
    const bool masked = (byte(1) & 0x80) != 0;
    if (masked)
        header += 4;
    if (in.size() < header || in.size() - header < length)
        return std::nullopt;
    server_frame f;
    f.fin = (byte(0) & 0x80) != 0;
    f.masked = masked;
    f.opcode = static_cast<transport::ws_opcode>(byte(0) & 0x0F);
    f.payload = in.substr(header, length);
    in.erase(0, header + length);
    return f;
}

// A connected TCP pair on `ioc`, through `acceptor` (listening on loopback, on any context):
// {client, server}.
inline std::pair<boost::asio::ip::tcp::socket, boost::asio::ip::tcp::socket> loopback_pair(
    boost::asio::io_context& ioc, boost::asio::ip::tcp::acceptor& acceptor) {
    boost::asio::ip::tcp::socket client(ioc);
    boost::asio::ip::tcp::socket server(ioc);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    return {std::move(client), std::move(server)};
}

}  // namespace redchat::testing
