//! Server-side counters: per-worker command counters and process-wide connection counters.
//!
//! Each worker owns one [`ThreadStats`] and is its only writer (relaxed atomics, so
//! another thread can read them for `stats` without locks); `stats` sums all of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fm])* pub $f: AtomicU64,)*
        }

        impl $name {
            /// Zeroes every counter (`stats reset`).
            pub fn reset(&self) {
                $(self.$f.store(0, Relaxed);)*
            }

            /// Adds every counter of `other` into `self`.
            pub fn add_from(&self, other: &$name) {
                $(self.$f.fetch_add(other.$f.load(Relaxed), Relaxed);)*
            }
        }
    };
}

counters! {
    /// Counters one worker thread updates while serving connections (the command counters
    /// live in the storage engine, which counts what it executes).
    ThreadStats {
        /// Meta commands.
        meta_cmds,
        /// flush_all commands refused by -F (memcached still counts them in cmd_flush).
        flush_refused,
        /// Bytes read from clients.
        bytes_read,
        /// Bytes written to clients.
        bytes_written,
        /// Connections that yielded after -R commands.
        conn_yields,
        /// Connections closed for idleness.
        idle_kicks,
    }
}

counters! {
    /// Process-wide connection counters (dispatcher and workers).
    ConnStats {
        /// Open client connections (listeners excluded).
        curr_connections,
        /// Connections accepted since start.
        total_connections,
        /// Connections refused for the limit.
        rejected_connections,
        /// Connection structures allocated.
        connection_structures,
        /// Times accept was paused (EMFILE).
        listen_disabled_num,
        /// Microseconds accept was paused.
        time_in_listen_disabled_us,
        /// 1 unless accept is paused.
        accepting_conns,
    }
}

impl ConnStats {
    /// Zeroes what `stats reset` zeroes (not the gauges).
    pub fn reset_counters(&self) {
        self.total_connections.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.listen_disabled_num.store(0, Relaxed);
        self.time_in_listen_disabled_us.store(0, Relaxed);
    }
}

/// Increments a single-writer counter (plain load + store: no locked instruction on the
/// hot path; a concurrent `stats reset` may be lost, as in memcached).
#[inline]
pub fn bump(c: &AtomicU64) {
    add(c, 1);
}

/// Adds to a single-writer counter (see [`bump`]).
#[inline]
pub fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}
