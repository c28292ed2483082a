//! Keys, values and the per-connection random sequence.
//!
//! Keys are `k` followed by the zero-padded key id, exactly `key_size` bytes, so every
//! key of a keyspace has the same length and two runs with the same settings touch the
//! same keys. The value of key `id` is a window of a repeating alphabet that starts at
//! `id % 26`: deterministic (a get can be checked byte for byte) and allocation-free.

/// How keys and values are spelled for one run.
#[derive(Clone, Debug)]
pub struct KeySpace {
    key_size: usize,
    count: u64,
    value_size: usize,
    /// `value_size + 26` bytes of `abc..zabc..`; the value of `id` starts at `id % 26`.
    pattern: Vec<u8>,
}

/// Letters in the value alphabet.
const ALPHABET: usize = 26;

impl KeySpace {
    /// A keyspace of `count` keys of `key_size` bytes with values of `value_size` bytes.
    ///
    /// Fails when the key cannot hold `k` plus the largest id, or is longer than the
    /// protocol's 250 bytes.
    pub fn new(key_size: usize, count: u64, value_size: usize) -> Result<Self, String> {
        if count == 0 {
            return Err("keyspace must hold at least one key".into());
        }
        let digits = (count - 1).to_string().len();
        if key_size < digits + 1 {
            return Err(format!(
                "key size {key_size} cannot hold {count} distinct keys (needs at least {})",
                digits + 1
            ));
        }
        if key_size > 250 {
            return Err(format!(
                "key size {key_size} exceeds memcached's 250-byte limit"
            ));
        }
        let pattern = (0..value_size + ALPHABET)
            .map(|i| b'a' + (i % ALPHABET) as u8)
            .collect();
        Ok(Self {
            key_size,
            count,
            value_size,
            pattern,
        })
    }

    /// Number of distinct keys.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Length of every key in bytes.
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// Length of every value in bytes.
    pub fn value_size(&self) -> usize {
        self.value_size
    }

    /// Appends the key of `id` to `out`.
    pub fn write_key(&self, id: u64, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.key_size, b'0');
        out[start] = b'k';
        let mut n = id;
        let mut pos = start + self.key_size;
        // Digits from the right; the zeros already in place are the padding.
        loop {
            pos -= 1;
            out[pos] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
    }

    /// True when `key` is the spelling of `id`.
    pub fn key_matches(&self, id: u64, key: &[u8]) -> bool {
        if key.len() != self.key_size || key[0] != b'k' {
            return false;
        }
        let mut n = id;
        for &b in key[1..].iter().rev() {
            if b != b'0' + (n % 10) as u8 {
                return false;
            }
            n /= 10;
        }
        n == 0
    }

    /// The value stored under key `id`.
    pub fn value(&self, id: u64) -> &[u8] {
        let start = (id % ALPHABET as u64) as usize;
        &self.pattern[start..start + self.value_size]
    }
}

/// SplitMix64: a tiny, fast, well-distributed generator; one per connection so each
/// connection walks its own reproducible key sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator for connection `conn` of a run seeded with `seed`.
    pub fn for_connection(seed: u64, conn: u64) -> Self {
        Self(seed ^ conn.wrapping_add(1).wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`), by multiply-shift (no modulo bias worth noting).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_width_and_round_trip() {
        let ks = KeySpace::new(8, 1000, 5).unwrap();
        let mut out = Vec::new();
        ks.write_key(7, &mut out);
        assert_eq!(out, b"k0000007");
        assert!(ks.key_matches(7, b"k0000007"));
        assert!(!ks.key_matches(8, b"k0000007"));
        assert!(!ks.key_matches(7, b"k000007"));
        out.clear();
        ks.write_key(999, &mut out);
        assert_eq!(out, b"k0000999");
    }

    #[test]
    fn key_size_must_fit_the_keyspace() {
        assert!(KeySpace::new(3, 1000, 1).is_err());
        assert!(KeySpace::new(4, 1000, 1).is_ok());
        assert!(KeySpace::new(251, 10, 1).is_err());
        assert!(KeySpace::new(10, 0, 1).is_err());
    }

    #[test]
    fn values_depend_on_the_key() {
        let ks = KeySpace::new(4, 100, 4).unwrap();
        assert_eq!(ks.value(0), b"abcd");
        assert_eq!(ks.value(27), b"bcde");
        assert_eq!(KeySpace::new(4, 1, 0).unwrap().value(0), b"");
    }

    #[test]
    fn connections_get_distinct_sequences() {
        let mut a = SplitMix64::for_connection(1, 0);
        let mut b = SplitMix64::for_connection(1, 1);
        let xs: Vec<u64> = (0..4).map(|_| a.below(1_000_000)).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.below(1_000_000)).collect();
        assert_ne!(xs, ys);
        let mut again = SplitMix64::for_connection(1, 0);
        let zs: Vec<u64> = (0..4).map(|_| again.below(1_000_000)).collect();
        assert_eq!(xs, zs);
        assert!(xs.iter().all(|&x| x < 1_000_000));
    }
}
