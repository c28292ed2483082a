//! The traits every backend implements: [`Registry`], [`Wake`] and [`EventBase`].

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::{Interest, Ready, Token};

/// Interest changes. Reachable from outside `wait` through [`EventBase::registry`] and
/// from inside it as the first argument of the callback, so a handler can change
/// interest or close connections in the middle of a batch.
///
/// Every call is idempotent against the base's per-fd table: adding interest that is
/// already armed and removing interest that is absent are no-ops (no syscall).
pub trait Registry {
    /// Arms `interest` for `fd` (added to what is already armed), registering it with
    /// `token` if it is new. Passing a different token for a registered fd replaces its
    /// token. A backend implements this and [`Registry::del`]; twemproxy's verbs
    /// (`add_in`, `add_out`, `add_conn`, ...) are shorthands over them.
    fn add(&mut self, fd: BorrowedFd<'_>, token: Token, interest: Interest) -> io::Result<()>;
    /// Disarms `interest`. The fd stays registered (with its token) even when no
    /// interest is left. Unknown fd: `NotFound`.
    fn del(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()>;
    /// Removes `fd` from the base entirely. Must be called before the fd is closed.
    /// After it returns, no event for this registration is delivered, not even later in
    /// the current batch. Unknown fd: `NotFound`.
    fn del_conn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()>;
    /// Deregisters and closes `fd` in the cheapest correct order for this OS
    /// (epoll: `EPOLL_CTL_DEL` then close; kqueue and event ports: close only, the kernel
    /// drops the registration). Same staleness guarantee as [`Registry::del_conn`].
    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        use std::os::fd::AsFd;
        let res = self.del_conn(fd.as_fd());
        drop(fd);
        res
    }

    /// Arms read interest for `fd`, registering it with `token` if it is new.
    fn add_in(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.add(fd, token, Interest::IN)
    }
    /// Disarms read interest. Unknown fd: `NotFound`.
    fn del_in(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.del(fd, Interest::IN)
    }
    /// Arms write interest for `fd`, registering it with `token` if it is new.
    fn add_out(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.add(fd, token, Interest::OUT)
    }
    /// Disarms write interest. Unknown fd: `NotFound`.
    fn del_out(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.del(fd, Interest::OUT)
    }
    /// Arms both directions in one kernel call where possible.
    fn add_conn(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.add(fd, token, Interest::IN | Interest::OUT)
    }
}

/// A handle that interrupts the base's `wait` from any thread.
///
/// Owns a reference to the kernel queue, so waking after the base is dropped is
/// harmless (it may return an error, never touches a reused descriptor). Wakes issued
/// before a `wait` coalesce into at least one event carrying the waker's token with
/// [`Ready::READABLE`].
pub trait Wake: Clone + Send + Sync + 'static {
    /// Wakes the base. Cheap (no syscall) while a previous wake is still pending.
    fn wake(&self) -> io::Result<()>;
}

/// One event queue, owned by one thread.
///
/// See the crate documentation for the full contract.
pub trait EventBase: Send + Sized {
    /// The interest-changing half, borrowed by callbacks during `wait`.
    type Registry: Registry;
    /// The cross-thread waker type.
    type Waker: Wake;
    /// A short backend name: `"epoll"`, `"kqueue"`, `"evport"` or `"portable"`.
    const NAME: &'static str;

    /// Creates a base whose event buffer holds `events` entries (fixed; never grows).
    fn with_capacity(events: NonZeroUsize) -> io::Result<Self>;

    /// Creates a base with the default buffer of 1024 events.
    fn new() -> io::Result<Self> {
        Self::with_capacity(NonZeroUsize::new(1024).expect("non-zero"))
    }

    /// The registry, for interest changes outside `wait`.
    fn registry(&mut self) -> &mut Self::Registry;

    /// Creates this base's waker, whose events carry `token`. At most one per base;
    /// a second call returns `AlreadyExists`.
    fn waker(&mut self, token: Token) -> io::Result<Self::Waker>;

    /// Waits up to `timeout` (`None`: forever; zero: poll) and calls `on_event` once per
    /// live event. Returns the number of callbacks made. `EINTR` returns `Ok(0)`.
    fn wait<F>(&mut self, timeout: Option<Duration>, on_event: F) -> io::Result<usize>
    where
        F: FnMut(&mut Self::Registry, Token, Ready);

    /// Shorthand for `registry().add_in(..)` (twemproxy's `event_add_in`).
    fn add_in(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.registry().add_in(fd, token)
    }
    /// Shorthand for `registry().del_in(..)`.
    fn del_in(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.registry().del_in(fd)
    }
    /// Shorthand for `registry().add_out(..)`.
    fn add_out(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.registry().add_out(fd, token)
    }
    /// Shorthand for `registry().del_out(..)`.
    fn del_out(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.registry().del_out(fd)
    }
    /// Shorthand for `registry().add_conn(..)`.
    fn add_conn(&mut self, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
        self.registry().add_conn(fd, token)
    }
    /// Shorthand for `registry().del_conn(..)`.
    fn del_conn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.registry().del_conn(fd)
    }
    /// Shorthand for `registry().close_conn(..)`.
    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        self.registry().close_conn(fd)
    }
}
