#include "redis/cluster_bus.hpp"

namespace redchat::redis {

namespace {

std::string address_of(const cluster::endpoint& e) {
    return e.host + ":" + std::to_string(e.port);
}

// The bus's own cluster client only reads the table; the bus counts for the readiness of all.
cluster_client::options topology_options(cluster_client::options o) {
    o.counted = false;
    return o;
}

}  // namespace

cluster_bus::cluster_bus(boost::asio::any_io_executor executor, options opts, metrics::shard& stats)
    : executor_(executor),
      opts_(opts),
      stats_(stats),
      topology_(executor, topology_options(opts), stats),
      health_(executor, stats, opts.counted) {
    topology_.on_table_read([this] {
        for (const auto& c : wanted_)
            place(c);
    });
}

cluster_bus::~cluster_bus() {
    stop();
}

void cluster_bus::subscribe(std::vector<std::string> channels, message_handler on_message) {
    on_message_ = std::move(on_message);
    for (auto& c : channels)
        wanted_.insert(std::move(c));
}

void cluster_bus::start() {
    started_ = true;
    health_.start([this] { return ready(); });
    topology_.start();  // each table it reads places the wanted channels
}

void cluster_bus::stop() {
    started_ = false;
    health_.stop();
    topology_.stop();
    for (auto& [address, s] : subscribers_)
        s->stop();
}

bool cluster_bus::ready() const {
    if (!topology_.ready())
        return false;
    for (const auto& c : wanted_) {
        auto home = home_.find(c);
        if (home == home_.end())
            return false;
        auto s = subscribers_.find(home->second);
        if (s == subscribers_.end() || !s->second->ready())
            return false;
    }
    return true;
}

std::optional<cluster::endpoint> cluster_bus::home_of(std::string_view channel) const {
    auto it = home_.find(std::string(channel));
    if (it == home_.end())
        return std::nullopt;
    return subscribers_.at(it->second)->node();
}

shard_subscriber& cluster_bus::subscriber(const cluster::endpoint& node) {
    const auto address = address_of(node);
    auto it = subscribers_.find(address);
    if (it != subscribers_.end())
        return *it->second;
    shard_subscriber::options o;
    o.node = node;
    o.username = opts_.username;
    o.password = opts_.password;
    o.timeout = opts_.timeout;
    o.name = opts_.name + "@" + address;
    o.reporter = opts_.reporter;
    o.counted = false;  // health_ counts for the bus
    shard_subscriber::handlers on;
    on.on_message = [this](std::string_view channel, std::string_view payload) {
        if (on_message_)
            on_message_(channel, payload);
    };
    on.on_active = [this](std::string_view channel) {
        if (on_active_ && channel_active(channel))
            on_active_(channel);
    };
    on.on_moved = [this](std::string_view channel) { moved(channel); };
    on.on_down = [this] { topology_.refresh_soon(); };
    auto s = std::make_unique<shard_subscriber>(executor_, std::move(o), stats_, std::move(on));
    if (started_)
        s->start();
    return *subscribers_.emplace(address, std::move(s)).first->second;
}

void cluster_bus::place(const std::string& channel) {
    const auto owner = topology_.master_of(cluster::key_slot(channel));
    if (!owner)
        return;  // no table yet: placed after the first reading
    const auto address = address_of(*owner);
    auto home = home_.find(channel);
    if (home != home_.end()) {
        if (home->second == address)
            return;
        subscribers_.at(home->second)->drop(channel);
    }
    home_[channel] = address;
    subscriber(*owner).want(channel);
}

void cluster_bus::want_channel(std::string_view name) {
    const std::string channel(name);
    if (!wanted_.insert(channel).second)
        return;
    place(channel);
}

void cluster_bus::drop_channel(std::string_view name) {
    const std::string channel(name);
    if (wanted_.erase(channel) == 0)
        return;
    auto home = home_.find(channel);
    if (home == home_.end())
        return;
    subscribers_.at(home->second)->drop(channel);
    home_.erase(home);
}

bool cluster_bus::channel_active(std::string_view channel) const {
    auto home = home_.find(std::string(channel));
    if (home == home_.end())
        return false;
    return subscribers_.at(home->second)->active(channel);
}

// A node refused the channel or ended it: its slot is elsewhere now. It leaves that node, and
// the next table places it again.
void cluster_bus::moved(std::string_view channel) {
    auto home = home_.find(std::string(channel));
    if (home != home_.end()) {
        subscribers_.at(home->second)->drop(home->first);
        home_.erase(home);
    }
    topology_.refresh_soon();
}

}  // namespace redchat::redis
