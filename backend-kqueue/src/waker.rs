//! The cross-thread waker: `EVFILT_USER`, or a pipe where the kernel lacks it.
//!
//! `EVFILT_USER` is registered once with `EV_ADD | EV_CLEAR` and fired with
//! `NOTE_TRIGGER` alone, never with `EV_ADD` (re-adding on every wake is what turns the
//! filter level-triggered on macOS in polling#265). Retrieving the event resets it
//! (`EV_CLEAR`), so delivery needs no drain syscall. OpenBSD and NetBSD before 10 have no
//! `EVFILT_USER`: on those two OSes the base tries it and falls back to a non-blocking
//! pipe whose read end is registered with `EVFILT_READ | EV_CLEAR` and drained on
//! delivery.
//!
//! An atomic flag coalesces wakes: only the first wake after a delivery makes a syscall.
//! On delivery the source is drained first and the flag cleared after, so a wake that
//! races with the handler either sees the flag still set (its item is consumed by the
//! callback that follows) or sets it again and fires again.

use std::io;
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
use std::io::{Read, Write};
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
use std::os::fd::AsRawFd;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use event_core::Wake;

use crate::sys::{self, Kevent};

/// The `EVFILT_USER` identifier of the waker (its own namespace, not an fd).
const USER_IDENT: usize = 0;

/// What a wake pokes.
#[derive(Clone, Debug)]
enum Source {
    /// `EVFILT_USER` on the kqueue itself (kept open by this `Arc`).
    User(Arc<OwnedFd>),
    /// Both ends of the fallback pipe, kept together so a write never meets a closed
    /// reader (no EPIPE/SIGPIPE after the base is dropped).
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    Pipe(Arc<Pipe>),
}

/// The fallback pipe.
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
#[derive(Debug)]
struct Pipe {
    read: std::fs::File,
    write: std::fs::File,
}

/// The waker of [`crate::KqueueBase`]: `EVFILT_USER` with `NOTE_TRIGGER` behind an
/// atomic flag.
#[derive(Clone, Debug)]
pub struct KqueueWaker {
    source: Source,
    pending: Arc<AtomicBool>,
}

/// The base's side of the waker: how to recognise, drain and clear its event.
#[derive(Debug)]
pub struct WakerSource {
    source: Source,
    pending: Arc<AtomicBool>,
}

impl WakerSource {
    /// Registers a waker on `kq` and returns the base's side and the waker handle.
    pub fn new(kq: &Arc<OwnedFd>) -> io::Result<(WakerSource, KqueueWaker)> {
        let source = match register_user(kq) {
            Ok(()) => Source::User(kq.clone()),
            #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Source::Pipe(register_pipe(kq)?),
            Err(e) => return Err(e),
        };
        let pending = Arc::new(AtomicBool::new(false));
        let waker = KqueueWaker {
            source: source.clone(),
            pending: pending.clone(),
        };
        Ok((WakerSource { source, pending }, waker))
    }

    /// True when `ev` is this waker's event.
    pub fn matches(&self, ev: &Kevent) -> bool {
        match &self.source {
            Source::User(_) => ev.filter() == libc::EVFILT_USER && ev.ident() == USER_IDENT,
            #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
            Source::Pipe(pipe) => {
                ev.filter() == libc::EVFILT_READ && ev.ident() == pipe.read.as_raw_fd() as usize
            }
        }
    }

    /// Drains the source, then clears the pending flag (in that order, see the module
    /// docs).
    pub fn reset(&self) {
        match &self.source {
            // Retrieving the event reset it (`EV_CLEAR`).
            Source::User(_) => {}
            #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
            Source::Pipe(pipe) => {
                let mut buf = [0u8; 64];
                // Until WouldBlock (or an error, which a later wake would also hit).
                while matches!((&pipe.read).read(&mut buf), Ok(n) if n > 0) {}
            }
        }
        self.pending.store(false, Ordering::Release);
    }
}

/// Registers `EVFILT_USER` once on `kq`, synchronously (`EV_RECEIPT` with one event slot).
fn register_user(kq: &OwnedFd) -> io::Result<()> {
    let flags = libc::EV_ADD | libc::EV_CLEAR | libc::EV_RECEIPT;
    receipt(kq, Kevent::new(USER_IDENT, libc::EVFILT_USER, flags, 0, 0))
}

/// Creates the fallback pipe and registers its read end on `kq`.
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
fn register_pipe(kq: &OwnedFd) -> io::Result<Arc<Pipe>> {
    let (read, write) = sys::pipe()?;
    let flags = libc::EV_ADD | libc::EV_CLEAR | libc::EV_RECEIPT;
    let ident = read.as_raw_fd() as usize;
    receipt(kq, Kevent::new(ident, libc::EVFILT_READ, flags, 0, 0))?;
    Ok(Arc::new(Pipe { read, write }))
}

/// Applies one `EV_RECEIPT` change now and returns its error, if any.
fn receipt(kq: &OwnedFd, change: Kevent) -> io::Result<()> {
    let mut out = [Kevent::zeroed()];
    let n = sys::kevent(kq.as_fd(), &[change], &mut out, Some(&sys::NO_WAIT))?;
    match out[0].data() {
        errno if n == 1 && errno != 0 => Err(io::Error::from_raw_os_error(errno as i32)),
        _ => Ok(()),
    }
}

impl Wake for KqueueWaker {
    fn wake(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let res = match &self.source {
            Source::User(kq) => {
                let trigger = Kevent::new(USER_IDENT, libc::EVFILT_USER, 0, libc::NOTE_TRIGGER, 0);
                // No event slots: a pure change, which never blocks.
                sys::kevent(kq.as_fd(), &[trigger], &mut [], Some(&sys::NO_WAIT)).map(drop)
            }
            #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
            Source::Pipe(pipe) => match (&pipe.write).write(&[1]) {
                // A full pipe already holds a pending wake.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                other => other.map(drop),
            },
        };
        if res.is_err() {
            // Nothing was queued: let the next wake try again.
            self.pending.store(false, Ordering::Release);
        }
        res
    }
}
