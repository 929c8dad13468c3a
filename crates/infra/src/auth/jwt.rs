use std::time::Duration;

use chrono::Utc;
use domain::user::{AccessToken, TokenService};
use domain::{DomainError, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id, as a string as RFC 7519 wants.
    sub: String,
    iat: i64,
    exp: i64,
}

/// HS256 tokens carrying the user id, with an expiry.
pub struct JwtTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtTokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation, ttl }
    }
}

impl TokenService for JwtTokens {
    fn issue(&self, user: UserId) -> Result<AccessToken, DomainError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims { sub: user.to_string(), iat: now, exp: now.saturating_add(ttl) };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Unexpected(anyhow::Error::new(e).context("signing a token")))?;
        Ok(AccessToken { token, expires_in_seconds: self.ttl.as_secs() })
    }

    fn verify(&self, token: &str) -> Result<UserId, DomainError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| DomainError::Unauthorized)?;
        data.claims.sub.parse().map(UserId).map_err(|_| DomainError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_to_its_user() -> Result<(), DomainError> {
        let tokens = JwtTokens::new(b"secret", Duration::from_secs(60));
        let issued = tokens.issue(UserId(42))?;
        assert_eq!(issued.expires_in_seconds, 60);
        assert_eq!(tokens.verify(&issued.token)?, UserId(42));
        Ok(())
    }

    #[test]
    fn forged_malformed_and_expired_tokens_are_refused() -> Result<(), DomainError> {
        let ours = JwtTokens::new(b"secret", Duration::from_secs(60));
        let theirs = JwtTokens::new(b"other", Duration::from_secs(60));
        assert!(matches!(ours.verify(&theirs.issue(UserId(1))?.token), Err(DomainError::Unauthorized)));
        assert!(matches!(ours.verify("not.a.token"), Err(DomainError::Unauthorized)));
        let now = Utc::now().timestamp();
        let expired = Claims { sub: "1".into(), iat: now - 120, exp: now - 60 };
        let token = encode(&Header::default(), &expired, &EncodingKey::from_secret(b"secret"))
            .map_err(|e| DomainError::Unexpected(e.into()))?;
        assert!(matches!(ours.verify(&token), Err(DomainError::Unauthorized)));
        Ok(())
    }
}
