//! Item sizes, by DynamoDB's rules: they decide the 400 KB item limit, the 1 MB page limit of
//! Query and Scan, and the capacity units every operation reports.
//!
//! The rules are the documented ones ("Item sizes and formats" in the DynamoDB Developer
//! Guide), with the exact number rule measured against DynamoDB Local's consumed capacity:
//!
//! - an attribute costs its name's UTF-8 length plus its value's size;
//! - S: UTF-8 length; B: raw length; NULL and BOOL: 1;
//! - N: 1 byte, plus 1 byte per pair of digits counted in base 100 (digit pairs aligned on the
//!   decimal point, so `1.5` takes two pairs and `15` one), plus 1 byte when negative; zero
//!   takes 1 byte in all;
//! - SS, NS, BS: the sum of their members;
//! - M and L: 3 bytes, plus 1 byte per element, plus the elements (and a map's member names).

use super::{AttributeValue, Item, Number};

/// The largest item DynamoDB stores: 400 KB, names included.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

impl AttributeValue {
    /// The value's size in bytes by DynamoDB's rules (without the attribute name).
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Ss(members) => members.iter().map(String::len).sum(),
            AttributeValue::Ns(members) => members.iter().map(number_size).sum(),
            AttributeValue::Bs(members) => members.iter().map(Vec::len).sum(),
            AttributeValue::M(item) => {
                3 + item
                    .iter()
                    .map(|(name, value)| 1 + name.len() + value.size())
                    .sum::<usize>()
            }
            AttributeValue::L(values) => {
                3 + values.iter().map(|value| 1 + value.size()).sum::<usize>()
            }
            AttributeValue::Null | AttributeValue::Bool(_) => 1,
        }
    }
}

/// An item's size in bytes: every attribute's name plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value.size())
        .sum()
}

/// The stored size of a number: an exponent byte, one byte per base-100 digit, and a
/// terminator byte for negative numbers.
pub fn number_size(number: &Number) -> usize {
    if number.is_zero() {
        return 1;
    }
    // Decimal positions of the leading and trailing significant digits (10^high .. 10^low);
    // a base-100 digit covers the positions 2k and 2k+1.
    let high = i64::from(number.adjusted_exponent());
    let low = high - i64::from(number.precision()) + 1;
    let pairs = high.div_euclid(2) - low.div_euclid(2) + 1;
    1 + pairs as usize + usize::from(number.is_negative())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).expect("valid number")
    }

    fn size_of(json: serde_json::Value) -> usize {
        AttributeValue::from_json(&json)
            .expect("valid value")
            .size()
    }

    /// Sizes measured with DynamoDB Local (binary search on the 1 KB write-unit boundary).
    #[test]
    fn number_sizes_match_dynamodb() {
        let cases = [
            ("0", 1),
            ("1", 2),
            ("12", 2),
            ("123", 3),
            ("1234", 3),
            ("-1", 3),
            ("-12", 3),
            ("0.1", 2),
            ("10", 2),
            ("100", 2),
            ("1.5", 3),
            ("12345678901234567890123456789012345678", 20),
            ("1e100", 2),
            ("1e-100", 2),
            ("0.12", 2),
            ("1.2", 3),
            ("-1.2", 4),
            ("-123", 4),
        ];
        for (text, size) in cases {
            assert_eq!(number_size(&n(text)), size, "{text}");
        }
    }

    /// dynalite's formula (derived from the service): 1 + ceil(d/2), plus 1 when the digit
    /// count and the leading exponent are both even, plus 1 when negative.
    #[test]
    fn number_size_agrees_with_the_closed_formula() {
        for digits in [
            "1",
            "12",
            "123",
            "1234",
            "98765",
            "123456789012345678901234567890123456",
        ] {
            for exponent in -140..130 {
                let Ok(number) = Number::parse(&format!("-{digits}e{exponent}")) else {
                    continue;
                };
                let d = i64::from(number.precision());
                let e = i64::from(number.adjusted_exponent());
                let expected = 1 + (d + 1) / 2 + i64::from(d % 2 == 0 && e % 2 == 0) + 1;
                assert_eq!(number_size(&number) as i64, expected, "{number}");
            }
        }
    }

    #[test]
    fn value_sizes_match_dynamodb() {
        use serde_json::json;
        assert_eq!(size_of(json!({"NULL": true})), 1);
        assert_eq!(size_of(json!({"BOOL": false})), 1);
        assert_eq!(size_of(json!({"S": ""})), 0);
        assert_eq!(size_of(json!({"S": "é"})), 2);
        assert_eq!(size_of(json!({"B": "YWJj"})), 3);
        assert_eq!(size_of(json!({"SS": ["a", "bc"]})), 3);
        assert_eq!(size_of(json!({"SS": ["", "a"]})), 1);
        assert_eq!(size_of(json!({"NS": ["1", "12", "-1.5"]})), 8);
        assert_eq!(size_of(json!({"BS": ["YQ==", "YWI="]})), 3);
        assert_eq!(size_of(json!({"L": []})), 3);
        assert_eq!(size_of(json!({"M": {}})), 3);
        assert_eq!(size_of(json!({"L": [{"S": "ab"}]})), 6);
        assert_eq!(size_of(json!({"L": [{"S": "ab"}, {"N": "1"}]})), 9);
        assert_eq!(size_of(json!({"M": {"ab": {"S": "cd"}}})), 8);
        assert_eq!(
            size_of(json!({"M": {"ab": {"S": "cd"}, "e": {"NULL": true}}})),
            11
        );
        assert_eq!(size_of(json!({"L": [{"L": []}]})), 7);
        assert_eq!(size_of(json!({"M": {"a": {"M": {}}}})), 8);
    }

    #[test]
    fn item_size_counts_names_in_utf8() {
        let item = Item::from([
            ("pk".to_string(), AttributeValue::S("z".into())),
            ("s".to_string(), AttributeValue::S("x".repeat(1020))),
            ("é".to_string(), AttributeValue::Null),
        ]);
        // pk: 2 + 1, s: 1 + 1020, é: 2 + 1.
        assert_eq!(item_size(&item), 1027);
        assert_eq!(item_size(&Item::new()), 0);
    }
}
