//! Stable redaction tokens: the same secret becomes the same token within
//! one bundle, so an analyst still sees that two pods share a password,
//! while a token says nothing about the value outside that bundle.
//!
//! A token is `[REDACTED:<hex>]`, `<hex>` being the first 8 hex digits of
//! HMAC-SHA256 of the value, keyed with a random key drawn once per run and
//! never written anywhere: equal values match within a bundle, and nobody can guess a
//! value by hashing candidates, nor link two bundles by their tokens.

use ring::hmac;
use ring::rand::SystemRandom;

/// How every replacement starts; text that already starts like this is not
/// redacted again.
pub const TOKEN_PREFIX: &str = "[REDACTED";

/// Hex digits of the HMAC kept in a token (32 bits: collisions among the
/// distinct secrets of one bundle are negligible).
const TOKEN_HEX: usize = 8;

/// The per-run key that turns secrets into tokens.
pub struct Tokens {
    key: hmac::Key,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never appears in output, not even in debug prints.
        f.write_str("Tokens { key: <per-run> }")
    }
}

/// The system random source failed, so no per-run key could be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw a random redaction key from the operating system")]
pub struct NoRandomKey;

impl Tokens {
    /// A fresh random key, as every run and every `kpm-collect redact` uses.
    pub fn random() -> Result<Tokens, NoRandomKey> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| NoRandomKey)?;
        Ok(Tokens { key })
    }

    /// A fixed key, for tests that compare tokens.
    #[cfg(test)]
    pub fn with_key(key: &[u8]) -> Tokens {
        Tokens {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The token that replaces `secret`.
    pub fn token(&self, secret: &str) -> String {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        let hex = kpm_bundle::writer::hex(tag.as_ref());
        format!("{TOKEN_PREFIX}:{}]", &hex[..TOKEN_HEX])
    }
}

/// Tells whether `s` is (or starts with) a replacement kpm wrote.
pub fn is_token(s: &str) -> bool {
    s.starts_with(TOKEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_token_other_key_other_token() {
        let a = Tokens::with_key(b"run-1");
        let b = Tokens::with_key(b"run-2");
        let t = a.token("hunter2");
        assert_eq!(t, a.token("hunter2"));
        assert_ne!(t, a.token("hunter3"));
        assert_ne!(t, b.token("hunter2"));
        assert!(t.starts_with("[REDACTED:") && t.ends_with(']'));
        assert_eq!(t.len(), "[REDACTED:]".len() + TOKEN_HEX);
        assert!(is_token(&t));
    }

    #[test]
    fn random_keys_differ() {
        let (a, b) = (Tokens::random(), Tokens::random());
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("no system randomness")
        };
        assert_ne!(a.token("hunter2"), b.token("hunter2"));
    }
}
