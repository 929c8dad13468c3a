//! The port for per-user rate limits.

use crate::error::DomainError;
use crate::ids::UserId;

/// Which budget an action draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKind {
    /// Sending a message, over WebSocket or REST alike.
    Send,
    /// Any other request.
    Request,
}

/// Token buckets per user and kind.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait RateLimiter: Send + Sync {
    /// Takes one token.
    ///
    /// # Errors
    /// `RateLimited` with the time until a token is available, taking nothing.
    fn acquire(&self, user: UserId, kind: RateKind) -> Result<(), DomainError>;

    /// Gives back a token taken for an action that turned out to be free (a duplicate send).
    fn refund(&self, user: UserId, kind: RateKind);
}
