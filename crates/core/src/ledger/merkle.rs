//! The Merkle tree of a ledger object's entries: RFC 6962 §2.1 (RFC 9162
//! §2.1.1), with SHA-256 and its domain separation, so that a leaf can never
//! be passed off as a node:
//!
//! ```text
//! leaf hash  = SHA-256(0x00 || leaf bytes)
//! node hash  = SHA-256(0x01 || left || right)
//! empty tree = SHA-256("")            (a day with no conversation)
//! one leaf   = its leaf hash
//! n leaves   = node(root of the first k, root of the rest), k the largest power of two < n
//! ```
//!
//! Computed level by level, the same tree pairs nodes left to right and
//! carries an odd last node up **unchanged** (it is never paired with a copy
//! of itself, as Bitcoin's tree does, which lets two lists share a root).
//! [`Root`] builds it incrementally with one node per level (O(log n) memory),
//! as the entries stream past in order.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of a tree fed one leaf hash at a time, in order.
#[derive(Debug, Clone, Default)]
pub struct Root {
    /// Roots of perfect subtrees, left to right, with their heights (strictly
    /// decreasing): the binary digits of the count so far.
    stack: Vec<(u32, Hash)>,
}

impl Root {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append the next leaf's hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != node.0 {
                break;
            }
            self.stack.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
    }

    /// The root: the perfect subtrees joined from the right.
    pub fn finish(mut self) -> Hash {
        let Some((_, mut right)) = self.stack.pop() else {
            return Sha256::digest(b"").into();
        };
        while let Some((_, left)) = self.stack.pop() {
            right = node_hash(&left, &right);
        }
        right
    }
}

/// The root over `leaves` (leaf hashes, in order).
pub fn root(leaves: impl IntoIterator<Item = Hash>) -> Hash {
    let mut r = Root::new();
    for l in leaves {
        r.push(l);
    }
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hex;

    /// RFC 6962's recursive definition, word for word.
    fn rfc6962(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&rfc6962(&leaves[..k]), &rfc6962(&leaves[k..]))
            }
        }
    }

    /// The level-by-level form docs/vault-format.md gives (and the Python
    /// check script uses): pair left to right, carry an odd last node up.
    fn levels(leaves: &[Hash]) -> Hash {
        if leaves.is_empty() {
            return Sha256::digest(b"").into();
        }
        let mut level = leaves.to_vec();
        while level.len() > 1 {
            let mut next: Vec<Hash> = level
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            if level.len() % 2 == 1 {
                next.push(level[level.len() - 1]);
            }
            level = next;
        }
        level[0]
    }

    #[test]
    fn the_streamed_root_is_rfc_6962s_and_the_level_form_is_the_same_tree() {
        let leaves: Vec<Hash> = (0..130u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 0..=leaves.len() {
            let want = rfc6962(&leaves[..n]);
            assert_eq!(root(leaves[..n].iter().copied()), want, "n={n}");
            assert_eq!(levels(&leaves[..n]), want, "n={n}");
        }
    }

    #[test]
    fn known_answers() {
        // The empty tree is SHA-256 of nothing (RFC 6962 §2.1).
        assert_eq!(
            hex(&root([])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962's leaf hash of the empty leaf, as Certificate Transparency
        // logs publish it: SHA-256(0x00).
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // An odd node is carried up, not paired with itself.
        let (a, b, c) = (leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"));
        assert_eq!(root([a, b, c]), node_hash(&node_hash(&a, &b), &c));
        assert_ne!(root([a, b, c]), root([a, b, c, c]));
    }
}
