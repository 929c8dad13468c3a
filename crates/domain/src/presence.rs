//! Who is online: a user is online while any of its devices is connected to any instance, and was last
//! seen when its last device had been gone for a grace period (a page reload is not "offline").

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::UserId;

/// A user's presence as others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub online: bool,
    /// When the user was last online; `None` while online, or for a user never seen offline.
    pub last_seen: Option<DateTime<Utc>>,
}

/// Which users have a device connected somewhere in the service. Each instance tells it about its own
/// users; it answers for all instances (best effort: an instance that dies takes its users offline once
/// its lease runs out, without telling anyone).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PresenceRegistry: Send + Sync {
    /// `user` has a device on this instance now (its first one here). `true` when no instance had one:
    /// the user just came online.
    async fn came_online(&self, user: UserId) -> Result<bool, DomainError>;

    /// `user` has no device on this instance any more. `true` when no instance has one: the user just
    /// went offline.
    async fn went_offline(&self, user: UserId) -> Result<bool, DomainError>;

    /// Whether `user` has a device on any instance.
    async fn is_online(&self, user: UserId) -> Result<bool, DomainError>;
}
