//! The protocol layer alone: [`Session::step`] fed a byte stream cut into chunks, with the
//! connection's framing rules (call `step` while input is buffered, wait for more on
//! `NeedMore`, close on an over-long line) and the invariants every step must keep.

use evcached::net::conn::{MAX_LINE, OUT_LIMIT};
use evcached::protocol::{Ctx, Output, Progress, Session, ValueRef};
use evcached::server::Shared;
use evcached::stats::ThreadStats;

/// The most a binary request header with its extras and key can span.
pub const BINARY_HEAD_MAX: usize = 24 + 255 + 65535;

/// How a delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Every byte was handled and the connection stays open.
    Open,
    /// `quit`: queued replies are written, then the connection closes.
    Quit,
    /// Closed without writing what was queued (HTTP request line, `shutdown`).
    Abort,
    /// Closed because more than `MAX_LINE` bytes arrived without a newline.
    TooLong,
}

/// What the client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// Every reply byte, in order.
    pub out: Vec<u8>,
    /// How it ended.
    pub end: End,
    /// Per handled command (reference deliveries only): its reply's range in `out`, and
    /// whether it discards the replies not yet written before it.
    pub steps: Vec<Step>,
}

/// One handled command of a reference delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Its reply bytes in [`Transcript::out`].
    pub reply: std::ops::Range<usize>,
    /// A retrieval refused for an over-long key: memcached (and evcached) drop every
    /// reply of the connection not yet written, so how many earlier replies survive
    /// depends on how the input was cut.
    pub drops_unsent: bool,
}

/// Is this step a retrieval refused for an over-long key (see [`Step::drops_unsent`])?
fn drops_unsent(line: &[u8], reply: &[u8]) -> bool {
    if reply != b"CLIENT_ERROR bad command line format\r\n" {
        return false;
    }
    let word = line
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .find(|w| !w.is_empty())
        .unwrap_or(b"");
    matches!(word, b"get" | b"gets" | b"gat" | b"gats" | b"bget")
}

/// Cuts `len` bytes into chunks: `None` = one chunk, `Some(0)` = byte by byte, otherwise
/// pseudo-random chunk sizes (1..=64, sometimes larger) from the seed.
pub fn cuts(len: usize, pattern: Option<u64>) -> Vec<usize> {
    let mut v = Vec::new();
    match pattern {
        None => v.push(len),
        Some(0) => v.extend(std::iter::repeat(1).take(len)),
        Some(seed) => {
            let mut rng = crate::rng::Rng::new(seed);
            let mut left = len;
            while left > 0 {
                let n = if rng.one_in(8) {
                    1 + rng.below(4096)
                } else {
                    1 + rng.below(64)
                };
                let n = n.min(left);
                v.push(n);
                left -= n;
            }
        }
    }
    v
}

