//! The reply buffer of one connection: small reply text plus zero-copy value segments.
//!
//! Replies are appended in order. Text (status lines, `VALUE` headers, numbers) goes into
//! one reusable byte buffer; values are referenced by a handle (`V`, the storage engine's
//! refcounted item reference) so the bytes are written straight from item memory and the
//! item stays alive until they are sent. The network layer turns the pending part into
//! an iovec list with [`Output::fill_iovecs`] and reports progress with [`Output::advance`].
//! Nothing here allocates once the vectors have reached their working size.

use std::io::IoSlice;

/// One ordered piece of the reply stream.
enum Seg<V> {
    /// `text[start..end]`.
    Text { start: usize, end: usize },
    /// A value held by reference until written, with its length (so progress and
    /// truncation need not look into item memory again).
    Value(V, usize),
}

/// Pending reply bytes for one connection (or one UDP request).
pub struct Output<V> {
    text: Vec<u8>,
    segs: Vec<Seg<V>>,
    /// First segment not fully written.
    head: usize,
    /// Bytes of `segs[head]` already written.
    head_off: usize,
    /// Bytes appended and not yet written.
    pending: usize,
    /// Byte offsets (in the stream since the last reset) where a response object ends;
    /// only recorded when `track_objects` is on (UDP framing needs them).
    objects: Vec<usize>,
    track_objects: bool,
    /// Total bytes appended since the last reset (for object offsets).
    appended: usize,
}

impl<V: AsRef<[u8]>> Default for Output<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: AsRef<[u8]>> Output<V> {
    /// An empty output.
    pub fn new() -> Self {
        Output {
            text: Vec::new(),
            segs: Vec::new(),
            head: 0,
            head_off: 0,
            pending: 0,
            objects: Vec::new(),
            track_objects: false,
            appended: 0,
        }
    }

