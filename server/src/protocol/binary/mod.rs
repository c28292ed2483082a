//! The binary protocol (deprecated in memcached 1.6 but still served): every opcode
//! memcached 1.6.18 answers, its status codes and messages, quiet variants, CAS and opaque
//! handling. Malformed headers get memcached's answer: a bad magic byte closes the
//! connection, inconsistent lengths get an error and then a close, unknown opcodes an
//! error with the body skipped. Bodies are only buffered when they are bounded (keys and
//! extras, or values that fit the item size limit); anything else is skipped.

pub mod header;
mod ops;

pub use header::{Header, Response, HEADER_LEN, REQ_MAGIC};

use super::{Ctx, Output, Progress, Session, ValueRef};

/// Opcodes.
pub mod op {
    /// Get a value.
    pub const GET: u8 = 0x00;
    /// Store unconditionally.
    pub const SET: u8 = 0x01;
    /// Store if absent.
    pub const ADD: u8 = 0x02;
    /// Store if present.
    pub const REPLACE: u8 = 0x03;
    /// Delete.
    pub const DELETE: u8 = 0x04;
    /// Increment (delta, initial, expiration).
    pub const INCREMENT: u8 = 0x05;
    /// Decrement (delta, initial, expiration).
    pub const DECREMENT: u8 = 0x06;
    /// Reply, then close.
    pub const QUIT: u8 = 0x07;
    /// Invalidate every item (optional delay).
    pub const FLUSH: u8 = 0x08;
    /// Get, misses silent.
    pub const GETQ: u8 = 0x09;
    /// No operation (flushes a quiet pipeline).
    pub const NOOP: u8 = 0x0a;
    /// Server version.
    pub const VERSION: u8 = 0x0b;
    /// Get with the key in the reply.
    pub const GETK: u8 = 0x0c;
    /// Get with key, misses silent.
    pub const GETKQ: u8 = 0x0d;
    /// Append to a value.
    pub const APPEND: u8 = 0x0e;
    /// Prepend to a value.
    pub const PREPEND: u8 = 0x0f;
    /// Statistics, one packet each.
    pub const STAT: u8 = 0x10;
    /// Set, success silent.
    pub const SETQ: u8 = 0x11;
    /// Add, success silent.
    pub const ADDQ: u8 = 0x12;
    /// Replace, success silent.
    pub const REPLACEQ: u8 = 0x13;
    /// Delete, success silent.
    pub const DELETEQ: u8 = 0x14;
    /// Increment, success silent.
    pub const INCREMENTQ: u8 = 0x15;
    /// Decrement, success silent.
    pub const DECREMENTQ: u8 = 0x16;
    /// Close without a reply.
    pub const QUITQ: u8 = 0x17;
    /// Flush, success silent.
    pub const FLUSHQ: u8 = 0x18;
    /// Append, success silent.
    pub const APPENDQ: u8 = 0x19;
    /// Prepend, success silent.
    pub const PREPENDQ: u8 = 0x1a;
    /// Set a new exptime.
    pub const TOUCH: u8 = 0x1c;
    /// Get and touch.
    pub const GAT: u8 = 0x1d;
    /// Get and touch, misses silent.
    pub const GATQ: u8 = 0x1e;
    /// SASL mechanisms (unknown without SASL).
    pub const SASL_LIST_MECHS: u8 = 0x20;
    /// SASL authentication (unknown without SASL).
    pub const SASL_AUTH: u8 = 0x21;
    /// SASL step (unknown without SASL).
    pub const SASL_STEP: u8 = 0x22;
    /// Get and touch with the key.
    pub const GATK: u8 = 0x23;
    /// Get and touch with key, misses silent.
    pub const GATKQ: u8 = 0x24;
}

/// Status codes.
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0x00;
    /// Key not found.
    pub const KEY_ENOENT: u16 = 0x01;
    /// Key exists / CAS mismatch.
    pub const KEY_EEXISTS: u16 = 0x02;
    /// Value too large.
    pub const E2BIG: u16 = 0x03;
    /// Invalid arguments.
    pub const EINVAL: u16 = 0x04;
    /// Not stored.
    pub const NOT_STORED: u16 = 0x05;
    /// Incr/decr on a non-numeric value.
    pub const DELTA_BADVAL: u16 = 0x06;
    /// Authentication error (also: flush disabled).
    pub const AUTH_ERROR: u16 = 0x20;
    /// Unknown command.
    pub const UNKNOWN_COMMAND: u16 = 0x81;
    /// Out of memory.
    pub const ENOMEM: u16 = 0x82;
}

