#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "socketio/assembler.hpp"
#include "socketio/engineio_codec.hpp"
#include "socketio/socketio_codec.hpp"

namespace redchat::socketio {
namespace {

TEST(engineio, decodes_every_packet_type) {
    auto open = decode_packet(R"(0{"sid":"x"})");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->type, eio_type::open);
    EXPECT_EQ(open->data, R"({"sid":"x"})");
    for (char c : std::string("0123456")) {
        auto p = decode_packet(std::string(1, c));
        ASSERT_TRUE(p) << c;
        EXPECT_EQ(static_cast<char>(p->type), c);
        EXPECT_TRUE(p->data.empty());
    }
    auto probe = decode_packet("2probe");
    ASSERT_TRUE(probe);
    EXPECT_EQ(probe->type, eio_type::ping);
    EXPECT_EQ(probe->data, "probe");
}

TEST(engineio, refuses_malformed_packets) {
    EXPECT_FALSE(decode_packet(""));
    EXPECT_FALSE(decode_packet("7"));
    EXPECT_FALSE(decode_packet("x42"));
    EXPECT_FALSE(decode_packet("b@@@@"));
    EXPECT_FALSE(decode_packet("bAB"));
}

TEST(engineio, binary_packets_in_base64) {
    auto p = decode_packet("bAQID");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->binary);
    EXPECT_EQ(p->type, eio_type::message);
    EXPECT_EQ(p->data, std::string("\x01\x02\x03"));
}

TEST(engineio, payloads_join_packets_with_record_separators) {
    auto packets = decode_payload(
        "40\x1e"
        R"(42["message",{"a":1}])"
        "\x1e"
        "3");
    ASSERT_TRUE(packets);
    ASSERT_EQ(packets->size(), 3u);
    EXPECT_EQ((*packets)[0].data, "0");
    EXPECT_EQ((*packets)[1].data, R"(2["message",{"a":1}])");
    EXPECT_EQ((*packets)[2].type, eio_type::pong);
    EXPECT_FALSE(decode_payload(""));
    EXPECT_FALSE(decode_payload("4a\x1e"));  // empty last part
    EXPECT_FALSE(
        decode_payload("4a\x1e\x1e"
                       "4b"));
    std::string many;
    for (int i = 0; i < 300; ++i)
        many += (i ? "\x1e" : "") + std::string("3");
    EXPECT_FALSE(decode_payload(many, 256));
    EXPECT_EQ(encode_payload({"6", "42[\"x\"]"}),
              "6\x1e"
              "42[\"x\"]");
    EXPECT_EQ(encode_packet(eio_type::message, "2[]"), "42[]");
}

TEST(base64, round_trip_and_validation) {
    for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                          std::string("foob"), std::string("\x00\xff\x10", 3)}) {
        auto back = base64_decode(base64_encode(s));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, s);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Z==="));
    EXPECT_FALSE(base64_decode("Zm=v"));
    EXPECT_FALSE(base64_decode("Zm9v!A=="));
}

TEST(socketio, decodes_connect_event_ack_and_namespaces) {
    auto connect = decode("0");
    ASSERT_TRUE(connect);
    EXPECT_EQ(connect->type, sio_type::connect);
    EXPECT_EQ(connect->nsp, "/");
    auto auth = decode(R"(0/admin,{"token":"t"})");
    ASSERT_TRUE(auth);
    EXPECT_EQ(auth->nsp, "/admin");
    EXPECT_EQ(auth->data, R"({"token":"t"})");
    auto ev = decode(R"(212["message",{"roomId":"0"}])");
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->type, sio_type::event);
    EXPECT_EQ(ev->ack_id, 12u);
    auto parsed = parse_event(*ev);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->name, "message");
    ASSERT_EQ(parsed->args.size(), 1u);
    EXPECT_TRUE(parsed->args[0].is_object());
    auto ack = decode(R"(3/chat,5["ok"])");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->nsp, "/chat");
    EXPECT_EQ(ack->ack_id, 5u);
    auto bin = decode(R"(51-["upload",{"_placeholder":true,"num":0}])");
    ASSERT_TRUE(bin);
    EXPECT_EQ(bin->type, sio_type::binary_event);
    EXPECT_EQ(bin->attachments, 1u);
}

TEST(socketio, refuses_malformed_packets_with_a_reason) {
    for (const char* bad :
         {"", "9", "2", "2not json", R"(2{"a":1})", "2[]", "2[1]", "3{}", "0[]", R"(1{"a":1})",
          "5[\"x\"]", "5x-[\"x\"]", R"(2["message")", "21234567890123456[\"x\"]"}) {
        std::string reason;
        EXPECT_FALSE(decode(bad, &reason)) << bad;
        EXPECT_FALSE(reason.empty()) << bad;
    }
    std::string reason;
    EXPECT_FALSE(decode(R"(2["message","xxxxxxxxxxxxxxxxxxxx"])", &reason, 10));
    EXPECT_EQ(reason, "packet too large");
}

TEST(socketio, encodes_what_clients_expect) {
    EXPECT_EQ(encode_connect("/", "abc"), R"(0{"sid":"abc"})");
    EXPECT_EQ(encode_connect_error("/admin", "Invalid namespace"),
              R"(4/admin,{"message":"Invalid namespace"})");
    EXPECT_EQ(encode_event("/", "message", R"({"a":1})"), R"(2["message",{"a":1}])");
    EXPECT_EQ(encode_event("/", "ping", ""), R"(2["ping"])");
    EXPECT_EQ(encode_event("/chat", "x", "1", 7), R"(2/chat,7["x",1])");
    EXPECT_EQ(encode_ack("/", 3, R"([{"ok":true}])"), R"(33[{"ok":true}])");
}

