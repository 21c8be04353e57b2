//! The stored form of an item: DynamoDB JSON in a PostgreSQL `jsonb` column, with one escape.
//!
//! `jsonb` cannot hold U+0000 in a string (neither in values nor in object keys), and DynamoDB
//! strings (names, S, SS members, map keys) may contain it. Every string in the stored document
//! therefore goes through this escape, with U+0001 as the escape character:
//!
//! | in the item | stored as         |
//! |-------------|-------------------|
//! | U+0000      | U+0001 U+0001     |
//! | U+0001      | U+0001 U+0002     |
//! | other       | itself            |
//!
//! The escape round-trips every string (a stored U+0001 is always followed by U+0001 or
//! U+0002, so decoding is unambiguous), and it keeps the byte order of UTF-8 strings: the
//! codes for U+0000 and U+0001 sort below every other character just as the originals do and
//! neither is a prefix of another. An expression index over an escaped string therefore orders
//! and compares exactly like the original, provided query values are escaped the same way
//! ([`escape_str`]).
//!
//! Strings without U+0000 and U+0001 (nearly all) are stored unchanged, so the stored text of
//! such an item is already the wire form: [`storage_text_to_wire`] hands it back untouched.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{AttributeValue, Item};
use crate::error::ApiError;

/// The escape character.
const ESCAPE: char = '\u{1}';
/// After [`ESCAPE`]: the original was U+0000.
const ESCAPED_NUL: char = '\u{1}';
/// After [`ESCAPE`]: the original was U+0001.
const ESCAPED_ESCAPE: char = '\u{2}';

/// Escapes one string for storage (see the module documentation); borrows when there is
/// nothing to escape.
pub fn escape_str(text: &str) -> Cow<'_, str> {
    if !text.contains(['\u{0}', ESCAPE]) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{0}' => escaped.extend([ESCAPE, ESCAPED_NUL]),
            ESCAPE => escaped.extend([ESCAPE, ESCAPED_ESCAPE]),
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// Reverses [`escape_str`]; borrows when there is nothing to unescape. An escape character
/// followed by anything but U+0001 or U+0002 means the stored data is corrupt.
pub fn unescape_str(text: &str) -> Result<Cow<'_, str>, ApiError> {
    if !text.contains(ESCAPE) {
        return Ok(Cow::Borrowed(text));
    }
    let mut original = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            original.push(c);
            continue;
        }
        match chars.next() {
            Some(ESCAPED_NUL) => original.push('\u{0}'),
            Some(ESCAPED_ESCAPE) => original.push(ESCAPE),
            _ => return Err(corrupt("a string holds an invalid escape")),
        }
    }
    Ok(Cow::Owned(original))
}

/// The document to store for an item: its wire form with every string escaped.
pub fn item_to_storage(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (escape_str(name).into_owned(), value_to_storage(value)))
            .collect(),
    )
}

/// The stored document as JSON text, ready to bind as a `jsonb` parameter. Written straight
/// from the item (no `serde_json::Value` in between): it is on every write's path.
pub fn item_to_storage_text(item: &Item) -> String {
    // Serializing into a String cannot fail: every map key is a string.
    serde_json::to_string(&StoredMap(item)).unwrap_or_default()
}

/// An item (or map) in its stored form, for serde: names and strings escaped.
struct StoredMap<'a>(&'a Item);

impl serde::Serialize for StoredMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(&escape_str(name), &StoredValue(value))?;
        }
        map.end()
    }
}

/// One attribute value in its stored form.
struct StoredValue<'a>(&'a AttributeValue);

impl serde::Serialize for StoredValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tag = self.0.type_name();
        match self.0 {
            AttributeValue::S(s) => single(serializer, tag, &escape_str(s)),
            AttributeValue::Ss(members) => single(serializer, tag, &StoredStrings(members)),
            AttributeValue::M(item) => single(serializer, tag, &StoredMap(item)),
            AttributeValue::L(values) => single(serializer, tag, &StoredList(values)),
            // Numbers, binaries (base64) and booleans never contain U+0000 or U+0001.
            other => other.serialize(serializer),
        }
    }
}

/// `{tag: value}`.
fn single<S: serde::Serializer, T: serde::Serialize + ?Sized>(
    serializer: S,
    tag: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(tag, value)?;
    map.end()
}

/// A string set's members, escaped.
struct StoredStrings<'a>(&'a [String]);

impl serde::Serialize for StoredStrings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|member| escape_str(member)))
    }
}

/// A list's values in their stored form.
struct StoredList<'a>(&'a [AttributeValue]);

impl serde::Serialize for StoredList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(StoredValue))
    }
}

