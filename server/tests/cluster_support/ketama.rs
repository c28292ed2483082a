//! twemproxy 0.5.0's ketama continuum and `fnv1a_64` key hash, recomputed from its documented
//! behaviour so tests can predict which backend owns a key (and where it goes after ejection).
//!
//! Each live server contributes 160 points: for `i` in `0..40`, the MD5 of `"<name>-<i>"`
//! yields four little-endian `u32` points. A key goes to the first point at or after its hash,
//! wrapping to the first point. The key hash named `fnv1a_64` in twemproxy is FNV-1a computed
//! in 32 bits with the 64-bit constants truncated.

use md5::{Digest, Md5};

/// Points each server of equal weight places on the continuum.
const POINTS_PER_SERVER: usize = 160;
/// Points taken from one MD5 digest.
const POINTS_PER_HASH: usize = 4;

/// A ketama continuum over the live servers of a pool.
#[derive(Debug, Clone)]
pub struct Ring {
    /// (point, server index) sorted by point.
    points: Vec<(u32, usize)>,
}

impl Ring {
    /// The continuum twemproxy builds for `names` (all weight 1), skipping servers whose
    /// `live` entry is false (ejected).
    pub fn new(names: &[String], live: &[bool]) -> Ring {
        let mut points = Vec::with_capacity(names.len() * POINTS_PER_SERVER);
        for (index, name) in names.iter().enumerate() {
            if !live[index] {
                continue;
            }
            for group in 0..POINTS_PER_SERVER / POINTS_PER_HASH {
                let digest = Md5::digest(format!("{name}-{group}").as_bytes());
                for chunk in digest.chunks_exact(4) {
                    let point = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
                    points.push((point, index));
                }
            }
        }
        points.sort_by_key(|&(point, _)| point);
        Ring { points }
    }

    /// The index of the server that owns `key`.
    pub fn pick(&self, key: &[u8]) -> usize {
        let hash = fnv1a_64(key);
        let at = self.points.partition_point(|&(point, _)| point < hash);
        self.points[if at == self.points.len() { 0 } else { at }].1
    }
}

/// twemproxy's `fnv1a_64`: FNV-1a over 32-bit arithmetic (offset basis and prime truncated),
/// each key byte sign-extended as a C `char` would be.
pub fn fnv1a_64(key: &[u8]) -> u32 {
    const OFFSET: u32 = 0xcbf2_9ce4_8422_2325_u64 as u32;
    const PRIME: u32 = 0x0100_0000_01b3_u64 as u32;
    key.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ (byte as i8 as i32 as u32)).wrapping_mul(PRIME)
    })
}
