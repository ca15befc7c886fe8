//! Secret tokens (sessions, invitations, password resets, personal API tokens): 256 random bits,
//! given to their owner once as text and kept by the server only as their SHA-256.

use sha2::{Digest, Sha256};

/// A token's text, as its owner holds it: `<prefix>_<64 hex>`. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

/// What the server keeps of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl SecretToken {
    /// A fresh random token; `prefix` says what it is for (`fls` session, `flt` API token…), so
    /// a leaked one is recognised.
    pub fn generate(prefix: &str) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{prefix}_{}", crate::server::to_hex(&bytes))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken([redacted])")
    }
}

impl TokenHash {
    /// The hash of a token as a client presented it.
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// The hash whose lowercase hex (`server::to_hex`, as the account page names a session) is
    /// `text`.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed_the_way_clients_present_them() {
        let a = SecretToken::generate("fls").unwrap();
        let b = SecretToken::generate("fls").unwrap();
        assert_ne!(a, b);
        let (prefix, hex) = a.expose().split_once('_').unwrap();
        assert_eq!(prefix, "fls");
        assert!(hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()), "256 bits as hex");
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(hex), "Debug shows no secret");
        assert_eq!(TokenHash::from_hex(&crate::server::to_hex(&a.hash().0)), Some(a.hash()));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"é".repeat(32)), None);
    }
}
