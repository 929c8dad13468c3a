use crate::error::DomainError;
use crate::ids::MessageId;
use crate::limit::Limit;
use crate::text::reject_controls;

const TEXT_MAX_CHARS: usize = 4096;

/// A message's text: 1 to 4096 characters, not only white space, no control character but newline and
/// tab. Kept as typed (not trimmed, not normalised): direction marks and joiners are part of writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// # Errors
    /// `InvalidInput` when empty, only white space, longer than 4096 characters, or holding a control
    /// character (Unicode category Cc) other than `\n` and `\t`.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        reject_controls("text", raw)?;
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

/// How many messages a history page holds: 1 to 200, 50 when not given.
pub type PageLimit = Limit<200, 50>;

/// A page of a chat's history, ascending by seq (which is also timestamp order).
///
/// Cursors are exclusive bounds. `after_*` keeps only newer messages (catch-up) and starts right after
/// the cursor; `before_*` keeps only older ones and takes the page that ends right before the cursor
/// (scrolling up), `offset` counting backwards from there; the page is still ascending. Without
/// cursors the page starts `offset` messages after the oldest one. An id cursor means that message's
/// seq; an id of another chat or of no message bounds nothing and finds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    pub limit: PageLimit,
    pub offset: u64,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

/// A position in a chat's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Seq(i64),
    Id(MessageId),
}

/// The raw cursors of a history request, as the edge received them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCursors {
    pub after_id: Option<i64>,
    pub before_id: Option<i64>,
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
}

impl HistoryQuery {
    /// # Errors
    /// `InvalidInput` for a limit outside 1..=200, a negative offset or cursor, or two cursors on the
    /// same side (`after_id` with `after_seq`).
    pub fn new(limit: Option<i64>, offset: Option<i64>, cursors: RawCursors) -> Result<Self, DomainError> {
        let limit = PageLimit::or_default(limit)?;
        let offset =
            u64::try_from(offset.unwrap_or(0)).map_err(|_| DomainError::invalid("offset must not be negative"))?;
        let side = |id: Option<i64>, seq: Option<i64>, names: [&str; 2]| -> Result<Option<Cursor>, DomainError> {
            for (value, name) in [(id, names[0]), (seq, names[1])] {
                if value.is_some_and(|v| v < 0) {
                    return Err(DomainError::invalid(format!("{name} must not be negative")));
                }
            }
            match (id, seq) {
                (Some(_), Some(_)) => Err(DomainError::invalid(format!("give {} or {}, not both", names[0], names[1]))),
                (Some(id), None) => Ok(Some(Cursor::Id(MessageId(id)))),
                (None, Some(seq)) => Ok(Some(Cursor::Seq(seq))),
                (None, None) => Ok(None),
            }
        };
        Ok(Self {
            limit,
            offset,
            after: side(cursors.after_id, cursors.after_seq, ["after_id", "after_seq"])?,
            before: side(cursors.before_id, cursors.before_seq, ["before_id", "before_seq"])?,
        })
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
    fn text_refuses_control_characters_but_newline_and_tab() {
        for bad in ["a\u{0}b", "\u{0}", "a\r\nb", "\u{1b}[31mred", "a\u{7f}", "a\u{85}b", "a\u{9f}"] {
            assert!(matches!(MessageText::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        let kept = "line\n\tindented שלום\u{200F} 👩\u{200D}💻 e\u{301}";
        assert_eq!(MessageText::new(kept).map(MessageText::into_inner).ok(), Some(kept.into()));
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
        let none = RawCursors::default();
        let query = HistoryQuery::new(None, None, none).ok();
        assert_eq!(query.map(|q| (q.limit.get(), q.offset)), Some((50, 0)));
        assert!(HistoryQuery::new(None, Some(-1), none).is_err());
        assert!(HistoryQuery::new(None, None, RawCursors { after_id: Some(-5), ..none }).is_err());
        assert!(HistoryQuery::new(None, None, RawCursors { before_seq: Some(-1), ..none }).is_err());
        assert!(HistoryQuery::new(Some(500), None, none).is_err());
    }

    #[test]
    fn one_cursor_per_side() {
        let both = RawCursors { after_id: Some(3), after_seq: Some(4), ..RawCursors::default() };
        assert!(HistoryQuery::new(None, None, both).is_err());
        let window = RawCursors { after_seq: Some(4), before_id: Some(9), ..RawCursors::default() };
        let query = HistoryQuery::new(None, None, window).ok();
        assert_eq!(query.map(|q| (q.after, q.before)), Some((Some(Cursor::Seq(4)), Some(Cursor::Id(MessageId(9))))));
    }
}
