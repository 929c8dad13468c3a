//! Online and last seen. A user comes online with its first device anywhere, and goes offline when its
//! last device has been gone for a grace period, so that a page reload or a network hand-over is not
//! "offline". Each instance counts its own devices; the registry knows about all instances. Sending
//! messages never touches presence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use domain::chat::{ChatRepository, INLINE_MEMBERS_MAX};
use domain::events::{Event, EventBus};
use domain::presence::{Presence, PresenceRegistry};
use domain::user::{User, UserRepository};
use domain::{DomainError, UserId};

/// How long a user whose last device left stays online, unless `PRESENCE_OFFLINE_GRACE_SECS` says.
pub const DEFAULT_OFFLINE_GRACE: Duration = Duration::from_secs(5);

pub struct PresencePorts {
    pub registry: Arc<dyn PresenceRegistry>,
    pub users: Arc<dyn UserRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub bus: Arc<dyn EventBus>,
}

pub struct PresenceService {
    ports: Arc<PresencePorts>,
    grace: Duration,
    /// This instance's devices per user; a user whose count fell to 0 stays here through the grace.
    devices: Arc<Mutex<HashMap<UserId, Devices>>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Devices {
    count: usize,
    /// Changes at every connection, so that a grace period knows whether someone came back meanwhile.
    generation: u64,
}

impl PresenceService {
    pub fn new(ports: PresencePorts, grace: Duration) -> Self {
        Self { ports: Arc::new(ports), grace, devices: Arc::default() }
    }

    /// A device of `user` connected to this instance. Its contacts hear that the user is online when no
    /// device of it was connected anywhere (nor is within its grace period here). Counts at once; asking
    /// the registry (which may be remote) happens on a task of its own.
    pub fn device_connected(&self, user: UserId) {
        let first = {
            let mut devices = lock(&self.devices);
            let entry = devices.entry(user).or_default();
            let first = entry.count == 0 && entry.generation == 0;
            entry.count += 1;
            entry.generation += 1;
            first
        };
        if !first {
            return;
        }
        let ports = self.ports.clone();
        tokio::spawn(async move {
            match ports.registry.came_online(user).await {
                Ok(true) => publish(&ports, user, Presence { online: true, last_seen: None }).await,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, %user, "presence: could not record a user coming online"),
            }
        });
    }

    /// A device of `user` left this instance. When it was the last one and none comes back within the
    /// grace period, the user goes offline here; its contacts hear it when no instance has a device.
    pub fn device_disconnected(&self, user: UserId) {
        let generation = {
            let mut devices = lock(&self.devices);
            let Some(entry) = devices.get_mut(&user) else { return };
            entry.count = entry.count.saturating_sub(1);
            if entry.count > 0 {
                return;
            }
            entry.generation
        };
        let (ports, devices, grace) = (self.ports.clone(), self.devices.clone(), self.grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            {
                let mut devices = lock(&devices);
                match devices.get(&user) {
                    Some(entry) if entry.count == 0 && entry.generation == generation => {
                        devices.remove(&user);
                    }
                    _ => return, // Back within the grace period.
                }
            }
            match ports.registry.went_offline(user).await {
                Ok(true) => {
                    let now = Utc::now().duration_trunc(TimeDelta::microseconds(1)).unwrap_or_else(|_| Utc::now());
                    if let Err(error) = ports.users.set_last_seen(user, now).await {
                        tracing::warn!(%error, %user, "presence: could not store when a user was last seen");
                    }
                    publish(&ports, user, Presence { online: false, last_seen: Some(now) }).await;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, %user, "presence: could not record a user going offline"),
            }
        });
    }

    /// `user` with its presence, as `viewer` may see it: itself, or someone it shares a chat with.
    ///
    /// # Errors
    /// `NotFound` for an unknown user or one `viewer` shares no chat with.
    #[tracing::instrument(skip(self), fields(%viewer, %user))]
    pub async fn of(&self, viewer: UserId, user: UserId) -> Result<(User, Presence), DomainError> {
        if viewer != user && !self.ports.chats.share_a_chat(viewer, user).await? {
            return Err(DomainError::NotFound("user"));
        }
        let found = self.ports.users.find_by_id(user).await?.ok_or(DomainError::NotFound("user"))?;
        let here = lock(&self.devices).contains_key(&user);
        let online = here || self.ports.registry.is_online(user).await?;
        let last_seen = if online { None } else { self.ports.users.last_seen(user).await? };
        Ok((found, Presence { online, last_seen }))
    }
}

