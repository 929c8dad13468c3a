//! The WebSocket frames of the contract, one JSON object per text frame.

use actix_web::web::Bytes;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use domain::message::Message;

use crate::wire::{ErrorCode, MessageDto};

/// What a client may send.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Send {
        chat_id: i64,
        client_id: Uuid,
        text: String,
        #[serde(default)]
        reply_to: Option<i64>,
    },
    Edit {
        chat_id: i64,
        message_id: i64,
        text: String,
    },
    Delete {
        chat_id: i64,
        message_id: i64,
    },
    Read {
        chat_id: i64,
        message_id: i64,
    },
    Typing {
        chat_id: i64,
    },
    Ping,
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ack {
        client_id: Option<Uuid>,
        message: MessageDto,
        duplicate: bool,
    },
    Message {
        message: MessageDto,
    },
    /// The editing connection's answer to an `edit`.
    EditAck {
        message: MessageDto,
    },
    MessageEdited {
        message: MessageDto,
    },
    MessageDeleted {
        chat_id: i64,
        message_id: i64,
        seq: i64,
        version: i64,
    },
    Read {
        chat_id: i64,
        reader_id: i64,
        message_id: i64,
    },
    ReadAll {
        chat_id: i64,
        sender_id: i64,
        message_id: i64,
    },
    Typing {
        chat_id: i64,
        user_id: i64,
    },
    /// A user who shares a chat with this one came online or went offline.
    Presence {
        user_id: i64,
        online: bool,
        last_seen: Option<String>,
    },
    /// An extension: a chat appeared or its members changed; refresh it (`GET /chats`).
    ChatUpdated {
        chat_id: i64,
    },
    /// This connection may have missed events (the bus between instances lost some): `POST /sync`.
    Resync,
    Error {
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<Uuid>,
    },
    Pong,
}

impl ServerFrame {
    /// The sending connection's answer to a `send`: the stored message, fresh or from an earlier send.
    pub fn ack(message: &Message, duplicate: bool) -> Self {
        Self::Ack { client_id: message.client_id, message: MessageDto::from(message), duplicate }
    }

    /// An `error` frame with the contract's code; `client_id` names the send it answers.
    pub fn error(code: ErrorCode, message: String, client_id: Option<Uuid>) -> Self {
        Self::Error { code: code.as_str(), message, client_id }
    }

    /// Serialises once; the result is shared by every recipient without copying.
    pub fn encode(&self) -> ByteString {
        match serde_json::to_string(self) {
            Ok(json) => ByteString::from(json),
            // Our frames hold only strings, numbers and uuids: serialising cannot fail.
            Err(error) => {
                tracing::error!(%error, "could not serialise a frame");
                ByteString::from_static(r#"{"type":"error","code":"internal","message":"internal error"}"#)
            }
        }
    }
}

/// Why an incoming frame could not be understood, in words for the client.
pub fn parse(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))
}

/// The client id a frame carried, if any, so that an error about a send can name it even when the
/// frame as a whole did not parse.
pub fn client_id_of(text: &str) -> Option<Uuid> {
    #[derive(Deserialize)]
    struct Probe {
        client_id: Option<Uuid>,
    }
    serde_json::from_str::<Probe>(text).ok().and_then(|p| p.client_id)
}

pub fn ping_payload() -> Bytes {
    Bytes::from_static(b"messenger")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_and_bad_ones_are_explained() {
        let send =
            parse(r#"{"type":"send","chat_id":1,"client_id":"67e55044-10b1-426f-9247-bb680e5fe0c8","text":"hi"}"#);
        assert!(matches!(send, Ok(ClientFrame::Send { chat_id: 1, reply_to: None, .. })));
        let reply = parse(
            r#"{"type":"send","chat_id":1,"client_id":"67e55044-10b1-426f-9247-bb680e5fe0c8","text":"hi","reply_to":7}"#,
        );
        assert!(matches!(reply, Ok(ClientFrame::Send { reply_to: Some(7), .. })));
        let edit = parse(r#"{"type":"edit","chat_id":1,"message_id":2,"text":"fixed"}"#);
        assert!(matches!(edit, Ok(ClientFrame::Edit { chat_id: 1, message_id: 2, .. })));
        assert_eq!(
            parse(r#"{"type":"delete","chat_id":1,"message_id":2}"#),
            Ok(ClientFrame::Delete { chat_id: 1, message_id: 2 })
        );
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping));
        for bad in [
            "nope",
            r#"{"type":"dance"}"#,
            r#"{"type":"read","chat_id":"x","message_id":1}"#,
            r#"{"type":"send","chat_id":1,"text":"hi"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(client_id_of(r#"{"type":"send","client_id":"67e55044-10b1-426f-9247-bb680e5fe0c8"}"#).is_some());
    }

    #[test]
    fn server_frames_are_tagged_like_the_contract() {
        assert_eq!(&*ServerFrame::Pong.encode(), r#"{"type":"pong"}"#);
        let read_all = ServerFrame::ReadAll { chat_id: 1, sender_id: 3, message_id: 42 }.encode();
        assert_eq!(&*read_all, r#"{"type":"read_all","chat_id":1,"sender_id":3,"message_id":42}"#);
        let error = ServerFrame::error(ErrorCode::NotFound, "chat not found".into(), None).encode();
        assert_eq!(&*error, r#"{"type":"error","code":"not_found","message":"chat not found"}"#);
        assert_eq!(&*ServerFrame::Resync.encode(), r#"{"type":"resync"}"#);
        let deleted = ServerFrame::MessageDeleted { chat_id: 1, message_id: 2, seq: 3, version: 4 }.encode();
        assert_eq!(&*deleted, r#"{"type":"message_deleted","chat_id":1,"message_id":2,"seq":3,"version":4}"#);
    }
}
