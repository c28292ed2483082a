//! Shared harness for the pool tests: backends and nutcracker started on loopback ephemeral
//! ports and killed by PID, a small blocking ASCII-protocol client, and twemproxy's ketama ring
//! recomputed so a test can say which backend a key must live on.
//!
//! The backend binary is `$EVCACHED_CLUSTER_BACKEND` when set (a path, or a name on `PATH` such
//! as `memcached`), else the `evcached` binary cargo built for these tests.

// Each test file uses a different subset of this module and of its re-exports.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod ketama;
pub mod procs;
#[path = "../support/scratch.rs"]
pub mod scratch;

pub use client::{Conn, Item};
pub use ketama::Ring;
pub use procs::{backend_bin, Backend, Pool, PoolOptions, Scratch};

/// A deterministic value of `len` bytes for key number `seed`: every byte value occurs,
/// `\r\n` included, so a framing bug shows up as a mismatch.
pub fn value(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (seed.wrapping_mul(31).wrapping_add(j.wrapping_mul(7))) as u8)
        .collect()
}
