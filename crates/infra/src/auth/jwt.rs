use std::time::Duration;

use chrono::Utc;
use domain::user::{AccessToken, AccountStamp, TokenClaims, TokenService};
use domain::{DomainError, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id, as a string as RFC 7519 wants.
    sub: String,
    iat: i64,
    exp: i64,
    /// The account's stamp: a token names an account, not merely an id that a reset database may reuse.
    ust: i64,
}

/// HS256 tokens carrying the user id and account stamp, with an expiry.
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
    fn issue(&self, user: UserId, stamp: AccountStamp) -> Result<AccessToken, DomainError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims { sub: user.to_string(), iat: now, exp: now.saturating_add(ttl), ust: stamp.0 };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Unexpected(anyhow::Error::new(e).context("signing a token")))?;
        Ok(AccessToken { token, expires_in_seconds: self.ttl.as_secs() })
    }

    fn verify(&self, token: &str) -> Result<TokenClaims, DomainError> {
        // A token without `ust` (issued before stamps existed, or forged without one) fails to decode.
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| DomainError::Unauthorized)?;
        let user = data.claims.sub.parse().map(UserId).map_err(|_| DomainError::Unauthorized)?;
        Ok(TokenClaims { user, stamp: AccountStamp(data.claims.ust) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a test secret that is long enough";

    #[test]
    fn a_token_round_trips_to_its_user_and_account() -> Result<(), DomainError> {
        let tokens = JwtTokens::new(SECRET, Duration::from_secs(60));
        let issued = tokens.issue(UserId(42), AccountStamp(1_700_000_000_123_456))?;
        assert_eq!(issued.expires_in_seconds, 60);
        assert_eq!(
            tokens.verify(&issued.token)?,
            TokenClaims { user: UserId(42), stamp: AccountStamp(1_700_000_000_123_456) }
        );
        Ok(())
    }

    #[test]
    fn forged_malformed_expired_and_unstamped_tokens_are_refused() -> Result<(), DomainError> {
        let ours = JwtTokens::new(SECRET, Duration::from_secs(60));
        let theirs = JwtTokens::new(b"another secret that is long enough", Duration::from_secs(60));
        assert!(matches!(
            ours.verify(&theirs.issue(UserId(1), AccountStamp(1))?.token),
            Err(DomainError::Unauthorized)
        ));
        assert!(matches!(ours.verify("not.a.token"), Err(DomainError::Unauthorized)));
        let now = Utc::now().timestamp();
        let sign = |claims: &serde_json::Value| {
            encode(&Header::default(), claims, &EncodingKey::from_secret(SECRET))
                .map_err(|e| DomainError::Unexpected(e.into()))
        };
        let expired = sign(&serde_json::json!({"sub": "1", "iat": now - 120, "exp": now - 60, "ust": 1}))?;
        assert!(matches!(ours.verify(&expired), Err(DomainError::Unauthorized)));
        let unstamped = sign(&serde_json::json!({"sub": "1", "iat": now, "exp": now + 60}))?;
        assert!(matches!(ours.verify(&unstamped), Err(DomainError::Unauthorized)));
        Ok(())
    }
}
