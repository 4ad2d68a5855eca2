#include "redis/hiredis_asio.hpp"

#include <fcntl.h>
#include <hiredis/async.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <optional>

namespace redchat::redis {
namespace {

namespace asio = boost::asio;

// Shared with the pending waits, so a wait that completes after hiredis freed the context finds
// `ac == nullptr` instead of freed memory.
//
// Reads wait on `descriptor`, writes on `write_waiter`: a second descriptor over a dup of the
// socket that lives only while a write waits (the connect, or a command larger than the socket
// takes at once). Asio keeps a descriptor registered for writability for good once anything
// has waited to write on it, and then every command this process writes wakes its thread a
// second time, when Redis reads the command and the socket turns writable again. The waiter
// takes that registration with it when it closes.
struct watcher {
    watcher(asio::any_io_executor ex, redisAsyncContext* context)
        : descriptor(ex, context->c.fd), ac(context) {}
    asio::posix::stream_descriptor descriptor;
    std::optional<asio::posix::stream_descriptor> write_waiter;
    redisAsyncContext* ac;
    std::atomic<std::uint64_t>* write_waits = nullptr;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;
    bool writing = false;
    bool flush_posted = false;  // a flush is queued on the executor
    bool in_write = false;      // inside redisAsyncHandleWrite (it re-adds the write watch)
};

using watcher_ptr = std::shared_ptr<watcher>;

void arm_read(const watcher_ptr& w);
void arm_write(const watcher_ptr& w);

void arm_read(const watcher_ptr& w) {
    if (w->reading || w->ac == nullptr || !w->want_read)
        return;
    w->reading = true;
    w->descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                             [w](const boost::system::error_code& ec) {
                                 w->reading = false;
                                 if (ec || w->ac == nullptr || !w->want_read)
                                     return;
                                 // hiredis reads 16 KiB per call. Drain what has arrived (up
                                 // to 1 MiB per turn) so that a busy subscriber keeps up with
                                 // Redis however many client sockets share this thread.
                                 for (int round = 0; round < 64; ++round) {
                                     redisAsyncHandleRead(w->ac);  // may free the context
                                     if (w->ac == nullptr || !w->want_read)
                                         return;
                                     asio::posix::descriptor_base::bytes_readable pending(true);
                                     boost::system::error_code pec;
                                     w->descriptor.io_control(pending, pec);
                                     if (pec || pending.get() == 0)
                                         break;
                                 }
                                 arm_read(w);
                             });
}

// Closes the write waiter once nothing waits to write (its descriptor is a dup of ours).
void drop_write_waiter(const watcher_ptr& w) {
    if (w->writing || !w->write_waiter)
        return;
    boost::system::error_code ignored;
    w->write_waiter->close(ignored);
    w->write_waiter.reset();
}

void on_writable(const watcher_ptr& w, const boost::system::error_code& ec) {
    w->writing = false;
    if (ec || w->ac == nullptr || !w->want_write) {
        drop_write_waiter(w);
        return;
    }
    w->in_write = true;
    redisAsyncHandleWrite(w->ac);  // may free the context
    w->in_write = false;
    arm_write(w);
}

void arm_write(const watcher_ptr& w) {
    if (w->writing || w->ac == nullptr || !w->want_write) {
        drop_write_waiter(w);
        return;
    }
    if ((w->ac->c.flags & REDIS_CONNECTED) != 0 && w->write_waits != nullptr)
        w->write_waits->fetch_add(1, std::memory_order_relaxed);
    if (!w->write_waiter) {
        const int fd = ::fcntl(w->ac->c.fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0)
            w->write_waiter.emplace(w->descriptor.get_executor(), fd);
    }
    // Out of descriptors: wait on our own (which then stays registered for writability).
    auto& on = w->write_waiter ? *w->write_waiter : w->descriptor;
    w->writing = true;
    on.async_wait(asio::posix::descriptor_base::wait_write,
                  [w](const boost::system::error_code& ec) { on_writable(w, ec); });
}

watcher_ptr& from(void* privdata) {
    return *static_cast<watcher_ptr*>(privdata);
}

void add_read(void* privdata) {
    auto& w = from(privdata);
    w->want_read = true;
    arm_read(w);
}

void del_read(void* privdata) {
    from(privdata)->want_read = false;
}

// Writes what hiredis has buffered now, and waits for the socket only if some is left.
void flush(const watcher_ptr& w) {
    w->flush_posted = false;
    if (w->ac == nullptr || !w->want_write || w->writing)
        return;
    w->in_write = true;
    redisAsyncHandleWrite(w->ac);  // may free the context; calls del_write once all is written
    w->in_write = false;
    arm_write(w);  // some is left: wait until the socket takes more
}

// Once connected, a command is not written when hiredis queues it but at the end of the loop
// turn, with every other command of that turn: one write(2) for all of them, and no wait for a
// socket that is almost always writable (a wait would cost an epoll_ctl per command). While
// connecting, hiredis must wait for writability: that is how it learns the connect completed.
void add_write(void* privdata) {
    auto& w = from(privdata);
    w->want_write = true;
    if ((w->ac->c.flags & REDIS_CONNECTED) == 0) {
        arm_write(w);
        return;
    }
    if (w->flush_posted || w->writing || w->in_write)
        return;  // already on its way (a partial write waits for writability in arm_write)
    w->flush_posted = true;
    asio::post(w->descriptor.get_executor(), [w] { flush(w); });
}

void del_write(void* privdata) {
    from(privdata)->want_write = false;
}

void cleanup(void* privdata) {
    auto* holder = static_cast<watcher_ptr*>(privdata);
    auto& w = *holder;
    w->ac = nullptr;
    w->want_read = w->want_write = false;
    boost::system::error_code ignored;
    w->descriptor.cancel(ignored);
    (void)w->descriptor.release();  // hiredis closes the fd itself
    if (w->write_waiter) {
        w->write_waiter->close(ignored);  // our dup; its pending wait completes as aborted
        w->write_waiter.reset();
    }
    delete holder;
}

}  // namespace

bool attach_to_asio(redisAsyncContext* ac, asio::any_io_executor executor,
                    std::atomic<std::uint64_t>* write_waits) {
    if (ac->ev.data != nullptr)
        return false;
    auto* holder = new watcher_ptr(std::make_shared<watcher>(std::move(executor), ac));
    (*holder)->write_waits = write_waits;
    ac->ev.data = holder;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    // A non-blocking connect completes when the socket turns writable (or fails readable).
    add_read(holder);
    add_write(holder);
    return true;
}

}  // namespace redchat::redis
