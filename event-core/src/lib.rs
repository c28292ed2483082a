//! # event-core: one readiness contract over epoll, kqueue and event ports
//!
//! `EventBase` is a per-thread event queue in the spirit of twemproxy's `event_base`
//! (`add_in`, `del_in`, `add_out`, `del_out`, `add_conn`, `del_conn`, `wait`), implemented
//! by one crate per OS family and picked at compile time downstream (see the server's
//! `backend` module). This crate holds the traits, [`Token`], [`Ready`], [`Interest`],
//! the shared per-fd table ([`FdTable`]), the portable backend over the `polling` crate
//! ([`PortableBase`]) and the conformance suite every backend runs ([`conformance`]).
//!
//! ## The contract (what every backend guarantees and every caller may rely on)
//!
//! 1. **One base per thread.** `EventBase: Send`, not `Sync`; every method takes
//!    `&mut self`; there are no locks inside. Only the [`Wake`] handle crosses threads.
//!    Create bases after a daemonizing `fork` (kqueues are not inherited); a base must
//!    not be used in a forked child.
//! 2. **Registration is idempotent, kept in a per-fd table inside the base** (token,
//!    armed interest, generation). `add_*` of interest already armed and `del_in`/`del_out`
//!    of absent interest are no-ops without a syscall. `del_in`, `del_out` and `del_conn`
//!    of an fd the base does not know return `NotFound`. `add_*` with a new token for a
//!    known fd replaces the token (no syscall if the interest does not change).
//!    `del_in` + `del_out` leave the fd registered with no interest: it reports nothing
//!    at all (not even `ERROR`/`HUP`) until interest is added again. If the kernel
//!    refuses a change (say, epoll and a regular file: `EPERM`), the call returns that
//!    error and the table is left as it was.
//! 3. **`del_conn` before `close`.** epoll keeps registrations of duplicated open file
//!    descriptions alive after `close`; [`Registry::close_conn`] does both in the cheapest
//!    correct order for the OS.
//! 4. **Arming checks the level.** After `add_in`/`add_out`, an fd that is already ready
//!    reports in the next `wait` (a listener re-armed with a backlog, a socket that is
//!    already writable). Any change of an fd's armed mask may also re-report the
//!    directions that stay armed and are ready (a spurious event, allowed by 5).
//! 5. **Readiness is edge-style.** After a notification the caller reads or writes until
//!    `WouldBlock` before another notification is guaranteed. If it stops early, another
//!    notification may or may not come, so the caller keeps its own list of connections it
//!    yielded. Spurious notifications are allowed; a lost edge never is.
//! 6. **Directions are filtered by interest.** `READABLE`/`READ_CLOSED` only while read
//!    interest is armed, `WRITABLE` only while write interest is armed; `ERROR` and `HUP`
//!    while any interest is armed, together with the armed direction(s). Only
//!    `READABLE`/`WRITABLE` are guaranteed; the other flags are hints (see [`Ready`] for
//!    the per-OS table) and the I/O syscall tells the truth.
//! 7. **Nothing stale.** Each event is checked against the live table just before its
//!    callback. Once `del_conn`/`close_conn`/`del_in`/`del_out` returns, that registration
//!    (or direction) is not reported again, not even later in the same batch. A new
//!    registration on a reused fd number gets a new generation, and the kernel cookie
//!    carries (fd, generation), never the token.
//! 8. **`wait(timeout, callback)`.** `None` blocks until an event, `Some(ZERO)` polls, any
//!    other timeout waits at least that long, rounded *up* to the backend's granularity
//!    (1 ms on epoll; a sub-millisecond timeout never becomes a busy zero wait). `EINTR`
//!    returns `Ok(0)`; the caller recomputes deadlines. `wait` may return 0 early for
//!    other reasons too (events filtered as stale, a wake consumed). The callback gets
//!    `&mut` registry access and may add, remove or close any registration, including
//!    the one being reported. The return value is the number of callbacks made. The
//!    event buffer has a fixed capacity; no allocation per `wait` in steady state (the
//!    table grows only when a new highest fd registers). Several callbacks per token
//!    per batch are allowed (kqueue reports read and write separately).
//! 9. **Waker.** `Send + Sync + Clone`, holds an `Arc` of what it signals (waking after
//!    the base is dropped is harmless and never touches a reused descriptor number), uses
//!    the native mechanism (eventfd, `EVFILT_USER`, `port_send`) behind an atomic flag so
//!    many wakes coalesce. On delivery the source is drained first and the flag cleared
//!    after, then the callback runs with `(waker_token, READABLE)`; a wake that races with
//!    the handler yields another event. Producers push to their queue, then wake; the
//!    consumer drains the whole queue. At most one waker per base (`AlreadyExists`). The
//!    waker token lives in the caller's token space: pick one no registration uses.
//! 10. **Resources.** Every fd a base creates is close-on-exec. Dropping a base with live
//!     registrations is fine (the kernel queue goes away with it).
//!
//! ## Writing a backend
//!
//! A backend crate is `#![cfg(...)]`-gated to its OS family and laid out like
//! `backend-epoll`: `lib.rs` (gate, re-exports), `sys.rs` (the only `unsafe`, one
//! `// SAFETY:` per block), `base.rs` (the trait impls: `Registry::add`/`del`/`del_conn`
//! and, where closing alone deregisters, `close_conn`; twemproxy's `add_in`, `del_in`,
//! `add_out`, `del_out` and `add_conn` are provided over `add`/`del`; then `EventBase`'s
//! `with_capacity`, `registry`, `waker` and `wait`), `waker.rs`, `ready.rs` (flag mapping with a doc table), and
//! `tests/conformance.rs` calling [`conformance_tests!`]. The recipe:
//!
//! - Split the base into an event buffer and a registry struct (kernel fd, [`FdTable`],
//!   waker source) so `wait` can walk the buffer while lending `&mut registry` to the
//!   callback, without `unsafe`.
//! - Every registry call goes through the table first: [`FdTable::add`] /
//!   [`FdTable::remove_interest`] return a [`fd_table::Change`] whose
//!   [`op`](fd_table::Change::op) (`None`, `Add`, `Modify`, `Delete`) or
//!   [`added`](fd_table::Change::added)/[`removed`](fd_table::Change::removed)
//!   directions decide the kernel call; `None` means no syscall. If the kernel refuses,
//!   call [`FdTable::revert`] and return the error. `del_conn` is [`FdTable::remove`]
//!   (which yields `NotFound` for you) plus the kernel removal when interest was armed.
//! - Put [`fd_table::cookie`]`(fd, generation)` (or the two halves) into the kernel's
//!   user data; in `wait`, decode it and look up [`FdTable::live`] *right before each
//!   callback*; drop the event if it is `None`, then map flags with the entry's current
//!   interest and drop it if nothing armed is left.
//! - Tolerate the kernel's stale-state errors the way libevent does: ADD → `EEXIST` →
//!   modify; modify → `ENOENT` → add; delete → `ENOENT`/`EBADF`/`EPERM` → success.
//! - `wait`: one blocking syscall into the fixed buffer, `EINTR` → `Ok(0)`, timeouts
//!   rounded up; deliver the waker (drain, clear flag, call back) in buffer order.
//! - Declare gaps honestly in the [`conformance::Profile`] your tests pass.
//!
//! ## Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use event_core::{EventBase, PortableBase, Ready, Token};
//!
//! let (mut a, mut b) = UnixStream::pair().unwrap();
//! b.set_nonblocking(true).unwrap();
//! let mut base = PortableBase::new().unwrap();
//! base.add_in(b.as_fd(), Token(7)).unwrap();
//! a.write_all(b"ping").unwrap();
//! let mut seen = Vec::new();
//! base.wait(Some(Duration::from_secs(5)), |_reg, token, ready| seen.push((token, ready)))
//!     .unwrap();
//! assert_eq!(seen[0].0, Token(7));
//! assert!(seen[0].1.contains(Ready::READABLE));
//! let mut buf = [0u8; 8];
//! assert_eq!(b.read(&mut buf).unwrap(), 4);
//! base.del_conn(b.as_fd()).unwrap();
//! ```

mod base;
pub mod conformance;
pub mod fd_table;
pub mod portable;
mod ready;
mod token;

pub use base::{EventBase, Registry, Wake};
pub use fd_table::FdTable;
pub use portable::{PortableBase, PortableRegistry, PortableWaker};
pub use ready::{Interest, Ready};
pub use token::Token;
