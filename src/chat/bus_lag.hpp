#pragma once
// How far the process's subscriber is behind Redis, and whether new chat messages should wait.
//
// Under a load the process cannot deliver, acknowledging stays cheap while every delivery comes
// later: without a brake, Redis buffers the subscriber's backlog until it passes
// `client-output-buffer-limit pubsub` and drops the connection, and those live deliveries are
// lost. The lag is measured on our own messages as they come back from the bus (now minus the
// date the store script gave them: the same clock). Above `high` the bus is congested and each
// thread holds new messages back for a moment before storing them (`realtime`), which slows
// the senders down through their acks and TCP instead of losing deliveries; below `low` it is
// clear again. Pure: the caller feeds it lags and times.

#include <optional>

namespace redchat::chat {

class bus_lag_gate {
  public:
    struct limits {
        double high = 0.25;  // seconds of lag that make the bus congested
        double low = 0.15;   // seconds of lag under which it is clear again
        double quiet = 0.5;  // congested, but no own message seen this long: clear
    };

    bus_lag_gate() = default;
    explicit bus_lag_gate(limits l) : limits_(l) {}

    // One of our own messages came back from the bus `lag` seconds after it was stored, at
    // `now` (any monotonic seconds). Returns the new state when it changed.
    std::optional<bool> observe(double lag, double now) {
        last_seen_ = now;
        if (!congested_ && lag > limits_.high)
            return set(true);
        if (congested_ && lag < limits_.low)
            return set(false);
        return std::nullopt;
    }

    // Called now and then: a congested bus that has carried none of our messages for a while
    // (the traffic stopped, or the subscriber is down) no longer holds anything back.
    std::optional<bool> tick(double now) {
        if (congested_ && now - last_seen_ > limits_.quiet)
            return set(false);
        return std::nullopt;
    }

    bool congested() const { return congested_; }

  private:
    bool set(bool on) {
        congested_ = on;
        return on;
    }

    limits limits_;
    bool congested_ = false;
    double last_seen_ = 0;
};

}  // namespace redchat::chat
