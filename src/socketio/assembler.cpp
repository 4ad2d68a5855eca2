#include "socketio/assembler.hpp"

#include <boost/json/parse.hpp>

namespace redchat::socketio {
namespace {

namespace json = boost::json;

result<std::optional<assembled_packet>> fail(std::string* reason, std::string why) {
    if (reason != nullptr)
        *reason = std::move(why);
    return make_error_code(errc::bad_input);
}

// Every placeholder in `v` points at one of `count` attachments (depth-bounded by the parser).
bool placeholders_in_range(const json::value& v, std::size_t count) {
    if (const auto* arr = v.if_array()) {
        for (const auto& item : *arr) {
            if (!placeholders_in_range(item, count))
                return false;
        }
        return true;
    }
    const auto* obj = v.if_object();
    if (obj == nullptr)
        return true;
    const auto* flag = obj->if_contains("_placeholder");
    if (flag != nullptr && flag->is_bool() && flag->get_bool()) {
        const auto* num = obj->if_contains("num");
        return num != nullptr && num->is_int64() && num->get_int64() >= 0 &&
               static_cast<std::size_t>(num->get_int64()) < count;
    }
    for (const auto& [key, item] : *obj) {
        (void)key;
        if (!placeholders_in_range(item, count))
            return false;
    }
    return true;
}

}  // namespace

result<std::optional<assembled_packet>> packet_assembler::feed_text(std::string_view text,
                                                                    std::string* reason) {
    if (pending_) {
        pending_.reset();
        return fail(reason, "Expected a binary attachment");
    }
    std::string why;
    auto packet = decode(text, &why, limits_.max_packet_bytes);
    if (!packet)
        return fail(reason, "Malformed packet: " + why);
    const bool binary =
        packet->type == sio_type::binary_event || packet->type == sio_type::binary_ack;
    if (!binary)
        return std::optional<assembled_packet>(assembled_packet{std::move(*packet), {}});
    if (limits_.max_attachments == 0)
        return fail(reason, "Binary packets are not supported");
    if (packet->attachments > limits_.max_attachments)
        return fail(reason, "Too many binary attachments");
    // decode() checked that the data parses; here its placeholders are checked too.
    boost::system::error_code ec;
    const auto data = json::parse(packet->data, ec);
    if (ec || !placeholders_in_range(data, packet->attachments))
        return fail(reason, "A placeholder points at no attachment");
    assembled_packet whole{std::move(*packet), {}};
    if (whole.packet.attachments == 0)
        return std::optional<assembled_packet>(std::move(whole));
    whole.attachments.reserve(whole.packet.attachments);
    pending_ = std::make_unique<assembled_packet>(std::move(whole));
    return std::optional<assembled_packet>();
}

result<std::optional<assembled_packet>> packet_assembler::feed_binary(std::string bytes,
                                                                      std::string* reason) {
    if (!pending_) {
        return fail(reason, limits_.max_attachments == 0 ? "Binary packets are not supported"
                                                         : "Binary data without a binary packet");
    }
    pending_->attachments.push_back(std::move(bytes));
    if (pending_->attachments.size() < pending_->packet.attachments)
        return std::optional<assembled_packet>();
    auto whole = std::move(*pending_);
    pending_.reset();
    return std::optional<assembled_packet>(std::move(whole));
}

}  // namespace redchat::socketio
