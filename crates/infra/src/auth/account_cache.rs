//! Remembers which account each user id was last seen to name, so that checking a token's account costs
//! a map lookup instead of a query. Users are never deleted, so what was seen stays true; when an id is
//! seen to name another account (the database was reset), the store is asked again before refusing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::user::{AccountStamp, AccountStamps};
use domain::{DomainError, UserId};

/// Past this many entries the cache starts over, which bounds its memory (about 40 bytes an entry).
const CAPACITY: usize = 200_000;

pub struct CachedAccountStamps {
    store: Arc<dyn AccountStamps>,
    seen: Mutex<HashMap<UserId, AccountStamp>>,
}

impl CachedAccountStamps {
    pub fn new(store: Arc<dyn AccountStamps>) -> Self {
        Self { store, seen: Mutex::new(HashMap::new()) }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, AccountStamp>> {
        match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn remember(&self, user: UserId, stamp: AccountStamp) {
        let mut seen = self.seen();
        if seen.len() >= CAPACITY && !seen.contains_key(&user) {
            seen.clear();
        }
        seen.insert(user, stamp);
    }
}

#[async_trait]
impl AccountStamps for CachedAccountStamps {
    async fn current(&self, user: UserId) -> Result<Option<AccountStamp>, DomainError> {
        let current = self.store.current(user).await?;
        match current {
            Some(stamp) => self.remember(user, stamp),
            None => {
                self.seen().remove(&user);
            }
        }
        Ok(current)
    }

    async fn confirms(&self, user: UserId, stamp: AccountStamp) -> Result<bool, DomainError> {
        if self.seen().get(&user) == Some(&stamp) {
            return Ok(true);
        }
        Ok(self.current(user).await? == Some(stamp))
    }
}

#[cfg(test)]
mod tests {
    use domain::user::MockAccountStamps;

    use super::*;

    #[tokio::test]
    async fn a_confirmed_account_is_not_looked_up_again() -> Result<(), DomainError> {
        let mut store = MockAccountStamps::new();
        store.expect_current().times(1).returning(|_| Ok(Some(AccountStamp(5))));
        let cache = CachedAccountStamps::new(Arc::new(store));
        for _ in 0..3 {
            assert!(cache.confirms(UserId(1), AccountStamp(5)).await?);
        }
        Ok(())
    }

    #[tokio::test]
    async fn unknown_users_and_other_accounts_are_asked_about_every_time() -> Result<(), DomainError> {
        let mut store = MockAccountStamps::new();
        store.expect_current().withf(|u| *u == UserId(9)).times(2).returning(|_| Ok(None));
        store.expect_current().withf(|u| *u == UserId(1)).times(3).returning(|_| Ok(Some(AccountStamp(5))));
        let cache = CachedAccountStamps::new(Arc::new(store));
        assert!(!cache.confirms(UserId(9), AccountStamp(5)).await?);
        assert!(!cache.confirms(UserId(9), AccountStamp(5)).await?);
        assert!(cache.confirms(UserId(1), AccountStamp(5)).await?);
        assert!(!cache.confirms(UserId(1), AccountStamp(4)).await?, "a token of an earlier account of this id");
        assert!(!cache.confirms(UserId(1), AccountStamp(4)).await?);
        Ok(())
    }
}