/// memcached's message for an error status.
pub fn status_message(s: u16) -> &'static [u8] {
    match s {
        status::ENOMEM => b"Out of memory",
        status::UNKNOWN_COMMAND => b"Unknown command",
        status::KEY_ENOENT => b"Not found",
        status::EINVAL => b"Invalid arguments",
        status::KEY_EEXISTS => b"Data exists for key.",
        status::E2BIG => b"Too large.",
        status::DELTA_BADVAL => b"Non-numeric server-side value for incr or decr",
        status::NOT_STORED => b"Not stored.",
        status::AUTH_ERROR => b"Auth failure.",
        _ => b"UNHANDLED ERROR",
    }
}

/// The non-quiet form of a quiet opcode, and whether it was quiet.
pub fn unquiet(opcode: u8) -> (u8, bool) {
    use op::*;
    match opcode {
        GETQ => (GET, true),
        GETKQ => (GETK, true),
        SETQ => (SET, true),
        ADDQ => (ADD, true),
        REPLACEQ => (REPLACE, true),
        DELETEQ => (DELETE, true),
        INCREMENTQ => (INCREMENT, true),
        DECREMENTQ => (DECREMENT, true),
        QUITQ => (QUIT, true),
        FLUSHQ => (FLUSH, true),
        APPENDQ => (APPEND, true),
        PREPENDQ => (PREPEND, true),
        GATQ => (GAT, true),
        GATKQ => (GATK, true),
        o => (o, false),
    }
}

/// What the header alone says about a request, before its body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a request: close at once.
    BadMagic,
    /// Answer this status, then close (inconsistent lengths, bad arguments).
    Fatal(u16),
    /// Answer "Unknown command" and skip the body.
    Unknown,
    /// A valid request: `need` bytes (header included) must be buffered before it is
    /// handled; for stores, `value` more bytes follow (the value).
    Valid {
        /// Header, extras and key.
        need: usize,
        /// Value bytes after the key.
        value: usize,
    },
}

/// Checks a header the way memcached's `dispatch_bin_command` does. Pure (fuzzed).
pub fn classify(h: &Header) -> Verdict {
    use op::*;
    if h.magic != REQ_MAGIC {
        return Verdict::BadMagic;
    }
    let (ext, key, body) = (
        usize::from(h.extlen),
        usize::from(h.keylen),
        h.bodylen as usize,
    );
    if key > body || key + ext > body {
        return Verdict::Fatal(status::UNKNOWN_COMMAND);
    }
    if key > super::ascii::KEY_MAX_LENGTH {
        return Verdict::Fatal(status::EINVAL);
    }
    let head = HEADER_LEN + ext + key;
    let ok = |cond: bool, value: usize| {
        if cond {
            Verdict::Valid { need: head, value }
        } else {
            Verdict::Fatal(status::EINVAL)
        }
    };
    let (cmd, _) = unquiet(h.opcode);
    match cmd {
        VERSION | NOOP | QUIT | SASL_LIST_MECHS => ok(ext == 0 && key == 0 && body == 0, 0),
        FLUSH => ok(key == 0 && body == ext && (ext == 0 || ext == 4), 0),
        SET | ADD | REPLACE => ok(ext == 8 && key != 0 && body >= key + 8, body - key - ext),
        GET | GETK => ok(ext == 0 && body == key && key > 0, 0),
        DELETE => ok(key > 0 && ext == 0 && body == key, 0),
        INCREMENT | DECREMENT => ok(key > 0 && ext == 20 && body == key + ext, 0),
        APPEND | PREPEND => ok(key > 0 && ext == 0, body - key),
        STAT => ok(ext == 0, 0),
        SASL_AUTH | SASL_STEP => ok(ext == 0 && key != 0, body - key),
        TOUCH | GAT | GATK => ok(ext == 4 && key != 0, 0),
        _ => Verdict::Unknown,
    }
}

