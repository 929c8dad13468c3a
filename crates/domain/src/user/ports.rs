use async_trait::async_trait;

use super::model::{AccessToken, NewUser, PasswordHash, StoredCredentials, User};
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

    /// Users whose name or email contains `query` (case-insensitively), by id, at most `limit`.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<User>, DomainError>;

    /// How many of `ids` exist (used to reject group members that do not).
    async fn count_existing(&self, ids: &[UserId]) -> Result<usize, DomainError>;
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
    fn issue(&self, user: UserId) -> Result<AccessToken, DomainError>;

    /// # Errors
    /// MUST return `Unauthorized` for a malformed, expired or forged token.
    fn verify(&self, token: &str) -> Result<UserId, DomainError>;
}
