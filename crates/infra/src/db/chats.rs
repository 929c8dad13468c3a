use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::chat::{
    Chat, ChatKind, ChatRepository, ChatSummary, GROUP_MAX_MEMBERS, GroupName, Member, MemberPageLimit,
};
use domain::message::Message;
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::entities::{chat_members, chats, groups};
use super::error::unexpected;
use super::sql::{chat_ids_param, ids_in_param, statement};

pub struct SeaChatRepository {
    db: DatabaseConnection,
}

impl SeaChatRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(FromQueryResult)]
struct ChatRow {
    id: i64,
    kind: String,
    name: String,
    creator_id: Option<i64>,
}

#[derive(FromQueryResult)]
struct MemberRow {
    chat_id: i64,
    user_id: i64,
    name: String,
    last_read_message_id: Option<i64>,
}

#[derive(FromQueryResult)]
struct MembershipRow {
    user_id: Option<i64>,
}

/// One row of the chat list: the chat, the caller's unread count and the last message, if any.
#[derive(FromQueryResult)]
struct SummaryRow {
    id: i64,
    kind: String,
    name: String,
    creator_id: Option<i64>,
    unread_count: i64,
    last_seq: i64,
    version: i64,
    lm_id: Option<i64>,
    lm_sender_id: Option<i64>,
    lm_text: Option<String>,
    lm_timestamp: Option<DateTime<Utc>>,
    lm_read: Option<bool>,
    lm_client_id: Option<Uuid>,
    lm_edited_at: Option<DateTime<Utc>>,
    lm_deleted: Option<bool>,
    lm_reply_to: Option<i64>,
    lm_version: Option<i64>,
}

const CHAT_SQL: &str = "SELECT c.id, c.type AS kind, c.name, g.creator_id
    FROM chats c LEFT JOIN groups g ON g.chat_id = c.id WHERE c.id = $1";

const MEMBERS_SQL: &str = "SELECT m.chat_id, m.user_id, u.name, m.last_read_message_id
    FROM chat_members m JOIN users u ON u.id = m.user_id WHERE m.chat_id = $1 ORDER BY m.id";

/// Every chat of a user (or those of a list, `{only}`) with its last message and unread count, in one
/// statement whatever the number of chats: the last message is the one at the chat's `last_seq`, the
/// count a range of the `(chat_id, seq)` index above the read pointer's seq.
const SUMMARIES_SQL: &str = "SELECT c.id, c.type AS kind, c.name, g.creator_id, c.last_seq, c.version,
        (SELECT count(*) FROM messages u
          WHERE u.chat_id = c.id AND u.sender_id <> me.user_id
            AND u.seq > COALESCE((SELECT p.seq FROM messages p WHERE p.id = me.last_read_message_id), 0)
        ) AS unread_count,
        lm.id AS lm_id, lm.sender_id AS lm_sender_id, lm.text AS lm_text, lm.timestamp AS lm_timestamp,
        lm.read AS lm_read, lm.client_id AS lm_client_id, lm.version AS lm_version,
        lm.edited_at AS lm_edited_at, lm.deleted AS lm_deleted, lm.reply_to AS lm_reply_to
    FROM chat_members me
    JOIN chats c ON c.id = me.chat_id
    LEFT JOIN groups g ON g.chat_id = c.id
    LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq
    WHERE me.user_id = $1 {only}
    ORDER BY COALESCE(lm.id, 0) DESC, c.id DESC";

/// A page of members by user id, through the `(chat_id, user_id)` unique index.
const MEMBERS_PAGE_SQL: &str = "SELECT m.chat_id, m.user_id, u.name, m.last_read_message_id
    FROM chat_members m JOIN users u ON u.id = m.user_id
    WHERE m.chat_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3";

const MEMBERS_OF_USERS_CHATS_SQL: &str = "SELECT m.chat_id, m.user_id, u.name, m.last_read_message_id
    FROM chat_members m JOIN users u ON u.id = m.user_id
    WHERE m.chat_id IN (SELECT me.chat_id FROM chat_members me WHERE me.user_id = $1 {only})
    ORDER BY m.chat_id, m.id";

fn kind_of(raw: &str) -> ChatKind {
    if raw == "group" { ChatKind::Group } else { ChatKind::Private }
}

fn member_of(row: MemberRow) -> Member {
    Member {
        user_id: UserId(row.user_id),
        name: row.name,
        last_read_message_id: row.last_read_message_id.map(MessageId),
    }
}

