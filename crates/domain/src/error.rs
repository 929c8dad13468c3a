use std::time::Duration;

/// Everything a use-case can fail with. Adapters convert their own failures into these variants; the HTTP
/// and WebSocket layers map each variant to one of the contract's error codes.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Well-formed but invalid values (empty name, bad email, text too long, limit out of range…).
    #[error("{0}")]
    InvalidInput(String),
    /// The named thing (a chat, a user, a message) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Missing, malformed, expired or forged token.
    #[error("invalid or expired token")]
    Unauthorized,
    /// Wrong email or password at sign-in.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// Registration with an email that is already registered (case-insensitively).
    #[error("this email is already registered")]
    EmailTaken,
    /// A deduplication key reused for a different message, or a similar client bug.
    #[error("{0}")]
    Conflict(String),
    /// Over a rate limit; nothing was stored.
    #[error("too many requests, retry in {} ms", retry_after.as_millis())]
    RateLimited { retry_after: Duration },
    /// A dependency (the database) did not answer in time; nothing was stored. Retrying later, with the
    /// same `client_id` for a send, is safe.
    #[error("the service is temporarily unavailable, retry in {} s", retry_after.as_secs().max(1))]
    Unavailable { retry_after: Duration },
    /// A failure the caller cannot act on (database down, a bug). Its text is logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DomainError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// The database did not answer in time.
    pub fn unavailable() -> Self {
        Self::Unavailable { retry_after: Duration::from_secs(1) }
    }
}
