//! Looking users up.

use std::sync::Arc;

use domain::limit::Limit;
use domain::user::{User, UserQuery, UserRepository};
use domain::{DomainError, UserId};

/// How many users a search answers: 1 to 100, 20 when not given.
type UserSearchLimit = Limit<100, 20>;

/// A user as a viewer sees them. Another user's email is shown only to whoever searched for exactly
/// that email (they typed it); the viewer's own always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
}

impl UserView {
    fn seen_by(user: User, viewer: UserId, query: &UserQuery) -> Self {
        let visible = user.id == viewer || query.is_exactly(&user.email);
        Self { id: user.id, name: user.name, email: visible.then_some(user.email) }
    }
}

pub struct UserService {
    users: Arc<dyn UserRepository>,
}

impl UserService {
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// # Errors
    /// `Unauthorized` when the token's user no longer exists.
    pub async fn me(&self, me: UserId) -> Result<User, DomainError> {
        self.users.find_by_id(me).await?.ok_or(DomainError::Unauthorized)
    }

    /// Users, by id, whose name contains `query` (case-insensitively) or whose email is `query` (ignoring
    /// case); an empty query lists users by id. Emails are shown as [`UserView`] says.
    ///
    /// # Errors
    /// `InvalidInput` for a limit outside 1..=100 or a query holding a control character.
    pub async fn search(
        &self,
        viewer: UserId,
        query: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<UserView>, DomainError> {
        let query = UserQuery::new(query.unwrap_or(""))?;
        let limit = UserSearchLimit::or_default(limit)?;
        let found = self.users.search(query.as_str(), limit.get()).await?;
        Ok(found.into_iter().map(|user| UserView::seen_by(user, viewer, &query)).collect())
    }
}

#[cfg(test)]
mod tests {
    use domain::user::MockUserRepository;

    use super::*;

    #[tokio::test]
    async fn me_is_unauthorized_once_the_user_is_gone() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(None));
        assert!(matches!(UserService::new(Arc::new(users)).me(UserId(1)).await, Err(DomainError::Unauthorized)));
    }

    fn user(id: i64, name: &str) -> User {
        User { id: UserId(id), name: name.into(), email: format!("{name}@example.com") }
    }

    #[tokio::test]
    async fn search_trims_the_query_and_bounds_the_limit() {
        let mut users = MockUserRepository::new();
        users.expect_search().withf(|q, l| q == "bo" && *l == 20).times(1).returning(|_, _| Ok(vec![]));
        let service = UserService::new(Arc::new(users));
        assert!(service.search(UserId(1), Some(" bo "), None).await.is_ok());
        assert!(matches!(service.search(UserId(1), None, Some(0)).await, Err(DomainError::InvalidInput(_))));
        assert!(matches!(service.search(UserId(1), None, Some(101)).await, Err(DomainError::InvalidInput(_))));
    }

    #[tokio::test]
    async fn a_query_with_a_control_character_never_reaches_the_repository() {
        let service = UserService::new(Arc::new(MockUserRepository::new()));
        for q in ["\u{0}", "bo\u{0}b", "bo\rb", "\u{1b}[0m"] {
            assert!(
                matches!(service.search(UserId(1), Some(q), None).await, Err(DomainError::InvalidInput(_))),
                "{q:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_query_is_composed_before_it_reaches_the_repository() {
        let mut users = MockUserRepository::new();
        users.expect_search().withf(|q, _| q == "am\u{e9}lie").times(1).returning(|_, _| Ok(vec![]));
        assert!(UserService::new(Arc::new(users)).search(UserId(1), Some("ame\u{301}lie"), None).await.is_ok());
    }

    #[tokio::test]
    async fn another_users_email_is_shown_only_when_it_is_exactly_what_was_searched_for() {
        let mut users = MockUserRepository::new();
        users.expect_search().returning(|_, _| Ok(vec![user(1, "me"), user(2, "bob"), user(3, "bobby")]));
        let service = UserService::new(Arc::new(users));
        let emails = |found: Vec<UserView>| found.into_iter().map(|u| u.email).collect::<Vec<_>>();
        let by_name = service.search(UserId(1), Some("b"), None).await.map(emails).ok();
        assert_eq!(by_name, Some(vec![Some("me@example.com".into()), None, None]), "only the viewer's own");
        let by_email = service.search(UserId(1), Some(" BOB@example.com "), None).await.map(emails).ok();
        assert_eq!(by_email, Some(vec![Some("me@example.com".into()), Some("bob@example.com".into()), None]));
    }
}