/// Appends a response: header, then `extras`, `key` and `value` bytes.
pub(crate) fn respond(
    out: &mut Output<ValueRef>,
    req: &Header,
    status: u16,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    let buf = out.text_buf();
    let start = buf.len();
    Response {
        opcode: req.opcode,
        status,
        keylen: key.len() as u16,
        extlen: extras.len() as u8,
        bodylen: (extras.len() + key.len() + value.len()) as u32,
        opaque: req.opaque,
        cas,
    }
    .encode(buf);
    buf.extend_from_slice(extras);
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    out.commit_text(start);
    out.end_object();
}

/// Appends an error response with memcached's message.
pub(crate) fn error(out: &mut Output<ValueRef>, req: &Header, status: u16) {
    respond(out, req, status, 0, &[], &[], status_message(status));
}

/// Skips `n` bytes after `consumed` (a body memcached swallows).
fn skip(sess: &mut Session, input: &[u8], consumed: usize, n: usize) -> Progress {
    let have = input.len() - consumed;
    if have >= n {
        return Progress::Consumed(consumed + n);
    }
    sess.start_swallow(n - have);
    Progress::Consumed(input.len())
}

/// A quiet request that sent nothing still had its (empty) response object in memcached,
/// which UDP framing shows when it comes first: mark it.
fn quiet_object(out: &mut Output<ValueRef>, quiet: bool, objects_before: usize) {
    if quiet && out.objects().len() == objects_before {
        out.mark_object();
    }
}

/// Handles the next binary request in `input`.
pub fn step(
    sess: &mut Session,
    input: &[u8],
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Progress {
    let Some(h) = Header::parse(input) else {
        return Progress::NeedMore(HEADER_LEN);
    };
    if h.magic == REQ_MAGIC {
        // memcached reads extras and key (at most 64 KiB) before it looks at the opcode.
        let head = HEADER_LEN + usize::from(h.extlen) + usize::from(h.keylen);
        if input.len() < head {
            return Progress::NeedMore(head);
        }
    }
    match classify(&h) {
        // Replies already queued still go out.
        Verdict::BadMagic => Progress::Close,
        Verdict::Fatal(s) => {
            error(out, &h, s);
            Progress::Close
        }
        Verdict::Unknown => {
            // memcached reads extras and key, then skips `bodylen` more bytes.
            error(out, &h, status::UNKNOWN_COMMAND);
            let n = usize::from(h.extlen) + usize::from(h.keylen) + h.bodylen as usize;
            skip(sess, input, HEADER_LEN, n)
        }
        Verdict::Valid { need, value } => {
            if input.len() < need {
                return Progress::NeedMore(need);
            }
            let (cmd, quiet) = unquiet(h.opcode);
            if matches!(cmd, op::SASL_AUTH | op::SASL_STEP) {
                // Built without SASL: unknown, and the mechanism data is skipped.
                error(out, &h, status::UNKNOWN_COMMAND);
                return skip(sess, input, need, h.bodylen as usize + HEADER_LEN - need);
            }
            let ext = &input[HEADER_LEN..HEADER_LEN + usize::from(h.extlen)];
            let key = &input[HEADER_LEN + usize::from(h.extlen)..need];
            let req = ops::Request {
                h: &h,
                cmd,
                quiet,
                ext,
                key,
            };
            if matches!(
                cmd,
                op::SET | op::ADD | op::REPLACE | op::APPEND | op::PREPEND
            ) {
                if let Some(status) = ops::refuse_store(&req, value, ctx) {
                    error(out, &h, status);
                    return skip(sess, input, need, value);
                }
                let total = need + value;
                if input.len() < total {
                    return Progress::NeedMore(total);
                }
                let objects = out.objects().len();
                ops::store(&req, &input[need..total], out, ctx);
                quiet_object(out, quiet, objects);
                return Progress::Consumed(total);
            }
            let objects = out.objects().len();
            let progress = ops::run(&req, out, ctx).unwrap_or(Progress::Consumed(need));
            quiet_object(out, quiet, objects);
            progress
        }
    }
}
