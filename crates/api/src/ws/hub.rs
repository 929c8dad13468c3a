//! Who is connected where: user → live connections (devices) of this instance, which chats those users
//! are in ([`LocalMembers`]), and delivery of events to them.
//!
//! Delivery never waits: each connection has a bounded queue, and a connection whose queue is full is
//! closed instead of slowing the publisher (and so everybody else in the chat) down or growing memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use actix_ws::CloseCode;
use bytestring::ByteString;
use domain::chat::INLINE_MEMBERS_MAX;
use domain::events::{Event, EventSink};
use domain::{ChatId, ConnectionId, DomainError, UserId};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use super::local_members::{LocalMembers, Reading};
use super::protocol::ServerFrame;
use crate::metrics::WsMetrics;
use crate::wire::MessageDto;

const SHARDS: usize = 64;
/// Users whose chats are read again at once after the bus missed events.
const REFRESHES_IN_FLIGHT: usize = 8;

/// Reads the chats a user is a member of (the chat use-case, in production).
pub type ChatDirectory = Arc<dyn Fn(UserId) -> BoxFuture<'static, Result<Vec<ChatId>, DomainError>> + Send + Sync>;

/// One device's connection as the hub sees it.
pub struct Connection {
    pub id: ConnectionId,
    pub user: UserId,
    outbox: mpsc::Sender<ByteString>,
    close: watch::Sender<Option<CloseCode>>,
    metrics: Arc<WsMetrics>,
}

impl Connection {
    /// Queues a frame that must arrive (a message, a receipt): a full queue closes the connection,
    /// and the client catches up from history when it reconnects.
    pub fn push(&self, frame: ByteString) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(frame) {
            self.metrics.required_frame_dropped();
            if self.close(CloseCode::Again) {
                self.metrics.slow_consumer_closed();
                tracing::warn!(user_id = %self.user, connection = %self.id.0, "too slow to read; closing with 1013");
            }
        }
    }

    /// Queues a frame that may be lost (typing): a full queue just drops it.
    pub fn offer(&self, frame: ByteString) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(frame) {
            self.metrics.optional_frame_dropped();
        }
    }

    /// What this connection's traffic is counted in.
    pub fn metrics(&self) -> &WsMetrics {
        &self.metrics
    }

    /// Asks the connection's tasks to close it with `code`; the first reason given wins (`true` for it).
    pub fn close(&self, code: CloseCode) -> bool {
        self.close.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(code);
                true
            } else {
                false
            }
        })
    }

    /// A receiver that sees a close requested even before it subscribed (a task may start late).
    pub fn closing(&self) -> watch::Receiver<Option<CloseCode>> {
        let mut receiver = self.close.subscribe();
        if receiver.borrow().is_some() {
            receiver.mark_changed();
        }
        receiver
    }
}

fn write(members: &RwLock<LocalMembers>) -> RwLockWriteGuard<'_, LocalMembers> {
    members.write().unwrap_or_else(|p| p.into_inner())
}

pub struct Hub {
    shards: Vec<RwLock<HashMap<UserId, Vec<Arc<Connection>>>>>,
    members: Arc<RwLock<LocalMembers>>,
    /// Where chats are read again when events about them may have been missed.
    directory: Option<ChatDirectory>,
    queue_capacity: usize,
    metrics: Arc<WsMetrics>,
}

