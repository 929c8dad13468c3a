//! The use-cases the handlers call, built once from the adapters.

use std::sync::Arc;

use std::time::Duration;

use app::auth::AuthPorts;
use app::{AuthService, ChatService, EditService, MessageService, ReceiptService, SearchService, SyncService, UserService};
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
    pub receipts: ReceiptService,
    pub sync: SyncService,
    pub limiter: Arc<dyn RateLimiter>,
    pub health: Arc<dyn HealthProbe>,
    pub bus: Arc<dyn EventBus>,
}

impl Services {
    pub fn new(adapters: Adapters, send_timeout: Duration) -> Self {
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
            chats: ChatService::new(chats.clone(), users, receipts.clone(), bus.clone()),
            messages: MessageService::new(chats.clone(), messages.clone(), bus.clone(), limiter.clone())
                .with_send_timeout(send_timeout),
            edits: EditService::new(chats.clone(), messages.clone(), bus.clone(), limiter.clone()),
            search: SearchService::new(chats.clone(), messages.clone()),
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
