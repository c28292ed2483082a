//! C-style number parsing, as memcached's command line uses it.
//!
//! memcached reads most numeric flags with `atoi`/`atof` (garbage reads as 0, trailing junk is
//! ignored) and a few with `safe_strtoul`/`safe_strtol` (whole string must be a number). The
//! validation messages users see depend on which one is used, so evcached mirrors both.

/// `atoi`: skip leading whitespace, optional sign, then as many digits as there are; 0 when
/// none. The value saturates like `strtol` into 64 bits and is then truncated to `int`, as
/// glibc's `atoi` does.
pub(crate) fn atoi(s: &str) -> i32 {
    strtol_prefix(s).0 as i32
}

/// `strtol` on the longest numeric prefix: (value saturated to i64, digits found).
fn strtol_prefix(s: &str) -> (i64, bool) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut value: i64 = 0;
    let mut any = false;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        any = true;
        let d = i64::from(b - b'0');
        value = if neg {
            value.saturating_mul(10).saturating_sub(d)
        } else {
            value.saturating_mul(10).saturating_add(d)
        };
    }
    (value, any)
}

/// `atof`: the longest prefix that is a decimal floating-point number; 0.0 when none.
pub(crate) fn atof(s: &str) -> f64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let b = t.as_bytes();
    let mut end = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let mut mantissa_digits = 0;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
        mantissa_digits += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return 0.0;
    }
    // An exponent counts only when digits follow it.
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'+' || b[e] == b'-') {
            e += 1;
        }
        if e < b.len() && b[e].is_ascii_digit() {
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            end = e;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

/// memcached's `safe_strtoul`: the whole string (after leading whitespace, trailing
/// whitespace allowed) must be an unsigned number that fits 32 bits; a leading `-` is refused.
pub(crate) fn safe_strtoul(s: &str) -> Option<u32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.starts_with('-') {
        return None;
    }
    let (value, any) = strtol_prefix(t);
    if !any || !whole_number(t) {
        return None;
    }
    u32::try_from(value).ok()
}

/// memcached's `safe_strtol`: the whole string must be a signed number that fits 32 bits.
pub(crate) fn safe_strtol(s: &str) -> Option<i32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (value, any) = strtol_prefix(t);
    if !any || !whole_number(t) {
        return None;
    }
    i32::try_from(value).ok()
}

/// True when `t` is `[+-]digits` followed only by whitespace (strtol's end pointer lands on a
/// space or the end, which is what memcached's safe_* helpers accept).
fn whole_number(t: &str) -> bool {
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let digits_end = body.bytes().take_while(u8::is_ascii_digit).count();
    body[digits_end..].bytes().all(|b| b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi("123"), 123);
        assert_eq!(atoi("  -42xyz"), -42);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("1g"), 1);
        // strtol saturates at LONG_MAX, then int truncation keeps the low 32 bits.
        assert_eq!(atoi("99999999999"), 99_999_999_999_i64 as i32);
        assert_eq!(atoi("99999999999999999999999"), -1);
    }

    #[test]
    fn atof_matches_c() {
        assert_eq!(atof("1.25"), 1.25);
        assert_eq!(atof("2abc"), 2.0);
        assert_eq!(atof(".5"), 0.5);
        assert_eq!(atof("1e2x"), 100.0);
        assert_eq!(atof("1e"), 1.0);
        assert_eq!(atof("abc"), 0.0);
        assert_eq!(atof("-0.5"), -0.5);
        assert_eq!(atof("."), 0.0);
    }

    #[test]
    fn safe_parsers_need_whole_numbers() {
        assert_eq!(safe_strtoul("42"), Some(42));
        assert_eq!(safe_strtoul("42 "), Some(42));
        assert_eq!(safe_strtoul("42x"), None);
        assert_eq!(safe_strtoul("-1"), None);
        assert_eq!(safe_strtoul(""), None);
        assert_eq!(safe_strtoul("4294967296"), None);
        assert_eq!(safe_strtol("-5"), Some(-5));
        assert_eq!(safe_strtol("abc"), None);
        assert_eq!(safe_strtol("2147483648"), None);
    }
}
