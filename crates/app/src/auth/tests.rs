use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use domain::rate_limit::MockAuthAttemptLimiter;
use domain::session::{MockSessionStore, RefreshGrant, RefreshRecord};
use domain::user::{
    AccessToken, AccountStamp, MockAccountStamps, MockPasswordHasher, MockTokenService, MockUserRepository,
    PasswordHash, StoredCredentials, TokenClaims,
};

use super::*;

const STAMP: AccountStamp = AccountStamp(1_700_000_000_000_001);

fn alice() -> User {
    User { id: UserId(1), name: "Alice".into(), email: "alice@example.com".into() }
}

fn access() -> AccessToken {
    AccessToken { token: "t".into(), expires_in_seconds: 3600 }
}

fn grant(token: &str) -> RefreshGrant {
    RefreshGrant { token: RefreshToken::new(token), expires_in: Duration::from_secs(30 * 86_400) }
}

fn origin() -> AttemptOrigin {
    AttemptOrigin { address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))) }
}

fn record(retired: bool) -> RefreshRecord {
    RefreshRecord { session: SessionId(3), user: UserId(1), retired }
}

/// Every port as a mock with no expectations (a call fails the test), but an attempt limiter that
/// admits everything.
struct Mocks {
    users: MockUserRepository,
    accounts: MockAccountStamps,
    hasher: MockPasswordHasher,
    tokens: MockTokenService,
    sessions: MockSessionStore,
    limiter: MockAuthAttemptLimiter,
}

impl Mocks {
    fn new() -> Self {
        let mut limiter = MockAuthAttemptLimiter::new();
        limiter.expect_admit().returning(|_, _| Ok(()));
        Self {
            users: MockUserRepository::new(),
            accounts: MockAccountStamps::new(),
            hasher: MockPasswordHasher::new(),
            tokens: MockTokenService::new(),
            sessions: MockSessionStore::new(),
            limiter,
        }
    }

    fn refusing_attempts() -> Self {
        let mut mocks = Self::new();
        mocks.limiter = MockAuthAttemptLimiter::new();
        mocks
            .limiter
            .expect_admit()
            .returning(|_, _| Err(DomainError::RateLimited { retry_after: Duration::from_secs(9) }));
        mocks
    }

    /// Alice is registered with password "password123".
    fn with_alice(mut self) -> Self {
        self.users
            .expect_find_credentials()
            .returning(|_| Ok(Some(StoredCredentials { user: alice(), password_hash: PasswordHash("h".into()) })));
        self.hasher.expect_verify().returning(|p, h| Ok(p == "password123" && h.is_some()));
        self
    }

    fn service(self) -> AuthService {
        AuthService::new(AuthPorts {
            users: Arc::new(self.users),
            accounts: Arc::new(self.accounts),
            hasher: Arc::new(self.hasher),
            tokens: Arc::new(self.tokens),
            sessions: Arc::new(self.sessions),
            limiter: Arc::new(self.limiter),
        })
    }
}

#[tokio::test]
async fn register_hashes_the_password_and_stores_a_normalised_user() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().returning(|_| Ok(PasswordHash("hashed".into())));
    mocks
        .users
        .expect_create()
        .withf(|u| {
            u.email.as_str() == "alice@example.com" && u.name.as_str() == "Alice" && u.password_hash.0 == "hashed"
        })
        .times(1)
        .returning(|_| Ok(alice()));
    let user = mocks.service().register(" Alice ", "Alice@Example.com", "password123", &origin()).await;
    assert_eq!(user.ok(), Some(alice()));
}

#[tokio::test]
async fn register_rejects_invalid_input_before_hashing() {
    let auth = Mocks::new().service();
    for (name, email, password) in
        [("", "a@b.io", "password123"), ("A", "nope", "password123"), ("A", "a@b.io", "short")]
    {
        let result = auth.register(name, email, password, &origin()).await;
        assert!(matches!(result, Err(DomainError::InvalidInput(_))), "{name}/{email}");
    }
}

