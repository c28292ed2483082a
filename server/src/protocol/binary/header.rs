//! The 24-byte binary protocol header (all fields big-endian), request parsing and
//! response encoding. Pure byte-slice code (fuzzed).

/// Request magic byte.
pub const REQ_MAGIC: u8 = 0x80;
/// Response magic byte.
pub const RES_MAGIC: u8 = 0x81;
/// Header length.
pub const HEADER_LEN: usize = 24;

/// A request header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Magic byte (0x80 for a request).
    pub magic: u8,
    /// Command.
    pub opcode: u8,
    /// Key length.
    pub keylen: u16,
    /// Extras length.
    pub extlen: u8,
    /// Data type (unused, 0).
    pub datatype: u8,
    /// vbucket id (requests) / status (responses).
    pub vbucket: u16,
    /// Extras + key + value length.
    pub bodylen: u32,
    /// Echoed back in the response.
    pub opaque: u32,
    /// CAS to compare (0 = none).
    pub cas: u64,
}

impl Header {
    /// Parses the first 24 bytes of `b`; None if fewer are given.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            magic: b[0],
            opcode: b[1],
            keylen: u16::from_be_bytes([b[2], b[3]]),
            extlen: b[4],
            datatype: b[5],
            vbucket: u16::from_be_bytes([b[6], b[7]]),
            bodylen: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            opaque: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            cas: u64::from_be_bytes([b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]]),
        })
    }
}

/// The fields of a response header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's opcode.
    pub opcode: u8,
    /// Status code.
    pub status: u16,
    /// Key length in the body.
    pub keylen: u16,
    /// Extras length in the body.
    pub extlen: u8,
    /// Total body length.
    pub bodylen: u32,
    /// The request's opaque.
    pub opaque: u32,
    /// CAS of the item concerned (0 for most errors).
    pub cas: u64,
}

impl Response {
    /// Appends the encoded 24-byte header to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(RES_MAGIC);
        buf.push(self.opcode);
        buf.extend_from_slice(&self.keylen.to_be_bytes());
        buf.push(self.extlen);
        buf.push(0);
        buf.extend_from_slice(&self.status.to_be_bytes());
        buf.extend_from_slice(&self.bodylen.to_be_bytes());
        buf.extend_from_slice(&self.opaque.to_be_bytes());
        buf.extend_from_slice(&self.cas.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let mut req = vec![0x80, 0x01, 0, 3, 8, 0, 0, 0, 0, 0, 0, 14, 1, 2, 3, 4];
        req.extend_from_slice(&7u64.to_be_bytes());
        let h = Header::parse(&req).unwrap();
        assert_eq!(h.opcode, 1);
        assert_eq!(h.keylen, 3);
        assert_eq!(h.extlen, 8);
        assert_eq!(h.bodylen, 14);
        assert_eq!(h.opaque, 0x0102_0304);
        assert_eq!(h.cas, 7);
        assert!(Header::parse(&req[..23]).is_none());
        let mut out = Vec::new();
        Response {
            opcode: 1,
            status: 2,
            keylen: 0,
            extlen: 0,
            bodylen: 5,
            opaque: 9,
            cas: 3,
        }
        .encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(out[0], RES_MAGIC);
        assert_eq!(&out[6..8], &[0, 2]);
        assert_eq!(&out[8..12], &[0, 0, 0, 5]);
    }
}
