//! [`KqueueBase`]: the [`EventBase`] contract over kqueue, in twemproxy's function order
//! (new, add_in, del_in, add_out, del_out, add_conn, del_conn, close_conn, wait).
//!
//! - Registration: `EVFILT_READ`/`EVFILT_WRITE` with `EV_CLEAR` (edge style); the kernel
//!   cookie is `ident` = fd, `udata` = the fd table's generation.
//! - Interest changes are *queued* (at most one pending change per fd and filter,
//!   overwritten in place) and handed to the next waiting `kevent`, so `add_out`/`del_out`
//!   cost no syscall. The waiting call never carries `EV_RECEIPT`; changes beyond the
//!   event buffer's size are flushed first in chunks no larger than it, with `EV_RECEIPT`
//!   into a receipt buffer of the same size (never `EV_RECEIPT` with zero event slots,
//!   which FreeBSD and OpenBSD stop processing after the first change). A failed change
//!   reaches its token as `ERROR` in the same `wait`.
//! - `del_conn` drops the fd's queued changes and deletes the filters the kernel has with
//!   one immediate `kevent` (`EV_RECEIPT`, `ENOENT` ignored), because the caller closes
//!   the fd next; `close_conn` drops the queued changes and closes (the kernel removes
//!   the knotes with the descriptor), so no `EV_DELETE` is ever queued for a closed fd.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use event_core::fd_table::{Change, FdTable};
use event_core::{EventBase, Interest, Ready, Registry, Token};

use crate::ready::{self, dir_of, filter_of};
use crate::sys::{self, Flags, Kevent};
use crate::waker::{KqueueWaker, WakerSource};

/// No queued change for this fd and filter.
const NONE: u32 = u32::MAX;

/// Longest timeout handed to the kernel: macOS rejects `tv_sec` above 10^8 with
/// EINVAL, so longer waits are cut to about three years (callers loop anyway).
const MAX_TIMEOUT_SECS: u64 = 99_999_999;

/// The kqueue [`EventBase`].
#[derive(Debug)]
pub struct KqueueBase {
    /// The event buffer (fixed size, reused by every `wait`).
    events: Vec<Kevent>,
    /// Receipts of pre-flushed change chunks (same size as `events`).
    receipts: Vec<Kevent>,
    /// Failed pre-flushed changes, delivered as `ERROR` by the next callbacks.
    errors: Vec<Kevent>,
    reg: KqueueRegistry,
}

/// The registry half of [`KqueueBase`], handed to `wait`'s callback.
#[derive(Debug)]
pub struct KqueueRegistry {
    kq: Arc<OwnedFd>,
    table: FdTable,
    /// Changes for the next `kevent`, at most one per fd and filter.
    changes: Vec<Kevent>,
    /// Per fd: where its queued changes sit in `changes`, and what the kernel has.
    side: Vec<Side>,
    waker: Option<(Token, WakerSource)>,
}

/// What the registry tracks per fd beyond the shared table.
#[derive(Clone, Copy, Debug)]
struct Side {
    /// Index in `changes` of the queued change for `[EVFILT_READ, EVFILT_WRITE]`.
    queued: [u32; 2],
    /// The filters the kernel has once every flushed change applied.
    kernel: Interest,
}

const EMPTY_SIDE: Side = Side {
    queued: [NONE; 2],
    kernel: Interest::empty(),
};

impl KqueueRegistry {
    /// The side entry of `fd`, grown on demand (only when a new highest fd appears).
    fn side_mut(&mut self, fd: RawFd) -> &mut Side {
        let i = fd as usize;
        if i >= self.side.len() {
            self.side.resize(i + 1, EMPTY_SIDE);
        }
        &mut self.side[i]
    }

    /// Queues what `change` (already in the table) needs from the kernel.
    fn apply(&mut self, fd: RawFd, change: &Change) {
        let generation = change.entry.generation;
        for dir in [Interest::IN, Interest::OUT] {
            if change.added().contains(dir) {
                // Always an `EV_ADD`, even over an existing knote: the kernel re-checks
                // the level, so re-arming an fd that is still ready reports it.
                self.queue(fd, dir, libc::EV_ADD | libc::EV_CLEAR, generation);
            } else if change.removed().contains(dir) {
                if self.side_mut(fd).kernel.contains(dir) {
                    self.queue(fd, dir, libc::EV_DELETE, generation);
                } else {
                    // Never flushed: dropping the queued add is the whole delete.
                    self.unqueue(fd, dir);
                }
            }
        }
    }

