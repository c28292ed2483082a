//! [`EpollBase`]: the contract over epoll, in twemproxy's function order (new, add_in,
//! del_in, add_out, del_out, add_conn, del_conn, close_conn, wait).
//!
//! Every fd is registered `EPOLLET` with the cookie `(generation << 32) | fd` in
//! `data.u64`. The [`FdTable`] decides the kernel operation from the old and new
//! interest (ADD when arming from nothing, MOD when the mask changes, DEL when nothing
//! is left armed; no syscall when the mask does not change), so `add_out`/`del_out`
//! are real `EPOLL_CTL_MOD` calls and arming always makes the kernel check the level.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use event_core::fd_table::{cookie, split_cookie, Change, Op};
use event_core::{EventBase, FdTable, Interest, Ready, Registry, Token};

use crate::ready::{epoll_flags, ready_from};
use crate::sys::{self, RawEvent};
use crate::waker::{EpollWaker, Kind, WakerSource};

/// The waker's cookie: fd `-1` can never be registered, so no table entry matches it.
const WAKER_COOKIE: u64 = u64::MAX;

/// An epoll instance with a fixed event buffer; the Linux [`EventBase`].
#[derive(Debug)]
pub struct EpollBase {
    /// Filled by `epoll_wait`; allocated once in `with_capacity`.
    events: Box<[RawEvent]>,
    reg: EpollRegistry,
}

/// The registry half of [`EpollBase`]: the epoll fd and the per-fd table.
#[derive(Debug)]
pub struct EpollRegistry {
    epfd: OwnedFd,
    table: FdTable,
    waker: Option<(Token, WakerSource)>,
}

impl EpollRegistry {
    /// Makes the kernel match `change`; on failure the table is reverted.
    fn apply(&mut self, fd: BorrowedFd<'_>, change: Change) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let flags = epoll_flags(change.new_interest());
        let data = cookie(raw, change.entry.generation);
        let res = match change.op() {
            None => Ok(()),
            Some(Op::Add) => self.ctl_add(raw, flags, data),
            Some(Op::Modify) => self.ctl_mod(raw, flags, data),
            Some(Op::Delete) => self.ctl_del(raw),
        };
        if res.is_err() {
            self.table.revert(raw, &change);
        }
        res
    }

    fn ctl_add(&self, fd: i32, flags: u32, data: u64) -> io::Result<()> {
        let epfd = self.epfd.as_raw_fd();
        match sys::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, flags, data) {
            // Still registered from an earlier open file (dup2 onto this number):
            // libevent's fallback, modify instead.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                sys::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, flags, data)
            }
            other => other,
        }
    }

    fn ctl_mod(&self, fd: i32, flags: u32, data: u64) -> io::Result<()> {
        let epfd = self.epfd.as_raw_fd();
        match sys::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, flags, data) {
            // The number was closed and reopened behind our back: register afresh.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                sys::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, flags, data)
            }
            other => other,
        }
    }

    fn ctl_del(&self, fd: i32) -> io::Result<()> {
        match sys::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0) {
            // Already gone from the kernel (closed first, or never armed): nothing to do.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EBADF | libc::EPERM)
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

impl EventBase for EpollBase {
    type Registry = EpollRegistry;
    type Waker = EpollWaker;
    const NAME: &'static str = "epoll";

    fn with_capacity(events: NonZeroUsize) -> io::Result<Self> {
        // epoll_wait takes an int count; more slots than that could never be filled.
        let cap = events.get().min(libc::c_int::MAX as usize);
        Ok(EpollBase {
            events: vec![sys::empty_event(); cap].into_boxed_slice(),
            reg: EpollRegistry {
                epfd: sys::epoll_create()?,
                table: FdTable::new(),
                waker: None,
            },
        })
    }

    fn registry(&mut self) -> &mut EpollRegistry {
        &mut self.reg
    }

    fn waker(&mut self, token: Token) -> io::Result<EpollWaker> {
        self.waker_of_kind(token, Kind::EventFd)
    }

    fn wait<F>(&mut self, timeout: Option<Duration>, mut on_event: F) -> io::Result<usize>
    where
        F: FnMut(&mut EpollRegistry, Token, Ready),
    {
        let n = match sys::epoll_wait(
            self.reg.epfd.as_raw_fd(),
            &mut self.events,
            timeout_ms(timeout),
        ) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut calls = 0;
        for ev in &self.events[..n] {
            // Copies: `epoll_event` is packed on x86-64.
            let (data, flags) = (ev.u64, ev.events);
            if data == WAKER_COOKIE {
                if let Some((token, source)) = &self.reg.waker {
                    let token = *token;
                    source.reset();
                    on_event(&mut self.reg, token, Ready::READABLE);
                    calls += 1;
                }
                continue;
            }
            // Checked against the live table right before the callback: a registration
            // removed (or replaced) earlier in this batch is dropped here.
            let (fd, generation) = split_cookie(data);
            let Some(entry) = self.reg.table.live(fd, generation) else {
                continue;
            };
            let ready = ready_from(flags, entry.interest);
            if ready.is_empty() {
                continue;
            }
            on_event(&mut self.reg, entry.token, ready);
            calls += 1;
        }
        Ok(calls)
    }
}

impl EpollBase {
    pub(crate) fn waker_of_kind(&mut self, token: Token, kind: Kind) -> io::Result<EpollWaker> {
        if self.reg.waker.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this base already has a waker",
            ));
        }
        let (source, waker) = WakerSource::new(kind)?;
        let flags = (libc::EPOLLIN | libc::EPOLLET) as u32;
        let epfd = self.reg.epfd.as_raw_fd();
        sys::epoll_ctl(
            epfd,
            libc::EPOLL_CTL_ADD,
            source.fd().as_raw_fd(),
            flags,
            WAKER_COOKIE,
        )?;
        self.reg.waker = Some((token, source));
        Ok(waker)
    }
}

