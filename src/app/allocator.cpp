#include "app/allocator.hpp"

#if defined(REDCHAT_ALLOCATOR_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(REDCHAT_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

namespace redchat::app {

#if defined(REDCHAT_ALLOCATOR_JEMALLOC)

}  // namespace redchat::app

// jemalloc's options, read once at start (MALLOC_CONF in the environment is applied after these).
// A background thread hands pages freed for longer than the decay time (10 s) back to the
// system. Without it only the next allocation in the same arena does, so an idle server kept
// the pages of its last burst, such as a round of pings (bench/RESULTS.md, "Idle connections").
const char* malloc_conf = "background_thread:true";

namespace redchat::app {

std::string_view allocator_name() {
    return "jemalloc";
}

#define REDCHAT_STRINGIFY_(x) #x
#define REDCHAT_STRINGIFY(x) REDCHAT_STRINGIFY_(x)

void release_free_memory() {
    // Every arena's unused dirty pages, now rather than after jemalloc's decay time.
    mallctl("arena." REDCHAT_STRINGIFY(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr, 0);
}

namespace {

// Statistics are a snapshot, refreshed by writing "epoch".
bool refresh_statistics() {
    std::uint64_t epoch = 1;
    std::size_t size = sizeof epoch;
    return mallctl("epoch", &epoch, &size, &epoch, size) == 0;
}

}  // namespace

std::optional<std::uint64_t> allocation_requests() {
    // MALLCTL_ARENAS_ALL sums every arena.
    if (!refresh_statistics())
        return std::nullopt;
    std::uint64_t total = 0;
    for (const char* name :
         {"stats.arenas." REDCHAT_STRINGIFY(MALLCTL_ARENAS_ALL) ".small.nrequests",
          "stats.arenas." REDCHAT_STRINGIFY(MALLCTL_ARENAS_ALL) ".large.nrequests"}) {
        std::uint64_t n = 0;
        std::size_t size = sizeof n;
        if (mallctl(name, &n, &size, nullptr, 0) != 0)
            return std::nullopt;  // a jemalloc built without statistics
        total += n;
    }
    return total;
}

std::optional<std::uint64_t> heap_allocated_bytes() {
    if (!refresh_statistics())
        return std::nullopt;
    std::size_t allocated = 0;
    std::size_t size = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0)
        return std::nullopt;  // a jemalloc built without statistics
    return allocated;
}

#undef REDCHAT_STRINGIFY
#undef REDCHAT_STRINGIFY_

#elif defined(REDCHAT_ALLOCATOR_MIMALLOC)

std::string_view allocator_name() {
    return "mimalloc";
}

void release_free_memory() {
    mi_collect(true);
}

std::optional<std::uint64_t> allocation_requests() {
    return std::nullopt;
}

std::optional<std::uint64_t> heap_allocated_bytes() {
    return std::nullopt;
}

#else

std::string_view allocator_name() {
    return "glibc";
}

void release_free_memory() {
#if defined(__GLIBC__)
    // glibc keeps freed memory in its arenas; only the top of each heap goes back by itself.
    malloc_trim(0);
#endif
}

std::optional<std::uint64_t> allocation_requests() {
    return std::nullopt;
}

std::optional<std::uint64_t> heap_allocated_bytes() {
    return std::nullopt;
}

#endif

}  // namespace redchat::app
