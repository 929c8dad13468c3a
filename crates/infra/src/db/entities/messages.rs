use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: i64,
    pub text: String,
    pub timestamp: DateTimeUtc,
    pub read: bool,
    pub client_id: Option<Uuid>,
    pub seq: i64,
    pub version: i64,
    pub edited_at: Option<DateTimeUtc>,
    pub deleted: bool,
    pub reply_to: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for domain::message::Message {
    fn from(m: Model) -> Self {
        use domain::{ChatId, MessageId, UserId};
        Self {
            id: MessageId(m.id),
            chat_id: ChatId(m.chat_id),
            sender_id: UserId(m.sender_id),
            text: m.text,
            seq: m.seq,
            version: m.version,
            timestamp: m.timestamp,
            read: m.read,
            client_id: m.client_id,
            edited_at: m.edited_at,
            deleted: m.deleted,
            reply_to: m.reply_to.map(MessageId),
        }
    }
}
