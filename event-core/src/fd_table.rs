//! The per-fd registration table every backend keeps (no `unsafe`, no syscalls).
//!
//! A backend asks the table what a registry call changes and derives the kernel
//! operation from the old and new interest masks (libevent's `epolltable` idea):
//!
//! | old interest | new interest | epoll | kqueue (per filter) | event ports |
//! |---|---|---|---|---|
//! | empty | non-empty | `EPOLL_CTL_ADD` | `EV_ADD` for each new direction | associate |
//! | non-empty | other non-empty | `EPOLL_CTL_MOD` | `EV_ADD`/`EV_DELETE` per changed direction | re-associate |
//! | non-empty | empty | `EPOLL_CTL_DEL` | `EV_DELETE` per old direction | dissociate |
//! | equal | equal | nothing | nothing | nothing |
//!
//! The table also hands out a per-fd *generation*, bumped every time an fd number gets a
//! new registration (after `del_conn`, or for the first time). Backends put
//! `(fd, generation)` into the kernel cookie (see [`cookie`]) and check each event with
//! [`FdTable::live`] right before its callback, so an event for a registration that was
//! removed, or for an earlier owner of a reused fd number, is never delivered.

use std::io;
use std::os::fd::RawFd;

use crate::{Interest, Token};

/// What the table holds for one registered fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The caller's token, returned with every event.
    pub token: Token,
    /// The directions currently armed (may be empty: registered but disarmed).
    pub interest: Interest,
    /// The registration generation, unique per fd number until it wraps at 2^32.
    pub generation: u32,
}

/// The kernel operation a change needs, derived from the old and new interest masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Nothing was armed and something is now: register with the kernel.
    Add,
    /// Armed before and after, with a different mask: modify the registration.
    Modify,
    /// Something was armed and nothing is now: remove the kernel registration.
    Delete,
}

/// The result of a registry call on the table: the interest before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// Interest armed before the call (empty for a new registration).
    pub old: Interest,
    /// The entry after the call (its interest is the new mask).
    pub entry: Entry,
    /// True when the call created the registration (and a new generation).
    pub created: bool,
}

impl Change {
    /// The interest armed after the call.
    pub fn new_interest(&self) -> Interest {
        self.entry.interest
    }

    /// The kernel operation this change needs, or `None` when the mask did not change
    /// (the call was an idempotent no-op for the kernel).
    pub fn op(&self) -> Option<Op> {
        op_for(self.old, self.entry.interest)
    }

    /// Directions armed by this call.
    pub fn added(&self) -> Interest {
        self.entry.interest.difference(self.old)
    }

    /// Directions disarmed by this call.
    pub fn removed(&self) -> Interest {
        self.old.difference(self.entry.interest)
    }
}

/// The kernel operation that turns `old` into `new`, or `None` when they are equal.
pub fn op_for(old: Interest, new: Interest) -> Option<Op> {
    match (old.is_empty(), new.is_empty()) {
        _ if old == new => None,
        (true, false) => Some(Op::Add),
        (false, true) => Some(Op::Delete),
        _ => Some(Op::Modify),
    }
}

/// Packs `(fd, generation)` into a 64-bit kernel cookie (epoll `data.u64`, a polling key
/// on 64-bit targets): generation in the high 32 bits, fd in the low 32 bits.
pub const fn cookie(fd: RawFd, generation: u32) -> u64 {
    ((generation as u64) << 32) | (fd as u32 as u64)
}

/// Splits a cookie made by [`cookie`] into `(fd, generation)`.
pub const fn split_cookie(cookie: u64) -> (RawFd, u32) {
    (cookie as u32 as RawFd, (cookie >> 32) as u32)
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    token: u64,
    generation: u32,
    interest: Interest,
    live: bool,
}

/// Registrations indexed by fd number: token, armed interest and generation.
///
/// Storage is a vector indexed by fd, grown only when a new highest fd registers, so
/// steady-state calls never allocate. Every method is O(1).
#[derive(Debug, Default)]
pub struct FdTable {
    slots: Vec<Slot>,
    live: usize,
}

fn index(fd: RawFd) -> io::Result<usize> {
    usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))
}

fn not_found() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "fd is not registered with this base",
    )
}

impl FdTable {
    /// An empty table.
    pub fn new() -> FdTable {
        FdTable::default()
    }

    /// The number of registered fds.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no fd is registered.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The live entry for `fd`, if registered.
    pub fn get(&self, fd: RawFd) -> Option<Entry> {
        let slot = self.slots.get(usize::try_from(fd).ok()?)?;
        slot.live.then_some(Entry {
            token: Token(slot.token),
            interest: slot.interest,
            generation: slot.generation,
        })
    }

    /// The entry for `fd` if it is registered *with this generation*: the check a
    /// backend makes right before each callback. `None` means the event is stale.
    pub fn live(&self, fd: RawFd, generation: u32) -> Option<Entry> {
        self.get(fd).filter(|e| e.generation == generation)
    }

