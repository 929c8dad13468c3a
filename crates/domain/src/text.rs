//! Rules shared by every text a person types: the control characters no text may hold, the invisible
//! and direction-changing characters a name may not hold, and the normal form names are kept in.
//! The value objects (`UserName`, `Email`, `GroupName`, `MessageText`, …) apply them at construction, so
//! no text that breaks them reaches a database, whichever database it is.

use unicode_normalization::UnicodeNormalization;

use crate::error::DomainError;

/// Unicode category Cc (C0 controls, DEL, C1 controls) except newline and tab.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// `InvalidInput` ("`what` must not contain control characters") when `raw` holds a forbidden control.
///
/// # Errors
/// `InvalidInput` when `raw` holds a character of category Cc other than `\n` and `\t`.
pub fn reject_controls(what: &str, raw: &str) -> Result<(), DomainError> {
    if raw.chars().any(is_forbidden_control) {
        return Err(DomainError::invalid(format!("{what} must not contain control characters")));
    }
    Ok(())
}

/// Characters that show nothing, or reorder what follows them, so that two names that look the same
/// differ: zero-width spaces and joiners, bidi marks, embeddings, overrides and isolates, the soft
/// hyphen, fillers that render blank, tag characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'                        // soft hyphen
        | '\u{34F}'                     // combining grapheme joiner
        | '\u{61C}'                     // Arabic letter mark
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
        | '\u{180E}'                    // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{2028}'..='\u{202E}'       // line and paragraph separators; bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates, deprecated formats
        | '\u{2800}'                    // Braille blank
        | '\u{FEFF}'                    // zero-width no-break space (byte-order mark)
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotations
        | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'     // musical format controls
        | '\u{E0000}'..='\u{E007F}' // tags
    )
}

/// The scripts whose letters are mistaken for each other (Latin `a`, Cyrillic `а`, Greek `α`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
}

fn confusable_script(c: char) -> Option<Script> {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{AA}' | '\u{BA}' => Some(Script::Latin),
        '\u{C0}'..='\u{24F}' if c.is_alphabetic() => Some(Script::Latin),
        '\u{1E00}'..='\u{1EFF}' | '\u{2C60}'..='\u{2C7F}' | '\u{A720}'..='\u{A7FF}' | '\u{AB30}'..='\u{AB6F}' => {
            Some(Script::Latin)
        }
        '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => Some(Script::Latin),
        '\u{370}'..='\u{3FF}' | '\u{1F00}'..='\u{1FFF}' if c.is_alphabetic() => Some(Script::Greek),
        '\u{400}'..='\u{52F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}'
            if c.is_alphabetic() =>
        {
            Some(Script::Cyrillic)
        }
        _ => None,
    }
}

/// Whether one word (a run of letters, marks and digits) mixes Latin, Cyrillic and Greek letters, the
/// usual way to forge a look-alike (`аlice` with a Cyrillic `а`). Words of different scripts may meet
/// in one name ("Ivan Иванов").
pub fn mixes_scripts_within_a_word(text: &str) -> bool {
    let mut word: Option<Script> = None;
    for c in text.chars() {
        if !c.is_alphanumeric() && !is_combining_mark(c) {
            word = None;
            continue;
        }
        match (word, confusable_script(c)) {
            (Some(seen), Some(script)) if seen != script => return true,
            (None, Some(script)) => word = Some(script),
            _ => {}
        }
    }
    false
}

/// Combining diacritical marks (they belong to the letter before them, whatever their block).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Unicode Normalization Form C: `e` + combining acute becomes `é`, so that what looks the same is the same.
pub fn nfc(raw: &str) -> String {
    raw.nfc().collect()
}

/// The checks every name-like text gets (user names, group names, emails): no control character at all
/// (a name is one line, so not even newline or tab), nothing invisible, no word mixing look-alike
/// scripts. `raw` should already be NFC.
///
/// # Errors
/// `InvalidInput` naming `what` and the rule it breaks.
pub fn check_name_like(what: &str, raw: &str) -> Result<(), DomainError> {
    if raw.chars().any(char::is_control) {
        return Err(DomainError::invalid(format!("{what} must not contain control characters")));
    }
    if raw.chars().any(is_invisible) {
        return Err(DomainError::invalid(format!("{what} must not contain invisible or text-direction characters")));
    }
    if mixes_scripts_within_a_word(raw) {
        return Err(DomainError::invalid(format!("{what} must not mix Latin, Cyrillic or Greek letters in one word")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cc_character_but_newline_and_tab_is_a_forbidden_control() {
        for c in ['\u{0}', '\u{7}', '\r', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}']
        {
            assert!(is_forbidden_control(c), "{c:?}");
        }
        for c in ['\n', '\t', ' ', 'a', 'é', '\u{200B}', '\u{202E}', '\u{a0}'] {
            assert!(!is_forbidden_control(c), "{c:?}");
        }
        assert!(reject_controls("text", "a\nb\tc").is_ok());
        assert!(
            matches!(reject_controls("text", "a\u{0}b"), Err(DomainError::InvalidInput(m)) if m.contains("control"))
        );
    }

    #[test]
    fn zero_width_bidi_and_blank_characters_are_invisible() {
        for c in
            ['\u{AD}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2060}']
        {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['\u{2066}', '\u{2069}', '\u{FEFF}', '\u{3164}', '\u{E0041}', '\u{2800}'] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '-', 'é', 'ß', 'ש', '\u{FE0F}', '😀'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn a_word_may_not_mix_latin_cyrillic_and_greek_letters() {
        for forged in ["\u{430}lice", "alic\u{435}", "p\u{3B1}ypal", "Mr \u{41C}ike", "bob-\u{43E}b"] {
            assert!(mixes_scripts_within_a_word(forged), "{forged}");
        }
        for fine in
            ["alice", "Иван", "Ivan Иванов", "Σωκράτης", "α-Team", "Zoë", "Ame\u{301}lie", "李小龍 Bruce", "R2D2"]
        {
            assert!(!mixes_scripts_within_a_word(fine), "{fine}");
        }
    }

    #[test]
    fn nfc_composes_accents() {
        assert_eq!(nfc("e\u{301}"), "\u{e9}");
        assert_eq!(nfc("\u{e9}"), "\u{e9}");
        assert_eq!(nfc("A\u{30A}"), "\u{c5}");
    }
}
