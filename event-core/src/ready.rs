//! The readiness set every backend reports, normalised across operating systems.

bitflags::bitflags! {
    /// What an event says about a registered descriptor.
    ///
    /// Only `READABLE` and `WRITABLE` are guaranteed to appear (and only for the
    /// directions that are armed); the others are hints that tell the handler why it
    /// should try the I/O now. A handler always learns the truth from the syscall:
    /// a read of 0, an error, or `WouldBlock`.
    ///
    /// | flag | epoll | kqueue | event ports | portable (polling) |
    /// |---|---|---|---|---|
    /// | `READABLE` | `EPOLLIN`, `EPOLLRDHUP`, `EPOLLHUP` | `EVFILT_READ` | `POLLIN`, `POLLHUP` | readable |
    /// | `WRITABLE` | `EPOLLOUT`, `EPOLLHUP` | `EVFILT_WRITE` | `POLLOUT` | writable |
    /// | `READ_CLOSED` | `EPOLLRDHUP` | `EVFILT_READ` + `EV_EOF` | never | never |
    /// | `HUP` | `EPOLLHUP` | `EVFILT_WRITE` + `EV_EOF` | `POLLHUP` | hup hint (Linux/Android) |
    /// | `ERROR` | `EPOLLERR` | `EV_ERROR`, or `EV_EOF` with `fflags` != 0 | `POLLERR` | error hint |
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Ready: u8 {
        /// A read may make progress (data, end of stream, or a pending error).
        const READABLE = 1;
        /// A write may make progress.
        const WRITABLE = 1 << 1;
        /// The peer shut down its sending side (FIN); reads will drain then return 0.
        const READ_CLOSED = 1 << 2;
        /// Both directions are gone.
        const HUP = 1 << 3;
        /// An error is pending on the descriptor (read `SO_ERROR` or try the I/O).
        const ERROR = 1 << 4;
    }
}

impl Ready {
    /// True when `READABLE` is set.
    pub const fn is_readable(self) -> bool {
        self.contains(Ready::READABLE)
    }

    /// True when `WRITABLE` is set.
    pub const fn is_writable(self) -> bool {
        self.contains(Ready::WRITABLE)
    }

    /// True when any of the closing hints (`READ_CLOSED`, `HUP`, `ERROR`) is set.
    pub const fn is_closing(self) -> bool {
        self.intersects(Ready::READ_CLOSED.union(Ready::HUP).union(Ready::ERROR))
    }
}

bitflags::bitflags! {
    /// The directions a registration is armed for (kept per fd inside each base).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Interest: u8 {
        /// Read interest (`add_in`).
        const IN = 1;
        /// Write interest (`add_out`).
        const OUT = 1 << 1;
    }
}
