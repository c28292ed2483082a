//! The only `unsafe` of the crate: thin wrappers over the epoll and eventfd syscalls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Calls a libc function and turns `-1` into `io::Error::last_os_error()`. Every use
/// carries its own `// SAFETY:` comment saying why the arguments are valid.
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

/// The raw event the kernel fills: a transparent `libc::epoll_event`.
pub type RawEvent = libc::epoll_event;

/// An all-zero event, for (pre)filling the event buffer.
pub const fn empty_event() -> RawEvent {
    libc::epoll_event { events: 0, u64: 0 }
}

/// `epoll_create1(EPOLL_CLOEXEC)`.
pub fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes only a flags int.
    let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
    // SAFETY: epoll_create1 succeeded, so `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `epoll_ctl(epfd, op, fd, {events, u64: data})`.
pub fn epoll_ctl(
    epfd: RawFd,
    op: libc::c_int,
    fd: RawFd,
    events: u32,
    data: u64,
) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a live, initialised epoll_event the kernel only reads (ignored
    // for EPOLL_CTL_DEL; passing it anyway is valid on every kernel).
    syscall!(epoll_ctl(epfd, op, fd, &mut ev)).map(drop)
}

/// `epoll_wait` into `events`, returning how many entries the kernel filled.
pub fn epoll_wait(
    epfd: RawFd,
    events: &mut [RawEvent],
    timeout_ms: libc::c_int,
) -> io::Result<usize> {
    let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `events` is a writable buffer of at least `max` entries, and `max` > 0
    // because the buffer's capacity is a NonZeroUsize.
    let n = syscall!(epoll_wait(epfd, events.as_mut_ptr(), max, timeout_ms))?;
    Ok(n as usize)
}

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes only an initial value and flags.
    let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
    // SAFETY: eventfd succeeded, so `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK)`: the waker's fallback where eventfd is refused.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a writable array of the two ints pipe2 fills.
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK))?;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `write(fd, buf)`.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live slice of `buf.len()` readable bytes.
    syscall!(write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len())).map(|n| n as usize)
}

/// `read(fd, buf)`.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live slice of `buf.len()` writable bytes.
    syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())).map(|n| n as usize)
}
