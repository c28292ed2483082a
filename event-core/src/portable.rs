//! The portable backend: the [`EventBase`] contract over the `polling` crate.
//!
//! It runs wherever `polling` does and is what `--features portable` selects. It keeps
//! the same [`FdTable`] as the native backends, so idempotence, `NotFound`, direction
//! filtering and the no-stale-event rule hold exactly as there.
//!
//! **Modes.** Where `polling` supports edge triggering (epoll, kqueue) every fd is
//! registered in `PollMode::Edge`. Elsewhere (event ports) it uses `PollMode::Oneshot`
//! and re-arms, at the start of the next `wait`, every fd delivered in the previous
//! batch with its *current* interest: the event-port strategy of the contract, so an fd
//! that was not drained reports again and no edge is lost.
//!
//! The oneshot path can be exercised on Linux with
//! `RUSTFLAGS="--cfg evcached_portable_oneshot" cargo test -p event-core`.
//!
//! **What it cannot give** (documented gaps, see [`crate::conformance::Profile`]):
//! - `EINTR` is retried inside `polling` until the timeout expires, so a signal does not
//!   make `wait` return early (it still returns `Ok(0)` at the timeout, never an error).
//! - `READ_CLOSED` is never reported (`polling` does not request `EPOLLRDHUP`); a peer's
//!   FIN shows as `READABLE` and the read returns 0.
//! - `HUP`/`ERROR` are filled from `polling`'s `is_interrupt`/`is_err` hints, which
//!   only some OSes provide.
//! - `polling` costs extra syscalls per `wait` (its notifier re-arm, and a timerfd when
//!   a timeout is given on Linux).
//! - On 32-bit targets the generation does not fit in `polling`'s `usize` key; stale
//!   events are then filtered by fd and interest only.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};

use crate::fd_table::{self, Change, FdTable, Op};
use crate::{EventBase, Interest, Ready, Registry, Token, Wake};

/// The portable [`EventBase`] over `polling`.
#[derive(Debug)]
pub struct PortableBase {
    events: Events,
    reg: PortableRegistry,
}

/// The registry half of [`PortableBase`], handed to `wait`'s callback.
#[derive(Debug)]
pub struct PortableRegistry {
    poller: Arc<Poller>,
    table: FdTable,
    mode: PollMode,
    /// Oneshot mode only: `(fd, generation)` delivered in the last batch, re-armed at
    /// the start of the next `wait`. Reused, so it does not allocate in steady state.
    pending: Vec<(RawFd, u32)>,
    waker: Option<(Token, Arc<AtomicBool>)>,
}

/// The waker of [`PortableBase`]: `polling`'s notifier behind our own pending flag.
#[derive(Clone, Debug)]
pub struct PortableWaker {
    poller: Arc<Poller>,
    pending: Arc<AtomicBool>,
}

/// Whether a generation fits in `polling`'s key on this target.
const KEY_HAS_GENERATION: bool = usize::BITS >= 64;

fn key(fd: RawFd, generation: u32) -> usize {
    fd_table::cookie(fd, generation) as usize
}

fn split_key(key: usize) -> (RawFd, Option<u32>) {
    let (fd, generation) = fd_table::split_cookie(key as u64);
    (fd, KEY_HAS_GENERATION.then_some(generation))
}

fn interest_event(fd: RawFd, generation: u32, interest: Interest) -> Event {
    Event::new(
        key(fd, generation),
        interest.contains(Interest::IN),
        interest.contains(Interest::OUT),
    )
}

fn ignorable_delete_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::EBADF) | Some(libc::EPERM)
    )
}

impl PortableRegistry {
    /// Makes the poller match `change`, reverting the table if the kernel refuses.
    fn apply(&mut self, fd: BorrowedFd<'_>, change: Change) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let ev = interest_event(raw, change.entry.generation, change.entry.interest);
        let res = match change.op() {
            None => Ok(()),
            Some(Op::Add) => self.add_kernel(fd, ev),
            Some(Op::Modify) => match self.poller.modify_with_mode(fd, ev, self.mode) {
                // The fd was closed and reopened behind our back: register it afresh.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.add_kernel(fd, ev),
                other => other,
            },
            Some(Op::Delete) => match self.poller.delete(fd) {
                Err(e) if ignorable_delete_error(&e) => Ok(()),
                other => other,
            },
        };
        if res.is_err() {
            self.table.revert(raw, &change);
        }
        res
    }

    fn add_kernel(&self, fd: BorrowedFd<'_>, ev: Event) -> io::Result<()> {
        // SAFETY: `polling` requires the source to be deleted before it is closed. The
        // contract makes callers `del_conn`/`close_conn` first; if one does not, on Unix
        // the only consequence is a stale kernel registration whose events the fd table
        // filters out (their generation is dead) — no memory is touched through it.
        let res = unsafe { self.poller.add_with_mode(fd.as_raw_fd(), ev, self.mode) };
        match res {
            // dup2 onto a registered number: the kernel still has it, so modify.
            Err(e)
                if e.raw_os_error() == Some(libc::EEXIST)
                    || e.kind() == io::ErrorKind::AlreadyExists =>
            {
                self.poller.modify_with_mode(fd, ev, self.mode)
            }
            other => other,
        }
    }

