//! Sending messages (exactly once per client id, never waiting on the bus) and reading history.

use std::sync::Arc;
use std::time::Duration;

use domain::chat::ChatRepository;
use domain::events::{Event, EventBus};
use domain::message::{HistoryQuery, InsertOutcome, Message, MessageRepository, MessageText, NewMessage};
use domain::rate_limit::{RateKind, RateLimiter};
use domain::{ChatId, ConnectionId, DomainError, MessageId, UserId};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use crate::membership::ensure_member;
use crate::sequencer::{ChatLanes, Leading};

/// How long a send may wait for the database before its sender is told to retry (`unavailable`).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer to a send: the stored message, and whether it had been stored by an earlier send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message: Message,
    pub duplicate: bool,
}

pub struct MessageService {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    bus: Arc<dyn EventBus>,
    limiter: Arc<dyn RateLimiter>,
    lanes: Arc<ChatLanes<Queued>>,
    send_timeout: Duration,
}

impl MessageService {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        messages: Arc<dyn MessageRepository>,
        bus: Arc<dyn EventBus>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        Self { chats, messages, bus, limiter, lanes: Arc::new(ChatLanes::new()), send_timeout: DEFAULT_SEND_TIMEOUT }
    }

    /// How long a send may wait for its chat's turn and the database together.
    #[must_use]
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Stores and broadcasts a message, once per `(sender, client_id)` whatever the concurrency.
    /// `origin` is the connection that sent it (it gets an ack, not the broadcast).
    ///
    /// # Errors
    /// `InvalidInput` for bad text or a `reply_to` that is not a message of the chat, `NotFound` for an
    /// unknown chat, `Forbidden` for a non-member,
    /// `RateLimited` over the send budget, `Conflict` when `client_id` was used for another message,
    /// `Unavailable` when the message could not be stored in time (then it was not acknowledged, and a
    /// retry with the same `client_id` is safe).
    pub async fn send(
        &self,
        sender: UserId,
        chat: ChatId,
        text: &str,
        client_id: Uuid,
        reply_to: Option<MessageId>,
        origin: Option<ConnectionId>,
    ) -> Result<SendOutcome, DomainError> {
        self.submit(sender, chat, text, client_id, reply_to, origin).await?.outcome().await
    }

    /// The first half of [`MessageService::send`]: checks the send and queues it in its chat's turn,
    /// which fixes its place among the chat's messages, without waiting for the database. A connection
    /// submits its sends one after another and awaits their outcomes meanwhile, so that its messages keep
    /// the order it sent them in while several are in flight.
    ///
    /// # Errors
    /// As [`MessageService::send`], for what can be told before the database is asked.
    #[tracing::instrument(skip(self, text), fields(%sender, %chat))]
    pub async fn submit(
        &self,
        sender: UserId,
        chat: ChatId,
        text: &str,
        client_id: Uuid,
        reply_to: Option<MessageId>,
        origin: Option<ConnectionId>,
    ) -> Result<PendingSend, DomainError> {
        let text = MessageText::new(text)?;
        ensure_member(self.chats.as_ref(), chat, sender).await?;
        if let Some(reply_to) = reply_to
            && self.messages.chat_of(reply_to).await? != Some(chat)
        {
            return Err(DomainError::invalid("reply_to must name a message of the same chat"));
        }
        // A duplicate must never be refused for rate: when the bucket is empty, answer from the store.
        if let Err(limited) = self.limiter.acquire(sender, RateKind::Send) {
            let answered = self.answer_duplicate_or(limited, sender, chat, &text, client_id).await;
            return Ok(PendingSend { state: Pending::Ready(answered) });
        }
        let deadline = Instant::now() + self.send_timeout;
        let new = NewMessage { chat_id: chat, sender_id: sender, text: text.clone(), client_id, reply_to };
        let (reply, answer) = oneshot::channel();
        // The lane's leader stores on a task of its own: when the database is slow the sender is told to
        // retry at the deadline, while a statement already in flight finishes and, if it stored the
        // message, still broadcasts it, so that a late commit is never a silent one.
        if let Some(leading) = self.lanes.enqueue(chat, Queued { send: Stored { new, origin, deadline }, reply }) {
            tokio::spawn(lead(self.lanes.clone(), self.messages.clone(), self.bus.clone(), leading));
        }
        Ok(PendingSend {
            state: Pending::Queued {
                answer,
                deadline,
                timeout: self.send_timeout,
                check: (sender, chat, text),
                limiter: self.limiter.clone(),
            },
        })
    }

    /// A page of history, for members only.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat, `Forbidden` for a non-member.
    #[tracing::instrument(skip(self), fields(%reader, %chat))]
    pub async fn history(
        &self,
        reader: UserId,
        chat: ChatId,
        query: HistoryQuery,
    ) -> Result<Vec<Message>, DomainError> {
        ensure_member(self.chats.as_ref(), chat, reader).await?;
        self.messages.history(chat, query).await
    }

    /// Over the limit, a retry of an already stored message is still answered as a duplicate (duplicates
    /// are free); a genuinely new message is refused with the limit's error and nothing is stored.
    async fn answer_duplicate_or(
        &self,
        limited: DomainError,
        sender: UserId,
        chat: ChatId,
        text: &MessageText,
        client_id: Uuid,
    ) -> Result<SendOutcome, DomainError> {
        match self.messages.find_by_client_id(sender, client_id).await? {
            Some(message) => {
                same_message(&message, chat, text)?;
                Ok(SendOutcome { message, duplicate: true })
            }
            None => Err(limited),
        }
    }
}

