//! Protocols: bytes in, commands executed against the storage engine, replies out.
//!
//! This layer has no sockets, threads or clocks of its own: the network layer hands it
//! the unparsed input of one connection and an [`Output`] to append replies to, and gets
//! back how many bytes were consumed ([`Progress`]). It is therefore testable and
//! fuzzable on plain byte slices.
//!
//! Protocol negotiation happens on the first byte of a connection ([`Session`]): with
//! `-B auto` a leading `0x80` selects the binary protocol, anything else the text
//! protocol (which also carries the meta commands). The binary protocol and the meta
//! commands (issue 7) plug in at [`Session::step`] and at `ascii`'s two-letter `m*`
//! dispatch; they reuse [`Output`], [`Ctx`] and the engine calls.

pub mod ascii;
pub mod binary;
pub mod exec;
pub mod meta;
pub mod number;
pub mod output;

pub use output::Output;

use crate::server::Shared;
use crate::settings::BindingProtocol;
use crate::stats::ThreadStats;

/// The value bytes replies carry: a refcounted reference into item memory (one chunk of
/// it), released when the bytes have been written. Zero copy: the iovec points into the
/// item.
#[derive(Clone)]
pub struct ValueRef {
    item: evcached_storage::ItemRef,
    chunk: usize,
}

impl ValueRef {
    /// Chunk `chunk` of `item`'s value (0 for ordinary items).
    pub fn new(item: evcached_storage::ItemRef, chunk: usize) -> ValueRef {
        ValueRef { item, chunk }
    }
}

impl AsRef<[u8]> for ValueRef {
    fn as_ref(&self) -> &[u8] {
        match self.item.value() {
            Some(v) => v,
            // Chained (large) items: one slice per chunk.
            None => self
                .item
                .value_chunks()
                .get(self.chunk)
                .copied()
                .unwrap_or(&[]),
        }
    }
}

/// What one step of parsing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// One command (or a piece of swallowed data) was handled; this many input bytes
    /// are done.
    Consumed(usize),
    /// Part of a command's data was taken (a large value streaming into its item); the
    /// command is not finished, so it does not count against the `-R` budget.
    Partial(usize),
    /// The command is incomplete: at least this many bytes (counted from the start of
    /// the input given) are needed before it can be handled.
    NeedMore(usize),
    /// Write what is queued, then close (`quit`).
    Close,
    /// Close now without writing anything more (HTTP request, over-long line, shutdown).
    Abort,
}

/// Everything a command may use besides its bytes.
pub struct Ctx<'a> {
    /// Server-wide state (engine, settings, counters).
    pub shared: &'a Shared,
    /// This worker's counters.
    pub stats: &'a ThreadStats,
    /// Server clock in seconds (for idle tracking).
    pub now: u32,
    /// The request came in a UDP datagram.
    pub udp: bool,
    /// Descriptor of the requesting connection (-1 for UDP), for `stats conns`.
    pub conn_fd: i32,
    /// The caller streams `lru_crawler metadump`: the command leaves its
    /// [`ascii::MetaDump`] in `dump` instead of writing the whole listing.
    pub stream_dumps: bool,
    /// A metadump the last command started, for a streaming caller to take.
    pub dump: Option<Box<ascii::MetaDump>>,
}

impl<'a> Ctx<'a> {
    /// A context for a stream connection.
    pub fn new(shared: &'a Shared, stats: &'a ThreadStats) -> Ctx<'a> {
        Ctx {
            shared,
            stats,
            now: shared.now(),
            udp: false,
            conn_fd: -1,
            stream_dumps: false,
            dump: None,
        }
    }
}

/// Which protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    /// `-B auto` before the first byte.
    Undecided,
    /// Text protocol (classic commands and the meta commands).
    Ascii,
    /// Binary protocol.
    Binary,
}

/// Per-connection protocol state.
pub struct Session {
    proto: Proto,
    /// Data bytes still to discard after a refused store (`conn_swallow`).
    swallow: usize,
    /// A large value being copied into its item as it arrives (`conn_nread`).
    value: Option<ascii::PendingValue>,
}

impl Session {
    /// A fresh session for a new connection under `-B mode`.
    pub fn new(mode: BindingProtocol) -> Session {
        let proto = match mode {
            BindingProtocol::Auto => Proto::Undecided,
            BindingProtocol::Ascii => Proto::Ascii,
            BindingProtocol::Binary => Proto::Binary,
        };
        Session {
            proto,
            swallow: 0,
            value: None,
        }
    }

    /// True when no command is half-handled (no swallow in progress).
    pub fn is_idle(&self) -> bool {
        self.swallow == 0 && self.value.is_none()
    }

    /// Handles the next command in `input` (non-empty).
    pub fn step(
        &mut self,
        input: &[u8],
        out: &mut Output<ValueRef>,
        ctx: &mut Ctx<'_>,
    ) -> Progress {
        if self.swallow > 0 {
            let n = self.swallow.min(input.len());
            self.swallow -= n;
            return if self.swallow == 0 {
                Progress::Consumed(n)
            } else {
                Progress::Partial(n)
            };
        }
        if self.value.is_some() {
            return ascii::continue_value(self, input, out, ctx);
        }
        if self.proto == Proto::Undecided {
            // Negotiation: a first byte of 0x80 is a binary request; anything else is text.
            self.proto = if input[0] == binary::REQ_MAGIC {
                Proto::Binary
            } else {
                Proto::Ascii
            };
        }
        match self.proto {
            Proto::Ascii | Proto::Undecided => ascii::step(self, input, out, ctx),
            Proto::Binary => binary::step(self, input, out, ctx),
        }
    }

    /// Called when more than `MAX_LINE` bytes are buffered: true if the connection must
    /// be closed because the buffered text has no newline and is not a long multiget.
    pub fn line_too_long(&self, buffered: &[u8]) -> bool {
        let binary = self.proto == Proto::Binary
            || (self.proto == Proto::Undecided && buffered.first() == Some(&binary::REQ_MAGIC));
        if self.swallow > 0 || self.value.is_some() || binary {
            return false;
        }
        ascii::line_too_long(buffered)
    }

    /// Starts discarding `n` bytes of data (a refused store's value and its `\r\n`).
    pub(crate) fn start_swallow(&mut self, n: usize) {
        self.swallow = n;
    }
}
