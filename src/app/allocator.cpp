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

std::string_view allocator_name() {
    return "jemalloc";
}

void release_free_memory() {
    // Every arena's unused dirty pages, now rather than after jemalloc's decay time.
#define REDCHAT_STRINGIFY_(x) #x
#define REDCHAT_STRINGIFY(x) REDCHAT_STRINGIFY_(x)
    mallctl("arena." REDCHAT_STRINGIFY(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr, 0);
#undef REDCHAT_STRINGIFY
#undef REDCHAT_STRINGIFY_
}

#elif defined(REDCHAT_ALLOCATOR_MIMALLOC)

std::string_view allocator_name() {
    return "mimalloc";
}

void release_free_memory() {
    mi_collect(true);
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

#endif

}  // namespace redchat::app
