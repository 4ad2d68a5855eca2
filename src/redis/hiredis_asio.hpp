#pragma once
// Drives a hiredis async context from an Asio io_context: hiredis asks to watch its socket for
// reads and writes through the ev hooks; we wait with stream_descriptor::async_wait and call
// redisAsyncHandleRead/Write when the socket is ready. Once connected, the commands queued in
// one loop turn are written together at its end, without waiting for writability first, and
// the socket is watched for writability only while a write waits (so that Redis reading a
// command does not wake the thread that wrote it).
// hiredis owns the fd; we never close it.

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>

struct redisAsyncContext;

namespace redchat::redis {

// Installs the hooks on `ac`; they are removed by hiredis's cleanup hook when it frees `ac`.
// Returns false if something is already attached. `write_waits` (if not null) counts the
// times a connected socket took less than there was to write, and the rest waited.
bool attach_to_asio(redisAsyncContext* ac, boost::asio::any_io_executor executor,
                    std::atomic<std::uint64_t>* write_waits = nullptr);

}  // namespace redchat::redis
