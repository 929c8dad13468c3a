use async_trait::async_trait;
use domain::DomainError;
use domain::user::{Password, PasswordHash, PasswordHasher};
use tokio::sync::OnceCell;

use super::blocking::BoundedBlocking;

/// bcrypt reads at most this many bytes of a password and silently ignores the rest.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

const DECOY_PASSWORD: &str = "decoy password for unknown emails";

/// bcrypt on the blocking pool, a bounded number at a time: a hash takes about a quarter of a second at
/// cost 12, far too long for the async runtime's threads, and more hashes than cores only slow everyone.
pub struct BcryptHasher {
    cost: u32,
    /// A hash to check unknown emails against, so they take as long as wrong passwords.
    decoy: OnceCell<String>,
    jobs: BoundedBlocking,
}

impl BcryptHasher {
    pub fn new(cost: u32) -> Self {
        Self { cost, decoy: OnceCell::new(), jobs: BoundedBlocking::per_core() }
    }

    /// The decoy hash, computed (off the executor, like every hash) the first time it is needed.
    async fn decoy(&self) -> Result<String, DomainError> {
        let cost = self.cost;
        let hash = self
            .decoy
            .get_or_try_init(|| async move {
                self.jobs.run(move || bcrypt::hash(DECOY_PASSWORD, cost)).await.map_err(failure)?.map_err(failure)
            })
            .await?;
        Ok(hash.clone())
    }
}

fn failure(error: impl Into<anyhow::Error>) -> DomainError {
    DomainError::Unexpected(error.into().context("password hashing"))
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError> {
        if password.expose().len() > BCRYPT_MAX_PASSWORD_BYTES {
            // Stored truncated, its tail would not count at sign-in.
            return Err(DomainError::invalid(format!("password must be at most {BCRYPT_MAX_PASSWORD_BYTES} bytes")));
        }
        let (password, cost) = (password.expose().to_owned(), self.cost);
        let hash = self.jobs.run(move || bcrypt::hash(password, cost)).await.map_err(failure)?.map_err(failure)?;
        Ok(PasswordHash(hash))
    }

    async fn verify(&self, password: &str, hash: Option<PasswordHash>) -> Result<bool, DomainError> {
        // A password bcrypt would truncate is never the one registered (those are refused), however its
        // first 72 bytes compare; it is still checked against the decoy so that it takes as long.
        let comparable = password.len() <= BCRYPT_MAX_PASSWORD_BYTES;
        let (known, hash) = match hash {
            Some(hash) if comparable => (true, hash.0),
            _ => (false, self.decoy().await?),
        };
        let password = password.to_owned();
        // A malformed stored hash is a mismatch, not a server error: the user can still reset it.
        let matches = self.jobs.run(move || bcrypt::verify(password, &hash).unwrap_or(false)).await.map_err(failure)?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

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

    #[tokio::test]
    async fn a_password_longer_than_bcrypt_reads_never_matches_on_its_first_72_bytes() -> Result<(), DomainError> {
        let hasher = BcryptHasher::new(4);
        let registered = "p".repeat(BCRYPT_MAX_PASSWORD_BYTES);
        let hash = hasher.hash(&Password::new(&registered)?).await?;
        assert!(hasher.verify(&registered, Some(hash.clone())).await?);
        assert!(!hasher.verify(&format!("{registered}anything"), Some(hash)).await?);
        Ok(())
    }

    /// The decoy hash for unknown emails used to be computed on the executor thread: a current-thread
    /// runtime then could not run a ticker while the first unknown email was checked.
    #[tokio::test(flavor = "current_thread")]
    async fn the_decoy_hash_is_computed_off_the_executor() -> Result<(), DomainError> {
        let hasher = BcryptHasher::new(10);
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            let mut longest = Duration::ZERO;
            let mut last = Instant::now();
            let mut interval = tokio::time::interval(Duration::from_millis(5));
            while started.elapsed() < Duration::from_millis(300) {
                interval.tick().await;
                longest = longest.max(last.elapsed());
                last = Instant::now();
            }
            longest
        });
        tokio::task::yield_now().await;
        assert!(!hasher.verify("password123", None).await?);
        let checked = started.elapsed();
        let longest = ticker.await.map_err(failure)?;
        assert!(checked > Duration::from_millis(60), "cost 10 is slow enough to notice ({checked:?})");
        assert!(longest < checked / 4, "the executor stalled for {longest:?} of {checked:?}");
        Ok(())
    }
}
