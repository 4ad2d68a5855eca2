#include "transport/static_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace redchat::transport {

namespace fs = std::filesystem;

std::string_view mime_type(std::string_view ext) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 22> types{{
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".txt", "text/plain; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".wasm", "application/wasm"},
        {".xml", "application/xml"},
        {".pdf", "application/pdf"},
    }};
    std::string lower(ext);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [e, type] : types) {
        if (e == lower)
            return type;
    }
    return "application/octet-stream";
}

static_files::static_files(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    auto canonical = fs::weakly_canonical(root_, ec);
    if (!ec)
        root_ = canonical;
}

bool static_files::has_index() const {
    std::error_code ec;
    return fs::is_regular_file(root_ / "index.html", ec);
}

std::optional<static_file> static_files::describe(const fs::path& p, bool immutable) const {
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (ec || !fs::is_regular_file(status))
        return std::nullopt;
    const auto size = fs::file_size(p, ec);
    if (ec)
        return std::nullopt;
    const auto mtime = fs::last_write_time(p, ec);
    if (ec)
        return std::nullopt;
    static_file f;
    f.path = p;
    f.size = size;
    f.content_type = std::string(mime_type(p.extension().string()));
    f.etag = fmt::format("\"{:x}-{:x}\"", size,
                         static_cast<std::uint64_t>(mtime.time_since_epoch().count()));
    if (p.filename() == "index.html") {
        f.cache_control = "no-cache";
    } else if (immutable) {
        f.cache_control = "public, max-age=31536000, immutable";
    } else {
        f.cache_control = "public, max-age=3600";
    }
    return f;
}

std::optional<static_file> static_files::lookup(std::string_view path) const {
    if (path.empty() || path.front() != '/')
        return std::nullopt;
    // Refuse anything that could climb out of the root or smuggle a NUL.
    if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) {
        return std::nullopt;
    }
    fs::path relative;
    std::size_t start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos)
            end = path.size();
        auto segment = path.substr(start, end - start);
        if (segment == "..")
            return std::nullopt;
        if (!segment.empty() && segment != ".")
            relative /= fs::path(segment);
        start = end + 1;
    }
    if (relative.empty())
        return describe(root_ / "index.html", false);

    // Vite puts content-hashed files under assets/, Create React App under static/.
    const auto first = relative.begin()->string();
    const bool hashed = first == "assets" || first == "static";
    if (auto f = describe(root_ / relative, hashed))
        return f;

    // Single-page app: a path without a file extension is a client-side route.
    if (!relative.has_extension())
        return describe(root_ / "index.html", false);
    return std::nullopt;
}

}  // namespace redchat::transport