/// Delivers `input` in chunks of the sizes `chunks` gives (they sum to its length) to a
/// fresh [`Session`] on `shared`, flushing replies after every step, and checks the
/// step contract on the way. Panics when a rule is broken.
pub fn deliver(shared: &Shared, input: &[u8], chunks: &[usize]) -> Transcript {
    let stats = ThreadStats::default();
    let mut sess = Session::new(shared.protocol_mode);
    let mut out: Output<ValueRef> = Output::new();
    let mut got = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let item_max = shared.settings.item_size_max;
    let mut off = 0usize;
    let mut steps = Vec::new();
    let mut need = 0usize;
    // Where the current command's reply starts, and its first bytes (set by the first
    // step of a command; a streamed value takes several `Partial` steps).
    let mut cmd: Option<(usize, Vec<u8>)> = None;
    let mut streaming = false;
    for &n in chunks {
        let chunk = &input[off..off + n];
        off += n;
        buf.drain(..pos);
        pos = 0;
        buf.extend_from_slice(chunk);
        while pos < buf.len() {
            let avail = &buf[pos..];
            if avail.len() < need {
                break; // NeedMore said so; the connection target covers re-asking early
            }
            let mut ctx = Ctx::new(shared, &stats);
            let before = out.pending();
            assert!(before == 0, "replies left unflushed between steps");
            // Until part of it is consumed, each attempt sees more of the command line.
            if !streaming {
                cmd = Some((
                    cmd.map_or(got.len(), |c| c.0),
                    avail[..avail.len().min(512)].to_vec(),
                ));
            }
            let mut finished = true;
            match sess.step(avail, &mut out, &mut ctx) {
                Progress::Consumed(k) => {
                    assert!(
                        k > 0 && k <= avail.len(),
                        "step consumed {k} of {} bytes",
                        avail.len()
                    );
                    pos += k;
                    need = 0;
                }
                Progress::Partial(k) => {
                    assert!(
                        k > 0 && k <= avail.len(),
                        "partial step took {k} of {} bytes",
                        avail.len()
                    );
                    pos += k;
                    need = 0;
                    finished = false;
                    streaming = true;
                }
                Progress::NeedMore(total) => {
                    assert!(
                        total > avail.len(),
                        "NeedMore({total}) with {} bytes buffered",
                        avail.len()
                    );
                    // Unbounded buffering: what a command may ask to be buffered is its
                    // line plus at most one item's value and CRLF (a binary request: its
                    // header, extras and key, at most 24 + 255 + 65535 bytes, plus one value).
                    let line_end = avail
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(avail.len(), |p| p + 1);
                    assert!(
                        total <= line_end + item_max + 2 + BINARY_HEAD_MAX,
                        "NeedMore({total}) exceeds the line ({line_end}) + item limit ({item_max})"
                    );
                    assert!(
                        out.pending() == 0,
                        "a step that needs more input queued a reply"
                    );
                    need = total;
                    break;
                }
                Progress::Close => {
                    let start = cmd.take().map_or(got.len(), |c| c.0);
                    out.copy_pending(&mut got);
                    steps.push(Step {
                        reply: start..got.len(),
                        drops_unsent: false,
                    });
                    return Transcript {
                        out: got,
                        end: End::Quit,
                        steps,
                    };
                }
                Progress::Abort => {
                    return Transcript {
                        out: got,
                        end: End::Abort,
                        steps,
                    };
                }
            }
            assert!(
                out.pending() < OUT_LIMIT * 64,
                "one command queued {} bytes",
                out.pending()
            );
            out.copy_pending(&mut got);
            let p = out.pending();
            out.advance(p);
            if finished {
                streaming = false;
                let (start, line) = cmd.take().unwrap_or((got.len(), Vec::new()));
                steps.push(Step {
                    drops_unsent: drops_unsent(&line, &got[start..]),
                    reply: start..got.len(),
                });
            }
        }
        let rest = &buf[pos..];
        if rest.len() > MAX_LINE && sess.line_too_long(rest) {
            return Transcript {
                out: got,
                end: End::TooLong,
                steps,
            };
        }
        // Bounded buffering: more than a line without a newline is only ever kept for a
        // multiget line (bounded by MAX_GET_LINE) or while a value is awaited.
        if rest.len() > MAX_LINE && !rest.contains(&b'\n') && sess.is_idle() {
            assert!(
                rest.len() <= evcached::protocol::ascii::MAX_GET_LINE + n,
                "{} bytes buffered without a newline",
                rest.len()
            );
        }
    }
    Transcript {
        out: got,
        end: End::Open,
        steps,
    }
}

/// Replaces the value of every `STAT name value` line (text) or stat response (binary),
/// and the times in metadump lines, by `*`: counters such as `bytes_read`, `rusage_*` or
/// `time` legitimately differ between deliveries.
pub fn normalize(out: &[u8]) -> Vec<u8> {
    if out.first() == Some(&0x81) {
        return normalize_binary(out);
    }
    let mut v = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"STAT ") {
            let body = &line[5..];
            if let Some(sp) = body.iter().position(|&b| b == b' ') {
                v.extend_from_slice(b"STAT ");
                v.extend_from_slice(&body[..sp]);
                v.extend_from_slice(b" *\r\n");
                continue;
            }
        }
        if line.starts_with(b"key=") {
            // metadump: `exp=` and `la=` are wall-clock times.
            let mut first = true;
            for word in line.split(|&b| b == b' ') {
                if !first {
                    v.push(b' ');
                }
                first = false;
                if word.starts_with(b"exp=") || word.starts_with(b"la=") {
                    let eq = word.iter().position(|&b| b == b'=').unwrap_or(0);
                    v.extend_from_slice(&word[..=eq]);
                    v.push(b'*');
                    if word.ends_with(b"\n") {
                        v.extend_from_slice(b"\r\n");
                    }
                } else {
                    v.extend_from_slice(word);
                }
            }
            continue;
        }
        v.extend_from_slice(line);
    }
    v
}

/// Binary responses: the value of each stat response (opcode 0x10) becomes `*`, with
/// the body length field left as is.
fn normalize_binary(out: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(out.len());
    let mut rest = out;
    while rest.len() >= 24 && rest[0] == 0x81 {
        let keylen = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let extlen = usize::from(rest[4]);
        let body = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let Some(frame) = rest.get(..24 + body) else {
            break;
        };
        if rest[1] == 0x10 && extlen + keylen <= body {
            v.extend_from_slice(&frame[..24 + extlen + keylen]);
            v.push(b'*');
        } else {
            v.extend_from_slice(frame);
        }
        rest = &rest[24 + body..];
    }
    v.extend_from_slice(rest);
    v
}

