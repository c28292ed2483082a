//! The slice of memcached's ASCII protocol the load generator speaks: `get` with one or
//! more keys and `set`, plus an incremental parser for their replies.

use crate::keys::KeySpace;

/// Appends `get <k1> <k2> ...\r\n` for the key ids in `ids`.
pub fn encode_get(keys: &KeySpace, ids: &[u64], out: &mut Vec<u8>) {
    out.extend_from_slice(b"get");
    for &id in ids {
        out.push(b' ');
        keys.write_key(id, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `set <key> 0 0 <len>\r\n<value>\r\n` for key `id`.
pub fn encode_set(keys: &KeySpace, id: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"set ");
    keys.write_key(id, out);
    out.extend_from_slice(b" 0 0 ");
    out.extend_from_slice(keys.value_size().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(keys.value(id));
    out.extend_from_slice(b"\r\n");
}

/// One complete reply unit.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `STORED`.
    Stored,
    /// `VALUE <key> <flags> <bytes> [<cas>]` and its data block.
    Value {
        /// The key the server named.
        key: &'a [u8],
        /// The data block, without its trailing `\r\n`.
        data: &'a [u8],
    },
    /// `END`, closing a retrieval reply.
    End,
}

/// What [`next_reply`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The buffer holds only part of a reply; read more.
    Incomplete,
    /// A reply, and how many bytes it took.
    Reply(Reply<'a>, usize),
}

/// Longest reply line accepted before the stream is declared garbage.
const MAX_LINE: usize = 2048;

/// Parses the reply at the front of `buf`.
///
/// Anything other than `STORED`, `VALUE` and `END` (an `ERROR`, a `SERVER_ERROR`, a
/// malformed header, a data block without its `\r\n`) is an error carrying the offending
/// line, because the load generator only sends requests whose replies it knows.
pub fn next_reply(buf: &[u8]) -> Result<Parsed<'_>, String> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_LINE {
            return Err(format!("reply line longer than {MAX_LINE} bytes"));
        }
        return Ok(Parsed::Incomplete);
    };
    if nl == 0 || buf[nl - 1] != b'\r' {
        return Err(format!(
            "reply line not terminated by \\r\\n: {}",
            shown(&buf[..nl])
        ));
    }
    let line = &buf[..nl - 1];
    let used = nl + 1;
    match line {
        b"STORED" => Ok(Parsed::Reply(Reply::Stored, used)),
        b"END" => Ok(Parsed::Reply(Reply::End, used)),
        _ if line.starts_with(b"VALUE ") => value(buf, line, used),
        _ => Err(format!("unexpected reply: {}", shown(line))),
    }
}

/// Parses a `VALUE` header whose line (without `\r\n`) is `line` and which takes
/// `used` bytes of `buf`, then its data block.
fn value<'a>(buf: &'a [u8], line: &'a [u8], used: usize) -> Result<Parsed<'a>, String> {
    let mut fields = line[6..].split(|&b| b == b' ');
    let key = fields.next().filter(|k| !k.is_empty());
    let flags = fields.next().and_then(number);
    let bytes = fields.next().and_then(number);
    let cas_ok = fields.next().map_or(true, |c| number(c).is_some());
    let (Some(key), Some(_), Some(bytes), true, None) = (key, flags, bytes, cas_ok, fields.next())
    else {
        return Err(format!("malformed VALUE line: {}", shown(line)));
    };
    let bytes = usize::try_from(bytes).map_err(|_| "VALUE length overflows".to_string())?;
    let end = used
        .checked_add(bytes)
        .and_then(|n| n.checked_add(2))
        .ok_or("VALUE length overflows")?;
    if buf.len() < end {
        return Ok(Parsed::Incomplete);
    }
    if &buf[end - 2..end] != b"\r\n" {
        return Err(format!(
            "data block of {} not followed by \\r\\n",
            shown(key)
        ));
    }
    let data = &buf[used..end - 2];
    Ok(Parsed::Reply(Reply::Value { key, data }, end))
}

/// A decimal `u64` field.
fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A line for an error message: lossy UTF-8, at most 120 characters.
fn shown(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks() -> KeySpace {
        KeySpace::new(4, 100, 3).unwrap()
    }

    #[test]
    fn encodes_requests() {
        let mut out = Vec::new();
        encode_get(&ks(), &[1, 22], &mut out);
        assert_eq!(out, b"get k001 k022\r\n");
        out.clear();
        encode_set(&ks(), 2, &mut out);
        assert_eq!(out, b"set k002 0 0 3\r\ncde\r\n");
    }

    #[test]
    fn parses_each_reply_kind() {
        assert_eq!(
            next_reply(b"STORED\r\nEND").unwrap(),
            Parsed::Reply(Reply::Stored, 8)
        );
        assert_eq!(
            next_reply(b"END\r\n").unwrap(),
            Parsed::Reply(Reply::End, 5)
        );
        let buf = b"VALUE k001 0 3\r\nbcd\r\nEND\r\n";
        assert_eq!(
            next_reply(buf).unwrap(),
            Parsed::Reply(
                Reply::Value {
                    key: b"k001",
                    data: b"bcd"
                },
                21
            )
        );
        let with_cas = b"VALUE k 5 0 99\r\n\r\n";
        assert!(matches!(
            next_reply(with_cas).unwrap(),
            Parsed::Reply(Reply::Value { data: b"", .. }, 18)
        ));
    }

    #[test]
    fn waits_for_whole_replies() {
        assert_eq!(next_reply(b"").unwrap(), Parsed::Incomplete);
        assert_eq!(next_reply(b"STOR").unwrap(), Parsed::Incomplete);
        assert_eq!(
            next_reply(b"VALUE k001 0 3\r\nbc").unwrap(),
            Parsed::Incomplete
        );
        assert_eq!(
            next_reply(b"VALUE k001 0 3\r\nbcd\r").unwrap(),
            Parsed::Incomplete
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(next_reply(b"SERVER_ERROR out of memory\r\n").is_err());
        assert!(next_reply(b"ERROR\r\n").is_err());
        assert!(next_reply(b"STORED\n").is_err());
        assert!(next_reply(b"VALUE k001 x 3\r\nabc\r\n").is_err());
        assert!(next_reply(b"VALUE k001 0\r\n").is_err());
        assert!(next_reply(b"VALUE k001 0 3 1 2\r\nabc\r\n").is_err());
        assert!(next_reply(b"VALUE k001 0 3\r\nabcXY").is_err());
        assert!(next_reply(&[b'x'; 3000]).is_err());
    }
}
