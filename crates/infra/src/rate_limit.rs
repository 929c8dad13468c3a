//! Token buckets: per user (sends, other requests) and per origin of an authentication attempt (client
//! address, email). Each kind of limit is one [`Buckets`] map with its own rate.
//!
//! Written here rather than taken from a rate-limiting crate because the contract needs a refund: a send
//! that turns out to be a duplicate must not cost a token, and that is only known after the insert.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::rate_limit::{AttemptOrigin, AuthAttemptLimiter, RateKind, RateLimiter};
use domain::{DomainError, UserId};

/// Limits per user; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Message sends, over WebSocket and REST together.
    pub sends: Rate,
    /// Every other request.
    pub requests: Rate,
}

/// Limits on registration and sign-in attempts; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuthLimits {
    pub per_address: Rate,
    pub per_email: Rate,
}

/// A bucket's refill rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const OFF: Self = Self { per_second: 0.0, burst: 0.0 };
}

const SHARDS: usize = 64;
/// Past this many buckets in a shard, full (idle) buckets are forgotten: they equal a fresh one.
const SHARD_PRUNE_AT: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// One kind of limit: a bucket per key, all with the same rate.
struct Buckets<K> {
    rate: Rate,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<K, Bucket>>>,
}

impl<K: Hash + Eq> Buckets<K> {
    fn new(rate: Rate) -> Self {
        Self { rate, hasher: RandomState::new(), shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    /// Runs `f` on `key`'s bucket, refilled up to `now`; `None` when this limit is off.
    fn with_bucket<T>(&self, key: K, now: Instant, f: impl FnOnce(&mut Bucket, f64, f64) -> T) -> Option<T> {
        let rate = self.rate.per_second;
        if rate <= 0.0 {
            return None;
        }
        let burst = self.rate.burst.max(1.0);
        let shard = usize::try_from(self.hasher.hash_one(&key) % SHARDS as u64).unwrap_or(0);
        let mut buckets = match self.shards[shard].lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() > SHARD_PRUNE_AT {
            buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        Some(f(bucket, rate, burst))
    }

    /// Takes one token, or says how long until one is available (taking nothing).
    fn acquire_at(&self, key: K, now: Instant) -> Result<(), DomainError> {
        let outcome = self.with_bucket(key, now, |bucket, rate, _| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                let wait = (1.0 - bucket.tokens) / rate;
                Err(DomainError::RateLimited { retry_after: Duration::from_secs_f64(wait) })
            }
        });
        outcome.unwrap_or(Ok(()))
    }

    fn refund_at(&self, key: K, now: Instant) {
        self.with_bucket(key, now, |bucket, _, burst| {
            bucket.tokens = (bucket.tokens + 1.0).min(burst);
        });
    }
}

/// Per-user buckets for sends and other requests.
pub struct TokenBuckets {
    sends: Buckets<UserId>,
    requests: Buckets<UserId>,
}

impl TokenBuckets {
    pub fn new(limits: RateLimits) -> Self {
        Self { sends: Buckets::new(limits.sends), requests: Buckets::new(limits.requests) }
    }

    fn of(&self, kind: RateKind) -> &Buckets<UserId> {
        match kind {
            RateKind::Send => &self.sends,
            RateKind::Request => &self.requests,
        }
    }

    fn acquire_at(&self, user: UserId, kind: RateKind, now: Instant) -> Result<(), DomainError> {
        self.of(kind).acquire_at(user, now)
    }
}

impl RateLimiter for TokenBuckets {
    fn acquire(&self, user: UserId, kind: RateKind) -> Result<(), DomainError> {
        self.acquire_at(user, kind, Instant::now())
    }

    fn refund(&self, user: UserId, kind: RateKind) {
        self.of(kind).refund_at(user, Instant::now());
    }
}

/// An address as a budget sees it: an IPv6 client usually holds a whole /64, so that is one budget.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Per-address and per-email buckets for registration and sign-in. Emails are keyed by a keyed hash of
/// their lower-cased form, so the map holds no addresses of people and stays small.
pub struct AuthBuckets {
    addresses: Buckets<IpAddr>,
    emails: Buckets<u64>,
    email_hasher: RandomState,
}

impl AuthBuckets {
    pub fn new(limits: AuthLimits) -> Self {
        // The contract names one switch for both: with the per-address limit off, so is the per-email one.
        let per_email = if limits.per_address.per_second > 0.0 { limits.per_email } else { Rate::OFF };
        Self {
            addresses: Buckets::new(limits.per_address),
            emails: Buckets::new(per_email),
            email_hasher: RandomState::new(),
        }
    }

