//! Messages, history pages, read pointers and the ports that store them.

mod model;
mod ports;
mod values;

pub use model::{InsertOutcome, Message, NewMessage, ReadByAll};
pub use ports::{MessageRepository, ReceiptRepository};
#[cfg(feature = "mocks")]
pub use ports::{MockMessageRepository, MockReceiptRepository};
pub use values::{Cursor, HistoryQuery, MessageText, PageLimit, RawCursors};