impl Registry for EpollRegistry {
    fn add(&mut self, fd: BorrowedFd<'_>, token: Token, interest: Interest) -> io::Result<()> {
        let change = self.table.add(fd.as_raw_fd(), token, interest)?;
        self.apply(fd, change)
    }

    fn del(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let change = self.table.remove_interest(fd.as_raw_fd(), interest)?;
        self.apply(fd, change)
    }

    fn del_conn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let entry = self.table.remove(fd.as_raw_fd())?;
        if entry.interest.is_empty() {
            // Already removed from the kernel when its last interest went.
            return Ok(());
        }
        self.ctl_del(fd.as_raw_fd())
    }

    /// epoll must deregister before closing: a dup'ed or inherited copy of the open file
    /// would otherwise keep the registration (and its events) alive.
    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        let res = self.del_conn(fd.as_fd());
        drop(fd);
        res
    }
}

/// `epoll_wait`'s timeout: `None` is -1, zero is 0, anything else is rounded *up* to
/// whole milliseconds (a 0.3 ms wait must not become a busy zero wait) and clamped to
/// `c_int::MAX`.
fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_core::Wake;

    #[test]
    fn timeouts_round_up_and_clamp() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1_001))), 2);
        assert_eq!(timeout_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(
            timeout_ms(Some(Duration::from_secs(u64::MAX))),
            libc::c_int::MAX
        );
    }

    fn readable_pair() -> (
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    ) {
        use std::io::Write;
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.write_all(b"x").unwrap();
        (a, b)
    }

    fn tokens(base: &mut EpollBase) -> Vec<Token> {
        let mut seen = Vec::new();
        base.wait(Some(Duration::from_secs(5)), |_, t, _| seen.push(t))
            .unwrap();
        seen
    }

    #[test]
    fn add_falls_back_to_mod_on_eexist() {
        let mut base = EpollBase::new().unwrap();
        let (a, _b) = readable_pair();
        // The kernel already knows the fd (as after a dup2 onto a registered number)
        // while the table does not.
        let epfd = base.reg.epfd.as_raw_fd();
        sys::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, a.as_raw_fd(), 0, 0).unwrap();
        base.add_in(a.as_fd(), Token(5)).unwrap();
        assert_eq!(tokens(&mut base), vec![Token(5)]);
    }

    #[test]
    fn mod_falls_back_to_add_on_enoent() {
        let mut base = EpollBase::new().unwrap();
        let (a, _b) = readable_pair();
        base.add_in(a.as_fd(), Token(6)).unwrap();
        // Behind the base's back the kernel forgets the fd (as when it is closed and
        // the number reopened); the next mask change must re-register it.
        base.reg.ctl_del(a.as_raw_fd()).unwrap();
        base.add_out(a.as_fd(), Token(6)).unwrap();
        assert_eq!(tokens(&mut base), vec![Token(6)]);
    }

    #[test]
    fn refused_registration_leaves_the_table_unchanged() {
        let mut base = EpollBase::new().unwrap();
        // epoll refuses regular files with EPERM.
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let err = base.add_in(file.as_fd(), Token(7)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        let err = base.del_conn(file.as_fd()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn pipe_fallback_waker_coalesces_and_rearms() {
        let mut base = EpollBase::new().unwrap();
        let waker = base.waker_of_kind(Token(9), Kind::Pipe).unwrap();
        for _ in 0..100 {
            waker.wake().unwrap();
        }
        let mut seen = Vec::new();
        base.wait(Some(Duration::from_secs(5)), |_, t, r| seen.push((t, r)))
            .unwrap();
        assert_eq!(seen, vec![(Token(9), Ready::READABLE)]);
        assert_eq!(base.wait(Some(Duration::ZERO), |_, _, _| {}).unwrap(), 0);
        waker.wake().unwrap();
        assert_eq!(
            base.wait(Some(Duration::from_secs(5)), |_, _, _| {})
                .unwrap(),
            1
        );
    }
}
