use crate::error::DomainError;

const NAME_MAX_CHARS: usize = 64;
const EMAIL_MAX_CHARS: usize = 254;
const PASSWORD_MIN_CHARS: usize = 8;
/// bcrypt ignores everything after 72 bytes; refusing longer passwords avoids a silent truncation.
const PASSWORD_MAX_BYTES: usize = 72;

/// A display name: trimmed, 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// # Errors
    /// `InvalidInput` when the name is empty after trimming, too long or holds control characters.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(DomainError::invalid("name must not be empty"));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(DomainError::invalid(format!("name must be at most {NAME_MAX_CHARS} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(DomainError::invalid("name must not contain control characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed and lower-cased so that uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// `InvalidInput` unless the address has one `@`, a non-empty local part and a dotted domain.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let email = raw.trim().to_lowercase();
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

/// A password as typed at registration: 8 characters at least, 72 bytes at most.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// # Errors
    /// `InvalidInput` when shorter than 8 characters or longer than 72 bytes.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
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
        assert_eq!(format!("{:?}", Password::new("secret-password").ok()), "Some(Password(<redacted>))");
    }
}