fn chat_of(row: ChatRow, members: Vec<Member>) -> Chat {
    Chat {
        id: ChatId(row.id),
        kind: kind_of(&row.kind),
        name: row.name,
        creator_id: row.creator_id.map(UserId),
        members,
    }
}

fn last_message_of(chat: i64, row: &mut SummaryRow) -> Option<Message> {
    Some(Message {
        id: MessageId(row.lm_id?),
        chat_id: ChatId(chat),
        seq: row.last_seq,
        version: row.lm_version?,
        sender_id: UserId(row.lm_sender_id?),
        text: row.lm_text.take()?,
        timestamp: row.lm_timestamp?,
        read: row.lm_read?,
        client_id: row.lm_client_id,
        edited_at: row.lm_edited_at,
        deleted: row.lm_deleted?,
        reply_to: row.lm_reply_to.map(MessageId),
    })
}

async fn find_chat(db: &impl ConnectionTrait, chat: ChatId) -> Result<Option<Chat>, DomainError> {
    let Some(row) =
        ChatRow::find_by_statement(statement(db, CHAT_SQL, [chat.0.into()])).one(db).await.map_err(unexpected)?
    else {
        return Ok(None);
    };
    let members =
        MemberRow::find_by_statement(statement(db, MEMBERS_SQL, [chat.0.into()])).all(db).await.map_err(unexpected)?;
    Ok(Some(chat_of(row, members.into_iter().map(member_of).collect())))
}

/// A membership change is a change of the chat: clients holding an older version hear of it at sync.
async fn bump_version(db: &impl ConnectionTrait, chat: ChatId) -> Result<(), DomainError> {
    db.execute_raw(statement(db, "UPDATE chats SET version = version + 1 WHERE id = $1", [chat.0.into()]))
        .await
        .map_err(unexpected)?;
    Ok(())
}

async fn insert_members(db: &impl ConnectionTrait, chat: i64, users: &[UserId]) -> Result<(), DomainError> {
    // One multi-row insert; rows get ids in list order, which is the members' joining order.
    let rows = users.iter().map(|user| chat_members::ActiveModel {
        chat_id: Set(chat),
        user_id: Set(user.0),
        ..Default::default()
    });
    chat_members::Entity::insert_many(rows).exec(db).await.map_err(unexpected)?;
    Ok(())
}

