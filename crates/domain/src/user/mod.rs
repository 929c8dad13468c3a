//! Users, their credentials and the ports for storing them, hashing passwords and issuing tokens.

mod model;
mod ports;
mod values;

pub use model::{AccessToken, NewUser, PasswordHash, StoredCredentials, User};
#[cfg(feature = "mocks")]
pub use ports::{MockPasswordHasher, MockTokenService, MockUserRepository};
pub use ports::{PasswordHasher, TokenService, UserRepository};
pub use values::{Email, Password, UserName};
