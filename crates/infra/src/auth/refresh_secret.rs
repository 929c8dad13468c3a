//! Refresh tokens: 256 random bits for the client, a SHA-256 of them for the database.
//!
//! A fast hash is enough (unlike passwords): the token is random and long, so nobody can guess it from
//! its hash; what the hash buys is that a copy of the database opens no session.

use domain::session::RefreshToken;
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// What the database stores of a refresh token.
pub(crate) fn hash_refresh_token(token: &RefreshToken) -> String {
    hex(&Sha256::digest(token.expose().as_bytes()))
}

/// A new token and its hash.
pub(crate) struct RefreshSecret {
    pub token: RefreshToken,
    pub hash: String,
}

impl RefreshSecret {
    pub fn generate() -> Self {
        let token = RefreshToken::new(hex(&rand::random::<[u8; 32]>()));
        let hash = hash_refresh_token(&token);
        Self { token, hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_their_hash() {
        let (a, b) = (RefreshSecret::generate(), RefreshSecret::generate());
        assert_eq!(a.token.expose().len(), 64);
        assert_ne!(a.token, b.token);
        assert_eq!(a.hash, hash_refresh_token(&a.token));
        assert_ne!(a.hash, a.token.expose());
        assert_eq!(
            hash_refresh_token(&RefreshToken::new("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
