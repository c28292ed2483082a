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
        let mut i = 0;
        let len = line.len();
        while i < len {
            while i < len && line[i] == b' ' {
                i += 1;
            }
            if i == len {
                break;
            }
            if n == MAX_WORDS {
                return Words {
                    w,
                    n,
                    rest: &line[i..],
                };
            }
            let start = i;
            while i < len && line[i] != b' ' {
                i += 1;
            }
            w[n] = &line[start..i];
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
