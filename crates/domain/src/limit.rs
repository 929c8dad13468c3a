//! How many items a page holds: one type for every paged answer, each with its own bounds.

use crate::error::DomainError;

/// 1 to `HIGHEST` items, `USUAL` when the caller does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<const HIGHEST: u32, const USUAL: u32>(u32);

impl<const HIGHEST: u32, const USUAL: u32> Limit<HIGHEST, USUAL> {
    pub const MAX: u32 = HIGHEST;
    pub const DEFAULT: Self = Self(USUAL);

    /// # Errors
    /// `InvalidInput` outside 1..=`HIGHEST`.
    pub fn new(raw: i64) -> Result<Self, DomainError> {
        match u32::try_from(raw) {
            Ok(limit) if (1..=HIGHEST).contains(&limit) => Ok(Self(limit)),
            _ => Err(DomainError::invalid(format!("limit must be between 1 and {HIGHEST}"))),
        }
    }

    /// The limit asked for, or the usual one when none was.
    ///
    /// # Errors
    /// As [`Limit::new`].
    pub fn or_default(raw: Option<i64>) -> Result<Self, DomainError> {
        raw.map(Self::new).transpose().map(Option::unwrap_or_default)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const HIGHEST: u32, const USUAL: u32> Default for Limit<HIGHEST, USUAL> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_stays_within_its_bounds_and_has_a_usual_value() {
        type Page = Limit<200, 50>;
        assert!(Page::new(0).is_err() && Page::new(201).is_err() && Page::new(-1).is_err());
        assert_eq!(Page::new(200).map(Page::get).ok(), Some(200));
        assert_eq!(Page::or_default(None).map(Page::get).ok(), Some(50));
        assert_eq!(Page::or_default(Some(7)).map(Page::get).ok(), Some(7));
        assert!(Page::or_default(Some(0)).is_err());
    }
}
