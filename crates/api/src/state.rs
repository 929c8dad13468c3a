//! The use-cases the handlers call, built once from the adapters.

use std::sync::Arc;

use app::{AuthService, ChatService, MessageService, ReceiptService, UserService};
use domain::events::EventBus;
use domain::health::HealthProbe;
use domain::rate_limit::RateLimiter;
use infra::Adapters;

pub struct Services {
    pub auth: AuthService,
    pub users: UserService,
    pub chats: ChatService,
    pub messages: MessageService,
    pub receipts: ReceiptService,
    pub limiter: Arc<dyn RateLimiter>,
    pub health: Arc<dyn HealthProbe>,
    pub bus: Arc<dyn EventBus>,
}

impl Services {
    pub fn new(adapters: Adapters) -> Self {
        let Adapters { users, chats, messages, receipts, hasher, tokens, bus, limiter, health } = adapters;
        Self {
            auth: AuthService::new(users.clone(), hasher, tokens),
            users: UserService::new(users.clone()),
            chats: ChatService::new(chats.clone(), users, receipts.clone(), bus.clone()),
            messages: MessageService::new(chats.clone(), messages.clone(), bus.clone(), limiter.clone()),
            receipts: ReceiptService::new(chats, messages, receipts, bus.clone()),
            limiter,
            health,
            bus,
        }
    }
}