    /// Queues (or overwrites) the change of `fd`'s `dir` filter.
    fn queue(&mut self, fd: RawFd, dir: Interest, flags: Flags, generation: u32) {
        let (filter, slot) = filter_of(dir);
        let ev = Kevent::new(fd as usize, filter, flags, 0, u64::from(generation));
        let next = self.changes.len() as u32;
        let side = self.side_mut(fd);
        match side.queued[slot] {
            NONE => {
                side.queued[slot] = next;
                self.changes.push(ev);
            }
            at => self.changes[at as usize] = ev,
        }
    }

    /// Drops the queued change of `fd`'s `dir` filter, if any (swap-remove, fixing the
    /// index of the change that moves).
    fn unqueue(&mut self, fd: RawFd, dir: Interest) {
        let slot = filter_of(dir).1;
        let Some(side) = self.side.get_mut(fd as usize) else {
            return;
        };
        let at = std::mem::replace(&mut side.queued[slot], NONE);
        if at == NONE {
            return;
        }
        self.changes.swap_remove(at as usize);
        if let Some(moved) = self.changes.get(at as usize) {
            let (_, moved_slot) = dir_of(moved.filter());
            self.side[moved.ident()].queued[moved_slot] = at;
        }
    }

    /// Records `applied` (handed to the kernel) in the side table.
    fn mark_applied(side: &mut [Side], applied: &[Kevent]) {
        for ev in applied {
            let (dir, slot) = dir_of(ev.filter());
            let entry = &mut side[ev.ident()];
            entry.queued[slot] = NONE;
            entry.kernel.set(dir, ev.flags() & libc::EV_ADD != 0);
        }
    }

    /// Forgets `fd` (table, queued changes) and returns the filters the kernel has.
    fn forget(&mut self, fd: RawFd) -> io::Result<Interest> {
        self.table.remove(fd)?;
        self.unqueue(fd, Interest::IN);
        self.unqueue(fd, Interest::OUT);
        Ok(self
            .side
            .get_mut(fd as usize)
            .map_or(Interest::empty(), |s| std::mem::take(&mut s.kernel)))
    }

    /// Calls back for one kernel event; returns the number of callbacks (0 or 1).
    fn dispatch<F>(&mut self, ev: &Kevent, on_event: &mut F) -> usize
    where
        F: FnMut(&mut KqueueRegistry, Token, Ready),
    {
        if let Some((token, source)) = &self.waker {
            if source.matches(ev) {
                let token = *token;
                source.reset();
                on_event(self, token, Ready::READABLE);
                return 1;
            }
        }
        if ev.flags() & libc::EV_ERROR != 0
            && (ev.data() == 0 || ready::ignorable_change_error(ev.data()))
        {
            return 0;
        }
        let (Ok(fd), Ok(generation)) = (RawFd::try_from(ev.ident()), u32::try_from(ev.udata()))
        else {
            return 0;
        };
        let Some(entry) = self.table.live(fd, generation) else {
            return 0;
        };
        let ready = ready::ready_from(ev.filter(), ev.flags(), ev.fflags(), entry.interest);
        if ready.is_empty() {
            return 0;
        }
        on_event(self, entry.token, ready);
        1
    }
}

impl EventBase for KqueueBase {
    type Registry = KqueueRegistry;
    type Waker = KqueueWaker;
    const NAME: &'static str = "kqueue";

    fn with_capacity(events: NonZeroUsize) -> io::Result<Self> {
        let kq = sys::kqueue()?;
        Ok(KqueueBase {
            events: vec![Kevent::zeroed(); events.get()],
            receipts: vec![Kevent::zeroed(); events.get()],
            errors: Vec::new(),
            reg: KqueueRegistry {
                kq: Arc::new(kq),
                table: FdTable::new(),
                changes: Vec::with_capacity(events.get()),
                side: Vec::new(),
                waker: None,
            },
        })
    }

    fn registry(&mut self) -> &mut KqueueRegistry {
        &mut self.reg
    }

