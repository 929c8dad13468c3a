//! The SQL of the repositories against a real database: SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` names one (each test then gets a database of its own, dropped at the end).

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};
use domain::chat::{ChatRepository, GroupName};
use domain::message::{HistoryQuery, InsertOutcome, MessageRepository, MessageText, NewMessage, ReceiptRepository};
use domain::user::{Email, NewUser, PasswordHash, UserName, UserRepository};
use domain::{ChatId, DomainError, MessageId, UserId};
use infra::db::{
    BatchedMessageRepository, SeaChatRepository, SeaMessageRepository, SeaReceiptRepository, SeaUserRepository,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

struct TestDb {
    db: DatabaseConnection,
    admin: Option<(String, String)>,
    _dir: Option<tempdir::Dir>,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDb {
    async fn new() -> anyhow::Result<Self> {
        let name = format!("test_{}", Uuid::new_v4().simple());
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let admin = infra::db::connect(&admin_url, 1).await?;
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                infra::migrate(&url).await?;
                Ok(Self { db: infra::db::connect(&url, 8).await?, admin: Some((admin_url, name)), _dir: None })
            }
            _ => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.display());
                infra::migrate(&url).await?;
                Ok(Self { db: infra::db::connect(&url, 4).await?, admin: None, _dir: Some(tempdir::Dir(dir)) })
            }
        }
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        self.db.close().await?;
        if let Some((admin_url, name)) = self.admin {
            let admin = infra::db::connect(&admin_url, 1).await?;
            admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
            admin.close().await?;
        }
        Ok(())
    }

    async fn user(&self, name: &str) -> anyhow::Result<UserId> {
        let users = SeaUserRepository::new(self.db.clone());
        let new = NewUser {
            name: UserName::new(name)?,
            email: Email::new(&format!("{name}@example.com"))?,
            password_hash: PasswordHash("x".into()),
        };
        Ok(users.create(new).await?.id)
    }
}

fn message(chat: ChatId, sender: UserId, text: &str, client_id: Uuid) -> anyhow::Result<NewMessage> {
    Ok(NewMessage {
        chat_id: chat,
        sender_id: sender,
        text: MessageText::new(text)?,
        client_id,
        timestamp: Utc::now().duration_trunc(TimeDelta::microseconds(1))?,
    })
}

#[tokio::test]
async fn concurrent_inserts_of_one_client_id_store_one_row() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (alice, bob) = (test.user("alice").await?, test.user("bob").await?);
    let chats = SeaChatRepository::new(test.db.clone());
    let (chat, created) = chats.find_or_create_private(alice, bob).await?;
    assert!(created);
    let messages = Arc::new(SeaMessageRepository::new(test.db.clone()));
    let client_id = Uuid::new_v4();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (messages, new) = (messages.clone(), message(chat.id, alice, "hi", client_id)?);
        tasks.push(tokio::spawn(async move { messages.insert_idempotent(new).await }));
    }
    let mut inserted = 0;
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        match task.await?? {
            InsertOutcome::Inserted(m) => {
                inserted += 1;
                ids.insert(m.id);
            }
            InsertOutcome::Existing(m) => {
                ids.insert(m.id);
            }
        }
    }
    assert_eq!((inserted, ids.len()), (1, 1));
    let history = messages.history(chat.id, HistoryQuery::default()).await?;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].client_id, Some(client_id));
    test.drop_database().await
}

