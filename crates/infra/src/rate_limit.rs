//! Per-user token buckets.
//!
//! Written here rather than taken from a rate-limiting crate because the contract needs a refund: a send
//! that turns out to be a duplicate must not cost a token, and that is only known after the insert.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::rate_limit::{RateKind, RateLimiter};
use domain::{DomainError, UserId};

/// Limits per user; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    pub sends_per_second: f64,
    pub send_burst: f64,
    pub requests_per_second: f64,
    pub request_burst: f64,
}

const SHARDS: usize = 64;
/// Past this many buckets in a shard, full (idle) buckets are forgotten: they equal a fresh one.
const SHARD_PRUNE_AT: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct TokenBuckets {
    limits: RateLimits,
    shards: Vec<Mutex<HashMap<(UserId, RateKind), Bucket>>>,
}

impl TokenBuckets {
    pub fn new(limits: RateLimits) -> Self {
        Self { limits, shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn rate_and_burst(&self, kind: RateKind) -> (f64, f64) {
        match kind {
            RateKind::Send => (self.limits.sends_per_second, self.limits.send_burst),
            RateKind::Request => (self.limits.requests_per_second, self.limits.request_burst),
        }
    }

    fn with_bucket<T>(
        &self,
        user: UserId,
        kind: RateKind,
        now: Instant,
        f: impl FnOnce(&mut Bucket, f64, f64) -> T,
    ) -> Option<T> {
        let (rate, burst) = self.rate_and_burst(kind);
        if rate <= 0.0 {
            return None;
        }
        let burst = burst.max(1.0);
        let shard = usize::try_from(user.0.rem_euclid(SHARDS as i64)).unwrap_or(0);
        let mut buckets = match self.shards[shard].lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() > SHARD_PRUNE_AT {
            buckets.retain(|(_, k), b| {
                let (rate, burst) = self.rate_and_burst(*k);
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry((user, kind)).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        Some(f(bucket, rate, burst))
    }

    fn acquire_at(&self, user: UserId, kind: RateKind, now: Instant) -> Result<(), DomainError> {
        let outcome = self.with_bucket(user, kind, now, |bucket, rate, _| {
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
}

impl RateLimiter for TokenBuckets {
    fn acquire(&self, user: UserId, kind: RateKind) -> Result<(), DomainError> {
        self.acquire_at(user, kind, Instant::now())
    }

    fn refund(&self, user: UserId, kind: RateKind) {
        self.with_bucket(user, kind, Instant::now(), |bucket, _, burst| {
            bucket.tokens = (bucket.tokens + 1.0).min(burst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(sends_per_second: f64, send_burst: f64) -> RateLimits {
        RateLimits { sends_per_second, send_burst, requests_per_second: 0.0, request_burst: 0.0 }
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
}
