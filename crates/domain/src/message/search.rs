//! Message search: what a word is, for the stored text and for the query alike, so that PostgreSQL and
//! SQLite index the same words and give the same answers (neither database's own word splitting is
//! used: PostgreSQL's depends on the server's locale, and SQLite's differs from it).

use std::collections::BTreeSet;

use crate::error::DomainError;
use crate::ids::{ChatId, MessageId};
use crate::limit::Limit;
use crate::text::reject_controls;

/// Longer words are indexed (and searched) by their first this many characters: a database keeps
/// index terms short (PostgreSQL refuses lexemes over 2 KiB) and nobody types more to find one.
pub const WORD_MAX_CHARS: usize = 64;
const QUERY_MAX_CHARS: usize = 256;
const QUERY_MAX_WORDS: usize = 16;

/// The words of a text, as the index holds them: runs of letters and digits, lower-cased, cut to
/// [`WORD_MAX_CHARS`], each once, in sorted order.
pub fn search_words(text: &str) -> Vec<String> {
    let words: BTreeSet<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().take(WORD_MAX_CHARS).flat_map(char::to_lowercase).collect())
        .collect();
    words.into_iter().collect()
}

/// [`search_words`] as one space-separated string (how the adapters hand them to the database).
pub fn search_document(text: &str) -> String {
    search_words(text).join(" ")
}

/// What a search asks for: every word must be the beginning of some word of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms(Vec<String>);

impl SearchTerms {
    /// # Errors
    /// `InvalidInput` when `q` has no letter or digit, is longer than 256 characters, holds more than 16
    /// words or a control character.
    pub fn new(q: &str) -> Result<Self, DomainError> {
        reject_controls("q", q)?;
        if q.chars().count() > QUERY_MAX_CHARS {
            return Err(DomainError::invalid(format!("q must be at most {QUERY_MAX_CHARS} characters")));
        }
        let words = search_words(q);
        if words.is_empty() {
            return Err(DomainError::invalid("q must hold at least one letter or digit"));
        }
        if words.len() > QUERY_MAX_WORDS {
            return Err(DomainError::invalid(format!("q must hold at most {QUERY_MAX_WORDS} words")));
        }
        Ok(Self(words))
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// A message search: the terms, where to look, and the page (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: SearchTerms,
    /// One chat only; otherwise every chat of the caller.
    pub chat: Option<ChatId>,
    /// Only messages with an id below this one (the next page).
    pub before: Option<MessageId>,
    pub limit: SearchLimit,
}

/// How many results a search page holds: 1 to 100, 20 when not given.
pub type SearchLimit = Limit<100, 20>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lower_cased_once_each() {
        assert_eq!(
            search_words("Hello, WORLD! hello-world v2.0 ÄPFEL_straße"),
            ["0", "hello", "straße", "v2", "world", "äpfel"]
        );
        assert_eq!(search_words("  ... 🙂 "), Vec::<String>::new());
        assert_eq!(search_words("Привет мир 你好"), ["мир", "привет", "你好"]);
    }

    #[test]
    fn long_words_are_cut() {
        let long = "a".repeat(500);
        assert_eq!(search_words(&long), ["a".repeat(WORD_MAX_CHARS)]);
    }

    #[test]
    fn a_query_needs_a_word_and_stays_small() {
        assert!(SearchTerms::new("").is_err());
        assert!(SearchTerms::new(" ?! ").is_err());
        assert!(SearchTerms::new("a\u{0}b").is_err());
        assert!(SearchTerms::new(&"w ".repeat(17)).is_ok(), "repeated words count once");
        let many: String = (0..17).map(|i| format!("w{i} ")).collect();
        assert!(SearchTerms::new(&many).is_err());
        assert_eq!(
            SearchTerms::new("Hel wor").map(|t| t.words().to_vec()).ok(),
            Some(vec!["hel".into(), "wor".into()])
        );
        assert!(SearchLimit::new(0).is_err() && SearchLimit::new(101).is_err() && SearchLimit::new(100).is_ok());
    }
}
