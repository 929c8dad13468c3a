//! The ports for rate limits: per user (sends, requests) and per origin of an authentication attempt.

use std::net::IpAddr;

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

/// Where a registration or sign-in attempt comes from, as far as the limits care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptOrigin {
    /// The client's address; `None` when unknown (then only the per-email limit applies).
    pub address: Option<IpAddr>,
}

/// Budgets for attempts to register or sign in, which cost a password hash each: per client address
/// and per email, so that neither one guesser nor many guessers at one account get far.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait AuthAttemptLimiter: Send + Sync {
    /// Takes one attempt from the address's budget and, when an email is named, from the email's.
    ///
    /// # Errors
    /// `RateLimited` with the time until the attempt would be admitted.
    #[allow(clippy::needless_lifetimes, reason = "mockall cannot mock an elided lifetime inside Option")]
    fn admit<'a>(&self, origin: &AttemptOrigin, email: Option<&'a str>) -> Result<(), DomainError>;
}