#[tokio::test]
async fn register_reports_a_taken_email() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().returning(|_| Ok(PasswordHash("h".into())));
    mocks.users.expect_create().returning(|_| Err(DomainError::EmailTaken));
    let result = mocks.service().register("A", "a@b.io", "password123", &origin()).await;
    assert!(matches!(result, Err(DomainError::EmailTaken)));
}

#[tokio::test]
async fn attempts_over_the_limit_are_refused_before_any_password_hash() {
    let auth = Mocks::refusing_attempts().service();
    let registered = auth.register("A", "a@b.io", "password123", &origin()).await;
    assert!(matches!(registered, Err(DomainError::RateLimited { .. })));
    let signed_in = auth.sign_in("a@b.io", "password123", &origin()).await;
    assert!(matches!(signed_in, Err(DomainError::RateLimited { .. })));
    let refreshed = auth.refresh(&RefreshToken::new("r"), &origin()).await;
    assert!(matches!(refreshed, Err(DomainError::RateLimited { .. })));
}

#[tokio::test]
async fn each_attempt_is_counted_against_its_address_and_the_email_it_names() {
    let mut mocks = Mocks::new();
    mocks.limiter = MockAuthAttemptLimiter::new();
    mocks
        .limiter
        .expect_admit()
        .withf(|o, e| *o == origin() && *e == Some("Alice@Example.com"))
        .times(2)
        .returning(|_, _| Ok(()));
    mocks.limiter.expect_admit().withf(|o, e| *o == origin() && e.is_none()).times(1).returning(|_, _| Ok(()));
    mocks.hasher.expect_hash().returning(|_| Ok(PasswordHash("h".into())));
    mocks.users.expect_create().returning(|_| Ok(alice()));
    mocks.users.expect_find_credentials().returning(|_| Ok(None));
    mocks.hasher.expect_verify().returning(|_, _| Ok(false));
    mocks.sessions.expect_find().returning(|_| Ok(None));
    let auth = mocks.service();
    assert!(auth.register("Alice", "Alice@Example.com", "password123", &origin()).await.is_ok());
    assert!(auth.sign_in("Alice@Example.com", "password123", &origin()).await.is_err());
    assert!(auth.refresh(&RefreshToken::new("r"), &origin()).await.is_err());
}

#[tokio::test]
async fn sign_in_issues_a_token_bound_to_the_account_and_opens_a_session() {
    let mut mocks = Mocks::new().with_alice();
    mocks.accounts.expect_current().withf(|u| *u == UserId(1)).returning(|_| Ok(Some(STAMP)));
    mocks.tokens.expect_issue().withf(|u, s| (*u, *s) == (UserId(1), STAMP)).times(1).returning(|_, _| Ok(access()));
    mocks.sessions.expect_open().withf(|u| *u == UserId(1)).times(1).returning(|_| Ok(grant("r1")));
    let result = mocks.service().sign_in("alice@example.com", "password123", &origin()).await;
    assert_eq!(result.ok(), Some(SessionTokens { access: access(), refresh: grant("r1") }));
}

#[tokio::test]
async fn sign_in_with_a_wrong_password_is_refused_and_opens_nothing() {
    let result = Mocks::new().with_alice().service().sign_in("alice@example.com", "wrong-pass", &origin()).await;
    assert!(matches!(result, Err(DomainError::InvalidCredentials)));
}

#[tokio::test]
async fn sign_in_with_an_unknown_email_still_spends_a_hash_check() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().returning(|_| Ok(None));
    mocks.hasher.expect_verify().withf(|_, h| h.is_none()).times(1).returning(|_, _| Ok(false));
    let result = mocks.service().sign_in("nobody@example.com", "password123", &origin()).await;
    assert!(matches!(result, Err(DomainError::InvalidCredentials)));
}

