use crate::error::DomainError;
use crate::ids::MessageId;

const TEXT_MAX_CHARS: usize = 4096;

/// A message's text: 1 to 4096 characters, not only white space. Kept as typed (not trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// # Errors
    /// `InvalidInput` when empty, only white space, or longer than 4096 characters.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::invalid("text must not be empty"));
        }
        if raw.chars().count() > TEXT_MAX_CHARS {
            return Err(DomainError::invalid(format!("text must be at most {TEXT_MAX_CHARS} characters")));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// How many items a page holds: 1 to 200, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub const MAX: u32 = 200;
    pub const DEFAULT: Self = Self(50);

    /// # Errors
    /// `InvalidInput` outside 1..=200.
    pub fn new(raw: i64) -> Result<Self, DomainError> {
        match u32::try_from(raw) {
            Ok(limit @ 1..=Self::MAX) => Ok(Self(limit)),
            _ => Err(DomainError::invalid(format!("limit must be between 1 and {}", Self::MAX))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A page of a chat's history, ascending by (timestamp, id).
///
/// Without cursors the page starts `offset` messages after the oldest one. `after_id` keeps only newer
/// messages (catch-up after a reconnect). `before_id` keeps only older messages and then takes the page
/// that ends right before it, `offset` counting backwards from there (scrolling up); the page is still
/// ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    pub limit: PageLimit,
    pub offset: u64,
    pub after_id: Option<MessageId>,
    pub before_id: Option<MessageId>,
}

impl HistoryQuery {
    /// # Errors
    /// `InvalidInput` for a limit outside 1..=200 or a negative offset or cursor.
    pub fn new(
        limit: Option<i64>,
        offset: Option<i64>,
        after_id: Option<i64>,
        before_id: Option<i64>,
    ) -> Result<Self, DomainError> {
        let limit = limit.map(PageLimit::new).transpose()?.unwrap_or_default();
        let offset =
            u64::try_from(offset.unwrap_or(0)).map_err(|_| DomainError::invalid("offset must not be negative"))?;
        let cursor = |raw: Option<i64>, name: &str| match raw {
            Some(id) if id < 0 => Err(DomainError::invalid(format!("{name} must not be negative"))),
            other => Ok(other.map(MessageId)),
        };
        Ok(Self { limit, offset, after_id: cursor(after_id, "after_id")?, before_id: cursor(before_id, "before_id")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_must_hold_something_and_fit() {
        assert!(MessageText::new("").is_err());
        assert!(MessageText::new(" \n\t").is_err());
        assert!(MessageText::new(&"é".repeat(4096)).is_ok());
        assert!(MessageText::new(&"é".repeat(4097)).is_err());
        assert_eq!(MessageText::new(" hi ").map(MessageText::into_inner).ok(), Some(" hi ".into()));
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PageLimit::new(0).is_err());
        assert!(PageLimit::new(201).is_err());
        assert!(PageLimit::new(-1).is_err());
        assert_eq!(PageLimit::new(200).map(PageLimit::get).ok(), Some(200));
    }

    #[test]
    fn history_queries_default_and_reject_negatives() {
        let query = HistoryQuery::new(None, None, None, None).ok();
        assert_eq!(query.map(|q| (q.limit.get(), q.offset)), Some((50, 0)));
        assert!(HistoryQuery::new(None, Some(-1), None, None).is_err());
        assert!(HistoryQuery::new(None, None, Some(-5), None).is_err());
        assert!(HistoryQuery::new(Some(500), None, None, None).is_err());
    }
}
