//! Password hashing (bcrypt) and bearer tokens (JWT, HS256).

mod bcrypt_hasher;
mod jwt;

pub use bcrypt_hasher::BcryptHasher;
pub use jwt::JwtTokens;