#[tokio::test]
async fn sign_in_with_a_malformed_email_is_invalid_credentials() {
    let auth = Mocks::new().service();
    assert!(matches!(auth.sign_in("not-an-email", "x", &origin()).await, Err(DomainError::InvalidCredentials)));
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_issues_a_new_access_token() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().withf(|t| t.expose() == "r1").returning(|_| Ok(Some(record(false))));
    mocks.accounts.expect_current().returning(|_| Ok(Some(STAMP)));
    mocks
        .sessions
        .expect_rotate()
        .withf(|s, t| *s == SessionId(3) && t.expose() == "r1")
        .times(1)
        .returning(|_, _| Ok(Some(grant("r2"))));
    mocks.tokens.expect_issue().withf(|u, s| (*u, *s) == (UserId(1), STAMP)).returning(|_, _| Ok(access()));
    let result = mocks.service().refresh(&RefreshToken::new("r1"), &origin()).await;
    assert_eq!(result.ok(), Some(SessionTokens { access: access(), refresh: grant("r2") }));
}

#[tokio::test]
async fn an_unknown_or_expired_refresh_token_is_unauthorized() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().returning(|_| Ok(None));
    let result = mocks.service().refresh(&RefreshToken::new("nope"), &origin()).await;
    assert!(matches!(result, Err(DomainError::Unauthorized)));
}

#[tokio::test]
async fn reusing_a_retired_refresh_token_revokes_its_session() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().returning(|_| Ok(Some(record(true))));
    mocks.sessions.expect_revoke().withf(|s| *s == SessionId(3)).times(1).returning(|_| Ok(()));
    let result = mocks.service().refresh(&RefreshToken::new("r1"), &origin()).await;
    assert!(matches!(result, Err(DomainError::Unauthorized)));
}

#[tokio::test]
async fn losing_a_rotation_race_counts_as_reuse_and_revokes_the_session() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().returning(|_| Ok(Some(record(false))));
    mocks.accounts.expect_current().returning(|_| Ok(Some(STAMP)));
    mocks.sessions.expect_rotate().returning(|_, _| Ok(None));
    mocks.sessions.expect_revoke().withf(|s| *s == SessionId(3)).times(1).returning(|_| Ok(()));
    let result = mocks.service().refresh(&RefreshToken::new("r1"), &origin()).await;
    assert!(matches!(result, Err(DomainError::Unauthorized)));
}

#[tokio::test]
async fn a_session_of_an_account_that_is_gone_is_revoked_at_its_next_refresh() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().returning(|_| Ok(Some(record(false))));
    mocks.accounts.expect_current().returning(|_| Ok(None));
    mocks.sessions.expect_revoke().times(1).returning(|_| Ok(()));
    let result = mocks.service().refresh(&RefreshToken::new("r1"), &origin()).await;
    assert!(matches!(result, Err(DomainError::Unauthorized)));
}

#[tokio::test]
async fn logging_out_revokes_a_known_session_and_ignores_an_unknown_token() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find().withf(|t| t.expose() == "known").returning(|_| Ok(Some(record(false))));
    mocks.sessions.expect_find().withf(|t| t.expose() == "unknown").returning(|_| Ok(None));
    mocks.sessions.expect_revoke().withf(|s| *s == SessionId(3)).times(1).returning(|_| Ok(()));
    let auth = mocks.service();
    assert!(auth.log_out(&RefreshToken::new("known")).await.is_ok());
    assert!(auth.log_out(&RefreshToken::new("unknown")).await.is_ok());
}

#[tokio::test]
async fn a_valid_token_of_an_account_that_does_not_exist_is_unauthorized() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify().returning(|t| match t {
        "alice" => Ok(TokenClaims { user: UserId(1), stamp: STAMP }),
        "ghost" => Ok(TokenClaims { user: UserId(99), stamp: STAMP }),
        _ => Err(DomainError::Unauthorized),
    });
    mocks.accounts.expect_confirms().returning(|u, s| Ok(u == UserId(1) && s == STAMP));
    let auth = mocks.service();
    assert_eq!(auth.authenticate("alice").await.ok(), Some(UserId(1)));
    assert!(matches!(auth.authenticate("ghost").await, Err(DomainError::Unauthorized)));
    assert!(matches!(auth.authenticate("forged").await, Err(DomainError::Unauthorized)));
}