    /// Oneshot mode: re-arms the fds delivered in the previous batch that are still
    /// registered with some interest, using their current interest.
    fn rearm_pending(&mut self) -> io::Result<()> {
        for i in 0..self.pending.len() {
            let (fd, generation) = self.pending[i];
            let Some(entry) = self.table.live(fd, generation) else {
                continue;
            };
            if entry.interest.is_empty() {
                continue;
            }
            // SAFETY: the table says `fd` is registered with this base and the contract
            // forbids closing a registered fd, so the number still names that open file.
            let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
            let ev = interest_event(fd, generation, entry.interest);
            match self.poller.modify_with_mode(bfd, ev, self.mode) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    self.add_kernel(bfd, ev)?;
                }
                other => other?,
            }
        }
        self.pending.clear();
        Ok(())
    }
}

impl Registry for PortableRegistry {
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
            return Ok(());
        }
        match self.poller.delete(fd) {
            Err(e) if ignorable_delete_error(&e) => Ok(()),
            other => other,
        }
    }

    fn close_conn(&mut self, fd: OwnedFd) -> io::Result<()> {
        use std::os::fd::AsFd;
        let res = self.del_conn(fd.as_fd());
        drop(fd);
        res
    }
}

impl Wake for PortableWaker {
    fn wake(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.poller.notify()
    }
}

impl PortableBase {
    fn ready_for(ev: &Event, interest: Interest) -> Ready {
        let mut ready = Ready::empty();
        if ev.readable && interest.contains(Interest::IN) {
            ready |= Ready::READABLE;
        }
        if ev.writable && interest.contains(Interest::OUT) {
            ready |= Ready::WRITABLE;
        }
        if ev.is_interrupt() {
            ready |= Ready::HUP;
        }
        if ev.is_err() == Some(true) {
            ready |= Ready::ERROR;
        }
        ready
    }
}

impl EventBase for PortableBase {
    type Registry = PortableRegistry;
    type Waker = PortableWaker;
    const NAME: &'static str = "portable";

    fn with_capacity(events: NonZeroUsize) -> io::Result<Self> {
        let poller = Poller::new()?;
        // `--cfg evcached_portable_oneshot` forces the oneshot path (tested on Linux).
        let mode = if poller.supports_edge() && !cfg!(evcached_portable_oneshot) {
            PollMode::Edge
        } else {
            PollMode::Oneshot
        };
        Ok(PortableBase {
            events: Events::with_capacity(events),
            reg: PortableRegistry {
                poller: Arc::new(poller),
                table: FdTable::new(),
                mode,
                pending: Vec::new(),
                waker: None,
            },
        })
    }

    fn registry(&mut self) -> &mut PortableRegistry {
        &mut self.reg
    }

    fn waker(&mut self, token: Token) -> io::Result<PortableWaker> {
        if self.reg.waker.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this base already has a waker",
            ));
        }
        let pending = Arc::new(AtomicBool::new(false));
        self.reg.waker = Some((token, pending.clone()));
        Ok(PortableWaker {
            poller: self.reg.poller.clone(),
            pending,
        })
    }

    fn wait<F>(&mut self, timeout: Option<Duration>, mut on_event: F) -> io::Result<usize>
    where
        F: FnMut(&mut PortableRegistry, Token, Ready),
    {
        self.reg.rearm_pending()?;
        self.events.clear();
        match self.reg.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut calls = 0;
        // `polling` drained its notifier inside `wait`; clearing our flag only now keeps
        // a racing wake from being lost (it either sees `true` and its item is consumed
        // by this callback, or sets the flag again and notifies).
        if let Some((token, pending)) = &self.reg.waker {
            if pending.swap(false, Ordering::AcqRel) {
                let token = *token;
                on_event(&mut self.reg, token, Ready::READABLE);
                calls += 1;
            }
        }
        for ev in self.events.iter() {
            let (fd, generation) = split_key(ev.key);
            let entry = match generation {
                Some(g) => self.reg.table.live(fd, g),
                None => self.reg.table.get(fd),
            };
            let Some(entry) = entry else { continue };
            if self.reg.mode == PollMode::Oneshot {
                self.reg.pending.push((fd, entry.generation));
            }
            if entry.interest.is_empty() {
                continue;
            }
            let ready = Self::ready_for(&ev, entry.interest);
            if ready.is_empty() {
                continue;
            }
            on_event(&mut self.reg, entry.token, ready);
            calls += 1;
        }
        Ok(calls)
    }
}
