// The subscriber's channel states (redis/subscriptions.hpp), sans-I/O.
#include <gtest/gtest.h>

#include <algorithm>

#include "redis/subscriptions.hpp"

namespace redchat::redis {
namespace {

using strings = std::vector<std::string>;

TEST(subscriptions, subscribes_once_and_is_active_once_confirmed) {
    subscription_set s;
    s.want("a");
    s.want("b");
    s.want("a");
    auto c = s.take();
    EXPECT_EQ(c.subscribe, (strings{"a", "b"}));
    EXPECT_TRUE(c.unsubscribe.empty());
    EXPECT_TRUE(s.take().empty());  // sent already
    EXPECT_FALSE(s.active("a"));
    EXPECT_TRUE(s.subscribed("a"));
    EXPECT_FALSE(s.subscribed("a"));  // a probe's confirmation is no news
    EXPECT_TRUE(s.active("a"));
    EXPECT_FALSE(s.active("b"));
    EXPECT_EQ(s.wanted(), 2u);
}

TEST(subscriptions, a_channel_dropped_before_it_was_sent_costs_nothing) {
    subscription_set s;
    s.want("a");
    s.drop("a");
    EXPECT_TRUE(s.take().empty());
    EXPECT_EQ(s.wanted(), 0u);
}

TEST(subscriptions, a_channel_dropped_while_subscribing_is_unsubscribed_once_confirmed) {
    subscription_set s;
    s.want("a");
    s.take();
    s.drop("a");
    EXPECT_TRUE(s.take().empty());  // the confirmation decides
    EXPECT_FALSE(s.subscribed("a"));
    EXPECT_EQ(s.take().unsubscribe, strings{"a"});
    s.unsubscribed("a");
    EXPECT_TRUE(s.take().empty());
}

TEST(subscriptions, wanted_again_while_unsubscribing_it_is_subscribed_after_the_confirmation) {
    subscription_set s;
    s.want("a");
    s.take();
    s.subscribed("a");
    s.drop("a");
    EXPECT_EQ(s.take().unsubscribe, strings{"a"});
    s.want("a");
    // Not before: hiredis forgets the channel's callback when the unsubscribe is confirmed.
    EXPECT_TRUE(s.take().empty());
    EXPECT_FALSE(s.active("a"));
    s.unsubscribed("a");
    EXPECT_EQ(s.take().subscribe, strings{"a"});
    EXPECT_TRUE(s.subscribed("a"));
    EXPECT_TRUE(s.active("a"));
}

TEST(subscriptions, a_lost_connection_subscribes_every_wanted_channel_again) {
    subscription_set s;
    for (const char* c : {"a", "b", "c"})
        s.want(c);
    s.take();
    s.subscribed("a");
    s.subscribed("b");
    s.drop("b");
    s.take();  // b is being unsubscribed
    s.reset();
    EXPECT_FALSE(s.active("a"));
    auto c = s.take();
    std::sort(c.subscribe.begin(), c.subscribe.end());
    EXPECT_EQ(c.subscribe, (strings{"a", "c"}));
    EXPECT_TRUE(c.unsubscribe.empty());
    s.unsubscribed("b");  // a late confirmation of the old connection changes nothing
    EXPECT_TRUE(s.take().empty());
}

TEST(subscriptions, a_channel_the_server_ended_is_subscribed_again_while_wanted) {
    subscription_set s;
    s.want("a");
    s.want("b");
    s.take();
    s.subscribed("a");
    s.subscribed("b");
    s.lost("a");  // its slot moved away
    EXPECT_FALSE(s.active("a"));
    EXPECT_EQ(s.take().subscribe, (strings{"a"}));
    s.lost("b");
    s.drop("b");  // no longer wanted: forgotten, nothing to send
    EXPECT_TRUE(s.take().empty());
    EXPECT_EQ(s.wanted(), 1u);
    s.lost("nothing");  // unknown: no change
    EXPECT_TRUE(s.take().empty());
}

}  // namespace
}  // namespace redchat::redis
