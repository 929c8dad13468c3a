//! Demo data: four users, a private chat, a group and a few messages. Running it twice changes nothing.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DurationRound, TimeDelta, Utc};
use domain::chat::{ChatRepository, GroupName};
use domain::user::{Email, Password, PasswordHasher, UserRepository};
use domain::{ChatId, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::db::entities::messages;
use crate::db::{SeaChatRepository, SeaUserRepository};

const PASSWORD: &str = "password123";
const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

pub(crate) async fn run(db: &DatabaseConnection, hasher: &dyn PasswordHasher) -> anyhow::Result<String> {
    let users = SeaUserRepository::new(db.clone());
    let chats = SeaChatRepository::new(db.clone());
    let hash = hasher.hash(&Password::new(PASSWORD)?).await?;
    let mut ids = Vec::new();
    for name in NAMES {
        let email = Email::new(&format!("{name}@example.com"))?;
        let id = match users.find_credentials(&email).await? {
            Some(existing) => existing.user.id,
            None => {
                let display = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
                let new = domain::user::NewUser {
                    name: domain::user::UserName::new(&display)?,
                    email,
                    password_hash: hash.clone(),
                };
                users.create(new).await?.id
            }
        };
        ids.push(id);
    }
    let (alice, bob) = (ids[0], ids[1]);
    let (private, _) = chats.find_or_create_private(alice, bob).await?;
    let team = find_or_create_team(db, &chats, alice, &ids[1..]).await?;
    seed_messages(db, private.id, &[(alice, "Hi Bob! Welcome to the messenger."), (bob, "Hi Alice, glad to be here.")])
        .await?;
    seed_messages(
        db,
        team,
        &[(alice, "Welcome to the Team group, everyone."), (ids[2], "Hello all!"), (ids[3], "Hi team 👋")],
    )
    .await?;

    let mut report = String::from("Demo data is ready. Sign in with any of:\n");
    for (name, id) in NAMES.iter().zip(&ids) {
        writeln!(report, "  {name}@example.com / {PASSWORD}  (user id {id})")?;
    }
    writeln!(report, "Private chat alice–bob: chat id {}; group \"Team\" with all four: chat id {team}", private.id)?;
    Ok(report)
}

async fn find_or_create_team(
    db: &DatabaseConnection,
    chats: &SeaChatRepository,
    creator: UserId,
    members: &[UserId],
) -> anyhow::Result<ChatId> {
    let sql = "SELECT chat_id FROM groups WHERE name = $1 AND creator_id = $2 ORDER BY id LIMIT 1";
    let existing = db
        .query_one_raw(crate::db::statement(db, sql, ["Team".into(), creator.0.into()]))
        .await?
        .map(|row| row.try_get::<i64>("", "chat_id"))
        .transpose()?;
    if let Some(chat) = existing {
        return Ok(ChatId(chat));
    }
    let chat = chats.create_group(&GroupName::new("Team")?, creator, members).await?;
    Ok(chat.id)
}

/// Adds the messages only to a chat that has none, so a second run adds nothing.
async fn seed_messages(db: &DatabaseConnection, chat: ChatId, lines: &[(UserId, &str)]) -> anyhow::Result<()> {
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait,
    };
    let count = messages::Entity::find().filter(messages::Column::ChatId.eq(chat.0)).count(db).await?;
    if count > 0 {
        return Ok(());
    }
    let start = (Utc::now() - TimeDelta::minutes(10)).duration_trunc(TimeDelta::seconds(1))?;
    let txn = db.begin().await?;
    let base: i64 = txn
        .query_one_raw(crate::db::statement(&txn, "SELECT version FROM chats WHERE id = $1", [chat.0.into()]))
        .await?
        .map(|row| row.try_get::<i64>("", "version"))
        .transpose()?
        .unwrap_or(0);
    let mut last = (0, start);
    let mut stored = Vec::with_capacity(lines.len());
    for (i, (sender, text)) in lines.iter().enumerate() {
        let seq = i64::try_from(i).context("too many seed lines")? + 1;
        let timestamp = start + TimeDelta::seconds(seq * 30);
        let row = messages::ActiveModel {
            chat_id: Set(chat.0),
            sender_id: Set(sender.0),
            text: Set((*text).to_owned()),
            timestamp: Set(timestamp),
            read: Set(false),
            client_id: Set(None),
            seq: Set(seq),
            version: Set(base + seq),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        stored.push(row);
        last = (seq, timestamp);
    }
    crate::db::index_for_search(&txn, &stored).await?;
    // The chat's counters must agree with what was stored, as if the messages had been sent.
    let sql = "UPDATE chats SET last_seq = $2, version = version + $2, last_message_at = $3 WHERE id = $1";
    txn.execute_raw(crate::db::statement(&txn, sql, [chat.0.into(), last.0.into(), last.1.into()])).await?;
    txn.commit().await?;
    Ok(())
}
