//! The ten DynamoDB attribute types and their wire form (`{"S": "x"}`, `{"N": "1"}`, ...).
//!
//! Reading the wire form, with DynamoDB's validation and messages, is in [`super::wire`]; item
//! sizes are in [`super::size`].

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};

use super::Number;

/// An item: attribute names to values. Ordered so that output and tests are deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB value, already validated (sets non-empty and without duplicates, numbers in
/// range, binaries decoded from base64).
///
/// Equality is DynamoDB's: sets are equal when they hold the same members in any order, and
/// numbers compare by value (`{"N":"1.0"}` equals `{"N":"1"}`).
#[derive(Clone, Debug)]
pub enum AttributeValue {
    /// String: UTF-8, may hold U+0000.
    S(String),
    /// Number: exact decimal, 38 significant digits.
    N(Number),
    /// Binary: raw bytes (base64 on the wire).
    B(Vec<u8>),
    /// String set, in the order given; no duplicates.
    Ss(Vec<String>),
    /// Number set; no duplicates by numeric value.
    Ns(Vec<Number>),
    /// Binary set; no duplicates.
    Bs(Vec<Vec<u8>>),
    /// Map of named values.
    M(Item),
    /// List of values.
    L(Vec<AttributeValue>),
    /// NULL (always `true` on the wire).
    Null,
    /// Boolean.
    Bool(bool),
}

impl AttributeValue {
    /// The type descriptor DynamoDB uses on the wire and in messages and in `attribute_type`:
    /// `"S"`, `"N"`, `"B"`, `"SS"`, `"NS"`, `"BS"`, `"M"`, `"L"`, `"NULL"` or `"BOOL"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Null => "NULL",
            AttributeValue::Bool(_) => "BOOL",
        }
    }

    /// The wire form, `{"<type>": <value>}`, with binaries in base64 and numbers as their
    /// canonical text.
    pub fn to_json(&self) -> serde_json::Value {
        // Serializing our own type into a Value cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The wire form of an item: an object of attribute name to value.
pub fn item_to_json(item: &Item) -> serde_json::Value {
    serde_json::Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), value.to_json()))
            .collect(),
    )
}

/// Whether two sets hold the same members, in any order.
fn same_members<T: Ord>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a: Vec<&T> = a.iter().collect();
    let mut b: Vec<&T> = b.iter().collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

impl PartialEq for AttributeValue {
    fn eq(&self, other: &AttributeValue) -> bool {
        use AttributeValue::*;
        match (self, other) {
            (S(a), S(b)) => a == b,
            (N(a), N(b)) => a == b,
            (B(a), B(b)) => a == b,
            (Ss(a), Ss(b)) => same_members(a, b),
            (Ns(a), Ns(b)) => same_members(a, b),
            (Bs(a), Bs(b)) => same_members(a, b),
            (M(a), M(b)) => a == b,
            (L(a), L(b)) => a == b,
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for AttributeValue {}

/// Writes base64 without an intermediate `String` per member.
struct Base64<'a>(&'a [u8]);

impl serde::Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&base64::display::Base64Display::new(
            self.0,
            &base64::engine::general_purpose::STANDARD,
        ))
    }
}

impl serde::Serialize for AttributeValue {
    /// Writes the wire form straight to a serializer, so a response can be written without
    /// building a `serde_json::Value` first (an [`Item`] serializes as the wire item).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        let tag = self.type_name();
        match self {
            AttributeValue::S(s) => map.serialize_entry(tag, s)?,
            AttributeValue::N(n) => map.serialize_entry(tag, n)?,
            AttributeValue::B(b) => map.serialize_entry(tag, &Base64(b))?,
            AttributeValue::Ss(members) => map.serialize_entry(tag, members)?,
            AttributeValue::Ns(members) => map.serialize_entry(tag, members)?,
            AttributeValue::Bs(members) => map.serialize_entry(tag, &BinarySet(members))?,
            AttributeValue::M(item) => map.serialize_entry(tag, item)?,
            AttributeValue::L(values) => map.serialize_entry(tag, values)?,
            AttributeValue::Null => map.serialize_entry(tag, &true)?,
            AttributeValue::Bool(b) => map.serialize_entry(tag, b)?,
        }
        map.end()
    }
}