/// The reference with every step's reply normalised (see [`normalize`]).
fn normalized(t: &Transcript) -> Transcript {
    let mut out = Vec::with_capacity(t.out.len());
    let mut steps = Vec::with_capacity(t.steps.len());
    let mut covered = 0;
    for st in &t.steps {
        // Bytes between steps cannot exist (every reply belongs to a step), but keep any.
        out.extend_from_slice(&normalize(&t.out[covered..st.reply.start]));
        let start = out.len();
        out.extend_from_slice(&normalize(&t.out[st.reply.clone()]));
        steps.push(Step {
            reply: start..out.len(),
            drops_unsent: st.drops_unsent,
        });
        covered = st.reply.end;
    }
    out.extend_from_slice(&normalize(&t.out[covered..]));
    Transcript {
        out,
        end: t.end,
        steps,
    }
}

/// Checks a delivery against the byte-by-byte reference (a [`deliver`] result, which
/// writes every reply as soon as it is made):
///
/// * reference open or quit: the same replies, and the same open/closed state; except
///   that replies still unwritten when a retrieval with an over-long key ran may be
///   missing (memcached 1.6.18 discards them too; see [`Step::drops_unsent`]);
/// * reference closed early (over-long line, HTTP request, `shutdown`): a delivery in
///   bigger chunks may have handled more before closing, or lost the replies queued in
///   the same read (memcached does both), so the two must only agree on their common
///   part (not checked when replies were dropped as above);
/// * `lru_crawler metadump` with commands pipelined behind it: only the replies before it.
pub fn check_against(reference: &Transcript, other: &Transcript, what: &str) {
    let r = normalized(reference);
    let a = &r.out;
    let b = normalize(&other.out);
    let dropping = r.steps.iter().any(|s| s.drops_unsent);
    // `lru_crawler metadump` refuses to run with more commands pipelined behind it in
    // the same read (memcached 1.6.18 does the same), so from there on the replies depend
    // on the chunking: only the part before it must agree.
    const METADUMP: &[u8] = b"ERROR cannot pipeline other commands before metadump\r\n";
    if let Some(at) = find(&b, METADUMP).filter(|_| find(a, METADUMP).is_none()) {
        if (a.len() >= at && a[..at] == b[..at])
            || (dropping && matches_with_drops(&r, &b[..at], true))
        {
            return;
        }
    }
    let ok = match reference.end {
        End::Open | End::Quit => {
            (reference.end == End::Open) == (other.end == End::Open)
                && (*a == b || (dropping && matches_with_drops(&r, &b, false)))
        }
        End::Abort | End::TooLong => {
            let n = a.len().min(b.len());
            dropping || a[..n] == b[..n]
        }
    };
    if !ok {
        panic!(
            "{what}: replies differ from byte-by-byte delivery\n  byte-by-byte ({:?}): {}\n  {what} ({:?}): {}",
            reference.end,
            crate::escape(a),
            other.end,
            crate::escape(&b)
        );
    }
}

/// What a delivery that may drop unsent replies could have produced, given the reference
/// steps: true if `other` is the reference's replies with some removed, where every run of
/// removed replies is directly followed by a kept dropping step (the replies not yet
/// written when it ran; a later dropping step may also remove an earlier one's reply).
/// With `prefix_only`, `other` may also stop early (closed connections).
pub fn matches_with_drops(reference: &Transcript, other: &[u8], prefix_only: bool) -> bool {
    let steps = &reference.steps;
    let mut failed = std::collections::HashSet::new();
    // Depth-first over (step, position in `other`, inside a removed run).
    let mut stack = vec![(0usize, 0usize, false)];
    while let Some((i, pos, removing)) = stack.pop() {
        if !failed.insert((i, pos, removing)) {
            continue;
        }
        if i == steps.len() {
            if !removing && pos == other.len() {
                return true;
            }
            continue;
        }
        let reply = &reference.out[steps[i].reply.clone()];
        // Remove step i (its run must end at a kept dropping step).
        stack.push((i + 1, pos, true));
        // Keep step i.
        if removing && !steps[i].drops_unsent {
            continue;
        }
        let avail = &other[pos..];
        if avail.len() >= reply.len() {
            if avail[..reply.len()] == *reply {
                stack.push((i + 1, pos + reply.len(), false));
            }
        } else if prefix_only && reply.starts_with(avail) {
            return true;
        }
    }
    false
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
