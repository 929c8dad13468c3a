//! The SQL of the repositories against a real database: SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` names one (each test then gets a database of its own, dropped at the end).

use std::sync::Arc;

use domain::chat::{ChatRepository, GroupName};
use domain::message::{
    HistoryQuery, InsertOutcome, MessageRepository, MessageText, NewMessage, RawCursors, ReceiptRepository,
};
use domain::user::{Email, NewUser, PasswordHash, UserName, UserRepository};
use domain::{ChatId, MessageId, UserId};
use infra::db::{
    BatchedMessageRepository, SeaChatRepository, SeaMessageRepository, SeaReceiptRepository, SeaUserRepository,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

struct TestDb {
    db: DatabaseConnection,
    url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempdir::Dir>,
}

/// A test that fails never reaches `drop_database`: its PostgreSQL database is dropped here, from a
/// thread with a runtime of its own (drop runs outside async).
impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.admin.take() else { return };
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = infra::db::connect(&admin_url, 1).await?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop a test database: {error}");
        }
    }
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
                let db = infra::db::connect(&url, 8).await?;
                Ok(Self { db, url, admin: Some((admin_url, name)), _dir: None })
            }
            _ => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.display());
                infra::migrate(&url).await?;
                let db = infra::db::connect(&url, 4).await?;
                Ok(Self { db, url, admin: None, _dir: Some(tempdir::Dir(dir)) })
            }
        }
    }

    /// Drops the database now (a failing test drops it in `Drop` instead).
    async fn drop_database(mut self) -> anyhow::Result<()> {
        self.db.clone().close().await?;
        if let Some((admin_url, name)) = self.admin.take() {
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
    Ok(NewMessage { chat_id: chat, sender_id: sender, text: MessageText::new(text)?, client_id, reply_to: None })
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

    let page = |limit, offset, after_id, before_id| {
        HistoryQuery::new(Some(limit), Some(offset), RawCursors { after_id, before_id, ..RawCursors::default() })
    };
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
        stored += batched.history(chat, HistoryQuery::new(Some(200), None, RawCursors::default())?).await?.len();
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
    let after =
        |id: MessageId| HistoryQuery::new(Some(50), None, RawCursors { after_id: Some(id.0), ..RawCursors::default() });
    let texts = |ms: Vec<domain::message::Message>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(texts(messages.history(private.id, after(ids[2])?).await?), ["m4"]);
    // An anchor from another chat, or no message at all, still means "ids above it".
    assert_eq!(texts(messages.history(private.id, after(ids[1])?).await?), ["m2", "m4"]);
    assert_eq!(texts(messages.history(group.id, after(MessageId(0))?).await?), ["m1", "m3", "m5"]);
    assert!(messages.history(group.id, after(MessageId(i64::MAX))?).await?.is_empty());
    test.drop_database().await
}

#[tokio::test]
async fn seqs_are_contiguous_and_timestamps_never_decrease_under_concurrent_batches_from_two_pools()
-> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let users = [test.user("a").await?, test.user("b").await?, test.user("c").await?];
    let chats = SeaChatRepository::new(test.db.clone());
    let group = chats.create_group(&GroupName::new("g")?, users[0], &users[1..]).await?;
    let (other, _) = chats.find_or_create_private(users[0], users[1]).await?;
    // Two repositories on two pools stand for two instances: nothing in-process orders their inserts.
    let second_pool = infra::db::connect(&test.url, 4).await?;
    let instances = [
        Arc::new(BatchedMessageRepository::new(test.db.clone())),
        Arc::new(BatchedMessageRepository::new(second_pool)),
    ];
    let mut tasks = Vec::new();
    for i in 0..200 {
        let repository = instances[i % 2].clone();
        let chat = if i % 5 == 0 { other.id } else { group.id };
        let new = message(chat, users[i % 3], &format!("m{i}"), Uuid::new_v4())?;
        tasks.push(tokio::spawn(async move { repository.insert_idempotent(new).await }));
    }
    for task in tasks {
        assert!(matches!(task.await??, InsertOutcome::Inserted(_)));
    }
    let plain = SeaMessageRepository::new(test.db.clone());
    for (chat, expected) in [(group.id, 160), (other.id, 40)] {
        let all = plain.history(chat, HistoryQuery::new(Some(200), None, RawCursors::default())?).await?;
        assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=expected).collect::<Vec<i64>>());
        assert!(all.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "timestamps follow seq");
        assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids follow seq within a chat");
        let versions: Vec<i64> = all.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=expected).collect::<Vec<i64>>(), "each message advanced the version once");
        let summaries = chats.summaries_of(users[0], vec![chat]).await?;
        assert_eq!(summaries.iter().map(|s| (s.last_seq, s.version)).collect::<Vec<_>>(), [(expected, expected)]);
    }
    // A duplicate takes no seq: the next message follows at once.
    let all = plain.history(other.id, HistoryQuery::new(Some(1), None, RawCursors::default())?).await?;
    let first = all.first().ok_or_else(|| anyhow::anyhow!("stored message missing"))?;
    let again = NewMessage {
        chat_id: other.id,
        sender_id: first.sender_id,
        text: MessageText::new(&first.text)?,
        client_id: first.client_id.unwrap_or_default(),
        reply_to: None,
    };
    assert!(matches!(plain.insert_idempotent(again).await?, InsertOutcome::Existing(_)));
    let next = plain.insert_idempotent(message(other.id, users[0], "next", Uuid::new_v4())?).await?;
    assert!(matches!(next, InsertOutcome::Inserted(ref m) if m.seq == 41), "{next:?}");
    test.drop_database().await
}

