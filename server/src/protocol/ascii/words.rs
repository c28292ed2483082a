//! memcached's `tokenize_command`: split on single spaces only, at most 23 words per pass;
//! what is left after the 23rd word is kept unsplit (multigets re-split it).

/// Most words split in one pass (memcached's `MAX_TOKENS` 24 minus the terminator).
pub const MAX_WORDS: usize = 23;

/// The words of one command line, borrowed from the read buffer (no allocation).
pub struct Words<'a> {
    w: [&'a [u8]; MAX_WORDS],
    /// Number of words split.
    pub n: usize,
    /// Unsplit remainder after `MAX_WORDS` words (empty if the line ended).
    pub rest: &'a [u8],
}

impl<'a> Words<'a> {
    /// Splits `line` (without its line terminator).
    pub fn split(line: &'a [u8]) -> Words<'a> {
        let mut w: [&'a [u8]; MAX_WORDS] = [&[]; MAX_WORDS];
        let mut n = 0;
        let mut start = 0;
        // Words are the non-empty runs between spaces. The spaces are found eight bytes
        // at a time (a byte loop cost ~10 instructions per byte of a 16-key get line).
        macro_rules! word_ends_at {
            ($end:expr) => {{
                let end = $end;
                if end > start {
                    if n == MAX_WORDS {
                        return Words {
                            w,
                            n,
                            rest: &line[start..],
                        };
                    }
                    w[n] = &line[start..end];
                    n += 1;
                }
                start = end + 1;
            }};
        }
        let mut chunks = line.chunks_exact(8);
        let mut base = 0;
        for c in &mut chunks {
            let mut m = space_mask(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
            while m != 0 {
                word_ends_at!(base + (m.trailing_zeros() / 8) as usize);
                m &= m - 1;
            }
            base += 8;
        }
        for (i, &b) in chunks.remainder().iter().enumerate() {
            if b == b' ' {
                word_ends_at!(base + i);
            }
        }
        let end = line.len();
        if end > start {
            if n == MAX_WORDS {
                return Words {
                    w,
                    n,
                    rest: &line[start..],
                };
            }
            w[n] = &line[start..end];
            n += 1;
        }
        Words { w, n, rest: &[] }
    }

    /// Word `i` (empty past the end).
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        if i < self.n {
            self.w[i]
        } else {
            &[]
        }
    }
}

/// The high bit of every byte of `x` (little-endian lanes) that is a space, and no other
/// bit: exact, unlike the classic "has zero byte" test that may flag a byte after a match.
#[inline]
fn space_mask(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let y = x ^ 0x2020_2020_2020_2020; // spaces become zero bytes
                                       // High bit set for every non-zero byte, without carries between lanes.
    let nonzero = ((y & LOW7) + LOW7) | y;
    !nonzero & 0x8080_8080_8080_8080
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_spaces_only() {
        let w = Words::split(b"  get\ta  b ");
        assert_eq!(w.n, 2);
        assert_eq!(w.get(0), b"get\ta");
        assert_eq!(w.get(1), b"b");
        assert!(w.rest.is_empty());
    }

    #[test]
    fn matches_a_byte_loop_on_mixed_spacing() {
        // The reference: runs of non-space bytes, at most MAX_WORDS, then the rest.
        for line in [
            &b""[..],
            b" ",
            b"get",
            b"get  a   b",
            b"   set k 0 0 5 noreply   ",
            b"a b c d e f g h i j k l m n o p q r s t u v w  x   y z ",
            b"get aaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb c  dd\x80\xa0 \xff\x20\x21 e",
        ] {
            let w = Words::split(line);
            let words: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|x| !x.is_empty())
                .collect();
            let n = words.len().min(MAX_WORDS);
            assert_eq!(w.n, n);
            for (i, word) in words.iter().take(n).enumerate() {
                assert_eq!(w.get(i), *word);
            }
            if words.len() > MAX_WORDS {
                let first_rest = words[MAX_WORDS];
                let at = first_rest.as_ptr() as usize - line.as_ptr() as usize;
                assert_eq!(w.rest, &line[at..]);
            } else {
                assert!(w.rest.is_empty());
            }
        }
    }

    #[test]
    fn keeps_rest_after_23_words() {
        let line: Vec<u8> = (0..30)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes();
        let w = Words::split(&line);
        assert_eq!(w.n, 23);
        assert_eq!(w.rest, b"k23 k24 k25 k26 k27 k28 k29");
    }
}
