//! The use-cases the handlers call, built once from the adapters.

use std::sync::Arc;

use std::time::Duration;

use app::auth::AuthPorts;
use app::{
    AuthService, ChatService, EditService, MessageService, PresencePorts, PresenceService, ReceiptService,
    SearchService, SyncService, UserService,
};
use domain::events::EventBus;
use domain::health::HealthProbe;
use domain::rate_limit::{RateKind, RateLimiter};
use domain::{DomainError, UserId};
use infra::Adapters;

pub struct Services {
    pub auth: AuthService,
    pub users: UserService,
    pub chats: ChatService,
    pub messages: MessageService,
    pub edits: EditService,
    pub search: SearchService,
    pub presence: PresenceService,
    pub receipts: ReceiptService,
    pub sync: SyncService,
    pub limiter: Arc<dyn RateLimiter>,
    pub health: Arc<dyn HealthProbe>,
    pub bus: Arc<dyn EventBus>,
}

impl Services {
    pub fn new(adapters: Adapters, send_timeout: Duration, presence_grace: Duration) -> Self {
        let Adapters {
            users,
            chats,
            messages,
            receipts,
            hasher,
            tokens,
            accounts,
            sessions,
            bus,
            limiter,
            auth_limiter,
            health,
            presence,
        } = adapters;
        Self {
            auth: AuthService::new(AuthPorts {
                users: users.clone(),
                accounts,
                hasher,
                tokens,
                sessions,
                limiter: auth_limiter,
            }),
            users: UserService::new(users.clone()),
            chats: ChatService::new(chats.clone(), users.clone(), receipts.clone(), bus.clone()),
            messages: MessageService::new(chats.clone(), messages.clone(), bus.clone(), limiter.clone())
                .with_send_timeout(send_timeout),
            edits: EditService::new(chats.clone(), messages.clone(), bus.clone(), limiter.clone()),
            search: SearchService::new(chats.clone(), messages.clone()),
            presence: PresenceService::new(
                PresencePorts { registry: presence, users: users.clone(), chats: chats.clone(), bus: bus.clone() },
                presence_grace,
            ),
            sync: SyncService::new(chats.clone(), messages.clone()),
            receipts: ReceiptService::new(chats, messages, receipts, bus.clone()),
            limiter,
            health,
            bus,
        }
    }
}

impl Services {
    /// Draws from the caller's budget for requests other than sends (REST calls, WebSocket `read` and
    /// `typing` frames): the one place that budget is taken from. Sends are limited by the send use-case.
    ///
    /// # Errors
    /// `RateLimited` over the budget.
    pub fn admit_request(&self, user: UserId) -> Result<(), DomainError> {
        self.limiter.acquire(user, RateKind::Request)
    }
}