impl Hub {
    pub fn new(queue_capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            members: Arc::new(RwLock::new(LocalMembers::default())),
            directory: None,
            queue_capacity,
            metrics: Arc::new(WsMetrics::detached()),
        }
    }

    /// Counts frames, drops and fan-out in `metrics` (the server's registry) instead of series of its own.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<WsMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads users' chats again from `directory` when events about them may have been lost.
    #[must_use]
    pub fn with_directory(mut self, directory: ChatDirectory) -> Self {
        self.directory = Some(directory);
        self
    }

    fn shard(&self, user: UserId) -> &RwLock<HashMap<UserId, Vec<Arc<Connection>>>> {
        &self.shards[usize::try_from(user.0.rem_euclid(SHARDS as i64)).unwrap_or(0)]
    }

    fn members(&self) -> RwLockReadGuard<'_, LocalMembers> {
        self.members.read().unwrap_or_else(|p| p.into_inner())
    }

    fn members_mut(&self) -> RwLockWriteGuard<'_, LocalMembers> {
        write(&self.members)
    }

    /// Adds a connection unless its user holds `max_per_user` already (0: no limit). Events for the
    /// user itself reach it from now on; events of its chats once its chats are known: read them and
    /// hand them to [`Hub::learn`] with the returned [`Reading`] (or to [`Hub::unregister`] on failure).
    /// Also returns the queue the connection's writer drains.
    pub fn register(
        &self,
        user: UserId,
        max_per_user: usize,
    ) -> Option<(Arc<Connection>, mpsc::Receiver<ByteString>, Reading)> {
        let (connection, inbox) = {
            let mut shard = self.shard(user).write().unwrap_or_else(|p| p.into_inner());
            let devices = shard.entry(user).or_default();
            if max_per_user > 0 && devices.len() >= max_per_user {
                return None;
            }
            let (outbox, inbox) = mpsc::channel(self.queue_capacity);
            let (close, _) = watch::channel(None);
            let connection =
                Arc::new(Connection { id: ConnectionId::new(), user, outbox, close, metrics: self.metrics.clone() });
            devices.push(connection.clone());
            (connection, inbox)
        };
        let reading = self.members_mut().hold(user);
        Some((connection, inbox, reading))
    }

    /// `user`, which [`Hub::register`] returned `reading` for, is a member of `chats`.
    pub fn learn(&self, user: UserId, reading: Reading, chats: Vec<ChatId>) {
        self.members_mut().learn(user, reading, chats, false);
    }

    /// Removes a connection; `reading` is the one [`Hub::register`] returned when it was never learnt.
    pub fn unregister(&self, connection: &Connection, reading: Option<Reading>) {
        {
            let mut shard = self.shard(connection.user).write().unwrap_or_else(|p| p.into_inner());
            if let Some(devices) = shard.get_mut(&connection.user) {
                devices.retain(|c| c.id != connection.id);
                if devices.is_empty() {
                    shard.remove(&connection.user);
                }
            }
        }
        let mut members = self.members_mut();
        if let Some(reading) = reading {
            members.abandon(connection.user, reading);
        }
        members.release(connection.user);
    }

    /// Closes every connection with `code` (1001 when the server shuts down).
    pub fn close_all(&self, code: CloseCode) {
        self.for_each_connection(|c| {
            c.close(code);
        });
    }

    pub fn connection_count(&self) -> usize {
        self.shards.iter().map(|s| s.read().map_or(0, |s| s.values().map(Vec::len).sum())).sum()
    }

    /// Events published on other instances never reached these connections: each catches up with one
    /// `POST /sync`, on an open socket (a mass reconnect is exactly what must not follow a bus blip).
    /// Membership changes may have been among them, so every connected user's chats are read again.
    fn ask_everyone_to_resync(&self, why: &str) {
        tracing::warn!(connections = self.connection_count(), why, "asking every connection to resync");
        self.read_chats_again();
        let frame = ServerFrame::Resync.encode();
        self.for_each_connection(|c| c.push(frame.clone()));
    }

    /// Reads every connected user's chats again, a few at a time, on a task of its own.
    fn read_chats_again(&self) {
        let Some(directory) = self.directory.clone() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let members = self.members.clone();
        let readings: Vec<(UserId, Reading)> = {
            let mut index = write(&members);
            index.users().into_iter().map(|user| (user, index.hold(user))).collect()
        };
        runtime.spawn(async move {
            futures_util::stream::iter(readings)
                .for_each_concurrent(REFRESHES_IN_FLIGHT, |(user, reading)| {
                    let read = directory(user);
                    let members = members.clone();
                    async move {
                        let chats = read.await;
                        let mut index = write(&members);
                        match chats {
                            Ok(chats) => index.learn(user, reading, chats, true),
                            Err(error) => {
                                tracing::warn!(%error, user_id = %user, "could not read a user's chats again");
                                index.abandon(user, reading);
                            }
                        }
                        index.release(user);
                    }
                })
                .await;
        });
    }

    fn for_each_connection(&self, mut f: impl FnMut(&Arc<Connection>)) {
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|p| p.into_inner());
            shard.values().flatten().for_each(&mut f);
        }
    }

    /// `frame` to every device here of the members of `chat` but `origin`, which gets `ack` instead: its
    /// answer comes here, in line with the chat's other frames, so that it too sees them in seq order.
    fn to_members_acking_origin(
        &self,
        chat: ChatId,
        origin: Option<ConnectionId>,
        frame: ServerFrame,
        ack: ServerFrame,
    ) {
        let frame = frame.encode();
        let mut ack = Some(ack);
        self.for_each_member_device(chat, |c| {
            if Some(c.id) == origin {
                if let Some(ack) = ack.take() {
                    c.push(ack.encode());
                }
            } else {
                c.push(frame.clone());
            }
        });
    }

    fn for_each_member_device(&self, chat: ChatId, mut f: impl FnMut(&Arc<Connection>)) {
        let members = self.members();
        for user in members.members_here(chat) {
            self.devices_of(user, &mut f);
        }
    }

    fn for_each_device(&self, users: impl IntoIterator<Item = UserId>, mut f: impl FnMut(&Arc<Connection>)) {
        for user in users {
            self.devices_of(user, &mut f);
        }
    }

    fn devices_of(&self, user: UserId, f: &mut impl FnMut(&Arc<Connection>)) {
        let shard = self.shard(user).read().unwrap_or_else(|p| p.into_inner());
        if let Some(devices) = shard.get(&user) {
            devices.iter().for_each(f);
        }
    }

    /// The users here who share one of `chats` with `user`, each once.
    fn contacts_here(&self, user: UserId, chats: &[ChatId]) -> HashSet<UserId> {
        let members = self.members();
        chats.iter().flat_map(|chat| members.members_here(*chat)).filter(|u| *u != user).collect()
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: &Event) {
        match event {
            Event::MessageSent { message, origin } => {
                let frame = ServerFrame::Message { message: MessageDto::from(message) };
                self.to_members_acking_origin(message.chat_id, *origin, frame, ServerFrame::ack(message, false));
                self.metrics.fanned_out(message.timestamp);
            }
            Event::MessageEdited { message, origin } => {
                let dto = MessageDto::from(message);
                let frame = ServerFrame::MessageEdited { message: dto.clone() };
                self.to_members_acking_origin(message.chat_id, *origin, frame, ServerFrame::EditAck { message: dto });
            }
            Event::MessageDeleted { message } => {
                let frame = ServerFrame::MessageDeleted {
                    chat_id: message.chat_id.0,
                    message_id: message.id.0,
                    seq: message.seq,
                    version: message.version,
                }
                .encode();
                self.for_each_member_device(message.chat_id, |c| c.push(frame.clone()));
            }
            Event::ReadAdvanced { chat_id, reader_id, message_id, origin } => {
                let frame =
                    ServerFrame::Read { chat_id: chat_id.0, reader_id: reader_id.0, message_id: message_id.0 }.encode();
                self.for_each_member_device(*chat_id, |c| {
                    if Some(c.id) != *origin {
                        c.push(frame.clone());
                    }
                });
            }
            Event::ReadByAll(read) => {
                let frame = ServerFrame::ReadAll {
                    chat_id: read.chat_id.0,
                    sender_id: read.sender_id.0,
                    message_id: read.up_to.0,
                }
                .encode();
                self.for_each_device([read.sender_id], |c| c.push(frame.clone()));
            }
            Event::Typing { chat_id, user_id } => {
                let frame = ServerFrame::Typing { chat_id: chat_id.0, user_id: user_id.0 }.encode();
                self.for_each_member_device(*chat_id, |c| {
                    if c.user != *user_id {
                        c.offer(frame.clone());
                    }
                });
            }
            Event::PresenceChanged { user, presence, chats } => {
                let frame = ServerFrame::Presence {
                    user_id: user.0,
                    online: presence.online,
                    last_seen: presence.last_seen.map(crate::wire::timestamp),
                }
                .encode();
                self.for_each_device(self.contacts_here(*user, chats), |c| c.push(frame.clone()));
            }
            Event::MembersChanged { chat_id, joined, left, member_count } => {
                self.members_mut().apply(*chat_id, joined, left);
                let frame = ServerFrame::ChatUpdated { chat_id: chat_id.0 }.encode();
                let changed = joined.iter().chain(left).copied();
                let told: HashSet<UserId> = if *member_count <= INLINE_MEMBERS_MAX {
                    self.members().members_here(*chat_id).chain(changed).collect()
                } else {
                    changed.collect()
                };
                self.for_each_device(told, |c| c.push(frame.clone()));
            }
        }
    }

    fn link_restored(&self) {
        self.ask_everyone_to_resync("the bus to other instances is back after an outage");
    }

    fn events_missed(&self) {
        self.ask_everyone_to_resync("events from another instance were lost on the bus");
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::message::Message;
    use domain::presence::Presence;
    use domain::{ChatId, MessageId};

    use super::*;

    fn sent(origin: Option<ConnectionId>) -> Event {
        let message = Message {
            id: MessageId(1),
            chat_id: ChatId(1),
            sender_id: UserId(1),
            text: "hi".into(),
            seq: 1,
            version: 1,
            timestamp: Utc::now(),
            read: false,
            client_id: None,
            edited_at: None,
            deleted: false,
            reply_to: None,
        };
        Event::MessageSent { message, origin }
    }

    /// A connection of `user`, a member of `chats`.
    fn connect(hub: &Hub, user: i64, chats: &[i64]) -> (Arc<Connection>, mpsc::Receiver<ByteString>) {
        let (connection, inbox, reading) = hub.register(UserId(user), 0).expect("no limit");
        hub.learn(UserId(user), reading, chats.iter().copied().map(ChatId).collect());
        (connection, inbox)
    }

    fn frames(inbox: &mut mpsc::Receiver<ByteString>) -> Vec<String> {
        std::iter::from_fn(|| inbox.try_recv().ok()).map(|f| f.to_string()).collect()
    }

    #[test]
    fn the_sending_device_gets_an_ack_and_every_other_device_of_the_chat_the_message() {
        let hub = Hub::new(8);
        let (phone, mut phone_inbox) = connect(&hub, 1, &[1]);
        let (_laptop, mut laptop_inbox) = connect(&hub, 1, &[1]);
        let (_bob, mut bob_inbox) = connect(&hub, 2, &[1, 2]);
        let (_carol, mut carol_inbox) = connect(&hub, 3, &[2]);
        hub.deliver(&sent(Some(phone.id)));
        assert!(phone_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"ack""#)));
        assert!(laptop_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"message""#)));
        assert!(bob_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"message""#)));
        assert!(carol_inbox.try_recv().is_err(), "non-members get nothing");
        assert_eq!(hub.connection_count(), 4);
    }

    #[test]
    fn membership_changes_decide_who_hears_a_chat_from_then_on() {
        let hub = Hub::new(8);
        let (_alice, mut alice_inbox) = connect(&hub, 1, &[1]);
        let (_bob, mut bob_inbox) = connect(&hub, 2, &[]);
        hub.deliver(&Event::MembersChanged {
            chat_id: ChatId(1),
            joined: vec![UserId(2)],
            left: Vec::new(),
            member_count: 2,
        });
        assert!(frames(&mut alice_inbox).concat().contains("chat_updated"));
        assert!(frames(&mut bob_inbox).concat().contains("chat_updated"));
        hub.deliver(&sent(None));
        assert!(frames(&mut bob_inbox).concat().contains(r#""type":"message""#), "bob joined");
        hub.deliver(&Event::MembersChanged {
            chat_id: ChatId(1),
            joined: Vec::new(),
            left: vec![UserId(1)],
            member_count: 1,
        });
        assert!(frames(&mut alice_inbox).concat().contains("chat_updated"), "who left hears of it");
        let _ = frames(&mut bob_inbox);
        hub.deliver(&sent(None));
        assert!(frames(&mut alice_inbox).is_empty(), "alice left");
        assert_eq!(frames(&mut bob_inbox).len(), 1);
    }

    #[test]
    fn presence_reaches_each_contact_here_once_and_never_the_user() {
        let hub = Hub::new(8);
        let (_alice, mut alice_inbox) = connect(&hub, 1, &[1, 2]);
        let (_bob, mut bob_inbox) = connect(&hub, 2, &[1, 2]);
        let (_carol, mut carol_inbox) = connect(&hub, 3, &[3]);
        let online = Presence { online: true, last_seen: None };
        hub.deliver(&Event::PresenceChanged { user: UserId(1), presence: online, chats: vec![ChatId(1), ChatId(2)] });
        assert_eq!(frames(&mut bob_inbox).len(), 1, "two shared chats, one frame");
        assert!(frames(&mut alice_inbox).is_empty());
        assert!(frames(&mut carol_inbox).is_empty());
    }

    #[test]
    fn a_full_queue_closes_its_connection_only() {
        let hub = Hub::new(2);
        let (slow, _slow_inbox) = connect(&hub, 2, &[1]);
        let (_fast, mut fast_inbox) = connect(&hub, 1, &[1]);
        let closing = slow.closing();
        for _ in 0..3 {
            hub.deliver(&sent(None));
            let _ = fast_inbox.try_recv();
        }
        assert_eq!(*closing.borrow(), Some(CloseCode::Again));
        hub.unregister(&slow, None);
        assert_eq!(hub.connection_count(), 1);
    }
}
