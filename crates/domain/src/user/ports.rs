use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::model::{AccessToken, AccountStamp, NewUser, PasswordHash, StoredCredentials, TokenClaims, User};
use super::values::{Email, Password};
use crate::error::DomainError;
use crate::ids::UserId;

/// Where users live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// MUST return `EmailTaken` if a user with the same (lower-cased) email exists, `Unexpected` otherwise.
    async fn create(&self, user: NewUser) -> Result<User, DomainError>;

    /// The user registered with this email and its password hash, if any.
    async fn find_credentials(&self, email: &Email) -> Result<Option<StoredCredentials>, DomainError>;

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, DomainError>;

    /// Users whose name contains `query` (case-insensitively) or whose email equals it (ignoring case),
    /// by id, at most `limit`. An email MUST NOT match by a fragment (privacy).
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<User>, DomainError>;

    /// How many of `ids` exist (used to reject group members that do not).
    async fn count_existing(&self, ids: &[UserId]) -> Result<usize, DomainError>;

    /// Records when the user went offline.
    async fn set_last_seen(&self, user: UserId, at: DateTime<Utc>) -> Result<(), DomainError>;

    /// When the user last went offline, if ever.
    async fn last_seen(&self, user: UserId) -> Result<Option<DateTime<Utc>>, DomainError>;
}

/// Slow, salted password hashing. Implementations MUST NOT block the async runtime.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError>;

    /// Whether `password` matches `hash`. With `None` it spends the same time and answers `false`, so that
    /// an unknown email cannot be told from a wrong password by timing.
    async fn verify(&self, password: &str, hash: Option<PasswordHash>) -> Result<bool, DomainError>;
}

/// Issues and checks bearer tokens.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenService: Send + Sync {
    /// A signed access token for `user`, bound to the account `stamp` names.
    ///
    /// # Errors
    /// `Unexpected` if signing fails.
    fn issue(&self, user: UserId, stamp: AccountStamp) -> Result<AccessToken, DomainError>;

    /// # Errors
    /// MUST return `Unauthorized` for a malformed, expired or forged token, or one without a stamp.
    fn verify(&self, token: &str) -> Result<TokenClaims, DomainError>;
}

/// Tells which account a user id names now, so that tokens die with their account. Users are never
/// deleted, so implementations may cache what they have seen.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AccountStamps: Send + Sync {
    /// The stamp of the account with this id, read from the source of truth; `None` when there is none.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn current(&self, user: UserId) -> Result<Option<AccountStamp>, DomainError>;

    /// Whether `user` still names the account `stamp` was taken from. Called on every authenticated
    /// request: MUST be cheap when the answer was seen before, and MUST consult the store before
    /// answering `false`.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    async fn confirms(&self, user: UserId, stamp: AccountStamp) -> Result<bool, DomainError>;
}
