//! [`EvportBase`]: the [`EventBase`] contract over illumos/Solaris event ports, in
//! twemproxy's function order (new, add_in, del_in, add_out, del_out, add_conn,
//! del_conn, close_conn, wait).
//!
//! - Registration: `port_associate(PORT_SOURCE_FD)` with `POLLIN`/`POLLOUT` for the
//!   armed interest; the kernel cookie is `object` = fd, `user` = the fd table's
//!   generation.
//! - Ports are one-shot: retrieving an fd's event dissociates it. The base records the
//!   fds delivered in a batch as *pending* and re-associates them at the start of the
//!   next `wait` with their interest at that moment (libevent's `evport.c` and redis'
//!   `ae_evport.c` do the same). Association checks the level, so an fd the handler did
//!   not drain fires again: spurious events are possible, lost edges are not.
//! - Interest changes on a pending fd only edit the table; on an associated fd they
//!   re-associate (or dissociate, when no interest is left) at once.
//! - `del_conn`: a pending fd needs no syscall, an associated one is dissociated
//!   (`ENOENT` ignored: its event may have fired already). `close_conn` only closes: the
//!   kernel drops the association and any queued event with the descriptor.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use event_core::fd_table::{Change, FdTable};
use event_core::{EventBase, Interest, Ready, Registry, Token};

use crate::ready;
use crate::sys::{self, PortEvent};
use crate::waker::{EvportWaker, WakerSource};

/// Longest timeout handed to the kernel (about three years; callers loop anyway).
const MAX_TIMEOUT_SECS: u64 = 99_999_999;

/// The event-port [`EventBase`].
#[derive(Debug)]
pub struct EvportBase {
    /// The event buffer (fixed size, reused by every `wait`).
    events: Vec<PortEvent>,
    reg: EvportRegistry,
}

/// The registry half of [`EvportBase`], handed to `wait`'s callback.
#[derive(Debug)]
pub struct EvportRegistry {
    port: Arc<OwnedFd>,
    table: FdTable,
    /// Per fd: where its association stands.
    assoc: Vec<Assoc>,
    /// `(fd, generation)` delivered in the last batch, re-associated by the next `wait`.
    pending: Vec<(RawFd, u32)>,
    waker: Option<(Token, WakerSource)>,
}

/// The kernel side of one fd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Assoc {
    /// Not associated (no interest armed, or never registered).
    #[default]
    None,
    /// Associated with the port for the table's interest.
    Associated,
    /// Delivered in the last batch (so dissociated); re-associated by the next `wait`.
    Pending,
}

/// Errors that mean the fd was closed before `del_conn`: the kernel already dropped the
/// association, so there is nothing left to undo.
fn closed_fd_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EBADF) | Some(libc::EBADFD))
}

impl EvportRegistry {
    /// The association state of `fd`.
    fn assoc_of(&self, fd: RawFd) -> Assoc {
        self.assoc.get(fd as usize).copied().unwrap_or_default()
    }

    /// Sets the association state of `fd` (the vector grows only for a new highest fd).
    fn set_assoc(&mut self, fd: RawFd, state: Assoc) {
        let i = fd as usize;
        if i >= self.assoc.len() {
            self.assoc.resize(i + 1, Assoc::None);
        }
        self.assoc[i] = state;
    }

    /// Makes the kernel match `change` (already in the table), reverting the table if
    /// the kernel refuses.
    fn apply(&mut self, fd: RawFd, change: &Change) -> io::Result<()> {
        if change.op().is_none() || self.assoc_of(fd) == Assoc::Pending {
            // Nothing changed, or the next `wait` re-associates with the new interest.
            return Ok(());
        }
        let interest = change.entry.interest;
        let res = if interest.is_empty() {
            self.set_assoc(fd, Assoc::None);
            match sys::port_dissociate(self.port.as_fd(), fd) {
                // Its event fired already (and is gone with the dissociation, or was
                // retrieved and is filtered by the table).
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                other => other,
            }
        } else {
            let events = ready::poll_events(interest);
            let res = sys::port_associate(
                self.port.as_fd(),
                fd,
                events,
                u64::from(change.entry.generation),
            );
            if res.is_ok() {
                self.set_assoc(fd, Assoc::Associated);
            }
            res
        };
        if res.is_err() {
            self.table.revert(fd, change);
        }
        res
    }

