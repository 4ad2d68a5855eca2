#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace redchat::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t max_header_bytes = std::size_t{64} * 1024;
constexpr std::size_t max_body_bytes = 64 << 20;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// Decodes a chunked body starting at `bytes`; returns bytes consumed, 0 if incomplete,
// npos if malformed.
std::size_t decode_chunked(std::string_view bytes, std::string& body) {
    body.clear();
    std::size_t pos = 0;
    for (;;) {
        const auto line_end = bytes.find("\r\n", pos);
        if (line_end == std::string_view::npos)
            return 0;
        std::size_t size = 0;
        const auto [end, ec] =
            std::from_chars(bytes.data() + pos, bytes.data() + line_end, size, 16);
        if (ec != std::errc{} || size > max_body_bytes)
            return std::string_view::npos;
        (void)end;  // chunk extensions are ignored
        pos = line_end + 2;
        if (size == 0) {
            // Trailers end with an empty line.
            const auto trailer_end = bytes.find("\r\n", pos);
            if (trailer_end == std::string_view::npos)
                return 0;
            if (trailer_end == pos)
                return pos + 2;
            const auto all = bytes.find("\r\n\r\n", pos);
            return all == std::string_view::npos ? 0 : all + 4;
        }
        if (bytes.size() < pos + size + 2)
            return 0;
        body.append(bytes.substr(pos, size));
        pos += size + 2;
    }
}

}  // namespace

http_client::http_client(asio::io_context& ioc, server_target target,
                         std::optional<asio::ip::address_v4> source)
    : socket_(ioc), target_(std::move(target)), source_(source), in_(std::size_t{16} * 1024) {}

void http_client::request(std::string_view method, std::string_view path, std::string_view body,
                          std::string_view cookie, callback done) {
    done_ = std::move(done);
    request_.clear();
    request_.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ");
    request_.append(target_.host_header).append("\r\n");
    if (!cookie.empty())
        request_.append("Cookie: redchat_sid=").append(cookie).append("\r\n");
    if (!body.empty() || method == "POST") {
        request_.append("Content-Type: application/json\r\nContent-Length: ");
        request_.append(std::to_string(body.size())).append("\r\n");
    }
    request_.append("\r\n").append(body);
    retried_ = false;
    closed_ = false;
    if (connected_) {
        reused_ = true;
        send();
    } else {
        connect_and_send();
    }
}

void http_client::connect_and_send() {
    reused_ = false;
    in_used_ = 0;
    boost::system::error_code ec;
    if (socket_.is_open())
        socket_.close(ec);
    socket_.open(tcp::v4(), ec);
    if (!ec && source_) {
        const int one = 1;
        ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof one);
        socket_.bind(tcp::endpoint(*source_, 0), ec);
    }
    if (ec) {
        fail("socket", ec);
        return;
    }
    socket_.async_connect(target_.endpoint, [this](const boost::system::error_code& cec) {
        if (closed_)
            return;
        if (cec) {
            fail("connect", cec);
            return;
        }
        boost::system::error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
        connected_ = true;
        send();
    });
}

void http_client::send() {
    asio::async_write(socket_, asio::buffer(request_),
                      [this](const boost::system::error_code& ec, std::size_t) {
                          if (closed_)
                              return;
                          if (ec) {
                              fail("write", ec);
                              return;
                          }
                          read_more();
                      });
}

void http_client::read_more() {
    if (in_used_ == in_.size())
        in_.resize(in_.size() * 2);
    socket_.async_read_some(
        asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
        [this](const boost::system::error_code& ec, std::size_t n) { on_read(ec, n); });
}