#[tokio::test]
async fn seq_cursors_page_both_ways_and_sync_reads_changes_by_version() -> anyhow::Result<()> {
    let test = TestDb::new().await?;
    let (a, b) = (test.user("a").await?, test.user("b").await?);
    let chats = SeaChatRepository::new(test.db.clone());
    let messages = SeaMessageRepository::new(test.db.clone());
    let receipts = SeaReceiptRepository::new(test.db.clone());
    let (chat, _) = chats.find_or_create_private(a, b).await?;
    let mut stored = Vec::new();
    for i in 1..=6 {
        if let InsertOutcome::Inserted(m) =
            messages.insert_idempotent(message(chat.id, a, &format!("m{i}"), Uuid::new_v4())?).await?
        {
            stored.push(m);
        }
    }
    let seqs = |ms: Vec<domain::message::Message>| ms.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    let window = |after_seq, before_seq| {
        HistoryQuery::new(Some(2), None, RawCursors { after_seq, before_seq, ..RawCursors::default() })
    };
    assert_eq!(seqs(messages.history(chat.id, window(Some(2), None)?).await?), [3, 4]);
    assert_eq!(seqs(messages.history(chat.id, window(None, Some(5))?).await?), [3, 4]);
    assert_eq!(seqs(messages.history(chat.id, window(Some(1), Some(3))?).await?), [2]);
    // Reading advances the chat's version, and sync sees only what changed after a version.
    assert!(receipts.advance_read_pointer(chat.id, b, stored[3].id).await?);
    assert!(!receipts.advance_read_pointer(chat.id, b, stored[1].id).await?, "pointers never move back");
    let versions = chats.versions_for_user(b).await?;
    assert_eq!(versions, [(chat.id, 7)]);
    assert_eq!(seqs(messages.changed_since(chat.id, 4, 10).await?), [5, 6]);
    assert_eq!(seqs(messages.changed_since(chat.id, 0, 2).await?), [1, 2]);
    assert_eq!(seqs(messages.newest_of(vec![chat.id], 3).await?), [4, 5, 6]);
    test.drop_database().await
}

#[tokio::test]
async fn a_group_never_grows_past_its_maximum_even_under_concurrent_additions() -> anyhow::Result<()> {
    use domain::DomainError;
    use domain::chat::GROUP_MAX_MEMBERS;

    let test = TestDb::new().await?;
    let (a, b) = (test.user("a").await?, test.user("b").await?);
    let chats = Arc::new(SeaChatRepository::new(test.db.clone()));
    let group = chats.create_group(&GroupName::new("big")?, a, &[b]).await?;
    // 5 short of the maximum, then 10 more users to add at once.
    let bulk = GROUP_MAX_MEMBERS - 2 - 5;
    let users = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO users (name, email, password) SELECT 'bulk', 'bulk' || i || '@example.com', 'x' FROM n",
        total = bulk + 10
    );
    test.db.execute_unprepared(&users).await?;
    let members = format!(
        "INSERT INTO chat_members (chat_id, user_id)
         SELECT {chat}, id FROM users WHERE email LIKE 'bulk%' ORDER BY id LIMIT {bulk}",
        chat = group.id.0
    );
    test.db.execute_unprepared(&members).await?;
    let newcomers: Vec<i64> = {
        let rows = test
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                test.db.get_database_backend(),
                format!("SELECT id FROM users WHERE email LIKE 'bulk%' ORDER BY id LIMIT 10 OFFSET {bulk}"),
            ))
            .await?;
        rows.iter().map(|row| row.try_get::<i64>("", "id")).collect::<Result<_, _>>()?
    };
    let tasks: Vec<_> = newcomers
        .into_iter()
        .map(|user| {
            let chats = chats.clone();
            tokio::spawn(async move { chats.add_member(group.id, UserId(user)).await })
        })
        .collect();
    let (mut added, mut refused) = (0, 0);
    for task in tasks {
        match task.await? {
            Ok(true) => added += 1,
            Err(DomainError::InvalidInput(_)) => refused += 1,
            other => anyhow::bail!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((added, refused), (5, 5), "exactly the room that was left");
    assert_eq!(chats.member_ids(group.id).await?.map(|m| m.len()), Some(GROUP_MAX_MEMBERS));
    assert!(!chats.add_member(group.id, b).await?, "a member is still answered as one in a full group");
    test.drop_database().await
}