#[async_trait]
impl ChatRepository for SeaChatRepository {
    #[tracing::instrument(skip(self))]
    async fn find_or_create_private(&self, a: UserId, b: UserId) -> Result<(Chat, bool), DomainError> {
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        let key = format!("{low}:{high}");
        let txn = self.db.begin().await.map_err(unexpected)?;
        // The unique private_key decides between two users opening the chat at the same moment: the
        // loser's insert waits for the winner's transaction and then does nothing.
        let inserted = chats::Entity::insert(chats::ActiveModel {
            kind: Set(ChatKind::Private.as_str().to_owned()),
            name: Set(String::new()),
            private_key: Set(Some(key.clone())),
            ..Default::default()
        })
        .on_conflict(OnConflict::column(chats::Column::PrivateKey).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await
        .map_err(unexpected)?;
        let created = inserted == 1;
        let chat_id: i64 = txn
            .query_one_raw(statement(&txn, "SELECT id FROM chats WHERE private_key = $1", [key.into()]))
            .await
            .map_err(unexpected)?
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("private chat vanished")))?
            .try_get("", "id")
            .map_err(unexpected)?;
        if created {
            insert_members(&txn, chat_id, &[a, b]).await?;
        }
        let chat = find_chat(&txn, ChatId(chat_id)).await?;
        txn.commit().await.map_err(unexpected)?;
        let chat = chat.ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("private chat vanished")))?;
        Ok((chat, created))
    }

    #[tracing::instrument(skip(self, name, members), fields(members = members.len()))]
    async fn create_group(&self, name: &GroupName, creator: UserId, members: &[UserId]) -> Result<Chat, DomainError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        let chat = chats::ActiveModel {
            kind: Set(ChatKind::Group.as_str().to_owned()),
            name: Set(name.as_str().to_owned()),
            private_key: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(unexpected)?;
        groups::ActiveModel {
            chat_id: Set(chat.id),
            name: Set(name.as_str().to_owned()),
            creator_id: Set(Some(creator.0)),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(unexpected)?;
        let everyone: Vec<UserId> = std::iter::once(creator).chain(members.iter().copied()).collect();
        insert_members(&txn, chat.id, &everyone).await?;
        let created = find_chat(&txn, ChatId(chat.id)).await?;
        txn.commit().await.map_err(unexpected)?;
        created.ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("group vanished")))
    }

    #[tracing::instrument(skip(self))]
    async fn find(&self, chat: ChatId) -> Result<Option<Chat>, DomainError> {
        find_chat(&self.db, chat).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn member_ids(&self, chat: ChatId) -> Result<Option<Vec<UserId>>, DomainError> {
        // One statement tells an unknown chat (no row) from a chat without members (one NULL row).
        let sql =
            "SELECT m.user_id FROM chats c LEFT JOIN chat_members m ON m.chat_id = c.id WHERE c.id = $1 ORDER BY m.id";
        let rows = MembershipRow::find_by_statement(statement(&self.db, sql, [chat.0.into()]))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().filter_map(|r| r.user_id.map(UserId)).collect()))
    }

    #[tracing::instrument(skip(self))]
    async fn add_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError> {
        // The pointer starts at the latest message, so that old messages become unread for nobody. The
        // count is checked by the insert itself; on PostgreSQL the chat's row is locked first, so that
        // two concurrent additions cannot both see room for one (SQLite runs one write at a time).
        let sql = "INSERT INTO chat_members (chat_id, user_id, last_read_message_id)
            SELECT $1, $2, (SELECT m.id FROM chats c JOIN messages m ON m.chat_id = c.id AND m.seq = c.last_seq
                            WHERE c.id = $1)
            WHERE (SELECT count(*) FROM chat_members WHERE chat_id = $1) < $3
            ON CONFLICT (chat_id, user_id) DO NOTHING";
        let max = i64::try_from(GROUP_MAX_MEMBERS).unwrap_or(i64::MAX);
        let txn = self.db.begin().await.map_err(unexpected)?;
        if txn.get_database_backend() == DbBackend::Postgres {
            let lock = statement(&txn, "SELECT id FROM chats WHERE id = $1 FOR UPDATE", [chat.0.into()]);
            txn.execute_raw(lock).await.map_err(unexpected)?;
        }
        let added = txn
            .execute_raw(statement(&txn, sql, [chat.0.into(), user.0.into(), max.into()]))
            .await
            .map_err(unexpected)?
            .rows_affected()
            == 1;
        if added {
            bump_version(&txn, chat).await?;
        } else {
            let member = "SELECT user_id AS id FROM chat_members WHERE chat_id = $1 AND user_id = $2";
            let already = IdRow::find_by_statement(statement(&txn, member, [chat.0.into(), user.0.into()]))
                .one(&txn)
                .await
                .map_err(unexpected)?;
            if already.is_none() {
                txn.rollback().await.map_err(unexpected)?;
                return Err(DomainError::invalid(format!("a group holds at most {GROUP_MAX_MEMBERS} members")));
            }
        }
        txn.commit().await.map_err(unexpected)?;
        Ok(added)
    }

    #[tracing::instrument(skip(self))]
    async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        let removed = txn
            .execute_raw(statement(
                &txn,
                "DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2",
                [chat.0.into(), user.0.into()],
            ))
            .await
            .map_err(unexpected)?
            .rows_affected();
        if removed == 0 {
            return Ok(false);
        }
        let succession = "UPDATE groups SET creator_id =
                (SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY id LIMIT 1)
            WHERE chat_id = $1 AND creator_id = $2";
        txn.execute_raw(statement(&txn, succession, [chat.0.into(), user.0.into()])).await.map_err(unexpected)?;
        bump_version(&txn, chat).await?;
        txn.commit().await.map_err(unexpected)?;
        Ok(true)
    }

    #[tracing::instrument(skip(self))]
    async fn list_for_user(&self, user: UserId) -> Result<Vec<ChatSummary>, DomainError> {
        self.summaries(user, None).await
    }

    #[tracing::instrument(skip(self, chats), fields(chats = chats.len()))]
    async fn summaries_of(&self, user: UserId, chats: Vec<ChatId>) -> Result<Vec<ChatSummary>, DomainError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        self.summaries(user, Some(&chats)).await
    }

    #[tracing::instrument(skip(self))]
    async fn versions_for_user(&self, user: UserId) -> Result<Vec<(ChatId, i64)>, DomainError> {
        let sql = "SELECT c.id, c.version FROM chat_members me JOIN chats c ON c.id = me.chat_id WHERE me.user_id = $1";
        let rows: Vec<(i64, i64)> = VersionRow::find_by_statement(statement(&self.db, sql, [user.0.into()]))
            .all(&self.db)
            .await
            .map_err(unexpected)?
            .into_iter()
            .map(|row| (row.id, row.version))
            .collect();
        Ok(rows.into_iter().map(|(chat, version)| (ChatId(chat), version)).collect())
    }

    #[tracing::instrument(skip(self))]
    async fn members_page(
        &self,
        chat: ChatId,
        after: Option<UserId>,
        limit: MemberPageLimit,
    ) -> Result<Vec<Member>, DomainError> {
        let values = [chat.0.into(), after.map_or(0, |u| u.0).into(), i64::from(limit.get()).into()];
        let rows = MemberRow::find_by_statement(statement(&self.db, MEMBERS_PAGE_SQL, values))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(rows.into_iter().map(member_of).collect())
    }

    #[tracing::instrument(skip(self))]
    async fn chat_ids_of(&self, user: UserId, max_members: Option<usize>) -> Result<Vec<ChatId>, DomainError> {
        let rows = match max_members {
            None => {
                let sql = "SELECT chat_id AS id FROM chat_members WHERE user_id = $1";
                IdRow::find_by_statement(statement(&self.db, sql, [user.0.into()])).all(&self.db).await
            }
            Some(most) => {
                let sql = "SELECT me.chat_id AS id FROM chat_members me WHERE me.user_id = $1
                    AND (SELECT count(*) FROM chat_members o WHERE o.chat_id = me.chat_id) <= $2";
                let most = i64::try_from(most).unwrap_or(i64::MAX);
                IdRow::find_by_statement(statement(&self.db, sql, [user.0.into(), most.into()])).all(&self.db).await
            }
        }
        .map_err(unexpected)?;
        Ok(rows.into_iter().map(|row| ChatId(row.id)).collect())
    }

    #[tracing::instrument(skip(self))]
    async fn share_a_chat(&self, a: UserId, b: UserId) -> Result<bool, DomainError> {
        let sql = "SELECT me.chat_id AS id FROM chat_members me
            JOIN chat_members other ON other.chat_id = me.chat_id AND other.user_id = $2
            WHERE me.user_id = $1 LIMIT 1";
        let shared = IdRow::find_by_statement(statement(&self.db, sql, [a.0.into(), b.0.into()]))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(shared.is_some())
    }
}

