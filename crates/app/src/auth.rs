//! Registration, sign-in, sessions (refresh and logout) and token checks.

use std::sync::Arc;

use domain::rate_limit::{AttemptOrigin, AuthAttemptLimiter};
use domain::session::{RefreshToken, SessionId, SessionStore, SessionTokens};
use domain::user::{
    AccountStamps, Email, NewUser, Password, PasswordHasher, TokenService, User, UserName, UserRepository,
};
use domain::{DomainError, UserId};

/// The ports the service needs.
pub struct AuthPorts {
    pub users: Arc<dyn UserRepository>,
    pub accounts: Arc<dyn AccountStamps>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub sessions: Arc<dyn SessionStore>,
    pub limiter: Arc<dyn AuthAttemptLimiter>,
}

pub struct AuthService {
    ports: AuthPorts,
}

impl AuthService {
    pub fn new(ports: AuthPorts) -> Self {
        Self { ports }
    }

    /// # Errors
    /// `RateLimited` over the attempts allowed from `origin` or for `email`; `InvalidInput` for a bad
    /// name, email or password; `EmailTaken` when the email is registered.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        name: &str,
        email: &str,
        password: &str,
        origin: &AttemptOrigin,
    ) -> Result<User, DomainError> {
        self.ports.limiter.admit(origin, Some(email))?;
        let name = UserName::new(name)?;
        let email = Email::new(email)?;
        let password = Password::new(password)?;
        let password_hash = self.ports.hasher.hash(&password).await?;
        let user = self.ports.users.create(NewUser { name, email, password_hash }).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// Checks the password and opens a session.
    ///
    /// # Errors
    /// `RateLimited` over the attempts allowed from `origin` or for `email`; `InvalidCredentials` for an
    /// unknown email or a wrong password (the two take the same time).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        origin: &AttemptOrigin,
    ) -> Result<SessionTokens, DomainError> {
        self.ports.limiter.admit(origin, Some(email))?;
        // Control characters are invalid input wherever text arrives (the contract), not a wrong password.
        domain::text::reject_controls("email", email)?;
        domain::text::reject_controls("password", password)?;
        let Ok(email) = Email::new(email) else {
            return Err(DomainError::InvalidCredentials);
        };
        let stored = self.ports.users.find_credentials(&email).await?;
        let hash = stored.as_ref().map(|s| s.password_hash.clone());
        let matches = self.ports.hasher.verify(password, hash).await?;
        let user = match stored {
            Some(stored) if matches => stored.user.id,
            _ => return Err(DomainError::InvalidCredentials),
        };
        let stamp = self.ports.accounts.current(user).await?.ok_or(DomainError::InvalidCredentials)?;
        let refresh = self.ports.sessions.open(user).await?;
        Ok(SessionTokens { access: self.ports.tokens.issue(user, stamp)?, refresh })
    }

    /// Exchanges a refresh token for a new access token and its successor. The token presented is
    /// retired; presenting a retired token again ends its session.
    ///
    /// # Errors
    /// `RateLimited` over the attempts allowed from `origin`; `Unauthorized` for an unknown, expired,
    /// retired or revoked token, or one whose account is gone.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, token: &RefreshToken, origin: &AttemptOrigin) -> Result<SessionTokens, DomainError> {
        self.ports.limiter.admit(origin, None)?;
        let record = self.ports.sessions.find(token).await?.ok_or(DomainError::Unauthorized)?;
        if record.retired {
            tracing::warn!(user_id = %record.user, session = record.session.0, "refresh token reused: session revoked");
            return self.end(record.session).await;
        }
        let Some(stamp) = self.ports.accounts.current(record.user).await? else {
            return self.end(record.session).await;
        };
        let Some(refresh) = self.ports.sessions.rotate(record.session, token).await? else {
            // Another refresh with this token got there first: the same token was used twice.
            tracing::warn!(user_id = %record.user, session = record.session.0, "refresh token raced: session revoked");
            return self.end(record.session).await;
        };
        Ok(SessionTokens { access: self.ports.tokens.issue(record.user, stamp)?, refresh })
    }

    /// Revokes `session` and answers `Unauthorized`.
    async fn end<T>(&self, session: SessionId) -> Result<T, DomainError> {
        self.ports.sessions.revoke(session).await?;
        Err(DomainError::Unauthorized)
    }

    /// Ends the session `token` belongs to. An unknown token is no error: the outcome is the same.
    ///
    /// # Errors
    /// `Unavailable` or `Unexpected` when the store cannot answer.
    #[tracing::instrument(skip_all)]
    pub async fn log_out(&self, token: &RefreshToken) -> Result<(), DomainError> {
        if let Some(record) = self.ports.sessions.find(token).await? {
            self.ports.sessions.revoke(record.session).await?;
            tracing::info!(user_id = %record.user, session = record.session.0, "signed out");
        }
        Ok(())
    }

    /// The user an access token names, if that user's account still exists.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed, expired or forged token, or one of an account that does not
    /// exist (any more, or not yet: a reset database that gave its id to someone else).
    pub async fn authenticate(&self, token: &str) -> Result<UserId, DomainError> {
        let claims = self.ports.tokens.verify(token)?;
        if self.ports.accounts.confirms(claims.user, claims.stamp).await? {
            Ok(claims.user)
        } else {
            Err(DomainError::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests;
