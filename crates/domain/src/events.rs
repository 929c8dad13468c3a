//! What happened, as the real-time layer needs to hear it, and the port that carries it between
//! processes. Events name their recipients so that delivery needs no database lookup.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{ChatId, ConnectionId, MessageId, UserId};
use crate::message::{Message, ReadByAll};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A new message: to every connection of every member but `origin`.
    MessageSent { message: Message, members: Vec<UserId>, origin: Option<ConnectionId> },
    /// A member's read pointer advanced: to every connection of every member but `origin`.
    ReadAdvanced {
        chat_id: ChatId,
        reader_id: UserId,
        message_id: MessageId,
        members: Vec<UserId>,
        origin: Option<ConnectionId>,
    },
    /// Some of a sender's messages became read by everybody: to every connection of that sender.
    ReadByAll(ReadByAll),
    /// A member is typing: to the connections of the other members.
    Typing { chat_id: ChatId, user_id: UserId, members: Vec<UserId> },
    /// A chat appeared or its membership changed: caches of membership must forget it, and the
    /// affected users (the members, and whoever just left) refresh their chat list.
    MembersChanged { chat_id: ChatId, affected: Vec<UserId> },
}

/// Receives every event published anywhere in the service (the WebSocket hub, membership caches).
pub trait EventSink: Send + Sync {
    /// Called once per event, in publication order for events of one chat published by one process.
    /// MUST NOT block: it runs on the publisher's or the bus's task.
    fn deliver(&self, event: &Event);

    /// The bus stopped hearing other instances: events published elsewhere are being lost until
    /// [`EventSink::link_restored`]. Whatever is kept up to date by events must not be trusted meanwhile.
    fn link_lost(&self) {}

    /// The bus hears other instances again, but what was published while it did not never arrives:
    /// whatever was derived from events must be rebuilt.
    fn link_restored(&self) {}
}

/// Carries events to every subscribed sink of every instance.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Hands the event to the bus. Events of one chat published one after another by one process reach
    /// each sink in that order.
    async fn publish(&self, event: Event) -> Result<(), DomainError>;

    /// Registers a sink that gets every event from now on.
    fn subscribe(&self, sink: Arc<dyn EventSink>);
}