/// A binary set's members as base64 strings.
struct BinarySet<'a>(&'a [Vec<u8>]);

impl serde::Serialize for BinarySet<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for member in self.0 {
            seq.serialize_element(&Base64(member))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(text: &str) -> Number {
        Number::parse(text).expect("valid number")
    }

    #[test]
    fn type_names() {
        let cases = [
            (AttributeValue::S("x".into()), "S"),
            (AttributeValue::N(n("1")), "N"),
            (AttributeValue::B(vec![1]), "B"),
            (AttributeValue::Ss(vec!["a".into()]), "SS"),
            (AttributeValue::Ns(vec![n("1")]), "NS"),
            (AttributeValue::Bs(vec![vec![1]]), "BS"),
            (AttributeValue::M(Item::new()), "M"),
            (AttributeValue::L(vec![]), "L"),
            (AttributeValue::Null, "NULL"),
            (AttributeValue::Bool(true), "BOOL"),
        ];
        for (value, name) in cases {
            assert_eq!(value.type_name(), name);
            // The wire form is keyed by the same name.
            assert!(value.to_json().get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn sets_are_equal_in_any_order() {
        let a = AttributeValue::Ss(vec!["a".into(), "b".into(), "c".into()]);
        let b = AttributeValue::Ss(vec!["c".into(), "a".into(), "b".into()]);
        assert_eq!(a, b);
        assert_ne!(a, AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_ne!(
            a,
            AttributeValue::Ss(vec!["a".into(), "b".into(), "d".into()])
        );

        let ns1 = AttributeValue::Ns(vec![n("1"), n("2.50")]);
        let ns2 = AttributeValue::Ns(vec![n("2.5"), n("1.0")]);
        assert_eq!(ns1, ns2);

        let bs1 = AttributeValue::Bs(vec![vec![1], vec![2, 3]]);
        let bs2 = AttributeValue::Bs(vec![vec![2, 3], vec![1]]);
        assert_eq!(bs1, bs2);
    }

    #[test]
    fn numbers_compare_by_value_and_types_never_mix() {
        assert_eq!(AttributeValue::N(n("100")), AttributeValue::N(n("1e2")));
        assert_ne!(AttributeValue::N(n("1")), AttributeValue::S("1".into()));
        assert_ne!(
            AttributeValue::Ss(vec!["1".into()]),
            AttributeValue::Ns(vec![n("1")])
        );
        assert_ne!(AttributeValue::Bool(true), AttributeValue::Null);
    }

    #[test]
    fn lists_keep_order_and_maps_compare_deeply() {
        let l1 = AttributeValue::L(vec![AttributeValue::Null, AttributeValue::Bool(true)]);
        let l2 = AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null]);
        assert_ne!(l1, l2);

        let m = |v: &str| {
            AttributeValue::M(Item::from([(
                "k".to_string(),
                AttributeValue::Ns(vec![n(v), n("3")]),
            )]))
        };
        assert_eq!(m("1.0"), m("1"));
        assert_ne!(m("1"), m("2"));
    }

    #[test]
    fn wire_form() {
        let item = Item::from([
            ("s".to_string(), AttributeValue::S("x\u{0}y".into())),
            ("n".to_string(), AttributeValue::N(n("1.50"))),
            ("b".to_string(), AttributeValue::B(b"abc".to_vec())),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![b"a".to_vec(), vec![]]),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec![n("-0"), n("1e3")]),
            ),
            ("null".to_string(), AttributeValue::Null),
            (
                "l".to_string(),
                AttributeValue::L(vec![AttributeValue::Bool(false)]),
            ),
            ("m".to_string(), AttributeValue::M(Item::new())),
        ]);
        let expected = json!({
            "s": {"S": "x\u{0}y"},
            "n": {"N": "1.5"},
            "b": {"B": "YWJj"},
            "bs": {"BS": ["YQ==", ""]},
            "ns": {"NS": ["0", "1000"]},
            "null": {"NULL": true},
            "l": {"L": [{"BOOL": false}]},
            "m": {"M": {}},
        });
        assert_eq!(item_to_json(&item), expected);
        // Direct serialization writes the same document.
        let text = serde_json::to_string(&item).expect("serializes");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).expect("json"),
            expected
        );
    }
}
