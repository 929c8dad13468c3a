//! What happened, as the real-time layer needs to hear it, and the port that carries it between
//! processes. Events name their chat, never its members: each instance knows which chats the users
//! connected to it belong to, so an event's size and an instance's work on it do not grow with the
//! size of the group, only with the members connected there.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{ChatId, ConnectionId, MessageId, UserId};
use crate::message::{Message, ReadByAll};
use crate::presence::Presence;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A new message: to every connection of every member but `origin`.
    MessageSent { message: Message, origin: Option<ConnectionId> },
    /// A message's text changed: to every connection of every member but `origin` (which gets an ack).
    MessageEdited { message: Message, origin: Option<ConnectionId> },
    /// A message became a tombstone: to every connection of every member, the deleting one included.
    MessageDeleted { message: Message },
    /// A member's read pointer advanced: to every connection of every member but `origin`.
    ReadAdvanced { chat_id: ChatId, reader_id: UserId, message_id: MessageId, origin: Option<ConnectionId> },
    /// Some of a sender's messages became read by everybody: to every connection of that sender.
    ReadByAll(ReadByAll),
    /// A member is typing: to the connections of the other members.
    Typing { chat_id: ChatId, user_id: UserId },
    /// A user came online or went offline: to the connections of everybody sharing one of `chats` (the
    /// user's chats) with it.
    PresenceChanged { user: UserId, presence: Presence, chats: Vec<ChatId> },
    /// A chat appeared or its membership changed: `joined` became members and `left` stopped being
    /// members (the change, not the membership); `member_count` members it has now. Caches of membership
    /// forget the chat. Whoever joined or left refreshes its chat list, and so does every member of a
    /// chat of at most [`crate::chat::INLINE_MEMBERS_MAX`] (members of a larger group see the change at
    /// their next sync: one addition must not make thousands of clients reload their chats).
    MembersChanged { chat_id: ChatId, joined: Vec<UserId>, left: Vec<UserId>, member_count: usize },
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

    /// Some events published elsewhere were lost on the way (another instance could not publish them, or
    /// sent what this one cannot read) although the link is up: the same remedy as after an outage.
    fn events_missed(&self) {}
}

/// Carries events to every subscribed sink of every instance.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait EventBus: Send + Sync {
    /// Delivers the event to this instance's sinks before returning, and hands it on to the other
    /// instances without waiting for them: publishing never blocks and never fails the caller, whatever
    /// state the link to other instances is in. What cannot reach them is made up for by
    /// [`EventSink::link_restored`] or [`EventSink::events_missed`] there. Events of one chat published one
    /// after another by one process reach each sink in that order.
    fn publish(&self, event: Event);

    /// Registers a sink that gets every event from now on.
    fn subscribe(&self, sink: Arc<dyn EventSink>);
}