    /// Re-associates the fds delivered in the last batch that are still registered,
    /// with their current interest. On an error the failed fd and the rest stay pending
    /// for the next `wait`.
    fn reassociate(&mut self) -> io::Result<()> {
        for i in 0..self.pending.len() {
            let (fd, generation) = self.pending[i];
            let Some(entry) = self.table.live(fd, generation) else {
                continue;
            };
            if self.assoc_of(fd) != Assoc::Pending {
                continue;
            }
            if entry.interest.is_empty() {
                self.set_assoc(fd, Assoc::None);
                continue;
            }
            let events = ready::poll_events(entry.interest);
            match sys::port_associate(self.port.as_fd(), fd, events, u64::from(generation)) {
                Ok(()) => self.set_assoc(fd, Assoc::Associated),
                Err(e) if closed_fd_error(&e) => self.set_assoc(fd, Assoc::None),
                Err(e) => {
                    self.pending.drain(..i);
                    return Err(e);
                }
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Marks the live fds of a retrieved batch pending before any callback runs, so
    /// interest changes made by handlers edit the table instead of associating.
    fn retrieved(&mut self, ev: &PortEvent) {
        if ev.source() != libc::PORT_SOURCE_FD {
            return;
        }
        let (Ok(fd), Ok(generation)) = (RawFd::try_from(ev.object()), u32::try_from(ev.user()))
        else {
            return;
        };
        if self.table.live(fd, generation).is_none() {
            return;
        }
        if ev.events() & i32::from(libc::POLLNVAL) != 0 {
            // The fd was closed behind our back: nothing to re-associate.
            self.set_assoc(fd, Assoc::None);
        } else {
            self.set_assoc(fd, Assoc::Pending);
            self.pending.push((fd, generation));
        }
    }

    /// Calls back for one retrieved event; returns the number of callbacks (0 or 1).
    fn dispatch<F>(&mut self, ev: &PortEvent, on_event: &mut F) -> usize
    where
        F: FnMut(&mut EvportRegistry, Token, Ready),
    {
        if let Some((token, source)) = &self.waker {
            if source.matches(ev) {
                let token = *token;
                source.reset();
                on_event(self, token, Ready::READABLE);
                return 1;
            }
        }
        if ev.source() != libc::PORT_SOURCE_FD {
            return 0;
        }
        let (Ok(fd), Ok(generation)) = (RawFd::try_from(ev.object()), u32::try_from(ev.user()))
        else {
            return 0;
        };
        let Some(entry) = self.table.live(fd, generation) else {
            return 0;
        };
        let ready = ready::ready_from(ev.events(), entry.interest);
        if ready.is_empty() {
            return 0;
        }
        on_event(self, entry.token, ready);
        1
    }
}

impl EventBase for EvportBase {
    type Registry = EvportRegistry;
    type Waker = EvportWaker;
    const NAME: &'static str = "evport";

    fn with_capacity(events: NonZeroUsize) -> io::Result<Self> {
        let port = sys::port_create()?;
        Ok(EvportBase {
            events: vec![PortEvent::zeroed(); events.get()],
            reg: EvportRegistry {
                port: Arc::new(port),
                table: FdTable::new(),
                assoc: Vec::new(),
                pending: Vec::with_capacity(events.get()),
                waker: None,
            },
        })
    }

    fn registry(&mut self) -> &mut EvportRegistry {
        &mut self.reg
    }

    fn waker(&mut self, token: Token) -> io::Result<EvportWaker> {
        if self.reg.waker.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this base already has a waker",
            ));
        }
        let (source, waker) = WakerSource::new(&self.reg.port);
        self.reg.waker = Some((token, source));
        Ok(waker)
    }

    fn wait<F>(&mut self, timeout: Option<Duration>, mut on_event: F) -> io::Result<usize>
    where
        F: FnMut(&mut EvportRegistry, Token, Ready),
    {
        self.reg.reassociate()?;
        let mut ts = timeout.map(timeout_ts);
        let n = match sys::port_getn(self.reg.port.as_fd(), &mut self.events, ts.as_mut()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        };
        let batch = &self.events[..n];
        for ev in batch {
            self.reg.retrieved(ev);
        }
        let mut calls = 0;
        for ev in batch {
            calls += self.reg.dispatch(ev, &mut on_event);
        }
        Ok(calls)
    }
}

impl Registry for EvportRegistry {
    fn add(&mut self, fd: BorrowedFd<'_>, token: Token, interest: Interest) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let change = self.table.add(raw, token, interest)?;
        self.apply(raw, &change)
    }

    fn del(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let change = self.table.remove_interest(raw, interest)?;
        self.apply(raw, &change)
    }

    fn del_conn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        self.table.remove(raw)?;
        let state = self.assoc_of(raw);
        self.set_assoc(raw, Assoc::None);
        // Pending: dissociated already; its list entry fails the generation check.
        if state != Assoc::Associated {
            return Ok(());
        }
        match sys::port_dissociate(self.port.as_fd(), raw) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) || closed_fd_error(&e) => Ok(()),
            other => other,
        }
    }

    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        // Closing dissociates and drops any queued event for the descriptor.
        let raw = fd.as_raw_fd();
        let res = self.table.remove(raw).map(drop);
        if res.is_ok() {
            self.set_assoc(raw, Assoc::None);
        }
        drop(fd);
        res
    }
}

/// `port_getn`'s timeout: nanosecond precision (no rounding needed), clamped to
/// [`MAX_TIMEOUT_SECS`].
fn timeout_ts(timeout: Duration) -> libc::timespec {
    if timeout.as_secs() > MAX_TIMEOUT_SECS {
        return libc::timespec {
            tv_sec: MAX_TIMEOUT_SECS as libc::time_t,
            tv_nsec: 0,
        };
    }
    libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_keep_nanoseconds_and_clamp() {
        let ts = timeout_ts(Duration::from_nanos(1_500));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (0, 1_500));
        let ts = timeout_ts(Duration::from_secs(u64::MAX));
        assert_eq!(ts.tv_sec, MAX_TIMEOUT_SECS as libc::time_t);
    }

    #[test]
    fn changes_on_a_pending_fd_only_edit_the_table() {
        let mut base = EvportBase::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        base.add_out(a.as_fd(), Token(1)).unwrap();
        let mut seen = 0;
        base.wait(Some(Duration::from_secs(5)), |reg, token, ready| {
            assert_eq!((token, ready), (Token(1), Ready::WRITABLE));
            // Delivered, so pending: no association, just the table.
            reg.del_out(a.as_fd()).unwrap();
            reg.add_in(a.as_fd(), Token(1)).unwrap();
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, 1);
        let raw = a.as_raw_fd();
        assert_eq!(base.reg.assoc_of(raw), Assoc::Pending);
        // The next wait re-associates with the interest of that moment (IN only).
        assert_eq!(base.wait(Some(Duration::ZERO), |_, _, _| {}).unwrap(), 0);
        assert_eq!(base.reg.assoc_of(raw), Assoc::Associated);
        base.del_conn(a.as_fd()).unwrap();
        assert_eq!(base.reg.assoc_of(raw), Assoc::None);
    }
}