    /// Arms `interest` (added to what is armed) for `fd` with `token`, registering the
    /// fd with a new generation if it is not registered. A known fd takes the new token.
    pub fn add(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<Change> {
        let i = index(fd)?;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, Slot::default());
        }
        let slot = &mut self.slots[i];
        let created = !slot.live;
        if created {
            slot.live = true;
            slot.generation = slot.generation.wrapping_add(1);
            slot.interest = Interest::empty();
            self.live += 1;
        }
        let old = slot.interest;
        slot.token = token.0;
        slot.interest = old | interest;
        Ok(Change {
            old,
            entry: Entry {
                token,
                interest: slot.interest,
                generation: slot.generation,
            },
            created,
        })
    }

    /// Disarms `interest` for a registered `fd` (the fd stays registered, possibly with
    /// no interest). `NotFound` if the fd is not registered.
    pub fn remove_interest(&mut self, fd: RawFd, interest: Interest) -> io::Result<Change> {
        let slot = self
            .slots
            .get_mut(index(fd)?)
            .filter(|s| s.live)
            .ok_or_else(not_found)?;
        let old = slot.interest;
        slot.interest = old.difference(interest);
        Ok(Change {
            old,
            entry: Entry {
                token: Token(slot.token),
                interest: slot.interest,
                generation: slot.generation,
            },
            created: false,
        })
    }

    /// Removes `fd` entirely and returns what it held (its interest tells the backend
    /// whether a kernel registration exists). `NotFound` if the fd is not registered.
    pub fn remove(&mut self, fd: RawFd) -> io::Result<Entry> {
        let slot = self
            .slots
            .get_mut(index(fd)?)
            .filter(|s| s.live)
            .ok_or_else(not_found)?;
        slot.live = false;
        let entry = Entry {
            token: Token(slot.token),
            interest: slot.interest,
            generation: slot.generation,
        };
        slot.interest = Interest::empty();
        self.live -= 1;
        Ok(entry)
    }

    /// Undoes `change` (made on `fd` by [`FdTable::add`] or [`FdTable::remove_interest`])
    /// after the kernel refused it, so the table keeps matching the kernel: a created
    /// registration is removed (its generation stays used), otherwise the old interest
    /// is restored.
    pub fn revert(&mut self, fd: RawFd, change: &Change) {
        if change.created {
            let _ = self.remove(fd);
        } else if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)) {
            if slot.live && slot.generation == change.entry.generation {
                slot.interest = change.old;
            }
        }
    }

    /// Iterates over the registered fds and their entries, lowest fd first.
    pub fn iter(&self) -> impl Iterator<Item = (RawFd, Entry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(fd, s)| {
            s.live.then_some((
                fd as RawFd,
                Entry {
                    token: Token(s.token),
                    interest: s.interest,
                    generation: s.generation,
                },
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_idempotent_and_ops_follow_masks() {
        let mut t = FdTable::new();
        let c = t.add(5, Token(1), Interest::IN).unwrap();
        assert!(c.created);
        assert_eq!(c.op(), Some(Op::Add));
        let c2 = t.add(5, Token(1), Interest::IN).unwrap();
        assert!(!c2.created);
        assert_eq!(c2.op(), None);
        assert_eq!(c2.entry.generation, c.entry.generation);
        let c3 = t.add(5, Token(2), Interest::OUT).unwrap();
        assert_eq!(c3.op(), Some(Op::Modify));
        assert_eq!(c3.added(), Interest::OUT);
        assert_eq!(t.get(5).unwrap().token, Token(2));
        let c4 = t.remove_interest(5, Interest::IN | Interest::OUT).unwrap();
        assert_eq!(c4.op(), Some(Op::Delete));
        assert_eq!(c4.removed(), Interest::IN | Interest::OUT);
        assert_eq!(t.remove_interest(5, Interest::IN).unwrap().op(), None);
        assert_eq!(t.len(), 1);
        let c5 = t.add(5, Token(2), Interest::IN).unwrap();
        t.revert(5, &c5);
        assert_eq!(t.get(5).unwrap().interest, Interest::empty());
        let c6 = t.add(6, Token(3), Interest::IN).unwrap();
        t.revert(6, &c6);
        assert!(t.get(6).is_none());
    }

    #[test]
    fn remove_and_reuse_bumps_generation() {
        let mut t = FdTable::new();
        let g1 = t.add(3, Token(1), Interest::IN).unwrap().entry.generation;
        assert!(t.live(3, g1).is_some());
        let old = t.remove(3).unwrap();
        assert_eq!(old.interest, Interest::IN);
        assert!(t.live(3, g1).is_none());
        assert_eq!(t.remove(3).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(
            t.remove_interest(3, Interest::IN).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let g2 = t.add(3, Token(9), Interest::OUT).unwrap().entry.generation;
        assert_ne!(g1, g2);
        assert!(t.live(3, g1).is_none());
        assert_eq!(t.live(3, g2).unwrap().token, Token(9));
        assert!(!t.is_empty() && t.len() == 1);
        assert_eq!(t.iter().count(), 1);
    }

    #[test]
    fn cookies_round_trip_and_bad_fds_are_rejected() {
        assert_eq!(
            split_cookie(cookie(12345, 0xfeed_f00d)),
            (12345, 0xfeed_f00d)
        );
        let mut t = FdTable::new();
        assert!(t.add(-1, Token(0), Interest::IN).is_err());
        assert_eq!(
            t.remove(70_000).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(t.get(-1).is_none());
    }
}
