//! Looking users up.

use std::sync::Arc;

use domain::user::{User, UserRepository};
use domain::{DomainError, UserId};

const SEARCH_DEFAULT_LIMIT: i64 = 20;
const SEARCH_MAX_LIMIT: i64 = 100;

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

    /// Users whose name or email contains `query`; an empty query lists users by id.
    ///
    /// # Errors
    /// `InvalidInput` for a limit outside 1..=100.
    pub async fn search(&self, query: Option<&str>, limit: Option<i64>) -> Result<Vec<User>, DomainError> {
        let limit = limit.unwrap_or(SEARCH_DEFAULT_LIMIT);
        let limit = match u32::try_from(limit) {
            Ok(l) if (1..=SEARCH_MAX_LIMIT).contains(&limit) => l,
            _ => return Err(DomainError::invalid(format!("limit must be between 1 and {SEARCH_MAX_LIMIT}"))),
        };
        self.users.search(query.unwrap_or("").trim(), limit).await
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

    #[tokio::test]
    async fn search_trims_the_query_and_bounds_the_limit() {
        let mut users = MockUserRepository::new();
        users.expect_search().withf(|q, l| q == "bo" && *l == 20).times(1).returning(|_, _| Ok(vec![]));
        let service = UserService::new(Arc::new(users));
        assert!(service.search(Some(" bo "), None).await.is_ok());
        assert!(matches!(service.search(None, Some(0)).await, Err(DomainError::InvalidInput(_))));
        assert!(matches!(service.search(None, Some(101)).await, Err(DomainError::InvalidInput(_))));
    }
}
