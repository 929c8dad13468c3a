use crate::error::DomainError;
use crate::text::{check_name_like, nfc, reject_controls};

const NAME_MAX_CHARS: usize = 64;
const EMAIL_MAX_CHARS: usize = 254;
const PASSWORD_MIN_CHARS: usize = 8;
/// bcrypt ignores everything after 72 bytes; refusing longer passwords avoids a silent truncation.
const PASSWORD_MAX_BYTES: usize = 72;

/// A display name: trimmed, in NFC, 1 to 64 characters; no control, invisible or text-direction
/// characters and no word mixing Latin, Cyrillic or Greek letters (see [`crate::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// # Errors
    /// `InvalidInput` when the name is empty after trimming, too long, holds a control, invisible or
    /// text-direction character, or mixes look-alike scripts in one word.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let name = nfc(raw.trim());
        if name.is_empty() {
            return Err(DomainError::invalid("name must not be empty"));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(DomainError::invalid(format!("name must be at most {NAME_MAX_CHARS} characters")));
        }
        check_name_like("name", &name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed, lower-cased and in NFC so that uniqueness is case-insensitive and an
/// accent typed two ways is one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// `InvalidInput` unless the address has one `@`, a non-empty local part and a dotted domain, and
    /// holds no control, invisible or text-direction character and no word mixing look-alike scripts.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let email = nfc(&raw.trim().to_lowercase());
        check_name_like("email", &email)?;
        let invalid = || DomainError::invalid("email is not a valid address");
        if email.chars().count() > EMAIL_MAX_CHARS || email.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok =
            !domain.contains('@') && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed at registration: 8 characters at least, 72 bytes at most, no control character
/// but newline and tab. Kept exactly as typed (not normalised: the hash is of these bytes).
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// # Errors
    /// `InvalidInput` when shorter than 8 characters, longer than 72 bytes or holding a control character.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        reject_controls("password", raw)?;
        if raw.chars().count() < PASSWORD_MIN_CHARS {
            return Err(DomainError::invalid(format!("password must be at least {PASSWORD_MIN_CHARS} characters")));
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(DomainError::invalid(format!("password must be at most {PASSWORD_MAX_BYTES} bytes")));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What a user search (`GET /users?q=`) looks for: trimmed, in NFC, no control character. It matches
/// names that contain it and, ignoring case, the one email equal to it; empty, it matches every user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserQuery(String);

impl UserQuery {
    /// # Errors
    /// `InvalidInput` when the query holds a control character other than newline and tab, or is longer
    /// than the longest email (254 characters): nothing longer can match.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        reject_controls("q", raw)?;
        if raw.chars().count() > EMAIL_MAX_CHARS {
            return Err(DomainError::invalid(format!("q must be at most {EMAIL_MAX_CHARS} characters")));
        }
        Ok(Self(nfc(raw.trim())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `email` is exactly what was searched for, ignoring case: the one case in which the
    /// searcher may see another user's email (they typed it).
    pub fn is_exactly(&self, email: &str) -> bool {
        !self.0.is_empty() && self.0.to_lowercase() == email.to_lowercase()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(UserName::new("  Alice ").map(|n| n.0).ok(), Some("Alice".into()));
        assert!(UserName::new("   ").is_err());
        assert!(UserName::new(&"x".repeat(65)).is_err());
        assert!(UserName::new("a\u{0}b").is_err());
    }

    #[test]
    fn names_refuse_every_control_character_and_keep_the_rest() {
        for bad in ["a\u{0}b", "a\rb", "a\nb", "a\u{1b}b", "a\u{7f}b", "a\u{9f}b"] {
            assert!(matches!(UserName::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert_eq!(UserName::new("Zoë 🙂").map(|n| n.0).ok(), Some("Zoë 🙂".into()));
    }

    #[test]
    fn names_are_composed_and_refuse_invisible_bidi_and_mixed_script_look_alikes() {
        assert_eq!(UserName::new("Ame\u{301}lie").map(|n| n.0).ok(), Some("Am\u{e9}lie".into()));
        assert_eq!(UserName::new("Ame\u{301}lie").ok(), UserName::new("Am\u{e9}lie").ok());
        for bad in ["Ali\u{200B}ce", "Ali\u{200C}ce", "Ali\u{200D}ce", "\u{202E}ecila", "Alice\u{200F}", "Ali\u{AD}ce"]
        {
            assert!(matches!(UserName::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        for bad in ["\u{2066}Alice\u{2069}", "\u{FEFF}Alice", "Al\u{2060}ice", "\u{430}lice", "Jo\u{3BF}n"] {
            assert!(matches!(UserName::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert!(UserName::new("Ivan Иванов").is_ok());
        assert!(UserName::new("שרה כהן").is_ok(), "right-to-left names need no direction marks");
        // 64 characters once composed, though 128 code points as typed.
        assert!(UserName::new(&"e\u{301}".repeat(64)).is_ok());
    }

    #[test]
    fn emails_refuse_controls_and_look_alikes_and_are_composed() {
        for bad in ["a\u{0}@b.io", "a@b.io\u{0}", "a\r@b.io", "a\u{200B}@b.io", "a@b\u{202E}.io", "\u{430}dmin@b.io"] {
            assert!(matches!(Email::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert_eq!(Email::new("RENE\u{301}@Example.com").map(|e| e.0).ok(), Some("ren\u{e9}@example.com".into()));
        assert_eq!(Email::new("ivan@почта.рф").map(|e| e.0).ok(), Some("ivan@почта.рф".into()));
    }

    #[test]
    fn user_queries_refuse_controls_and_are_composed() {
        for bad in ["\u{0}", "bo\u{0}b", "a\rb", "\u{85}", "\u{1b}[0m"] {
            assert!(matches!(UserQuery::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert_eq!(UserQuery::new("  ame\u{301}lie ").map(|q| q.0).ok(), Some("am\u{e9}lie".into()));
        let query = UserQuery::new(" Bob@Example.COM ").unwrap_or_default();
        assert!(query.is_exactly("bob@example.com"));
        assert!(!query.is_exactly("bob@example.co"));
        assert!(!UserQuery::default().is_exactly(""));
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(Email::new(" Alice@Example.COM ").map(|e| e.0).ok(), Some("alice@example.com".into()));
        for bad in ["", "alice", "@example.com", "alice@", "alice@example", "a b@example.com", "a@b@c.com", "a@.com"] {
            assert!(Email::new(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn passwords_need_eight_characters_and_fit_bcrypt() {
        assert!(Password::new("1234567").is_err());
        assert!(Password::new("12345678").is_ok());
        assert!(Password::new(&"x".repeat(73)).is_err());
        assert!(Password::new(&"é".repeat(36)).is_ok(), "72 bytes");
        assert!(Password::new(&"é".repeat(37)).is_err(), "74 bytes in 37 characters");
        assert!(Password::new("pass\tword\n12").is_ok());
        for bad in ["password\u{0}123", "password\r123", "password\u{7f}123", "password\u{85}123"] {
            assert!(matches!(Password::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert_eq!(format!("{:?}", Password::new("secret-password").ok()), "Some(Password(<redacted>))");
    }
}
