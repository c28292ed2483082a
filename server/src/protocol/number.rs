//! Number parsing with the exact acceptance rules of memcached's `safe_strto*` helpers
//! (`util.c`), which wrap C's `strtol`/`strtoul`/`strtoull`.
//!
//! Why not `str::parse`: memcached accepts leading whitespace, a `+` sign and a trailing
//! whitespace byte, rejects `-N` for unsigned fields only when the wrapped value has its
//! top bit set, and truncates 64-bit results into 32-bit fields. Clients rely on all of it.

/// C's `isspace` in the "C" locale.
pub const fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The common scan: optional leading whitespace, optional sign, decimal digits.
/// Returns (negative, magnitude or None on overflow, rest after the digits), or None
/// when no digit was found (C's `str == endptr`).
fn scan(s: &[u8]) -> Option<(bool, Option<u64>, &[u8])> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut val: Option<u64> = Some(0);
    while i < s.len() && s[i].is_ascii_digit() {
        let d = u64::from(s[i] - b'0');
        val = val
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(d));
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((neg, val, &s[i..]))
}

/// memcached's end check: the digits must be followed by the end of the token or by a
/// whitespace byte.
fn clean_end(rest: &[u8]) -> bool {
    rest.first().map_or(true, |&b| is_c_space(b))
}

/// `strtoull` + memcached's checks: 64-bit unsigned; `-N` is refused when the wrapped
/// result has its top bit set (which is every `-N` with N in 1..=2^63).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    let (neg, mag, rest) = scan(s)?;
    let mag = mag?;
    if !clean_end(rest) {
        return None;
    }
    let v = if neg { mag.wrapping_neg() } else { mag };
    if (v as i64) < 0 && neg {
        return None;
    }
    Some(v)
}

/// `safe_strtoul` into a 32-bit field: parsed as 64-bit unsigned, then truncated
/// (`4294967296` becomes 0).
pub fn parse_u32_trunc(s: &[u8]) -> Option<u32> {
    parse_u64(s).map(|v| v as u32)
}

/// `strtol` (64-bit `long`) with memcached's checks, no truncation.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, mag, rest) = scan(s)?;
    let mag = mag?;
    if !clean_end(rest) {
        return None;
    }
    if neg {
        if mag > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else if mag > i64::MAX as u64 {
        None
    } else {
        Some(mag as i64)
    }
}

/// `safe_strtol` into an `int32_t`: parsed as 64-bit, then truncated to 32 bits.
pub fn parse_i32_trunc(s: &[u8]) -> Option<i32> {
    parse_i64(s).map(|v| v as i32)
}

/// Appends the decimal form of `v` to `out` without allocating.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal form of a signed `v` to `out`.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_rules() {
        assert_eq!(parse_u64(b"12"), Some(12));
        assert_eq!(parse_u64(b"+1"), Some(1));
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"12abc"), None);
        assert_eq!(parse_u64(b"12\r"), Some(12));
        assert_eq!(parse_u64(b"  7 "), Some(7));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u32_trunc(b"4294967296"), Some(0));
        assert_eq!(parse_u32_trunc(b"4294967295"), Some(u32::MAX));
    }

    #[test]
    fn signed_rules() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"+007"), Some(7));
        assert_eq!(parse_i64(b"abc"), None);
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i32_trunc(b"4294967296"), Some(0));
        assert_eq!(parse_i32_trunc(b"2147483647"), Some(i32::MAX));
    }

    #[test]
    fn formatting() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, u64::MAX);
        v.push(b' ');
        push_i64(&mut v, -42);
        assert_eq!(v, b"0 18446744073709551615 -42");
    }
}
