//! Users, their credentials and the ports for storing them, hashing passwords and issuing tokens.

mod model;
mod ports;
mod values;

pub use model::{AccessToken, AccountStamp, NewUser, PasswordHash, StoredCredentials, TokenClaims, User};
pub use ports::{AccountStamps, PasswordHasher, TokenService, UserRepository};
#[cfg(feature = "mocks")]
pub use ports::{MockAccountStamps, MockPasswordHasher, MockTokenService, MockUserRepository};
pub use values::{Email, Password, UserName, UserQuery};
