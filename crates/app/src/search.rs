//! Finding messages by their words, in the chats the searcher belongs to.

use std::sync::Arc;

use domain::chat::ChatRepository;
use domain::message::{Message, MessageRepository, SearchLimit, SearchQuery, SearchTerms};
use domain::{ChatId, DomainError, MessageId, UserId};

use crate::membership::ensure_member;

pub struct SearchService {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
}

/// A search as asked for, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest<'a> {
    pub q: &'a str,
    pub chat: Option<ChatId>,
    pub before: Option<MessageId>,
    pub limit: Option<i64>,
}

impl SearchService {
    pub fn new(chats: Arc<dyn ChatRepository>, messages: Arc<dyn MessageRepository>) -> Self {
        Self { chats, messages }
    }

    /// Live messages holding every word of `q` (as word beginnings), newest first.
    ///
    /// # Errors
    /// `InvalidInput` for a query without words or a bad limit, `NotFound` for an unknown chat,
    /// `Forbidden` for a chat the searcher is not in.
    #[tracing::instrument(skip(self, request), fields(%searcher, chat = ?request.chat))]
    pub async fn search(&self, searcher: UserId, request: SearchRequest<'_>) -> Result<Vec<Message>, DomainError> {
        let terms = SearchTerms::new(request.q)?;
        let limit = SearchLimit::or_default(request.limit)?;
        if let Some(chat) = request.chat {
            ensure_member(self.chats.as_ref(), chat, searcher).await?;
        }
        self.messages.search(searcher, SearchQuery { terms, chat: request.chat, before: request.before, limit }).await
    }
}

#[cfg(test)]
mod tests {
    use domain::chat::MockChatRepository;
    use domain::message::MockMessageRepository;

    use super::*;

    fn service(chats: MockChatRepository, messages: MockMessageRepository) -> SearchService {
        SearchService::new(Arc::new(chats), Arc::new(messages))
    }

    #[tokio::test]
    async fn a_search_in_one_chat_is_for_its_members_only() {
        let mut chats = MockChatRepository::new();
        chats.expect_member_ids().returning(|_| Ok(Some(vec![UserId(2)])));
        let request = SearchRequest { q: "hello", chat: Some(ChatId(5)), ..SearchRequest::default() };
        let outcome = service(chats, MockMessageRepository::new()).search(UserId(1), request).await;
        assert!(matches!(outcome, Err(DomainError::Forbidden(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_query_reaches_the_store_as_words_with_the_default_page() {
        let mut messages = MockMessageRepository::new();
        messages
            .expect_search()
            .withf(|member, query| {
                *member == UserId(1)
                    && query.terms.words() == ["hel", "wor"]
                    && query.limit == SearchLimit::DEFAULT
                    && query.chat.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(Vec::new()));
        let request = SearchRequest { q: "Wor, HEL!", ..SearchRequest::default() };
        let outcome = service(MockChatRepository::new(), messages).search(UserId(1), request).await;
        assert_eq!(outcome.ok(), Some(Vec::new()));
    }

    #[tokio::test]
    async fn no_words_or_a_bad_limit_ask_nothing_of_the_store() {
        let search = service(MockChatRepository::new(), MockMessageRepository::new());
        for request in [
            SearchRequest { q: "  ", ..SearchRequest::default() },
            SearchRequest { q: "ok", limit: Some(0), ..SearchRequest::default() },
            SearchRequest { q: "ok", limit: Some(101), ..SearchRequest::default() },
        ] {
            assert!(matches!(search.search(UserId(1), request).await, Err(DomainError::InvalidInput(_))));
        }
    }
}