#[tokio::test]
async fn read_flags_flip_when_every_other_member_has_read() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (a, b, c) = (test.user("a").await?, test.user("b").await?, test.user("c").await?);
    let chats = SeaChatRepository::new(test.db.clone());
    let group = chats.create_group(&GroupName::new("g")?, a, &[b, c]).await?;
    let messages = SeaMessageRepository::new(test.db.clone());
    let receipts = SeaReceiptRepository::new(test.db.clone());
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        match messages.insert_idempotent(message(group.id, a, text, Uuid::new_v4())?).await? {
            InsertOutcome::Inserted(m) => ids.push(m.id),
            InsertOutcome::Existing(_) => anyhow::bail!("fresh client ids must insert"),
        }
    }
    assert!(receipts.advance_read_pointer(group.id, b, ids[2]).await?);
    assert!(receipts.mark_read_by_all(group.id, Some(ids[2])).await?.is_empty(), "c has not read yet");
    assert!(receipts.advance_read_pointer(group.id, c, ids[1]).await?);
    let flipped = receipts.mark_read_by_all(group.id, Some(ids[1])).await?;
    assert_eq!(flipped.len(), 1);
    assert_eq!((flipped[0].sender_id, flipped[0].up_to), (a, ids[1]));
    assert!(!receipts.advance_read_pointer(group.id, c, ids[0]).await?, "pointers never move back");
    assert!(receipts.mark_read_by_all(group.id, Some(ids[1])).await?.is_empty(), "each flip is reported once");
    assert!(chats.remove_member(group.id, c).await?);
    let flipped = receipts.mark_read_by_all(group.id, None).await?;
    assert_eq!(flipped.first().map(|f| f.up_to), Some(ids[2]), "a leaver no longer counts");
    let history = messages.history(group.id, HistoryQuery::default()).await?;
    assert!(history.iter().all(|m| m.read));
    test.drop_database().await
}

#[tokio::test]
async fn chat_lists_membership_and_history_pages() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (a, b, c) = (test.user("a").await?, test.user("b").await?, test.user("c").await?);
    let chats = SeaChatRepository::new(test.db.clone());
    let messages = SeaMessageRepository::new(test.db.clone());
    let (private, _) = chats.find_or_create_private(b, a).await?;
    let (again, created) = chats.find_or_create_private(a, b).await?;
    assert_eq!((again.id, created), (private.id, false));
    let group = chats.create_group(&GroupName::new("g")?, a, &[b]).await?;
    for i in 0..5 {
        messages.insert_idempotent(message(group.id, b, &format!("m{i}"), Uuid::new_v4())?).await?;
    }
    assert!(chats.add_member(group.id, c).await?);
    assert!(!chats.add_member(group.id, c).await?);
    let list = chats.list_for_user(a).await?;
    assert_eq!(list.iter().map(|s| s.chat.id).collect::<Vec<_>>(), [group.id, private.id]);
    assert_eq!(list[0].unread_count, 5);
    assert_eq!(list[0].last_message.as_ref().map(|m| m.text.as_str()), Some("m4"));
    let for_c = chats.list_for_user(c).await?;
    assert_eq!(for_c[0].unread_count, 0, "a newcomer starts with nothing unread");

    let page = |limit, offset, after, before| HistoryQuery::new(Some(limit), Some(offset), after, before);
    let texts = |ms: Vec<domain::message::Message>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(texts(messages.history(group.id, page(2, 1, None, None)?).await?), ["m1", "m2"]);
    let all = messages.history(group.id, HistoryQuery::default()).await?;
    assert_eq!(texts(messages.history(group.id, page(2, 0, Some(all[2].id.0), None)?).await?), ["m3", "m4"]);
    assert_eq!(texts(messages.history(group.id, page(2, 0, None, Some(all[4].id.0))?).await?), ["m2", "m3"]);
    assert_eq!(messages.chat_of(all[0].id).await?, Some(group.id));
    assert_eq!(messages.chat_of(MessageId(999_999)).await?, None);

    assert!(chats.remove_member(group.id, a).await?);
    let after = chats.find(group.id).await?.map(|g| g.creator_id);
    assert_eq!(after, Some(Some(b)), "the longest-standing member becomes creator");
    assert_eq!(chats.member_ids(ChatId(999_999)).await?, None);
    test.drop_database().await
}

