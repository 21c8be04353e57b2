//! DynamoDB's reserved words.
//!
//! A bare reserved word used as an attribute name in any expression is rejected
//! (`Attribute name is a reserved keyword; reserved keyword: Name`, quoting the word as
//! written); a `#placeholder` avoids it. The check is case-insensitive. The list is the one
//! published in the DynamoDB Developer Guide (`reserved-words.txt`, one upper-case word per
//! line). Two exceptions were found by asking DynamoDB: `SIZE` and `CONVERT` are accepted as
//! attribute names everywhere, and the grammar keywords (AND, OR, NOT, BETWEEN, IN, SET,
//! REMOVE, ADD, DELETE) never get here because they are syntax errors.

use std::sync::OnceLock;

/// The published list, one word per line, sorted.
const WORDS: &str = include_str!("reserved-words.txt");

/// The list, for binary search.
fn words() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<&'static str> = WORDS
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        list.sort_unstable();
        list
    })
}

/// Whether `word` may not be used as a bare attribute name.
pub(crate) fn is_reserved(word: &str) -> bool {
    if word.eq_ignore_ascii_case("SIZE") || word.eq_ignore_ascii_case("CONVERT") {
        return false;
    }
    // Reserved words are short ASCII words; anything else cannot match.
    if word.len() > 32 || !word.is_ascii() {
        return false;
    }
    let upper = word.to_ascii_uppercase();
    words().binary_search(&upper.as_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive() {
        assert!(is_reserved("name"));
        assert!(is_reserved("Status"));
        assert!(is_reserved("TTL"));
        assert!(!is_reserved("size"));
        assert!(!is_reserved("Convert"));
        assert!(!is_reserved("a"));
        assert!(!is_reserved("name2"));
    }

    #[test]
    fn list_is_complete() {
        assert_eq!(words().len(), 573);
        assert!(words()
            .iter()
            .all(|w| is_reserved(w) || *w == "SIZE" || *w == "CONVERT"));
    }
}
