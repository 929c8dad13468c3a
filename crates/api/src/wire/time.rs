//! How a moment is written on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339, UTC, microsecond precision, ending in `Z`: every timestamp of the contract.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
