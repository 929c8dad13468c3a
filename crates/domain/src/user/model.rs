use serde::{Deserialize, Serialize};

use super::values::{Email, UserName};
use crate::ids::UserId;

/// A registered user as others may see it (never with the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

/// A bcrypt (or other) hash of a password; never the password itself.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// What registration stores.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserName,
    pub email: Email,
    pub password_hash: PasswordHash,
}

/// A user with the hash needed to check a sign-in.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: PasswordHash,
}

/// A signed bearer token and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in_seconds: u64,
}

/// What identifies one account beyond its id: it differs between two accounts that got the same id (the
/// database was reset), so a token issued to the first never signs in as the second. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountStamp(pub i64);

/// What a valid access token says: who, and which account of that id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    pub stamp: AccountStamp,
}
