//! Registration, sign-in and token checks.

use std::sync::Arc;

use domain::user::{
    AccessToken, Email, NewUser, Password, PasswordHasher, TokenService, User, UserName, UserRepository,
};
use domain::{DomainError, UserId};

pub struct AuthService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenService>,
}

impl AuthService {
    pub fn new(users: Arc<dyn UserRepository>, hasher: Arc<dyn PasswordHasher>, tokens: Arc<dyn TokenService>) -> Self {
        Self { users, hasher, tokens }
    }

    /// # Errors
    /// `InvalidInput` for a bad name, email or password; `EmailTaken` when the email is registered.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, name: &str, email: &str, password: &str) -> Result<User, DomainError> {
        let name = UserName::new(name)?;
        let email = Email::new(email)?;
        let password = Password::new(password)?;
        let password_hash = self.hasher.hash(&password).await?;
        let user = self.users.create(NewUser { name, email, password_hash }).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// # Errors
    /// `InvalidCredentials` for an unknown email or a wrong password (the two take the same time).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<AccessToken, DomainError> {
        let Ok(email) = Email::new(email) else {
            return Err(DomainError::InvalidCredentials);
        };
        let stored = self.users.find_credentials(&email).await?;
        let hash = stored.as_ref().map(|s| s.password_hash.clone());
        let matches = self.hasher.verify(password, hash).await?;
        match stored {
            Some(stored) if matches => self.tokens.issue(stored.user.id),
            _ => Err(DomainError::InvalidCredentials),
        }
    }

    /// # Errors
    /// `Unauthorized` for a malformed, expired or forged token.
    pub fn authenticate(&self, token: &str) -> Result<UserId, DomainError> {
        self.tokens.verify(token)
    }
}

#[cfg(test)]
mod tests {
    use domain::user::{MockPasswordHasher, MockTokenService, MockUserRepository, PasswordHash, StoredCredentials};

    use super::*;

    fn alice() -> User {
        User { id: UserId(1), name: "Alice".into(), email: "alice@example.com".into() }
    }

    fn service(users: MockUserRepository, hasher: MockPasswordHasher, tokens: MockTokenService) -> AuthService {
        AuthService::new(Arc::new(users), Arc::new(hasher), Arc::new(tokens))
    }

    fn token() -> AccessToken {
        AccessToken { token: "t".into(), expires_in_seconds: 3600 }
    }

    #[tokio::test]
    async fn register_hashes_the_password_and_stores_a_normalised_user() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(PasswordHash("hashed".into())));
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .withf(|u| {
                u.email.as_str() == "alice@example.com" && u.name.as_str() == "Alice" && u.password_hash.0 == "hashed"
            })
            .times(1)
            .returning(|_| Ok(alice()));
        let user = service(users, hasher, MockTokenService::new())
            .register(" Alice ", "Alice@Example.com", "password123")
            .await;
        assert_eq!(user.ok(), Some(alice()));
    }

    #[tokio::test]
    async fn register_rejects_invalid_input_before_hashing() {
        let auth = service(MockUserRepository::new(), MockPasswordHasher::new(), MockTokenService::new());
        for (name, email, password) in
            [("", "a@b.io", "password123"), ("A", "nope", "password123"), ("A", "a@b.io", "short")]
        {
            let result = auth.register(name, email, password).await;
            assert!(matches!(result, Err(DomainError::InvalidInput(_))), "{name}/{email}");
        }
    }

    #[tokio::test]
    async fn register_reports_a_taken_email() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(PasswordHash("h".into())));
        let mut users = MockUserRepository::new();
        users.expect_create().returning(|_| Err(DomainError::EmailTaken));
        let result = service(users, hasher, MockTokenService::new()).register("A", "a@b.io", "password123").await;
        assert!(matches!(result, Err(DomainError::EmailTaken)));
    }

    #[tokio::test]
    async fn sign_in_issues_a_token_for_the_right_password() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_credentials()
            .returning(|_| Ok(Some(StoredCredentials { user: alice(), password_hash: PasswordHash("h".into()) })));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().withf(|p, h| p == "password123" && h.is_some()).returning(|_, _| Ok(true));
        let mut tokens = MockTokenService::new();
        tokens.expect_issue().withf(|id| *id == UserId(1)).returning(|_| Ok(token()));
        let result = service(users, hasher, tokens).sign_in("alice@example.com", "password123").await;
        assert_eq!(result.ok(), Some(token()));
    }

    #[tokio::test]
    async fn sign_in_with_a_wrong_password_is_refused() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_credentials()
            .returning(|_| Ok(Some(StoredCredentials { user: alice(), password_hash: PasswordHash("h".into()) })));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(false));
        let result = service(users, hasher, MockTokenService::new()).sign_in("alice@example.com", "wrong-pass").await;
        assert!(matches!(result, Err(DomainError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn sign_in_with_an_unknown_email_still_spends_a_hash_check() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().withf(|_, h| h.is_none()).times(1).returning(|_, _| Ok(false));
        let result = service(users, hasher, MockTokenService::new()).sign_in("nobody@example.com", "password123").await;
        assert!(matches!(result, Err(DomainError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn sign_in_with_a_malformed_email_is_invalid_credentials() {
        let auth = service(MockUserRepository::new(), MockPasswordHasher::new(), MockTokenService::new());
        assert!(matches!(auth.sign_in("not-an-email", "x").await, Err(DomainError::InvalidCredentials)));
    }

    #[test]
    fn authenticate_passes_the_token_check_through() {
        let mut tokens = MockTokenService::new();
        tokens.expect_verify().returning(|t| if t == "good" { Ok(UserId(7)) } else { Err(DomainError::Unauthorized) });
        let auth = service(MockUserRepository::new(), MockPasswordHasher::new(), tokens);
        assert_eq!(auth.authenticate("good").ok(), Some(UserId(7)));
        assert!(matches!(auth.authenticate("bad"), Err(DomainError::Unauthorized)));
    }
}
