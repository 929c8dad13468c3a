//! What REST and the WebSocket share on the wire: the Message object, the error codes and where the
//! access token travels. Both adapters depend on this module, neither on the other.

mod error_code;
mod message;
mod time;
mod token;

pub use error_code::ErrorCode;
pub use message::MessageDto;
pub use time::timestamp;
pub use token::bearer_token;
