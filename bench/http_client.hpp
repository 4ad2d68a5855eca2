#pragma once
// A minimal HTTP/1.1 keep-alive client on one connection: one request at a time, responses
// with Content-Length, chunked or close-delimited bodies, the redchat_sid cookie picked out of
// Set-Cookie. A request that fails on a reused connection before any answer byte (the server
// closed it while idle) is retried once on a new connection.
//
// Threading and lifetime as socketio_client: one io_context thread; outlive the pool's run.

#include "endpoints.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace redchat::bench {

struct http_response {
    int status = 0;  // 0: no response (see error)
    std::string_view body;
    std::string_view session_id;  // from "Set-Cookie: redchat_sid=...", empty if none
    std::string_view error;
};

class http_client {
  public:
    // The response's views are valid during the call only; it may start the next request.
    using callback = std::function<void(const http_response&)>;

    http_client(boost::asio::io_context& ioc, server_target target,
                std::optional<boost::asio::ip::address_v4> source);
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // `cookie`: the redchat_sid value, or empty. A non-empty body is sent as JSON.
    void request(std::string_view method, std::string_view path, std::string_view body,
                 std::string_view cookie, callback done);
    void close();

  private:
    void connect_and_send();
    void send();
    void read_more();
    void on_read(const boost::system::error_code& ec, std::size_t n);
    enum class parse_state { need_more, done, failed };
    // Parses a complete response from in_ and finishes the request (done or failed).
    parse_state try_parse(bool at_eof);
    void fail(std::string_view what, const boost::system::error_code& ec);
    void finish(int status, std::string_view error);

    boost::asio::ip::tcp::socket socket_;
    server_target target_;
    std::optional<boost::asio::ip::address_v4> source_;
    std::string request_;
    callback done_;
    std::vector<char> in_;
    std::size_t in_used_ = 0;
    std::string body_;
    std::string session_id_;
    bool connected_ = false;
    bool reused_ = false;  // this request went out on a connection that served one before
    bool retried_ = false;
    bool keep_alive_ = true;
    bool closed_ = false;
};

}  // namespace redchat::bench