TEST(socketio, a_namespace_is_echoed_bounded_and_escaped) {
    EXPECT_EQ(echoable_namespace("/admin-2_x.y~"), "/admin-2_x.y~");
    EXPECT_EQ(echoable_namespace("/a\"b\n\xff\xc3\xa9"), "/a%22b%0A%FF%C3%A9");
    EXPECT_EQ(echoable_namespace("/" + std::string(300, 'n')).size(), 64u);
    const auto echoed = encode_connect_error(echoable_namespace("/x\"}]"), "Invalid namespace");
    EXPECT_EQ(echoed, R"(4/x%22%7D%5D,{"message":"Invalid namespace"})");
}

}  // namespace
}  // namespace redchat::socketio

namespace redchat::socketio {
namespace {

const std::string two_placeholders =
    R"([{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])";

TEST(socketio, binary_packets_encode_their_attachment_count) {
    EXPECT_EQ(
        encode_event("/", "message-back", R"({"_placeholder":true,"num":0})", std::nullopt, 1),
        R"(51-["message-back",{"_placeholder":true,"num":0}])");
    EXPECT_EQ(encode_event("/custom", "x", "", 7, 2), R"(52-/custom,7["x"])");
    EXPECT_EQ(encode_ack("/", 789, two_placeholders, 2), "62-789" + two_placeholders);
    EXPECT_EQ(encode_ack("/", 789, "[1]"), "3789[1]");
}

TEST(packet_assembler, a_binary_event_comes_out_with_its_attachments_in_order) {
    packet_assembler a({4096, 10});
    std::string reason;
    auto head = a.feed_text(
        R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", &reason);
    ASSERT_TRUE(head) << reason;
    EXPECT_FALSE(*head);
    EXPECT_TRUE(a.awaiting_attachments());
    auto first = a.feed_binary(std::string("\x01\x02\x03", 3), &reason);
    ASSERT_TRUE(first);
    EXPECT_FALSE(*first);
    auto whole = a.feed_binary(std::string("\x04\x05\x06", 3), &reason);
    ASSERT_TRUE(whole && *whole);
    EXPECT_FALSE(a.awaiting_attachments());
    EXPECT_EQ((*whole)->packet.type, sio_type::binary_event);
    ASSERT_EQ((*whole)->attachments.size(), 2u);
    EXPECT_EQ((*whole)->attachments[0], std::string("\x01\x02\x03", 3));
    EXPECT_EQ((*whole)->attachments[1], std::string("\x04\x05\x06", 3));
    auto ev = parse_event((*whole)->packet);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->name, "message");
    EXPECT_EQ(ev->args.size(), 2u);
}

TEST(packet_assembler, a_binary_ack_with_an_id_and_a_namespace_is_put_together) {
    packet_assembler a({4096, 10});
    std::string reason;
    ASSERT_TRUE(a.feed_text("61-/custom,789[{\"_placeholder\":true,\"num\":0}]", &reason));
    auto whole = a.feed_binary("ab", &reason);
    ASSERT_TRUE(whole && *whole);
    EXPECT_EQ((*whole)->packet.type, sio_type::binary_ack);
    EXPECT_EQ((*whole)->packet.nsp, "/custom");
    EXPECT_EQ((*whole)->packet.ack_id, 789u);
}

TEST(packet_assembler, text_packets_pass_through_whole) {
    packet_assembler a({4096, 10});
    std::string reason;
    auto whole = a.feed_text(R"(2["message",1])", &reason);
    ASSERT_TRUE(whole && *whole);
    EXPECT_TRUE((*whole)->attachments.empty());
    auto none = a.feed_text("50-[\"empty\"]", &reason);  // a binary event of no attachment
    ASSERT_TRUE(none && *none);
}

TEST(packet_assembler, out_of_place_and_oversized_binary_is_refused_with_a_reason) {
    std::string reason;
    {
        packet_assembler a({4096, 10});
        EXPECT_FALSE(a.feed_binary("x", &reason));
        EXPECT_EQ(reason, "Binary data without a binary packet");
    }
    {
        packet_assembler a({4096, 10});
        ASSERT_TRUE(a.feed_text("51-[\"x\",{\"_placeholder\":true,\"num\":0}]", &reason));
        EXPECT_FALSE(a.feed_text("2[\"y\"]", &reason));
        EXPECT_EQ(reason, "Expected a binary attachment");
        EXPECT_FALSE(a.awaiting_attachments());  // and the assembler starts over
        EXPECT_TRUE(a.feed_text("2[\"y\"]", &reason));
    }
    {
        packet_assembler a({4096, 2});
        EXPECT_FALSE(a.feed_text("53-[\"x\"]", &reason));
        EXPECT_EQ(reason, "Too many binary attachments");
    }
    {
        packet_assembler a({4096, 2});
        EXPECT_FALSE(a.feed_text("51-[\"x\",{\"_placeholder\":true,\"num\":1}]", &reason));
        EXPECT_EQ(reason, "A placeholder points at no attachment");
    }
    {
        packet_assembler a({4096, 0});  // a policy of no binary at all (the chat's)
        EXPECT_FALSE(a.feed_text("51-[\"x\",{\"_placeholder\":true,\"num\":0}]", &reason));
        EXPECT_EQ(reason, "Binary packets are not supported");
        EXPECT_FALSE(a.feed_binary("x", &reason));
        EXPECT_EQ(reason, "Binary packets are not supported");
    }
    {
        packet_assembler a({4096, 2});
        EXPECT_FALSE(a.feed_text("abc", &reason));
        EXPECT_EQ(reason, "Malformed packet: unknown packet type");
    }
}

}  // namespace
}  // namespace redchat::socketio