/// What one send stores, and the connection that answers for it.
struct Stored {
    new: NewMessage,
    origin: Option<ConnectionId>,
    deadline: Instant,
}

/// A send waiting in its chat's lane, with whom to answer.
pub(crate) struct Queued {
    send: Stored,
    reply: oneshot::Sender<Result<InsertOutcome, DomainError>>,
}

/// Sends stored per statement at most: a chat's turn takes this many of the sends waiting for it.
const LANE_BATCH: usize = 256;

/// Stores whatever waits in the led lane, one statement per group, publishing each fresh message in seq
/// order, until the lane is empty.
async fn lead(
    lanes: Arc<ChatLanes<Queued>>,
    messages: Arc<dyn MessageRepository>,
    bus: Arc<dyn EventBus>,
    leading: Leading,
) {
    while let Some(group) = lanes.next_batch(leading, LANE_BATCH) {
        store_group(messages.as_ref(), bus.as_ref(), group).await;
    }
}

/// A send in its chat's turn (or already answered); [`PendingSend::outcome`] waits for its answer.
pub struct PendingSend {
    state: Pending,
}

enum Pending {
    Ready(Result<SendOutcome, DomainError>),
    Queued {
        answer: oneshot::Receiver<Result<InsertOutcome, DomainError>>,
        deadline: Instant,
        timeout: Duration,
        /// Sender, chat and text, to check a duplicate against.
        check: (UserId, ChatId, MessageText),
        limiter: Arc<dyn RateLimiter>,
    },
}

impl PendingSend {
    /// The stored message, or why there is none; `Unavailable` once the deadline has passed.
    ///
    /// # Errors
    /// As [`MessageService::send`].
    pub async fn outcome(self) -> Result<SendOutcome, DomainError> {
        let (answer, deadline, timeout, (sender, chat, text), limiter) = match self.state {
            Pending::Ready(answered) => return answered,
            Pending::Queued { answer, deadline, timeout, check, limiter } => {
                (answer, deadline, timeout, check, limiter)
            }
        };
        let outcome = match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(DomainError::Unexpected(anyhow::anyhow!("a send was dropped unanswered"))),
            Err(_) => {
                tracing::warn!(timeout_ms = timeout.as_millis(), "a send waited too long for the database");
                return Err(DomainError::unavailable());
            }
        };
        match outcome {
            InsertOutcome::Inserted(message) => Ok(SendOutcome { message, duplicate: false }),
            InsertOutcome::Existing(message) => {
                limiter.refund(sender, RateKind::Send);
                same_message(&message, chat, &text)?;
                Ok(SendOutcome { message, duplicate: true })
            }
        }
    }
}

