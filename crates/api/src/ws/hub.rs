//! Who is connected where: user → live connections (devices) of this instance, and delivery of events
//! to them.
//!
//! Delivery never waits: each connection has a bounded queue, and a connection whose queue is full is
//! closed instead of slowing the publisher (and so everybody else in the chat) down or growing memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use actix_ws::CloseCode;
use bytestring::ByteString;
use domain::events::{Event, EventSink};
use domain::{ConnectionId, UserId};
use tokio::sync::{mpsc, watch};

use super::protocol::ServerFrame;
use crate::metrics::WsMetrics;
use crate::wire::MessageDto;

const SHARDS: usize = 64;

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

pub struct Hub {
    shards: Vec<RwLock<HashMap<UserId, Vec<Arc<Connection>>>>>,
    queue_capacity: usize,
    metrics: Arc<WsMetrics>,
}

impl Hub {
    pub fn new(queue_capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
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

    fn shard(&self, user: UserId) -> &RwLock<HashMap<UserId, Vec<Arc<Connection>>>> {
        &self.shards[usize::try_from(user.0.rem_euclid(SHARDS as i64)).unwrap_or(0)]
    }

    /// Adds a connection unless its user holds `max_per_user` already (0: no limit); from now on it
    /// gets every event for its user. Returns the queue its writer drains.
    pub fn register(&self, user: UserId, max_per_user: usize) -> Option<(Arc<Connection>, mpsc::Receiver<ByteString>)> {
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
        Some((connection, inbox))
    }

    pub fn unregister(&self, connection: &Connection) {
        let mut shard = self.shard(connection.user).write().unwrap_or_else(|p| p.into_inner());
        if let Some(devices) = shard.get_mut(&connection.user) {
            devices.retain(|c| c.id != connection.id);
            if devices.is_empty() {
                shard.remove(&connection.user);
            }
        }
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
    fn ask_everyone_to_resync(&self, why: &str) {
        tracing::warn!(connections = self.connection_count(), why, "asking every connection to resync");
        let frame = ServerFrame::Resync.encode();
        self.for_each_connection(|c| c.push(frame.clone()));
    }

    fn for_each_connection(&self, mut f: impl FnMut(&Arc<Connection>)) {
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|p| p.into_inner());
            shard.values().flatten().for_each(&mut f);
        }
    }

    /// `frame` to every device of `members` but `origin`, which gets `ack` instead: its answer comes here,
    /// in line with the chat's other frames, so that it too sees them in seq order.
    fn to_members_acking_origin(
        &self,
        members: &[UserId],
        origin: Option<ConnectionId>,
        frame: ServerFrame,
        ack: ServerFrame,
    ) {
        let frame = frame.encode();
        let mut ack = Some(ack);
        self.for_each_device(members, |c| {
            if Some(c.id) == origin {
                if let Some(ack) = ack.take() {
                    c.push(ack.encode());
                }
            } else {
                c.push(frame.clone());
            }
        });
    }

    fn for_each_device(&self, users: &[UserId], mut f: impl FnMut(&Arc<Connection>)) {
        for user in users {
            let shard = self.shard(*user).read().unwrap_or_else(|p| p.into_inner());
            if let Some(devices) = shard.get(user) {
                devices.iter().for_each(&mut f);
            }
        }
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: &Event) {
        match event {
            Event::MessageSent { message, members, origin } => {
                let frame = ServerFrame::Message { message: MessageDto::from(message) };
                self.to_members_acking_origin(members, *origin, frame, ServerFrame::ack(message, false));
                self.metrics.fanned_out(message.timestamp);
            }
            Event::MessageEdited { message, members, origin } => {
                let dto = MessageDto::from(message);
                let frame = ServerFrame::MessageEdited { message: dto.clone() };
                self.to_members_acking_origin(members, *origin, frame, ServerFrame::EditAck { message: dto });
            }
            Event::MessageDeleted { message, members } => {
                let frame = ServerFrame::MessageDeleted {
                    chat_id: message.chat_id.0,
                    message_id: message.id.0,
                    seq: message.seq,
                    version: message.version,
                }
                .encode();
                self.for_each_device(members, |c| c.push(frame.clone()));
            }
            Event::ReadAdvanced { chat_id, reader_id, message_id, members, origin } => {
                let frame =
                    ServerFrame::Read { chat_id: chat_id.0, reader_id: reader_id.0, message_id: message_id.0 }.encode();
                self.for_each_device(members, |c| {
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
                self.for_each_device(&[read.sender_id], |c| c.push(frame.clone()));
            }
            Event::Typing { chat_id, user_id, members } => {
                let frame = ServerFrame::Typing { chat_id: chat_id.0, user_id: user_id.0 }.encode();
                self.for_each_device(members, |c| {
                    if c.user != *user_id {
                        c.offer(frame.clone());
                    }
                });
            }
            Event::PresenceChanged { user, presence, recipients } => {
                let frame = ServerFrame::Presence {
                    user_id: user.0,
                    online: presence.online,
                    last_seen: presence.last_seen.map(crate::wire::timestamp),
                }
                .encode();
                self.for_each_device(recipients, |c| {
                    if c.user != *user {
                        c.push(frame.clone());
                    }
                });
            }
            Event::MembersChanged { chat_id, affected } => {
                let frame = ServerFrame::ChatUpdated { chat_id: chat_id.0 }.encode();
                self.for_each_device(affected, |c| c.push(frame.clone()));
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
        Event::MessageSent { message, members: vec![UserId(1), UserId(2)], origin }
    }

    #[test]
    fn the_sending_device_gets_an_ack_and_every_other_device_the_message() {
        let hub = Hub::new(8);
        let (phone, mut phone_inbox) = hub.register(UserId(1), 0).expect("no limit");
        let (_laptop, mut laptop_inbox) = hub.register(UserId(1), 0).expect("no limit");
        let (_bob, mut bob_inbox) = hub.register(UserId(2), 0).expect("no limit");
        let (_carol, mut carol_inbox) = hub.register(UserId(3), 0).expect("no limit");
        hub.deliver(&sent(Some(phone.id)));
        assert!(phone_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"ack""#)));
        assert!(laptop_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"message""#)));
        assert!(bob_inbox.try_recv().is_ok_and(|f| f.contains(r#""type":"message""#)));
        assert!(carol_inbox.try_recv().is_err(), "non-members get nothing");
        assert_eq!(hub.connection_count(), 4);
    }

    #[test]
    fn a_full_queue_closes_its_connection_only() {
        let hub = Hub::new(2);
        let (slow, _slow_inbox) = hub.register(UserId(2), 0).expect("no limit");
        let (_fast, mut fast_inbox) = hub.register(UserId(1), 0).expect("no limit");
        let closing = slow.closing();
        for _ in 0..3 {
            hub.deliver(&sent(None));
            let _ = fast_inbox.try_recv();
        }
        assert_eq!(*closing.borrow(), Some(CloseCode::Again));
        hub.unregister(&slow);
        assert_eq!(hub.connection_count(), 1);
    }
}
