//! Sessions: what a sign-in opens and a refresh token keeps alive, and the port that stores them.
//!
//! A session is one signed-in device. Its refresh token is single-use: each refresh retires it and mints
//! the next. A retired token presented again means two parties hold the session (a stolen token, or a
//! client that lost an answer), and the session ends for both.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::DomainError;
use crate::ids::UserId;
use crate::user::AccessToken;

/// A refresh token as the client holds it. Never logged; stores keep only a hash of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// A stored session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub i64);

/// A freshly minted refresh token and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub token: RefreshToken,
    pub expires_in: Duration,
}

/// What the store knows of an unexpired refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshRecord {
    pub session: SessionId,
    pub user: UserId,
    /// Already exchanged for its successor: presenting it again is reuse.
    pub retired: bool,
}

/// Where sessions and (hashes of) their refresh tokens live. The store mints tokens and decides their
/// lifetime; what a reuse means is the caller's policy.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session for `user` and mints its first refresh token.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn open(&self, user: UserId) -> Result<RefreshGrant, DomainError>;

    /// What `token` is. MUST return `None` for a token it never minted, an expired one, or one of a
    /// revoked session.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn find(&self, token: &RefreshToken) -> Result<Option<RefreshRecord>, DomainError>;

    /// Retires `token` and mints its successor in `session`, atomically. MUST return `None` and change
    /// nothing when `token` is retired already (a concurrent refresh got there first) or gone.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn rotate(&self, session: SessionId, token: &RefreshToken) -> Result<Option<RefreshGrant>, DomainError>;

    /// Ends `session`: none of its tokens works afterwards. Revoking an unknown session is no error.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn revoke(&self, session: SessionId) -> Result<(), DomainError>;
}

/// What a sign-in or a refresh hands the client: a short-lived access token and the refresh token
/// that gets the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTokens {
    pub access: AccessToken,
    pub refresh: RefreshGrant,
}
