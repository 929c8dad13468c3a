use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `private` or `group`.
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub name: String,
    /// `"<low user id>:<high user id>"` for a private chat, unique: one private chat per pair.
    pub private_key: Option<String>,
    /// The seq of the newest message; 0 for an empty chat.
    pub last_seq: i64,
    /// Advanced by every change to the chat.
    pub version: i64,
    /// The newest message's timestamp: the next one is never stamped earlier.
    pub last_message_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
