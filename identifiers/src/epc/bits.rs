//! Big-endian bit fields, as EPC binary encodings lay them out (TDS §14.3: the most
//! significant bit of the EPC is transmitted first).

/// Reads fields from a bit string.
#[derive(Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// Bits left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    /// Current bit position.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` (≤ 64) bits as an unsigned integer, or `None` past the end.
    pub fn read(&mut self, n: usize) -> Option<u64> {
        debug_assert!(n <= 64);
        if n > self.remaining() {
            return None;
        }
        let mut v = 0u64;
        for _ in 0..n {
            let bit = (self.bytes[self.pos / 8] >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u64::from(bit);
            self.pos += 1;
        }
        Some(v)
    }

    /// True when every remaining bit is zero.
    pub fn rest_is_zero(&mut self) -> bool {
        while self.remaining() > 0 {
            let n = self.remaining().min(64);
            if self.read(n) != Some(0) {
                return false;
            }
        }
        true
    }
}

/// Builds a bit string.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    len: usize,
}

impl BitWriter {
    /// Appends `v` as an `n`-bit field (zero-extended when `n` is above 64).
    pub fn write(&mut self, v: u64, n: usize) {
        for i in (0..n).rev() {
            if self.len.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = if i >= 64 { 0 } else { ((v >> i) & 1) as u8 };
            let last = self.bytes.len() - 1;
            self.bytes[last] |= bit << (7 - self.len % 8);
            self.len += 1;
        }
    }

    /// Bits written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The bytes, zero-padded to the next byte.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_fields() {
        let mut w = BitWriter::default();
        w.write(0x30, 8);
        w.write(3, 3);
        w.write(5, 3);
        w.write(614141, 24);
        w.write(1, 1);
        assert_eq!(w.len(), 39);
        let bytes = w.into_bytes();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read(8), Some(0x30));
        assert_eq!(r.read(3), Some(3));
        assert_eq!(r.read(3), Some(5));
        assert_eq!(r.read(24), Some(614141));
        assert_eq!(r.read(1), Some(1));
        assert!(r.rest_is_zero());
        assert_eq!(r.read(1), None);
    }
}