    /// Turns recording of response-object boundaries on (UDP) or off (streams).
    pub fn set_track_objects(&mut self, on: bool) {
        self.track_objects = on;
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Segments (text runs and values) not fully written: the iovecs a flush needs.
    pub fn segments_pending(&self) -> usize {
        self.segs.len() - self.head
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Appends reply text.
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let start = self.text.len();
        self.text.extend_from_slice(bytes);
        self.extend_text(start);
    }

    /// Gives direct access to the text buffer for formatting; call [`Output::commit_text`]
    /// with the length it had before writing.
    pub fn text_buf(&mut self) -> &mut Vec<u8> {
        &mut self.text
    }

    /// Registers text written through [`Output::text_buf`] since `start`.
    pub fn commit_text(&mut self, start: usize) {
        if self.text.len() > start {
            self.extend_text(start);
        }
    }

    fn extend_text(&mut self, start: usize) {
        let end = self.text.len();
        let added = end - start;
        self.pending += added;
        self.appended += added;
        if let Some(Seg::Text { end: e, .. }) = self.segs.last_mut() {
            if *e == start {
                *e = end;
                return;
            }
        }
        self.segs.push(Seg::Text { start, end });
    }

    /// Appends a value by reference (zero copy).
    pub fn push_value(&mut self, v: V) {
        let n = v.as_ref().len();
        if n == 0 {
            return;
        }
        self.pending += n;
        self.appended += n;
        self.segs.push(Seg::Value(v, n));
    }

    /// Appends a value by reference whose length the caller already knows
    /// (`len == v.as_ref().len()`), saving a look into the value.
    pub fn push_value_sized(&mut self, v: V, len: usize) {
        debug_assert_eq!(len, v.as_ref().len());
        if len == 0 {
            return;
        }
        self.pending += len;
        self.appended += len;
        self.segs.push(Seg::Value(v, len));
    }

    /// Marks the end of one response object (a `VALUE` block, an `END`, a status line).
    pub fn end_object(&mut self) {
        if self.track_objects && self.objects.last() != Some(&self.appended) {
            self.objects.push(self.appended);
        }
    }

    /// Marks a response-object boundary even when the object is empty (memcached starts a
    /// new response object for every key of a multiget, hit or miss; UDP framing shows
    /// an empty first object as a header-only datagram).
    pub fn mark_object(&mut self) {
        if self.track_objects {
            self.objects.push(self.appended);
        }
    }

    /// Object end offsets recorded since the last reset.
    pub fn objects(&self) -> &[usize] {
        &self.objects
    }

    /// Drops everything appended after `mark` bytes (used when a multiget aborts and its
    /// queued values must not be sent). `mark` comes from [`Output::appended`] and must
    /// not be older than the last write.
    pub fn truncate_to(&mut self, mark: usize) {
        while self.appended > mark {
            let Some(seg) = self.segs.last_mut() else {
                break;
            };
            let excess = self.appended - mark;
            match seg {
                Seg::Text { start, end } => {
                    let len = *end - *start;
                    if len > excess {
                        *end -= excess;
                        self.text.truncate(*end);
                        self.appended -= excess;
                        self.pending -= excess;
                    } else {
                        self.text.truncate(*start);
                        self.appended -= len;
                        self.pending -= len;
                        self.segs.pop();
                    }
                }
                Seg::Value(_, len) => {
                    let len = *len;
                    if len > excess {
                        break; // partly written already: it has to go out whole
                    }
                    self.appended -= len;
                    self.pending -= len;
                    self.segs.pop();
                }
            }
        }
        while self.objects.last().is_some_and(|&o| o > mark) {
            self.objects.pop();
        }
    }

    /// Total bytes appended since the last reset (a mark for [`Output::truncate_to`]).
    pub fn appended(&self) -> usize {
        self.appended
    }

    fn seg_bytes<'a>(&'a self, seg: &'a Seg<V>) -> &'a [u8] {
        match seg {
            Seg::Text { start, end } => &self.text[*start..*end],
            Seg::Value(v, _) => v.as_ref(),
        }
    }

    /// Fills `iov` with the pending bytes in order; returns how many entries were used.
    pub fn fill_iovecs<'a>(&'a self, iov: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, seg) in self.segs[self.head..].iter().enumerate() {
            if n == iov.len() {
                break;
            }
            let bytes = self.seg_bytes(seg);
            let bytes = if i == 0 {
                &bytes[self.head_off..]
            } else {
                bytes
            };
            iov[n] = IoSlice::new(bytes);
            n += 1;
        }
        n
    }

    /// Copies all pending bytes into `dst` (used by UDP framing and tests).
    pub fn copy_pending(&self, dst: &mut Vec<u8>) {
        for (i, seg) in self.segs[self.head..].iter().enumerate() {
            let bytes = self.seg_bytes(seg);
            dst.extend_from_slice(if i == 0 {
                &bytes[self.head_off..]
            } else {
                bytes
            });
        }
    }

    /// Records that `n` pending bytes were written; releases what is done.
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.pending);
        if n == self.pending {
            // Everything went out (the usual case): no walk over the segments.
            self.reset();
            return;
        }
        self.pending -= n;
        while n > 0 {
            let len = match &self.segs[self.head] {
                Seg::Text { start, end } => end - start,
                Seg::Value(_, len) => *len,
            } - self.head_off;
            if n >= len {
                n -= len;
                // Release the item reference as soon as its bytes are out.
                if let Seg::Value(..) = self.segs[self.head] {
                    self.segs[self.head] = Seg::Text { start: 0, end: 0 };
                }
                self.head += 1;
                self.head_off = 0;
            } else {
                self.head_off += n;
                n = 0;
            }
        }
        if self.pending == 0 {
            self.reset();
        }
    }

    /// Discards everything (sent or not) and keeps the capacity.
    pub fn reset(&mut self) {
        self.text.clear();
        self.segs.clear();
        self.objects.clear();
        self.head = 0;
        self.head_off = 0;
        self.pending = 0;
        self.appended = 0;
    }

    /// Shrinks the buffers back when they grew past `keep` bytes/entries while idle.
    pub fn shrink_idle(&mut self, keep: usize) {
        if self.pending == 0 {
            if self.text.capacity() > keep {
                self.text = Vec::new();
            }
            if self.segs.capacity() > keep / 16 {
                self.segs = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(o: &Output<Vec<u8>>) -> Vec<u8> {
        let mut v = Vec::new();
        o.copy_pending(&mut v);
        v
    }

    #[test]
    fn text_and_values_in_order_with_partial_writes() {
        let mut o: Output<Vec<u8>> = Output::new();
        o.push(b"VALUE a 0 3\r\n");
        o.push_value(b"xyz\r\n".to_vec());
        o.push(b"END\r\n");
        assert_eq!(flat(&o), b"VALUE a 0 3\r\nxyz\r\nEND\r\n");
        let mut iov = [IoSlice::new(&[]); 8];
        assert_eq!(o.fill_iovecs(&mut iov), 3);
        o.advance(14);
        assert_eq!(flat(&o), b"yz\r\nEND\r\n");
        o.advance(9);
        assert!(o.is_empty());
        assert_eq!(o.appended(), 0);
    }

    #[test]
    fn sized_values_count_segments_and_survive_partial_writes() {
        let mut o: Output<Vec<u8>> = Output::new();
        o.push(b"VALUE k 0 4\r\n");
        o.push_value_sized(b"abcd".to_vec(), 4);
        o.push(b"\r\nEND\r\n");
        assert_eq!(o.segments_pending(), 3);
        assert_eq!(o.pending(), 13 + 4 + 7);
        o.advance(15); // into the value
        assert_eq!(o.segments_pending(), 2);
        assert_eq!(flat(&o), b"cd\r\nEND\r\n");
        o.advance(o.pending()); // the rest at once
        assert!(o.is_empty());
        assert_eq!(o.segments_pending(), 0);
        assert_eq!(o.appended(), 0);
    }

    #[test]
    fn truncate_drops_queued_values() {
        let mut o: Output<Vec<u8>> = Output::new();
        o.push(b"OK\r\n");
        let mark = o.appended();
        o.push(b"VALUE a 0 1\r\n");
        o.push_value(b"x\r\n".to_vec());
        o.truncate_to(mark);
        o.push(b"CLIENT_ERROR bad command line format\r\n");
        assert_eq!(flat(&o), b"OK\r\nCLIENT_ERROR bad command line format\r\n");
    }
}
