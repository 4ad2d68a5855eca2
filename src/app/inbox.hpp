#pragma once
// Items handed to one I/O thread by another, in order: a queue under a mutex, and an eventfd
// that the owner's loop reads.
//
// asio::post to another thread's io_context takes that context's lock and wakes its epoll
// while still holding it (an epoll_ctl); the woken thread then often finds the lock taken and
// sleeps on it once more. At a moderate rate every bus event paid that twice-over wakeup. Here
// the sender holds our lock only to append, and writes the eventfd after letting it go; the
// owner swaps the whole queue out under the lock and works on it without. Only a push onto an
// empty queue writes the eventfd, so a busy owner is woken once per batch, not once per item.

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

namespace redchat::app {

template <typename Item>
class inbox {
  public:
    // Called on the owner's thread with every item pushed since the last call, oldest first.
    using drain_fn = std::function<void(std::vector<Item>&)>;

    inbox(boost::asio::io_context& owner, drain_fn drain)
        : fd_(open_eventfd()), descriptor_(owner, fd_), drain_(std::move(drain)) {}
    inbox(const inbox&) = delete;
    inbox& operator=(const inbox&) = delete;
    ~inbox() {
        if (!descriptor_.is_open())
            ::close(fd_);  // stopped: the descriptor let go of it
    }

    // From any thread.
    void push(Item item) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            wake = queued_.empty();
            queued_.push_back(std::move(item));
        }
        if (wake) {
            const std::uint64_t one = 1;
            // Only fails if the counter is near 2^64: then the owner has a wakeup pending.
            (void)!::write(fd_, &one, sizeof one);
        }
    }

    // On the owner's thread, once: from now on pushes reach `drain` there.
    void start() { arm(); }

    // On the owner's thread: no more drains (what is queued, or pushed later, stays
    // undelivered). The eventfd stays open until the inbox goes, so that a late push from
    // another thread never writes to a number the process has since given to something else.
    void stop() {
        boost::system::error_code ignored;
        descriptor_.cancel(ignored);
        (void)descriptor_.release();
    }

  private:
    static int open_eventfd() {
        const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0)
            throw std::system_error(errno, std::generic_category(), "eventfd");
        return fd;
    }

    void arm() {
        descriptor_.async_read_some(boost::asio::buffer(&counter_, sizeof counter_),
                                    [this](const boost::system::error_code& ec, std::size_t) {
                                        if (ec)
                                            return;  // stopped
                                        {
                                            std::lock_guard lock(mutex_);
                                            draining_.swap(queued_);
                                        }
                                        drain_(draining_);
                                        draining_.clear();  // keeps its capacity for the next batch
                                        arm();
                                    });
    }

    const int fd_;  // the eventfd, written by any thread
    boost::asio::posix::stream_descriptor descriptor_;
    drain_fn drain_;
    std::uint64_t counter_ = 0;  // the eventfd's count, read and ignored
    std::mutex mutex_;
    std::vector<Item> queued_;    // under mutex_
    std::vector<Item> draining_;  // the owner's
};

}  // namespace redchat::app
