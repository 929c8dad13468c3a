use std::sync::OnceLock;

use async_trait::async_trait;
use domain::DomainError;
use domain::user::{Password, PasswordHash, PasswordHasher};

/// bcrypt on the blocking pool: a hash takes about a quarter of a second at cost 12, far too long for
/// the async runtime's threads.
pub struct BcryptHasher {
    cost: u32,
    /// A hash to check unknown emails against, so they take as long as wrong passwords.
    decoy: OnceLock<String>,
}

impl BcryptHasher {
    pub fn new(cost: u32) -> Self {
        Self { cost, decoy: OnceLock::new() }
    }

    fn decoy(&self) -> Result<String, DomainError> {
        if let Some(hash) = self.decoy.get() {
            return Ok(hash.clone());
        }
        let hash = bcrypt::hash("decoy password for unknown emails", self.cost).map_err(failure)?;
        Ok(self.decoy.get_or_init(|| hash).clone())
    }
}

fn failure(error: impl Into<anyhow::Error>) -> DomainError {
    DomainError::Unexpected(error.into().context("password hashing"))
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError> {
        let (password, cost) = (password.expose().to_owned(), self.cost);
        let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(failure)?
            .map_err(failure)?;
        Ok(PasswordHash(hash))
    }

    async fn verify(&self, password: &str, hash: Option<PasswordHash>) -> Result<bool, DomainError> {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash.0,
            None => self.decoy()?,
        };
        let password = password.to_owned();
        // A malformed stored hash is a mismatch, not a server error: the user can still reset it.
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .map_err(failure)?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() -> Result<(), DomainError> {
        let hasher = BcryptHasher::new(4);
        let hash = hasher.hash(&Password::new("password123")?).await?;
        assert!(hasher.verify("password123", Some(hash.clone())).await?);
        assert!(!hasher.verify("password124", Some(hash)).await?);
        assert!(!hasher.verify("password123", None).await?);
        Ok(())
    }
}
