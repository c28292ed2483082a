//! The memcached text protocol: line framing, tokenizing and command dispatch, with
//! memcached 1.6.18's exact replies for good and bad input.

mod admin;
mod dump;
mod retrieval;
mod stats;
mod storage;
mod words;

use super::{Ctx, Output, Progress, Session, ValueRef};
pub use dump::{MetaDump, DUMP_BATCH};
pub use storage::{continue_value, PendingValue};
pub use words::Words;

/// Keys longer than this are refused (`KEY_MAX_LENGTH`).
pub const KEY_MAX_LENGTH: usize = 250;
/// A multiget line may grow to this many bytes before the connection is closed.
/// (memcached lets it grow without bound; evcached bounds it.)
pub const MAX_GET_LINE: usize = 8 * 1024 * 1024;

/// Replies used in many places.
pub(crate) const ERROR: &[u8] = b"ERROR\r\n";
pub(crate) const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";

/// Appends a one-line reply unless `noreply`.
#[inline]
pub(crate) fn reply(out: &mut Output<ValueRef>, noreply: bool, msg: &[u8]) {
    if !noreply {
        out.push(msg);
        out.end_object();
    }
}

/// memcached's `set_noreply_maybe`: the last word is exactly `noreply`.
#[inline]
pub(crate) fn noreply_of(w: &Words<'_>) -> bool {
    w.n >= 1 && w.get(w.n - 1) == b"noreply"
}

/// True when buffered input without a newline must close the connection: more than
/// 2048 bytes that are not a (long) `get`/`gets` line.
pub fn line_too_long(buffered: &[u8]) -> bool {
    if memchr::memchr(b'\n', buffered).is_some() {
        return false;
    }
    let spaces = buffered.iter().take_while(|&&b| b == b' ').count();
    let rest = &buffered[spaces..];
    if spaces > 100 || !(rest.starts_with(b"get ") || rest.starts_with(b"gets ")) {
        return true;
    }
    buffered.len() > MAX_GET_LINE
}

/// Handles one command line (and its data block for storage commands).
pub fn step(
    sess: &mut Session,
    input: &[u8],
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Progress {
    let Some(nl) = memchr::memchr(b'\n', input) else {
        return Progress::NeedMore(input.len() + 1);
    };
    let mut line = &input[..nl];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let consumed = nl + 1;
    let w = Words::split(line);
    if w.n == 0 || w.get(0).len() < 2 {
        reply(out, false, ERROR);
        return Progress::Consumed(consumed);
    }
    let cmd = w.get(0);
    let nt = w.n + 1; // memcached's ntokens (words + terminator)
    macro_rules! want {
        ($ok:expr) => {
            if !$ok {
                reply(out, false, ERROR);
                return Progress::Consumed(consumed);
            }
        };
    }
    let done = Progress::Consumed(consumed);
    match cmd[0] {
        b'm' if cmd.len() == 2 => {
            match cmd[1] {
                b'n' => {
                    out.push(b"MN\r\n");
                    out.end_object();
                }
                c => return super::meta::step(sess, c, &w, input, consumed, out, ctx),
            }
            done
        }
        b'g' => {
            want!(nt >= 3);
            match cmd {
                b"get" => retrieval::get(&w, out, ctx, false, false),
                b"gets" => retrieval::get(&w, out, ctx, true, false),
                b"gat" => retrieval::get(&w, out, ctx, false, true),
                b"gats" => retrieval::get(&w, out, ctx, true, true),
                _ => reply(out, false, ERROR),
            }
            done
        }
        b's' => match cmd {
            b"set" => {
                want!(nt == 6 || nt == 7);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Set)
            }
            b"stats" => {
                stats::stats(&w, out, ctx);
                done
            }
            b"shutdown" => {
                if admin::shutdown(&w, out, ctx) {
                    Progress::Abort
                } else {
                    done
                }
            }
            b"slabs" => {
                admin::slabs(&w, out, ctx);
                done
            }
            _ => {
                reply(out, false, ERROR);
                done
            }
        },
        b'a' => match cmd {
            b"add" => {
                want!(nt == 6 || nt == 7);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Add)
            }
            b"append" => {
                want!(nt == 6 || nt == 7);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Append)
            }
            _ => {
                reply(out, false, ERROR);
                done
            }
        },
        b'c' => match cmd {
            b"cas" => {
                want!(nt == 7 || nt == 8);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Cas)
            }
            b"cache_memlimit" => {
                want!(nt == 3 || nt == 4);
                admin::memlimit(&w, out, ctx);
                done
            }
            _ => {
                reply(out, false, ERROR);
                done
            }
        },
        b'i' => {
            if cmd == b"incr" {
                want!(nt == 4 || nt == 5);
                storage::arith(&w, out, ctx, true);
            } else {
                reply(out, false, ERROR);
            }
            done
        }
        b'd' => {
            match cmd {
                b"delete" => {
                    want!((3..=5).contains(&nt));
                    storage::delete(&w, out, ctx);
                }
                b"decr" => {
                    want!(nt == 4 || nt == 5);
                    storage::arith(&w, out, ctx, false);
                }
                _ => reply(out, false, ERROR),
            }
            done
        }
        b't' => {
            if cmd == b"touch" {
                want!(nt == 4 || nt == 5);
                storage::touch(&w, out, ctx);
            } else {
                reply(out, false, ERROR);
            }
            done
        }
        _ => match cmd {
            b"replace" => {
                want!(nt == 6 || nt == 7);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Replace)
            }
            b"prepend" => {
                want!(nt == 6 || nt == 7);
                storage::update(sess, &w, input, consumed, out, ctx, storage::Kind::Prepend)
            }
            b"bget" => {
                want!(nt >= 3);
                retrieval::get(&w, out, ctx, false, false);
                done
            }
            b"flush_all" => {
                want!((2..=4).contains(&nt));
                admin::flush_all(&w, out, ctx);
                done
            }
            b"version" => {
                out.push(b"VERSION ");
                out.push(crate::settings::MEMCACHED_VERSION.as_bytes());
                out.push(b"\r\n");
                out.end_object();
                done
            }
            b"quit" => Progress::Close,
            b"lru_crawler" => {
                admin::lru_crawler(&w, out, ctx);
                done
            }
            b"verbosity" => {
                want!(nt == 3 || nt == 4);
                admin::verbosity(&w, out, ctx);
                done
            }
            b"lru" => {
                want!(nt >= 3);
                admin::lru(&w, out, ctx);
                done
            }
            _ if w.get(w.n - 1).starts_with(b"HTTP/") => Progress::Abort,
            _ => {
                reply(out, false, ERROR);
                done
            }
        },
    }
}