#[tokio::test]
async fn batched_inserts_store_each_key_once_and_answer_every_caller() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let users = [test.user("a").await?, test.user("b").await?, test.user("c").await?];
    let chats = SeaChatRepository::new(test.db.clone());
    let mut chat_ids = Vec::new();
    for i in 0..3 {
        chat_ids.push(chats.create_group(&GroupName::new(&format!("g{i}"))?, users[0], &users[1..]).await?.id);
    }
    let batched = Arc::new(BatchedMessageRepository::new(test.db.clone()));
    let keys: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    let mut tasks = Vec::new();
    // Every key sent three times at once, by the same sender into the same chat, as retries would.
    for round in 0..3 {
        for (i, key) in keys.iter().enumerate() {
            let (batched, sender, chat) = (batched.clone(), users[i % 3], chat_ids[i % 3]);
            let new = message(chat, sender, &format!("m{i}"), *key)?;
            tasks.push(tokio::spawn(async move { (round, i, batched.insert_idempotent(new).await) }));
        }
    }
    let mut inserted = std::collections::BTreeMap::new();
    let mut answers = 0;
    for task in tasks {
        let (_, i, outcome) = task.await?;
        let (fresh, message) = match outcome? {
            InsertOutcome::Inserted(m) => (true, m),
            InsertOutcome::Existing(m) => (false, m),
        };
        assert_eq!(message.text, format!("m{i}"), "every caller gets its own message back");
        answers += 1;
        if fresh {
            assert!(inserted.insert(i, message.id).is_none(), "key {i} inserted twice");
        }
    }
    assert_eq!((answers, inserted.len()), (90, 30));
    let mut stored = 0;
    for chat in chat_ids {
        stored += batched.history(chat, HistoryQuery::new(Some(200), None, None, None)?).await?.len();
    }
    assert_eq!(stored, 30);
    test.drop_database().await
}

#[tokio::test]
async fn after_id_catch_up_is_exact_whatever_the_anchor() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (a, b) = (test.user("a").await?, test.user("b").await?);
    let chats = SeaChatRepository::new(test.db.clone());
    let messages = SeaMessageRepository::new(test.db.clone());
    let (private, _) = chats.find_or_create_private(a, b).await?;
    let group = chats.create_group(&GroupName::new("g")?, a, &[b]).await?;
    let mut ids = Vec::new();
    for i in 0..6 {
        let chat = if i % 2 == 0 { private.id } else { group.id };
        match messages.insert_idempotent(message(chat, a, &format!("m{i}"), Uuid::new_v4())?).await? {
            InsertOutcome::Inserted(m) => ids.push(m.id),
            InsertOutcome::Existing(_) => anyhow::bail!("fresh client ids must insert"),
        }
    }
    let after = |id: MessageId| HistoryQuery::new(Some(50), None, Some(id.0), None);
    let texts = |ms: Vec<domain::message::Message>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(texts(messages.history(private.id, after(ids[2])?).await?), ["m4"]);
    // An anchor from another chat, or no message at all, still means "ids above it".
    assert_eq!(texts(messages.history(private.id, after(ids[1])?).await?), ["m2", "m4"]);
    assert_eq!(texts(messages.history(group.id, after(MessageId(0))?).await?), ["m1", "m3", "m5"]);
    assert!(messages.history(group.id, after(MessageId(i64::MAX))?).await?.is_empty());
    test.drop_database().await
}

#[tokio::test]
async fn a_send_that_waited_too_long_for_its_insert_is_refused_for_a_retry() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (a, b) = (test.user("a").await?, test.user("b").await?);
    let (chat, _) = SeaChatRepository::new(test.db.clone()).find_or_create_private(a, b).await?;
    let batched = BatchedMessageRepository::new(test.db.clone());
    let mut stale = message(chat.id, a, "late", Uuid::new_v4())?;
    stale.timestamp -= TimeDelta::seconds(10);
    let refused = batched.insert_idempotent(stale.clone()).await;
    assert!(matches!(refused, Err(DomainError::RateLimited { .. })), "{refused:?}");
    assert!(batched.find_by_client_id(a, stale.client_id).await?.is_none(), "nothing stored");
    stale.timestamp += TimeDelta::seconds(10);
    assert!(matches!(batched.insert_idempotent(stale).await?, InsertOutcome::Inserted(_)), "the retry goes in");
    test.drop_database().await
}
