//! Meta flag parsing (memcached's `_meta_flag_preparse`): one pass over the flag words
//! that rejects repeated and unknown flags, decodes a base64 key and parses the numeric
//! tokens. Pure: callable on byte slices (fuzzed).

use std::borrow::Cow;

use super::base64;
use crate::protocol::number::{parse_i32_trunc, parse_u32_trunc, parse_u64};

/// Every meta command counts at most this many words (command, key and flags) plus the
/// terminator token (`MFLAG_MAX_OPT_LENGTH`).
pub const MAX_TOKENS: usize = 20;
/// Longest opaque token including its `O` (`MFLAG_MAX_OPAQUE_LENGTH`).
pub const MAX_OPAQUE: usize = 32;

/// The parsed flags of one meta command.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MetaFlags<'a> {
    /// The key, base64-decoded when `b` was given.
    pub key: Cow<'a, [u8]>,
    /// `b`: the key was base64.
    pub key_binary: bool,
    /// `u`: no LRU bump.
    pub no_update: bool,
    /// `v`: return the value.
    pub value: bool,
    /// `q`: quiet mode.
    pub no_reply: bool,
    /// `I`: invalidate / stale mode.
    pub set_stale: bool,
    /// `N<ttl>`: autovivify with this exptime.
    pub vivify: Option<i32>,
    /// `T<ttl>`: new exptime.
    pub ttl: Option<i32>,
    /// `R<ttl>`: recache threshold.
    pub recache: Option<i32>,
    /// `C<cas>`: compare CAS.
    pub cas: Option<u64>,
    /// `F<flags>`: client flags.
    pub client_flags: u32,
    /// `M<c>`: mode character (0 = none).
    pub mode: u8,
    /// `D<n>`: delta (default 1).
    pub delta: u64,
    /// `J<n>`: initial value (default 0).
    pub initial: u64,
}

/// Parses the flag words `flags` of a command whose key word is `key`. The error is
/// memcached's message (without CRLF).
pub fn parse<'a>(key: &'a [u8], flags: &[&[u8]]) -> Result<MetaFlags<'a>, &'static str> {
    let mut of = MetaFlags {
        key: Cow::Borrowed(key),
        delta: 1,
        ..MetaFlags::default()
    };
    let mut seen = [false; 128];
    let mut err: Option<&'static str> = None;
    let mut errstr = "CLIENT_ERROR bad command line format";
    for tok in flags {
        let Some(&o) = tok.first() else { continue };
        if o >= 127 || seen[o as usize] {
            return Err("CLIENT_ERROR duplicate flag");
        }
        seen[o as usize] = true;
        let arg = &tok[1..];
        let bad_token = "CLIENT_ERROR bad token in command line format";
        match o {
            b'b' => {
                let mut out = Vec::new();
                if base64::decode(key, &mut out).is_some() {
                    of.key = Cow::Owned(out);
                } else {
                    errstr = "CLIENT_ERROR error decoding key";
                    err = Some(errstr);
                    of.key = Cow::Borrowed(&[]);
                }
                of.key_binary = true;
            }
            b'N' | b'T' | b'R' => match parse_i32_trunc(arg) {
                Some(v) => match o {
                    b'N' => of.vivify = Some(v),
                    b'T' => of.ttl = Some(v),
                    _ => of.recache = Some(v),
                },
                None => {
                    errstr = bad_token;
                    err = Some(errstr);
                }
            },
            b'l' | b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'h' => {}
            b'v' => of.value = true,
            b'u' => of.no_update = true,
            b'q' => of.no_reply = true,
            b'F' => match parse_u32_trunc(arg) {
                Some(v) => of.client_flags = v,
                None => err = Some(errstr),
            },
            b'C' => match parse_u64(arg) {
                Some(v) => of.cas = Some(v),
                None => {
                    errstr = bad_token;
                    err = Some(errstr);
                }
            },
            b'M' => {
                if tok.len() != 2 {
                    errstr = "CLIENT_ERROR incorrect length for M token";
                    err = Some(errstr);
                } else {
                    of.mode = tok[1];
                }
            }
            b'J' => match parse_u64(arg) {
                Some(v) => of.initial = v,
                None => {
                    errstr = "CLIENT_ERROR invalid numeric initial value";
                    err = Some(errstr);
                }
            },
            b'D' => match parse_u64(arg) {
                Some(v) => of.delta = v,
                None => {
                    errstr = "CLIENT_ERROR invalid numeric delta value";
                    err = Some(errstr);
                }
            },
            b'I' => of.set_stale = true,
            _ => return Err("CLIENT_ERROR invalid flag"),
        }
    }
    match err {
        // A later error message replaces an earlier one; `F` keeps the current one.
        Some(_) => Err(errstr),
        None => Ok(of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_errors() {
        let f = parse(b"k", &[b"v", b"T30", b"Oabc", b"N5"]).unwrap();
        assert!(f.value);
        assert_eq!(f.ttl, Some(30));
        assert_eq!(f.vivify, Some(5));
        assert_eq!(
            parse(b"k", &[b"v", b"v"]),
            Err("CLIENT_ERROR duplicate flag")
        );
        assert_eq!(parse(b"k", &[b"zz"]), Err("CLIENT_ERROR invalid flag"));
        assert_eq!(parse(b"k", &[b"\xff"]), Err("CLIENT_ERROR duplicate flag"));
        assert_eq!(
            parse(b"k", &[b"Tx"]),
            Err("CLIENT_ERROR bad token in command line format")
        );
        assert_eq!(
            parse(b"k", &[b"Fx"]),
            Err("CLIENT_ERROR bad command line format")
        );
        assert_eq!(
            parse(b"k", &[b"MEE"]),
            Err("CLIENT_ERROR incorrect length for M token")
        );
        assert_eq!(&*parse(b"Zm9v", &[b"b"]).unwrap().key, b"foo");
        assert_eq!(
            parse(b"Zm9", &[b"b"]),
            Err("CLIENT_ERROR error decoding key")
        );
    }
}