/// Stores one group of sends in one statement and answers each.
async fn store_group(messages: &dyn MessageRepository, bus: &dyn EventBus, group: Vec<Queued>) {
    let now = Instant::now();
    // A sender told to retry already must not race with its retry: its send is not stored.
    let (live, expired): (Vec<Queued>, Vec<Queued>) = group.into_iter().partition(|q| now < q.send.deadline);
    for late in expired {
        let _ = late.reply.send(Err(DomainError::unavailable()));
    }
    if live.is_empty() {
        return;
    }
    let outcomes = messages.insert_batch(live.iter().map(|q| q.send.new.clone()).collect()).await;
    for (queued, outcome) in live.into_iter().zip(outcomes) {
        let Queued { send, reply } = queued;
        if let Ok(InsertOutcome::Inserted(message)) = &outcome {
            bus.publish(Event::MessageSent { message: message.clone(), origin: send.origin });
        }
        // A caller that gave up is fine: it retries with the same client_id.
        let _ = reply.send(outcome);
    }
}

/// A reused `client_id` must name the same message; anything else is a client bug worth reporting. Once
/// edited or deleted, the text can no longer be compared: the retry is answered with the message as it
/// is now.
fn same_message(original: &Message, chat: ChatId, text: &MessageText) -> Result<(), DomainError> {
    if original.chat_id == chat && (!original.is_as_sent() || original.text == text.as_str()) {
        Ok(())
    } else {
        Err(DomainError::Conflict("this client_id was already used for a different message".into()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::MessageId;
    use domain::chat::MockChatRepository;
    use domain::events::MockEventBus;
    use domain::message::MockMessageRepository;
    use domain::rate_limit::MockRateLimiter;

    use super::*;

    const CLIENT: Uuid = Uuid::from_u128(42);

    fn stored(chat: i64, text: &str) -> Message {
        Message {
            id: MessageId(10),
            chat_id: ChatId(chat),
            sender_id: UserId(1),
            text: text.into(),
            seq: 1,
            version: 1,
            timestamp: chrono::DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            read: false,
            client_id: Some(CLIENT),
            edited_at: None,
            deleted: false,
            reply_to: None,
        }
    }

    fn chats_with_members(members: Vec<i64>) -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_member_ids().returning(move |_| Ok(Some(members.iter().copied().map(UserId).collect())));
        chats
    }

    fn open_limiter() -> MockRateLimiter {
        let mut limiter = MockRateLimiter::new();
        limiter.expect_acquire().returning(|_, _| Ok(()));
        limiter
    }

    fn service(
        chats: MockChatRepository,
        messages: MockMessageRepository,
        bus: MockEventBus,
        limiter: MockRateLimiter,
    ) -> MessageService {
        MessageService::new(Arc::new(chats), Arc::new(messages), Arc::new(bus), Arc::new(limiter))
    }

    /// Queues a send of user 2 in chat 5's idle lane, so that the test leads the lane: what comes after
    /// waits until the test runs [`lead`].
    fn lead_chat_5(
        service: &MessageService,
        text: &str,
        deadline: Instant,
    ) -> (Leading, oneshot::Receiver<Result<InsertOutcome, DomainError>>) {
        let (reply, answer) = oneshot::channel();
        let Ok(text) = MessageText::new(text) else { panic!("valid text") };
        let new = NewMessage {
            chat_id: ChatId(5),
            sender_id: UserId(2),
            text,
            client_id: Uuid::from_u128(7),
            reply_to: None,
        };
        let queued = Queued { send: Stored { new, origin: None, deadline }, reply };
        let Some(leading) = service.lanes.enqueue(ChatId(5), queued) else { panic!("an idle lane") };
        (leading, answer)
    }

    #[tokio::test]
    async fn a_new_message_is_stored_once_and_broadcast_to_all_members() {
        let mut messages = MockMessageRepository::new();
        messages
            .expect_insert_batch()
            .withf(|b| {
                b.len() == 1 && b[0].client_id == CLIENT && b[0].text.as_str() == "hi" && b[0].sender_id == UserId(1)
            })
            .times(1)
            .returning(|_| vec![Ok(InsertOutcome::Inserted(stored(5, "hi")))]);
        let mut bus = MockEventBus::new();
        let origin = ConnectionId::new();
        bus.expect_publish()
            .withf(move |e| matches!(e, Event::MessageSent { origin: Some(o), .. } if *o == origin))
            .times(1)
            .return_const(());
        let outcome = service(chats_with_members(vec![1, 2]), messages, bus, open_limiter())
            .send(UserId(1), ChatId(5), "hi", CLIENT, None, Some(origin))
            .await;
        assert_eq!(outcome.ok(), Some(SendOutcome { message: stored(5, "hi"), duplicate: false }));
    }

    #[tokio::test]
    async fn a_repeated_client_id_answers_the_original_without_a_broadcast_or_a_token() {
        let mut messages = MockMessageRepository::new();
        messages.expect_insert_batch().returning(|_| vec![Ok(InsertOutcome::Existing(stored(5, "hi")))]);
        let mut limiter = open_limiter();
        limiter.expect_refund().times(1).return_const(());
        let outcome = service(chats_with_members(vec![1, 2]), messages, MockEventBus::new(), limiter)
            .send(UserId(1), ChatId(5), "hi", CLIENT, None, None)
            .await;
        assert_eq!(outcome.map(|o| o.duplicate).ok(), Some(true));
    }

    #[tokio::test]
    async fn a_client_id_reused_for_other_text_or_chat_is_a_conflict() {
        for (chat, text) in [(5, "other"), (6, "hi")] {
            let mut messages = MockMessageRepository::new();
            messages.expect_insert_batch().returning(|_| vec![Ok(InsertOutcome::Existing(stored(5, "hi")))]);
            let mut limiter = open_limiter();
            limiter.expect_refund().return_const(());
            let outcome = service(chats_with_members(vec![1, 2]), messages, MockEventBus::new(), limiter)
                .send(UserId(1), ChatId(chat), text, CLIENT, None, None)
                .await;
            assert!(matches!(outcome, Err(DomainError::Conflict(_))), "{chat} {text}");
        }
    }

    #[tokio::test]
    async fn non_members_unknown_chats_and_bad_text_store_nothing() {
        let send = |chats: MockChatRepository, text: &'static str| async move {
            service(chats, MockMessageRepository::new(), MockEventBus::new(), MockRateLimiter::new())
                .send(UserId(1), ChatId(5), text, CLIENT, None, None)
                .await
        };
        assert!(matches!(send(chats_with_members(vec![2, 3]), "hi").await, Err(DomainError::Forbidden(_))));
        let mut unknown = MockChatRepository::new();
        unknown.expect_member_ids().returning(|_| Ok(None));
        assert!(matches!(send(unknown, "hi").await, Err(DomainError::NotFound("chat"))));
        assert!(matches!(send(MockChatRepository::new(), "  ").await, Err(DomainError::InvalidInput(_))));
    }

    #[tokio::test]
    async fn over_the_limit_a_new_message_is_refused_but_a_duplicate_is_answered() {
        let limited = || {
            let mut limiter = MockRateLimiter::new();
            limiter
                .expect_acquire()
                .returning(|_, _| Err(DomainError::RateLimited { retry_after: std::time::Duration::from_millis(10) }));
            limiter
        };
        let mut fresh = MockMessageRepository::new();
        fresh.expect_find_by_client_id().returning(|_, _| Ok(None));
        let refused = service(chats_with_members(vec![1, 2]), fresh, MockEventBus::new(), limited())
            .send(UserId(1), ChatId(5), "hi", CLIENT, None, None)
            .await;
        assert!(matches!(refused, Err(DomainError::RateLimited { .. })));

        let mut known = MockMessageRepository::new();
        known.expect_find_by_client_id().returning(|_, _| Ok(Some(stored(5, "hi"))));
        let answered = service(chats_with_members(vec![1, 2]), known, MockEventBus::new(), limited())
            .send(UserId(1), ChatId(5), "hi", CLIENT, None, None)
            .await;
        assert_eq!(answered.map(|o| o.duplicate).ok(), Some(true));
    }

    #[tokio::test]
    async fn a_failed_insert_keeps_its_token() {
        // Refunding failures would let a client that provokes them send without limit.
        let mut messages = MockMessageRepository::new();
        messages.expect_insert_batch().returning(|_| vec![Err(DomainError::Unexpected(anyhow::anyhow!("db down")))]);
        let outcome = service(chats_with_members(vec![1, 2]), messages, MockEventBus::new(), open_limiter())
            .send(UserId(1), ChatId(5), "hi", CLIENT, None, None)
            .await;
        assert!(matches!(outcome, Err(DomainError::Unexpected(_))));
    }

    #[tokio::test]
    async fn a_send_that_cannot_reach_the_database_in_time_is_unavailable_and_stores_nothing() {
        let mut messages = MockMessageRepository::new();
        // Once: for the retry, never for the send that timed out.
        messages.expect_insert_batch().times(1).returning(|_| vec![Ok(InsertOutcome::Inserted(stored(5, "hi")))]);
        let mut bus = MockEventBus::new();
        bus.expect_publish().times(1).return_const(());
        let service = service(chats_with_members(vec![1, 2]), messages, bus, open_limiter())
            .with_send_timeout(Duration::from_millis(50));
        // Another send leading the chat's lane keeps this one from the database past its deadline.
        let (leading, _answer) = lead_chat_5(&service, "ahead", Instant::now());
        let outcome = service.send(UserId(1), ChatId(5), "hi", CLIENT, None, None).await;
        assert!(matches!(outcome, Err(DomainError::Unavailable { .. })), "{outcome:?}");
        // The lane moves on: both sends are past their deadlines, so neither reaches the database.
        lead(service.lanes.clone(), service.messages.clone(), service.bus.clone(), leading).await;
        let retried = service.send(UserId(1), ChatId(5), "hi", CLIENT, None, None).await;
        assert_eq!(retried.map(|o| o.duplicate).ok(), Some(false));
    }

    #[tokio::test]
    async fn the_sends_waiting_for_a_chats_turn_share_one_statement_and_publish_in_order() {
        let mut messages = MockMessageRepository::new();
        messages.expect_insert_batch().withf(|b| b.len() == 4).times(1).returning(|batch| {
            batch
                .into_iter()
                .enumerate()
                .map(|(i, new)| {
                    let seq = i64::try_from(i).unwrap_or_default() + 1;
                    let id = MessageId(seq);
                    Ok(InsertOutcome::Inserted(Message { id, seq, text: new.text.into_inner(), ..stored(5, "") }))
                })
                .collect()
        });
        let published = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut bus = MockEventBus::new();
        let seen = published.clone();
        bus.expect_publish().times(4).returning(move |e| {
            if let Event::MessageSent { message, .. } = e {
                seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(message.seq);
            }
        });
        let service = Arc::new(service(chats_with_members(vec![1, 2]), messages, bus, open_limiter()));
        let deadline = Instant::now() + Duration::from_secs(5);
        let (leading, _answer) = lead_chat_5(&service, "first", deadline);
        let sends: Vec<_> = (0..3u128)
            .map(|i| {
                let service = service.clone();
                tokio::spawn(async move {
                    service.send(UserId(1), ChatId(5), &format!("m{i}"), Uuid::from_u128(100 + i), None, None).await
                })
            })
            .collect();
        // Let the three sends queue behind the lane's leader.
        while service.lanes.waiting(leading) < 4 {
            tokio::task::yield_now().await;
        }
        lead(service.lanes.clone(), service.messages.clone(), service.bus.clone(), leading).await;
        for send in sends {
            assert!(matches!(send.await, Ok(Ok(SendOutcome { duplicate: false, .. }))));
        }
        assert_eq!(*published.lock().unwrap_or_else(std::sync::PoisonError::into_inner), [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn history_is_for_members_only() {
        let mut messages = MockMessageRepository::new();
        messages.expect_history().times(1).returning(|_, _| Ok(vec![stored(5, "hi")]));
        let history = service(chats_with_members(vec![1, 2]), messages, MockEventBus::new(), MockRateLimiter::new());
        assert_eq!(history.history(UserId(1), ChatId(5), HistoryQuery::default()).await.map(|m| m.len()).ok(), Some(1));
        let outsider = history.history(UserId(3), ChatId(5), HistoryQuery::default()).await;
        assert!(matches!(outsider, Err(DomainError::Forbidden(_))));
    }
}
