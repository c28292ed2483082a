//! The server clock: memcached's relative seconds.
//!
//! Like memcached, the clock starts at 62 relative seconds with `process_started` set 62
//! seconds before the real start, so `uptime = current_time - 60` starts at 2. It moves only
//! when [`Clock::tick`] re-reads the monotonic clock (the server's dispatcher calls it once a
//! second) or when [`Clock::advance`] adds seconds by hand (tests).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// memcached's REALTIME_MAXDELTA: exptimes above 30 days are absolute Unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;
const START: u32 = 62;

/// Relative server time.
pub struct Clock {
    started: Instant,
    process_started: i64,
    offset: AtomicU32,
    current: AtomicU32,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Clock {
            started: Instant::now(),
            process_started: unix as i64 - i64::from(START),
            offset: AtomicU32::new(0),
            current: AtomicU32::new(START),
        }
    }

    /// Current relative time in seconds.
    #[inline]
    pub fn now(&self) -> u32 {
        self.current.load(Relaxed)
    }

    /// Unix time at relative time 0.
    pub fn process_started(&self) -> i64 {
        self.process_started
    }

    /// `stats uptime`.
    pub fn uptime(&self) -> u32 {
        self.now() - (START - 2)
    }

    /// `stats time`: the server's idea of the current Unix time.
    pub fn unix_time(&self) -> i64 {
        self.process_started + i64::from(self.now())
    }

    /// Re-reads the monotonic clock.
    pub fn tick(&self) {
        let secs = self
            .started
            .elapsed()
            .as_secs()
            .min(u64::from(u32::MAX / 2)) as u32;
        let v = START + secs + self.offset.load(Relaxed);
        self.current.fetch_max(v, Relaxed);
    }

    /// Moves the clock forward by `secs` (tests, or a manual clock).
    pub fn advance(&self, secs: u32) {
        self.offset.fetch_add(secs, Relaxed);
        self.current.fetch_add(secs, Relaxed);
    }

    /// Converts a client exptime to relative time, memcached's `realtime()` after the
    /// 32-bit truncation of `strtol` into an int: 0 = never, negative = already expired,
    /// up to 30 days = relative, larger = absolute Unix time (at or before the start:
    /// already expired).
    pub fn realtime(&self, exptime: i64) -> u32 {
        let e = i64::from(exptime as i32);
        if e == 0 {
            return 0;
        }
        if e < 0 {
            return 1;
        }
        if e > REALTIME_MAXDELTA {
            if e <= self.process_started {
                1
            } else {
                (e - self.process_started).min(i64::from(u32::MAX)) as u32
            }
        } else {
            (e + i64::from(self.now())).min(i64::from(u32::MAX)) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_rules() {
        let c = Clock::new();
        assert_eq!(c.now(), 62);
        assert_eq!(c.uptime(), 2);
        assert_eq!(c.realtime(0), 0);
        assert_eq!(c.realtime(-1), 1);
        assert_eq!(c.realtime(10), 72);
        assert_eq!(c.realtime(REALTIME_MAXDELTA), REALTIME_MAXDELTA as u32 + 62);
        // Absolute in the past (before start) → expired at once.
        assert_eq!(c.realtime(REALTIME_MAXDELTA + 1), 1);
        // Absolute in the future.
        let abs = c.unix_time() + 100;
        assert_eq!(c.realtime(abs), 162);
        // 32-bit truncation: 2^32 → 0 → never expires.
        assert_eq!(c.realtime(4_294_967_296), 0);
        c.advance(5);
        assert_eq!(c.now(), 67);
        c.tick();
        assert!(c.now() >= 67);
    }
}
