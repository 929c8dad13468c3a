//! The port that tells whether the service's dependencies answer.

use async_trait::async_trait;

use crate::error::DomainError;

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// `Ok` when every dependency (database, event bus) answers; otherwise the first failure.
    async fn check(&self) -> Result<(), DomainError>;
}
