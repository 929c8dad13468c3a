//! Password hashing (bcrypt), bearer tokens (JWT, HS256), refresh-token secrets and the cache that
//! keeps token checks off the database.

mod account_cache;
mod bcrypt_hasher;
mod blocking;
mod jwt;
mod refresh_secret;

pub use account_cache::CachedAccountStamps;
pub use bcrypt_hasher::{BCRYPT_MAX_PASSWORD_BYTES, BcryptHasher};
pub use blocking::{BlockingError, BoundedBlocking};
pub use jwt::JwtTokens;
pub(crate) use refresh_secret::{RefreshSecret, hash_refresh_token};
