//! Base64 for meta `b` keys, with memcached's decoding rules: bytes outside the alphabet
//! are skipped, the remaining symbols must be a non-zero multiple of four, and decoding
//! stops at the first padded block.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The 6-bit value of an alphabet byte; `=` counts as 0; None for anything else.
fn sym(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'=' => Some(0),
        _ => None,
    }
}

/// Decodes `src` into `dst`; None when memcached's decoder fails (it returns 0 then).
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Option<()> {
    let count = src.iter().filter(|&&b| sym(b).is_some()).count();
    if count == 0 || count % 4 != 0 {
        return None;
    }
    dst.clear();
    let mut block = [0u8; 4];
    let mut n = 0;
    let mut pad = 0;
    for &b in src {
        let Some(v) = sym(b) else { continue };
        if b == b'=' {
            pad += 1;
        }
        block[n] = v;
        n += 1;
        if n == 4 {
            dst.push((block[0] << 2) | (block[1] >> 4));
            dst.push((block[1] << 4) | (block[2] >> 2));
            dst.push((block[2] << 6) | block[3]);
            n = 0;
            if pad > 0 {
                match pad {
                    1 => dst.truncate(dst.len() - 1),
                    2 => dst.truncate(dst.len() - 2),
                    _ => return None,
                }
                break;
            }
        }
    }
    if dst.is_empty() {
        return None;
    }
    Some(())
}

/// Appends the padded base64 form of `src` to `out`.
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    for c in src.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        out.push(ALPHABET[(b[0] >> 2) as usize]);
        out.push(ALPHABET[(((b[0] & 3) << 4) | (b[1] >> 4)) as usize]);
        out.push(if c.len() > 1 {
            ALPHABET[(((b[1] & 15) << 2) | (b[2] >> 6)) as usize]
        } else {
            b'='
        });
        out.push(if c.len() > 2 {
            ALPHABET[(b[2] & 63) as usize]
        } else {
            b'='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rules() {
        for s in [&b"f"[..], b"fo", b"foo", b"foob", b"\x00\xff\x10"] {
            let mut e = Vec::new();
            encode(s, &mut e);
            let mut d = Vec::new();
            decode(&e, &mut d).unwrap();
            assert_eq!(d, s);
        }
        let mut e = Vec::new();
        encode(b"foo", &mut e);
        assert_eq!(e, b"Zm9v");
        let mut d = Vec::new();
        assert!(decode(b"Zm9", &mut d).is_none());
        assert!(decode(b"", &mut d).is_none());
        assert!(decode(b"!!!!", &mut d).is_none());
        assert!(decode(b"Zm=v", &mut d).is_some());
        assert!(decode(b"Z===", &mut d).is_none());
    }
}