    fn waker(&mut self, token: Token) -> io::Result<KqueueWaker> {
        if self.reg.waker.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this base already has a waker",
            ));
        }
        let (source, waker) = WakerSource::new(&self.reg.kq)?;
        self.reg.waker = Some((token, source));
        Ok(waker)
    }

    fn wait<F>(&mut self, timeout: Option<Duration>, mut on_event: F) -> io::Result<usize>
    where
        F: FnMut(&mut KqueueRegistry, Token, Ready),
    {
        self.preflush()?;
        let reg = &mut self.reg;
        let ts = timeout.map(timeout_ts);
        let res = sys::kevent(reg.kq.as_fd(), &reg.changes, &mut self.events, ts.as_ref());
        // Applied even on EINTR (FreeBSD applies every change before it sleeps); a
        // failed one comes back as an `EV_ERROR` event in this very call.
        KqueueRegistry::mark_applied(&mut reg.side, &reg.changes);
        reg.changes.clear();
        let n = match res {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut calls = 0;
        for ev in self.errors.drain(..) {
            calls += self.reg.dispatch(&ev, &mut on_event);
        }
        for ev in &self.events[..n] {
            calls += self.reg.dispatch(ev, &mut on_event);
        }
        Ok(calls)
    }
}

impl KqueueBase {
    /// Flushes the changes that do not fit in the waiting call, in chunks of at most
    /// the buffer's size, with `EV_RECEIPT`; failed ones are kept for delivery.
    fn preflush(&mut self) -> io::Result<()> {
        let cap = self.events.len();
        let reg = &mut self.reg;
        while reg.changes.len() > cap {
            let start = reg.changes.len() - cap;
            let chunk = &mut reg.changes[start..];
            for ev in chunk.iter_mut() {
                ev.add_flags(libc::EV_RECEIPT);
            }
            let res = sys::kevent(
                reg.kq.as_fd(),
                chunk,
                &mut self.receipts,
                Some(&sys::NO_WAIT),
            );
            KqueueRegistry::mark_applied(&mut reg.side, &reg.changes[start..]);
            reg.changes.truncate(start);
            let n = res?;
            let failed = self.receipts[..n].iter().filter(|r| r.data() != 0);
            self.errors.extend(failed);
        }
        Ok(())
    }
}

impl Registry for KqueueRegistry {
    fn add(&mut self, fd: BorrowedFd<'_>, token: Token, interest: Interest) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let change = self.table.add(raw, token, interest)?;
        self.apply(raw, &change);
        Ok(())
    }

    fn del(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let change = self.table.remove_interest(raw, interest)?;
        self.apply(raw, &change);
        Ok(())
    }

    fn del_conn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let kernel = self.forget(raw)?;
        if kernel.is_empty() {
            return Ok(());
        }
        // One immediate call: the caller closes the fd next, so a queued delete would
        // meet a closed (or reused) descriptor.
        let mut changes = [Kevent::zeroed(); 2];
        let mut n = 0;
        for dir in [Interest::IN, Interest::OUT] {
            if kernel.contains(dir) {
                let (filter, _) = filter_of(dir);
                changes[n] = Kevent::new(
                    raw as usize,
                    filter,
                    libc::EV_DELETE | libc::EV_RECEIPT,
                    0,
                    0,
                );
                n += 1;
            }
        }
        let mut receipts = [Kevent::zeroed(); 2];
        let got = sys::kevent(
            self.kq.as_fd(),
            &changes[..n],
            &mut receipts[..n],
            Some(&sys::NO_WAIT),
        )?;
        for r in &receipts[..got] {
            let errno = r.data();
            // ENOENT: the filter was already gone (a failed add); EBADF: the fd was
            // closed first, which removed the knotes anyway.
            if errno != 0 && errno != i64::from(libc::ENOENT) && errno != i64::from(libc::EBADF) {
                return Err(io::Error::from_raw_os_error(errno as i32));
            }
        }
        Ok(())
    }

    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        // Closing removes the knotes; nothing is queued for the closed number.
        let res = self.forget(fd.as_raw_fd()).map(drop);
        drop(fd);
        res
    }
}

/// `kevent`'s timeout: nanosecond precision (no rounding needed), clamped to
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
    fn queued_changes_coalesce_per_fd_and_filter() {
        let mut base = KqueueBase::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let reg = base.registry();
        reg.add_conn(a.as_fd(), Token(1)).unwrap();
        assert_eq!(reg.changes.len(), 2);
        // Never flushed: removing interest drops the queued adds, no delete is queued.
        reg.del_out(a.as_fd()).unwrap();
        assert_eq!(reg.changes.len(), 1);
        reg.add_out(a.as_fd(), Token(1)).unwrap();
        reg.del_conn(a.as_fd()).unwrap();
        assert!(reg.changes.is_empty());
    }
}
