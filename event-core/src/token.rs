//! The caller's opaque registration key.

/// An opaque value the caller attaches to a registration and gets back with every event.
///
/// The base never interprets it. evcached packs a slab slot (low 32 bits) and a
/// generation (high 32 bits) into it, so a reused slot never receives an event meant
/// for its previous occupant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

impl Token {
    /// Packs a slot index and a generation into one token.
    pub const fn from_parts(slot: u32, generation: u32) -> Token {
        Token(((generation as u64) << 32) | slot as u64)
    }

    /// The slot index packed by [`Token::from_parts`].
    pub const fn slot(self) -> u32 {
        self.0 as u32
    }

    /// The generation packed by [`Token::from_parts`].
    pub const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn parts_round_trip() {
        let t = Token::from_parts(7, 0xdead_beef);
        assert_eq!(t.slot(), 7);
        assert_eq!(t.generation(), 0xdead_beef);
    }
}