fn value_to_storage(value: &AttributeValue) -> Value {
    let escaped = |s: &str| Value::String(escape_str(s).into_owned());
    let (tag, inner) = match value {
        AttributeValue::S(s) => ("S", escaped(s)),
        AttributeValue::Ss(members) => (
            "SS",
            Value::Array(members.iter().map(|s| escaped(s)).collect()),
        ),
        AttributeValue::M(item) => ("M", item_to_storage(item)),
        AttributeValue::L(values) => (
            "L",
            Value::Array(values.iter().map(value_to_storage).collect()),
        ),
        // Numbers, binaries (base64) and booleans never contain U+0000 or U+0001.
        other => return other.to_json(),
    };
    Value::Object(Map::from_iter([(tag.to_string(), inner)]))
}

/// Turns stored JSON text (as PostgreSQL prints a `jsonb` value, or as
/// [`item_to_storage_text`] wrote it) into wire JSON text. When no string in it was escaped,
/// which is nearly always, the text is returned as it is, without parsing; otherwise it is
/// parsed, unescaped and written out again.
pub fn storage_text_to_wire(text: &str) -> Result<Cow<'_, str>, ApiError> {
    // An escaped string holds U+0001, which JSON text carries either raw or (as PostgreSQL and
    // serde_json write it) as the escape sequence \u0001. A literal backslash followed by
    // "u0001" in a string also matches; it only costs the slow path.
    if !text.contains(ESCAPE) && !text.contains("\\u0001") {
        return Ok(Cow::Borrowed(text));
    }
    let stored: Value =
        serde_json::from_str(text).map_err(|_| corrupt("the stored text is not JSON"))?;
    Ok(Cow::Owned(storage_value_to_wire(stored)?.to_string()))
}

/// Turns a stored document, already parsed, into its wire form (unescapes every string).
pub fn storage_value_to_wire(stored: Value) -> Result<Value, ApiError> {
    Ok(match stored {
        Value::String(s) => match unescape_str(&s)? {
            Cow::Borrowed(_) => Value::String(s),
            Cow::Owned(original) => Value::String(original),
        },
        Value::Array(values) => Value::Array(
            values
                .into_iter()
                .map(storage_value_to_wire)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(name, value)| {
                    Ok((
                        unescape_str(&name)?.into_owned(),
                        storage_value_to_wire(value)?,
                    ))
                })
                .collect::<Result<_, ApiError>>()?,
        ),
        other => other,
    })
}

