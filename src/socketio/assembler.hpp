#pragma once
// Socket.IO packets put back together with their binary attachments. A binary event or ack
// (`5<n>-...`, `6<n>-...`) announces n attachments that follow as the next n Engine.IO binary
// messages; its JSON holds a placeholder {"_placeholder":true,"num":i} where attachment i goes.
// Sans-I/O: Engine.IO messages in, complete packets out, or a clear error; never throws.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "socketio/socketio_codec.hpp"

namespace redchat::socketio {

struct assembled_packet {
    sio_packet packet;
    std::vector<std::string> attachments;  // in placeholder order: attachment i is `num` i
};

class packet_assembler {
  public:
    struct limits {
        std::size_t max_packet_bytes = 1 << 20;  // the JSON text of one packet
        std::size_t max_attachments = 10;        // per packet; 0 refuses binary packets
    };
    explicit packet_assembler(limits lim) : limits_(lim) {}

    // A text message: a whole packet (returned), or a binary packet's head (nullopt: its
    // attachments are awaited). An error (with `reason`) for a malformed packet, one over the
    // limits, placeholders that point at no attachment, or text where an attachment is due.
    result<std::optional<assembled_packet>> feed_text(std::string_view text, std::string* reason);
    // A binary message: the next attachment, which may complete the packet. An error when no
    // binary packet awaits one.
    result<std::optional<assembled_packet>> feed_binary(std::string bytes, std::string* reason);

    bool awaiting_attachments() const { return pending_ != nullptr; }

  private:
    limits limits_;
    // On the heap: every socket holds an assembler, few ever hold a binary packet.
    std::unique_ptr<assembled_packet> pending_;
};

}  // namespace redchat::socketio