void http_client::on_read(const boost::system::error_code& ec, std::size_t n) {
    if (closed_)
        return;
    if (ec && ec != asio::error::eof) {
        fail("read", ec);
        return;
    }
    in_used_ += n;
    const bool at_eof = ec == asio::error::eof;
    const auto parsed = try_parse(at_eof);
    if (parsed != parse_state::need_more)
        return;
    if (at_eof) {
        fail("read", ec);
        return;
    }
    if (in_used_ > max_header_bytes + max_body_bytes) {
        finish(0, "response too large");
        return;
    }
    read_more();
}

http_client::parse_state http_client::try_parse(bool at_eof) {
    const std::string_view bytes(in_.data(), in_used_);
    const auto header_end = bytes.find("\r\n\r\n");
    if (header_end == std::string_view::npos) {
        if (in_used_ <= max_header_bytes)
            return parse_state::need_more;
        finish(0, "response headers too large");
        return parse_state::failed;
    }
    const std::string_view head = bytes.substr(0, header_end + 2);
    // "HTTP/1.1 200 OK"
    int status = 0;
    if (head.size() < 12 || !head.starts_with("HTTP/1.")) {
        finish(0, "malformed status line");
        return parse_state::failed;
    }
    std::from_chars(head.data() + 9, head.data() + 12, status);
    std::optional<std::size_t> content_length;
    bool chunked = false;
    keep_alive_ = head[7] == '1';
    session_id_.clear();
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
        const auto line_end = head.find("\r\n", pos);
        const std::string_view line = head.substr(pos, line_end - pos);
        pos = line_end + 2;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::size_t len = 0;
            std::from_chars(value.data(), value.data() + value.size(), len);
            content_length = len;
        } else if (iequals(name, "transfer-encoding")) {
            chunked = value.find("chunked") != std::string_view::npos;
        } else if (iequals(name, "connection")) {
            if (iequals(value, "close"))
                keep_alive_ = false;
            else if (iequals(value, "keep-alive"))
                keep_alive_ = true;
        } else if (iequals(name, "set-cookie") && value.starts_with("redchat_sid=")) {
            const auto v = value.substr(12);
            session_id_.assign(v.substr(0, v.find(';')));
        }
    }
    const std::size_t body_start = header_end + 4;
    std::size_t consumed = 0;
    if (chunked) {
        const auto used = decode_chunked(bytes.substr(body_start), body_);
        if (used == std::string_view::npos) {
            finish(0, "malformed chunked body");
            return parse_state::failed;
        }
        if (used == 0)
            return parse_state::need_more;
        consumed = body_start + used;
    } else if (content_length) {
        if (bytes.size() < body_start + *content_length)
            return parse_state::need_more;
        body_.assign(bytes.substr(body_start, *content_length));
        consumed = body_start + *content_length;
    } else {
        // Delimited by the end of the connection.
        if (!at_eof)
            return parse_state::need_more;
        body_.assign(bytes.substr(body_start));
        consumed = bytes.size();
        keep_alive_ = false;
    }
    std::memmove(in_.data(), in_.data() + consumed, in_used_ - consumed);
    in_used_ -= consumed;
    if (!keep_alive_ || at_eof) {
        boost::system::error_code ignored;
        socket_.close(ignored);
        connected_ = false;
    }
    finish(status, {});
    return parse_state::done;
}

void http_client::fail(std::string_view what, const boost::system::error_code& ec) {
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (reused_ && !retried_ && in_used_ == 0) {
        retried_ = true;
        connect_and_send();
        return;
    }
    finish(0, std::string(what) + ": " + ec.message());
}

void http_client::finish(int status, std::string_view error) {
    if (status == 0) {
        body_.clear();
        session_id_.clear();
        connected_ = false;
        boost::system::error_code ignored;
        socket_.close(ignored);
    }
    const std::string error_text(error);
    http_response r;
    r.status = status;
    r.body = body_;
    r.session_id = session_id_;
    r.error = error_text;
    auto done = std::move(done_);
    done_ = nullptr;
    if (done)
        done(r);
}

void http_client::close() {
    closed_ = true;
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
}

}  // namespace redchat::bench
