//! SHA-256 helpers and the two short forms the vault uses in names.

use sha2::{Digest, Sha256};

/// Full lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The first 16 hex digits of a full hex digest (`sha16` in the vault format).
pub fn sha16(full_hex: &str) -> &str {
    &full_hex[..16.min(full_hex.len())]
}

/// Lowercase hex of any byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An incremental SHA-256 with a byte count, for data that streams past.
#[derive(Default, Clone)]
pub struct StreamHasher {
    inner: Sha256,
    size: u64,
}

impl StreamHasher {
    /// Start an empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.inner.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finish: the full hex digest and the byte count.
    pub fn finish(self) -> (String, u64) {
        (hex(&self.inner.finalize()), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_of_abc() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha16(&sha256_hex(b"abc")), "ba7816bf8f01cfea");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = StreamHasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), (sha256_hex(b"abc"), 3));
    }
}