fn corrupt(what: &str) -> ApiError {
    ApiError::internal(format!("stored item is corrupt: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::storage_parse::item_from_storage_text;
    use crate::model::Number;
    use serde_json::json;

    /// Every string of up to `max_len` characters over an alphabet chosen to hit the escape:
    /// U+0000, the escape character and what may follow it, and characters that JSON escapes.
    fn tricky_strings(max_len: usize) -> Vec<String> {
        let alphabet = [
            '\u{0}', '\u{1}', '\u{2}', 'a', '0', 'u', '\\', '"', 'é', '\u{FFFF}',
        ];
        let mut all = vec![String::new()];
        let mut previous = vec![String::new()];
        for _ in 0..max_len {
            let next: Vec<String> = previous
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(next.iter().cloned());
            previous = next;
        }
        all
    }

    #[test]
    fn escape_round_trips_and_removes_nul() {
        for s in tricky_strings(4) {
            let escaped = escape_str(&s);
            assert!(!escaped.contains('\u{0}'), "{s:?}");
            assert_eq!(unescape_str(&escaped).expect("valid escape"), s, "{s:?}");
            // Strings without U+0000 and U+0001 are stored as they are.
            let untouched = !s.contains(['\u{0}', '\u{1}']);
            assert_eq!(matches!(escaped, Cow::Borrowed(_)), untouched, "{s:?}");
        }
    }

    #[test]
    fn escape_preserves_byte_order() {
        let strings = tricky_strings(3);
        let escaped: Vec<String> = strings.iter().map(|s| escape_str(s).into_owned()).collect();
        for (a, ea) in strings.iter().zip(&escaped) {
            for (b, eb) in strings.iter().zip(&escaped) {
                assert_eq!(
                    a.as_bytes().cmp(b.as_bytes()),
                    ea.as_bytes().cmp(eb.as_bytes()),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn unescape_rejects_corrupt_text() {
        for bad in ["\u{1}", "a\u{1}", "\u{1}a", "\u{1}\u{0}", "\u{1}\u{3}x"] {
            let error = unescape_str(bad).expect_err(bad);
            assert_eq!(error.kind, crate::error::ErrorKind::InternalServerError);
        }
    }

    fn item_with(s: &str) -> Item {
        let text = |t: &str| AttributeValue::S(t.to_string());
        Item::from([
            (s.to_string(), text(s)),
            (
                format!("k{s}"),
                AttributeValue::Ss(vec![s.to_string(), format!("{s}x")]),
            ),
            (
                "m".to_string(),
                AttributeValue::M(Item::from([(
                    s.to_string(),
                    AttributeValue::L(vec![
                        text(s),
                        AttributeValue::N(Number::from_i64(-5)),
                        AttributeValue::B(vec![0, 1]),
                    ]),
                )])),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec![Number::from_i64(1), Number::from_i64(2)]),
            ),
            ("bs".to_string(), AttributeValue::Bs(vec![vec![0], vec![1]])),
            ("z".to_string(), AttributeValue::Null),
            ("t".to_string(), AttributeValue::Bool(true)),
        ])
    }

    #[test]
    fn items_round_trip_through_storage() {
        for s in tricky_strings(3) {
            let item = item_with(&s);
            let stored = item_to_storage(&item);
            let text = item_to_storage_text(&item);
            assert!(!text.contains("\\u0000"), "{s:?}: {text}");
            assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), stored);
            // Back to the item.
            assert_eq!(item_from_storage_text(&text).expect("valid"), item, "{s:?}");
            // Back to the wire, from text and from a parsed value.
            let wire: Value =
                serde_json::from_str(&storage_text_to_wire(&text).expect("valid")).expect("json");
            assert_eq!(wire, crate::model::item_to_json(&item), "{s:?}");
            assert_eq!(storage_value_to_wire(stored).expect("valid"), wire, "{s:?}");
        }
    }

    #[test]
    fn storage_text_matches_the_storage_document_for_every_type() {
        let wire = json!({
            "s\u{0}": {"S": "a\u{1}b"}, "n": {"N": "-1.50"}, "b": {"B": "AAE="},
            "ss": {"SS": ["x", "\u{0}"]}, "ns": {"NS": ["1", "2e3"]}, "bs": {"BS": ["AA=="]},
            "m": {"M": {"k\u{1}": {"L": [{"S": "\u{0}"}, {"NULL": true}, {"BOOL": false},
                   {"M": {}}, {"L": []}]}}},
            "null": {"NULL": true}, "bool": {"BOOL": true}
        });
        let item = crate::model::item_from_json(&wire).expect("valid item");
        let text = item_to_storage_text(&item);
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("json"),
            item_to_storage(&item)
        );
        assert_eq!(item_from_storage_text(&text).unwrap(), item);
    }

    #[test]
    fn plain_text_is_handed_back_untouched() {
        let text = r#"{"a": {"S": "x\\u0002y\"é"}, "b": {"N": "1"}}"#;
        assert!(matches!(storage_text_to_wire(text), Ok(Cow::Borrowed(t)) if t == text));
        // A literal backslash followed by u0001 takes the slow path and comes back intact.
        let literal = r#"{"a":{"S":"\\u0001"}}"#;
        let wire = storage_text_to_wire(literal).expect("valid");
        assert!(matches!(wire, Cow::Owned(_)));
        assert_eq!(
            serde_json::from_str::<Value>(&wire).expect("json"),
            json!({"a": {"S": "\\u0001"}})
        );
    }

    /// PostgreSQL prints jsonb with its own spacing, key order and `\u0001` escapes.
    #[test]
    fn postgres_jsonb_text_is_read() {
        let printed = r#"{"m": {"M": {"\u0001\u0001k": {"S": "a\u0001\u0002b"}}}, "\u0001\u0001": {"SS": ["\u0001\u0001", "x"]}}"#;
        let wire: Value =
            serde_json::from_str(&storage_text_to_wire(printed).expect("valid")).expect("json");
        assert_eq!(
            wire,
            json!({"m": {"M": {"\u{0}k": {"S": "a\u{1}b"}}}, "\u{0}": {"SS": ["\u{0}", "x"]}})
        );
        let item = item_from_storage_text(printed).expect("valid");
        assert_eq!(
            item["\u{0}"],
            AttributeValue::Ss(vec!["\u{0}".into(), "x".into()])
        );
    }

    #[test]
    fn corrupt_documents_are_internal_errors() {
        let corrupt_documents = [
            json!([]),
            json!({"a": "x"}),
            json!({"a": {}}),
            json!({"a": {"S": "x", "N": "1"}}),
            json!({"a": {"X": "x"}}),
            json!({"a": {"S": 1}}),
            json!({"a": {"N": "abc"}}),
            json!({"a": {"B": "!"}}),
            json!({"a": {"SS": "x"}}),
            json!({"a": {"M": []}}),
            json!({"a": {"BOOL": "x"}}),
            json!({"a": {"S": "\u{1}"}}),
            json!({"\u{1}x": {"S": "a"}}),
        ];
        for document in corrupt_documents {
            let error = item_from_storage_text(&document.to_string()).expect_err("corrupt");
            assert_eq!(
                error.kind,
                crate::error::ErrorKind::InternalServerError,
                "{document}"
            );
        }
        assert!(storage_text_to_wire("{\"a\":{\"S\":\"\\u0001\"}}").is_err());
        assert!(storage_text_to_wire("\u{1}not json").is_err());
    }
}
