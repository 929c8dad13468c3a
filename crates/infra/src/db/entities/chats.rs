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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
