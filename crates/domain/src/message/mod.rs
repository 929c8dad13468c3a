//! Messages, history pages, read pointers and the ports that store them.

mod model;
mod ports;
mod search;
mod values;

pub use model::{InsertOutcome, Message, NewMessage, ReadByAll};
pub use ports::{MessageRepository, ReceiptRepository};
#[cfg(feature = "mocks")]
pub use ports::{MockMessageRepository, MockReceiptRepository};
pub use search::{SearchLimit, SearchQuery, SearchTerms, WORD_MAX_CHARS, search_document, search_words};
pub use values::{Cursor, HistoryQuery, MessageText, PageLimit, RawCursors};