#[derive(FromQueryResult)]
struct IdRow {
    id: i64,
}

#[derive(FromQueryResult)]
struct VersionRow {
    id: i64,
    version: i64,
}

impl SeaChatRepository {
    /// The chat list, or the part of it named by `only`, in two statements.
    async fn summaries(&self, user: UserId, only: Option<&[ChatId]>) -> Result<Vec<ChatSummary>, DomainError> {
        let mut values: Vec<sea_orm::Value> = vec![user.0.into()];
        // `{only}`: narrowed to the listed chats, bound as `$2`.
        let filter = match only {
            None => String::new(),
            Some(chats) => {
                values.push(chat_ids_param(chats));
                format!("AND me.chat_id IN ({})", ids_in_param(self.db.get_database_backend(), 2))
            }
        };
        let summaries_sql = SUMMARIES_SQL.replace("{only}", &filter);
        let members_sql = MEMBERS_OF_USERS_CHATS_SQL.replace("{only}", &filter);
        let rows = SummaryRow::find_by_statement(statement(&self.db, &summaries_sql, values.clone()))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let member_rows = MemberRow::find_by_statement(statement(&self.db, &members_sql, values))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let mut members: HashMap<i64, Vec<Member>> = HashMap::new();
        for row in member_rows {
            members.entry(row.chat_id).or_default().push(member_of(row));
        }
        Ok(rows
            .into_iter()
            .map(|mut row| {
                let last_message = last_message_of(row.id, &mut row);
                let chat_members = members.remove(&row.id).unwrap_or_default();
                let (unread_count, last_seq, version) = (row.unread_count, row.last_seq, row.version);
                let chat = chat_of(
                    ChatRow { id: row.id, kind: row.kind, name: row.name, creator_id: row.creator_id },
                    chat_members,
                );
                ChatSummary { chat, last_message, unread_count, last_seq, version }
            })
            .collect())
    }
}