    fn admit_at(&self, origin: &AttemptOrigin, email: Option<&str>, now: Instant) -> Result<(), DomainError> {
        if let Some(address) = origin.address {
            self.addresses.acquire_at(address_key(address), now)?;
        }
        if let Some(email) = email {
            let key = self.email_hasher.hash_one(email.trim().to_lowercase());
            self.emails.acquire_at(key, now)?;
        }
        Ok(())
    }
}

impl AuthAttemptLimiter for AuthBuckets {
    fn admit(&self, origin: &AttemptOrigin, email: Option<&str>) -> Result<(), DomainError> {
        self.admit_at(origin, email, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(sends_per_second: f64, send_burst: f64) -> RateLimits {
        RateLimits { sends: Rate { per_second: sends_per_second, burst: send_burst }, requests: Rate::OFF }
    }

    #[test]
    fn a_burst_is_allowed_then_refused_until_tokens_refill() {
        let buckets = TokenBuckets::new(limits(10.0, 3.0));
        let (user, start) = (UserId(1), Instant::now());
        for _ in 0..3 {
            assert!(buckets.acquire_at(user, RateKind::Send, start).is_ok());
        }
        let refused = buckets.acquire_at(user, RateKind::Send, start);
        assert!(
            matches!(refused, Err(DomainError::RateLimited { retry_after }) if retry_after <= Duration::from_millis(100))
        );
        assert!(buckets.acquire_at(user, RateKind::Send, start + Duration::from_millis(100)).is_ok());
        assert!(buckets.acquire_at(UserId(2), RateKind::Send, start).is_ok(), "users have their own buckets");
    }

    #[test]
    fn a_refund_gives_a_token_back_and_zero_turns_a_limit_off() {
        let buckets = TokenBuckets::new(limits(1.0, 1.0));
        assert!(buckets.acquire(UserId(1), RateKind::Send).is_ok());
        buckets.refund(UserId(1), RateKind::Send);
        assert!(buckets.acquire(UserId(1), RateKind::Send).is_ok());
        for _ in 0..1000 {
            assert!(buckets.acquire(UserId(1), RateKind::Request).is_ok());
        }
    }

    fn auth(per_address: (f64, f64), per_email: (f64, f64)) -> AuthBuckets {
        AuthBuckets::new(AuthLimits {
            per_address: Rate { per_second: per_address.0, burst: per_address.1 },
            per_email: Rate { per_second: per_email.0, burst: per_email.1 },
        })
    }

    fn from(address: &str) -> AttemptOrigin {
        AttemptOrigin { address: address.parse().ok() }
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_for_the_refill() {
        let buckets = auth((1.0, 3.0), (0.1, 100.0));
        let start = Instant::now();
        for i in 0..3 {
            assert!(buckets.admit_at(&from("192.0.2.1"), Some(&format!("u{i}@x.io")), start).is_ok());
        }
        let refused = buckets.admit_at(&from("192.0.2.1"), Some("new@x.io"), start);
        assert!(
            matches!(refused, Err(DomainError::RateLimited { retry_after }) if retry_after <= Duration::from_secs(1))
        );
        assert!(buckets.admit_at(&from("192.0.2.2"), Some("new@x.io"), start).is_ok(), "another address");
        assert!(buckets.admit_at(&from("192.0.2.1"), None, start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn an_email_is_limited_across_addresses_whatever_its_case() {
        let buckets = auth((100.0, 100.0), (0.1, 2.0));
        let start = Instant::now();
        assert!(buckets.admit_at(&from("192.0.2.1"), Some("Victim@x.io"), start).is_ok());
        assert!(buckets.admit_at(&from("192.0.2.2"), Some("victim@X.io "), start).is_ok());
        let refused = buckets.admit_at(&from("192.0.2.3"), Some("VICTIM@x.io"), start);
        assert!(
            matches!(refused, Err(DomainError::RateLimited { retry_after }) if retry_after > Duration::from_secs(9))
        );
        assert!(buckets.admit_at(&from("192.0.2.3"), Some("other@x.io"), start).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_one_budget_per_64_and_zero_turns_both_limits_off() {
        let buckets = auth((1.0, 1.0), (1.0, 100.0));
        let start = Instant::now();
        assert!(buckets.admit_at(&from("2001:db8:1:2::1"), None, start).is_ok());
        assert!(buckets.admit_at(&from("2001:db8:1:2::ffff"), None, start).is_err(), "same /64");
        assert!(buckets.admit_at(&from("2001:db8:1:3::1"), None, start).is_ok(), "another /64");
        let off = auth((0.0, 0.0), (0.1, 1.0));
        for _ in 0..100 {
            assert!(off.admit_at(&from("192.0.2.1"), Some("a@x.io"), start).is_ok());
        }
    }
}
