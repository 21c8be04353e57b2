//! Stored item text straight into an [`Item`], without a `serde_json::Value` in between.
//!
//! Why: every read-modify-write (UpdateItem, a conditional put or delete, ReturnValues) and
//! every read that needs the attributes (a filter, a projection) parses the stored text. Going
//! through `Value` built every object twice (an ordered map of `Value`s, then the item) and was
//! most of a conditional UpdateItem's decoding cost. The format is `super::storage`'s; its tests round-trip
//! every type and escape through this parser.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

use super::storage::unescape_str;
use super::{AttributeValue, Item, Number};
use crate::error::ApiError;

/// Parses stored item text (as written by `item_to_storage_text`, or as PostgreSQL prints the
/// `jsonb`) into an item.
pub fn item_from_storage_text(text: &str) -> Result<Item, ApiError> {
    parse(text, ItemSeed(None))
}

/// Only the attributes named (a page's last key) of stored item text: the others are skipped
/// over, not built.
pub fn attributes_from_storage_text(text: &str, names: &[&str]) -> Result<Item, ApiError> {
    parse(text, ItemSeed(Some(names)))
}

fn parse(text: &str, seed: ItemSeed<'_>) -> Result<Item, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    seed.deserialize(&mut de)
        .and_then(|item| de.end().map(|()| item))
        .map_err(|e| ApiError::internal(format!("stored item is corrupt: {e}")))
}

/// An item, or an `M` value: names (escaped) to typed values; with a list of names, only the
/// attributes named.
struct ItemSeed<'n>(Option<&'n [&'n str]>);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Item, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of attributes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut item = Item::new();
        while let Some(name) = map.next_key::<Text<'de>>()? {
            let name = unescape(&name)?;
            if self.0.is_some_and(|names| !names.contains(&name.as_ref())) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = map.next_value_seed(ValueSeed)?;
            item.insert(name.into_owned(), value);
        }
        Ok(item)
    }
}

/// One typed value: an object with a single member named by the type.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = AttributeValue;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<AttributeValue, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = AttributeValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value: an object with one member")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeValue, A::Error> {
        let Some(tag) = map.next_key::<Text<'de>>()? else {
            return Err(A::Error::custom("a value is not an object with one member"));
        };
        let value = match &*tag {
            "S" => AttributeValue::S(string(&map.next_value::<Text<'de>>()?)?),
            "N" => AttributeValue::N(number(&map.next_value::<Text<'de>>()?)?),
            "B" => AttributeValue::B(binary(&map.next_value::<Text<'de>>()?)?),
            "SS" => AttributeValue::Ss(
                map.next_value::<Vec<Text<'de>>>()?
                    .iter()
                    .map(|s| string(s))
                    .collect::<Result<_, _>>()?,
            ),
            "NS" => AttributeValue::Ns(
                map.next_value::<Vec<Text<'de>>>()?
                    .iter()
                    .map(|s| number(s))
                    .collect::<Result<_, _>>()?,
            ),
            "BS" => AttributeValue::Bs(
                map.next_value::<Vec<Text<'de>>>()?
                    .iter()
                    .map(|s| binary(s))
                    .collect::<Result<_, _>>()?,
            ),
            "M" => AttributeValue::M(map.next_value_seed(ItemSeed(None))?),
            "L" => AttributeValue::L(map.next_value_seed(ListSeed)?),
            "NULL" => {
                map.next_value::<IgnoredAny>()?;
                AttributeValue::Null
            }
            "BOOL" => AttributeValue::Bool(map.next_value::<bool>()?),
            _ => return Err(A::Error::custom("unknown type")),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("a value is not an object with one member"));
        }
        Ok(value)
    }
}

/// An `L` value's members.
struct ListSeed;

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<AttributeValue>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Vec<AttributeValue>, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<AttributeValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<AttributeValue>, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(value) = seq.next_element_seed(ValueSeed)? {
            values.push(value);
        }
        Ok(values)
    }
}

/// A JSON string, borrowed from the text when it has no escapes (nearly always).
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        de.deserialize_str(TextVisitor)
    }
}

fn unescape<E: serde::de::Error>(text: &str) -> Result<Cow<'_, str>, E> {
    unescape_str(text).map_err(|_| E::custom("a string has a broken escape"))
}

fn string<E: serde::de::Error>(text: &str) -> Result<String, E> {
    Ok(unescape(text)?.into_owned())
}

fn number<E: serde::de::Error>(text: &str) -> Result<Number, E> {
    Number::parse(text).map_err(|_| E::custom("invalid number"))
}

fn binary<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| E::custom("invalid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_reads_only_the_names_asked_for() {
        let text =
            r#"{"pk": {"S": "a\u0001\u0001"}, "sk": {"N": "2"}, "big": {"M": {"x": {"S": "y"}}}}"#;
        let picked = attributes_from_storage_text(text, &["pk\u{0}", "sk", "missing"]);
        let expected: Item = [(
            "sk".to_string(),
            AttributeValue::N(Number::parse("2").unwrap()),
        )]
        .into();
        assert_eq!(picked.unwrap(), expected);
        let picked = attributes_from_storage_text(text, &["pk", "big"]).unwrap();
        assert_eq!(picked.len(), 2);
        assert_eq!(picked.get("pk"), Some(&AttributeValue::S("a\u{0}".into())));
    }

    #[test]
    fn text_after_the_item_is_an_error() {
        assert!(item_from_storage_text(r#"{"a": {"N": "1"}}"#).is_ok());
        assert!(item_from_storage_text(r#"{"a": {"N": "1"}} x"#).is_err());
    }
}