fn lock(devices: &Mutex<HashMap<UserId, Devices>>) -> MutexGuard<'_, HashMap<UserId, Devices>> {
    devices.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn publish(ports: &PresencePorts, user: UserId, presence: Presence) {
    match ports.chats.chat_ids_of(user, Some(INLINE_MEMBERS_MAX)).await {
        Ok(chats) if chats.is_empty() => {}
        Ok(chats) => ports.bus.publish(Event::PresenceChanged { user, presence, chats }),
        Err(error) => tracing::warn!(%error, %user, "presence: could not find whom to tell"),
    }
}

#[cfg(test)]
mod tests {
    use domain::ChatId;
    use domain::chat::MockChatRepository;
    use domain::events::MockEventBus;
    use domain::presence::MockPresenceRegistry;
    use domain::user::MockUserRepository;

    use super::*;

    fn service(registry: MockPresenceRegistry, users: MockUserRepository, bus: MockEventBus) -> PresenceService {
        let mut chats = MockChatRepository::new();
        chats.expect_chat_ids_of().returning(|_, _| Ok(vec![ChatId(2)]));
        let ports = PresencePorts {
            registry: Arc::new(registry),
            users: Arc::new(users),
            chats: Arc::new(chats),
            bus: Arc::new(bus),
        };
        PresenceService::new(ports, Duration::from_millis(50))
    }

    fn online_frames(bus: &mut MockEventBus, online: bool, times: usize) {
        bus.expect_publish()
            .withf(move |e| {
                matches!(e, Event::PresenceChanged { presence, chats, .. } if presence.online == online && chats == &[ChatId(2)])
            })
            .times(times)
            .return_const(());
    }

    #[tokio::test]
    async fn a_reload_within_the_grace_period_is_not_offline() {
        let mut registry = MockPresenceRegistry::new();
        registry.expect_came_online().times(1).returning(|_| Ok(true));
        registry.expect_went_offline().never();
        let mut bus = MockEventBus::new();
        online_frames(&mut bus, true, 1);
        let presence = service(registry, MockUserRepository::new(), bus);
        presence.device_connected(UserId(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
        presence.device_disconnected(UserId(1));
        presence.device_connected(UserId(1));
        tokio::time::sleep(Duration::from_millis(120)).await;
    }

    #[tokio::test]
    async fn the_last_device_gone_for_the_grace_period_is_offline_with_a_last_seen() {
        let mut registry = MockPresenceRegistry::new();
        registry.expect_came_online().times(1).returning(|_| Ok(true));
        registry.expect_went_offline().times(1).returning(|_| Ok(true));
        let mut users = MockUserRepository::new();
        users.expect_set_last_seen().times(1).returning(|_, _| Ok(()));
        let mut bus = MockEventBus::new();
        online_frames(&mut bus, true, 1);
        bus.expect_publish()
            .withf(|e| matches!(e, Event::PresenceChanged { presence, .. } if !presence.online && presence.last_seen.is_some()))
            .times(1)
            .return_const(());
        let presence = service(registry, users, bus);
        presence.device_connected(UserId(1));
        presence.device_connected(UserId(1));
        presence.device_disconnected(UserId(1));
        presence.device_disconnected(UserId(1));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    #[tokio::test]
    async fn a_user_online_on_another_instance_does_not_come_online_again() {
        let mut registry = MockPresenceRegistry::new();
        registry.expect_came_online().returning(|_| Ok(false));
        registry.expect_went_offline().returning(|_| Ok(false));
        let presence = service(registry, MockUserRepository::new(), MockEventBus::new());
        presence.device_connected(UserId(1));
        presence.device_disconnected(UserId(1));
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}
