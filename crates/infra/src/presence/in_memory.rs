//! Presence for a service of one instance: its own users are everybody's.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::presence::PresenceRegistry;
use domain::{DomainError, UserId};

#[derive(Default)]
pub struct InMemoryPresence {
    online: Mutex<HashSet<UserId>>,
}

impl InMemoryPresence {
    pub fn new() -> Self {
        Self::default()
    }

    fn online(&self) -> std::sync::MutexGuard<'_, HashSet<UserId>> {
        self.online.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl PresenceRegistry for InMemoryPresence {
    async fn came_online(&self, user: UserId) -> Result<bool, DomainError> {
        Ok(self.online().insert(user))
    }

    async fn went_offline(&self, user: UserId) -> Result<bool, DomainError> {
        Ok(self.online().remove(&user))
    }

    async fn is_online(&self, user: UserId) -> Result<bool, DomainError> {
        Ok(self.online().contains(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn online_between_the_first_device_and_going_offline() -> Result<(), DomainError> {
        let presence = InMemoryPresence::new();
        assert!(presence.came_online(UserId(1)).await?);
        assert!(!presence.came_online(UserId(1)).await?, "already online");
        assert!(presence.is_online(UserId(1)).await? && !presence.is_online(UserId(2)).await?);
        assert!(presence.went_offline(UserId(1)).await?);
        assert!(!presence.is_online(UserId(1)).await?);
        Ok(())
    }
}
