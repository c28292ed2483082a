//! The only `unsafe` of the crate: thin wrappers over the kqueue and pipe syscalls.
//!
//! `struct kevent` differs per OS (NetBSD: `u32` filter and flags, `size_t` counts;
//! FreeBSD 12+: an `ext[4]` tail; Apple: packed to 4 bytes), so it is never spelt out
//! here: [`Kevent`] wraps libc's struct, starts from zeroed memory (`MaybeUninit`) and
//! is read and written field by field with the [`Filter`]/[`Flags`] aliases and `as _`
//! conversions that fit every layout.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

/// Calls a libc function and turns `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the caller of the macro documents why the arguments are valid.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

/// The type of `kevent.filter` and of libc's `EVFILT_*` constants on this OS.
#[cfg(target_os = "netbsd")]
pub type Filter = u32;
/// The type of `kevent.flags` and of libc's `EV_*` constants on this OS.
#[cfg(target_os = "netbsd")]
pub type Flags = u32;
/// The type of `kevent.filter` and of libc's `EVFILT_*` constants on this OS.
#[cfg(not(target_os = "netbsd"))]
pub type Filter = i16;
/// The type of `kevent.flags` and of libc's `EV_*` constants on this OS.
#[cfg(not(target_os = "netbsd"))]
pub type Flags = u16;

/// A zero timeout: change-only calls never wait.
pub const NO_WAIT: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// One change or event: libc's `struct kevent`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Kevent(libc::kevent);

// SAFETY: the only non-`Send` field is `udata`, a pointer-sized field this crate fills
// with an integer (a registration generation) and never dereferences.
unsafe impl Send for Kevent {}

impl std::fmt::Debug for Kevent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kevent")
            .field("ident", &self.ident())
            .field("filter", &self.filter())
            .field("flags", &self.flags())
            .field("fflags", &self.fflags())
            .field("data", &self.data())
            .field("udata", &self.udata())
            .finish()
    }
}

impl Kevent {
    /// An all-zero entry (the initial content of event buffers).
    pub fn zeroed() -> Kevent {
        // SAFETY: `struct kevent` holds only integers and a raw pointer, for which
        // all-zero bytes are valid values (0 and null).
        Kevent(unsafe { MaybeUninit::<libc::kevent>::zeroed().assume_init() })
    }

    /// A change for `ident` on `filter` with `flags`, `fflags` and `udata`.
    pub fn new(ident: usize, filter: Filter, flags: Flags, fflags: u32, udata: u64) -> Kevent {
        let mut ev = Kevent::zeroed();
        ev.0.ident = ident;
        ev.0.filter = filter;
        ev.0.flags = flags;
        ev.0.fflags = fflags;
        ev.0.udata = udata as usize as _;
        ev
    }

    /// The identifier (an fd for the read and write filters).
    pub fn ident(&self) -> usize {
        self.0.ident
    }

    /// The filter (`EVFILT_*`).
    pub fn filter(&self) -> Filter {
        self.0.filter
    }

    /// The flags (`EV_*`).
    pub fn flags(&self) -> Flags {
        self.0.flags
    }

    /// Adds `flags` to the entry's flags.
    pub fn add_flags(&mut self, flags: Flags) {
        self.0.flags |= flags;
    }

    /// Filter-specific flags: with `EV_EOF` on a socket, the pending errno.
    pub fn fflags(&self) -> u32 {
        self.0.fflags
    }

    /// Filter-specific data: with `EV_ERROR`, the errno of the failed change.
    pub fn data(&self) -> i64 {
        // `intptr_t` on Apple, `int64_t` elsewhere.
        #[allow(clippy::unnecessary_cast)]
        let data = self.0.data as i64;
        data
    }

    /// The user cookie given with the change.
    pub fn udata(&self) -> u64 {
        self.0.udata as usize as u64
    }
}

/// A new kqueue, close-on-exec: atomically with `kqueue1` on NetBSD, otherwise with
/// `fcntl` right after `kqueue()` (libc binds no `kqueuex` for FreeBSD 14, and a
/// missing symbol would stop the binary from loading on older releases).
pub fn kqueue() -> io::Result<OwnedFd> {
    #[cfg(target_os = "netbsd")]
    {
        let fd = syscall!(kqueue1(libc::O_CLOEXEC))?;
        // SAFETY: kqueue1 succeeded, so `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    #[cfg(not(target_os = "netbsd"))]
    {
        let fd = syscall!(kqueue())?;
        // SAFETY: kqueue succeeded, so `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec(fd.as_raw_fd())?;
        Ok(fd)
    }
}

/// Sets `FD_CLOEXEC` on `fd`.
#[cfg(not(target_os = "netbsd"))]
fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // `fd` is an open descriptor owned by the caller; F_SETFD takes an int.
    syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
    Ok(())
}

/// `kevent(kq, changes, events, timeout)`: applies `changes` in order, then waits up to
/// `timeout` (`None`: forever) for events written to the front of `events`. Returns how
/// many were written. With no event slots it never blocks.
pub fn kevent(
    kq: BorrowedFd<'_>,
    changes: &[Kevent],
    events: &mut [Kevent],
    timeout: Option<&libc::timespec>,
) -> io::Result<usize> {
    let ts = timeout.map_or(ptr::null(), |t| t as *const libc::timespec);
    // `Kevent` is `repr(transparent)` over `libc::kevent`, so both slices are valid
    // arrays of `struct kevent` of the lengths passed; the kernel reads at most
    // `changes.len()` entries, writes at most `events.len()` entries and keeps neither
    // pointer. `ts` is null or points at a live timespec.
    let n = syscall!(kevent(
        kq.as_raw_fd(),
        changes.as_ptr().cast::<libc::kevent>(),
        changes.len() as _,
        events.as_mut_ptr().cast::<libc::kevent>(),
        events.len() as _,
        ts,
    ))?;
    Ok(n as usize)
}

/// A non-blocking close-on-exec pipe `(read end, write end)`: the waker where
/// `EVFILT_USER` is missing (OpenBSD, NetBSD before 10).
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
pub fn pipe() -> io::Result<(std::fs::File, std::fs::File)> {
    let mut fds = [-1 as RawFd; 2];
    // `fds` is a writable array of two ints, as pipe2 requires.
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK))?;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors nobody else owns.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}
