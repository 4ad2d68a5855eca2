#pragma once
// The channels a subscriber connection wants, and where each stands with Redis, sans-I/O (the
// client sends what take() says and reports what Redis confirms).
//
// A channel is subscribed, then confirmed (active); dropped, it is unsubscribed and forgotten
// once Redis confirms. A channel wanted again while its UNSUBSCRIBE is on the way is subscribed
// anew only after that confirmation: hiredis forgets a channel's callback when the
// unsubscribe confirmation arrives, so a SUBSCRIBE sent before it would be lost.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/compact_string.hpp"

namespace redchat::redis {

class subscription_set {
  public:
    void want(std::string_view channel);
    void drop(std::string_view channel);

    // What to send now: SUBSCRIBE these, UNSUBSCRIBE those.
    struct changes {
        std::vector<std::string> subscribe;
        std::vector<std::string> unsubscribe;
        bool empty() const { return subscribe.empty() && unsubscribe.empty(); }
    };
    changes take();

    // Redis confirmed a SUBSCRIBE: true when `channel` became active by it (a confirmation of a
    // channel that was active already, such as a probe's, is not news).
    bool subscribed(std::string_view channel);
    void unsubscribed(std::string_view channel);
    // Redis ended or refused the channel's subscription on its own (a cluster node whose slot
    // moved away): not active; subscribed again by the next take() while still wanted.
    void lost(std::string_view channel);
    // The connection was lost: every wanted channel is to be subscribed again, none is active.
    void reset();

    bool active(std::string_view channel) const;
    std::size_t wanted() const { return wanted_; }

  private:
    enum class state : std::uint8_t { idle, subscribing, active, unsubscribing };
    struct entry {
        bool wanted = false;
        state st = state::idle;
        bool dirty = false;  // in dirty_
    };
    void touch(const compact_string& channel, entry& e);

    // Compact keys: a channel name is kept without a heap block of its own.
    std::unordered_map<compact_string, entry, compact_string_hash, std::equal_to<>> channels_;
    std::vector<compact_string> dirty_;  // channels take() must look at
    std::size_t wanted_ = 0;
};

}  // namespace redchat::redis
