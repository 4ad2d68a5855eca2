#pragma once
// Maps request paths to files of the built web client: MIME types, cache policy, ETags and the
// single-page-app fallback to index.html. Never serves anything outside the root.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace redchat::transport {

struct static_file {
    std::filesystem::path path;
    std::string content_type;
    std::string cache_control;
    std::string etag;  // quoted
    std::uint64_t size = 0;
};

class static_files {
  public:
    // `root` may not exist (the web client not built yet): then every lookup misses.
    explicit static_files(std::filesystem::path root);

    // The file for a decoded request path such as "/assets/app.js" or "/rooms" (SPA fallback),
    // or nullopt (unsafe path, missing file with an extension, or no index.html).
    std::optional<static_file> lookup(std::string_view decoded_path) const;

    const std::filesystem::path& root() const { return root_; }
    bool has_index() const;

  private:
    std::optional<static_file> describe(const std::filesystem::path& p, bool immutable) const;
    std::filesystem::path root_;
};

std::string_view mime_type(std::string_view extension);

}  // namespace redchat::transport
