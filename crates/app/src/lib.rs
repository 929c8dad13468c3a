//! The messenger's use-cases. Each service is built from `Arc<dyn Port>`s and knows no adapter.

pub mod auth;
pub mod chats;
pub mod edits;
mod membership;
pub mod messages;
pub mod presence;
pub mod receipts;
pub mod search;
mod sequencer;
pub mod sync;
pub mod users;

pub use auth::AuthService;
pub use chats::ChatService;
pub use edits::EditService;
pub use messages::{MessageService, PendingSend, SendOutcome};
pub use presence::{PresencePorts, PresenceService};
pub use receipts::ReceiptService;
pub use search::{SearchRequest, SearchService};
pub use sync::SyncService;
pub use users::UserService;
