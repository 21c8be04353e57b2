//! An item as read from its table: the stored JSON text and the DynamoDB size, parsed only if
//! someone needs the attributes.
//!
//! Most reads hand the item back exactly as it was written (GetItem without a projection, a
//! Query or Scan page without a filter). The stored `jsonb` text is then already the wire form
//! (see `model::storage`), so the server copies it into the response instead of building a
//! `serde_json::Value`, an [`Item`] and a `Value` again: that round trip was about a quarter of
//! a GetItem's server CPU and half of a Query's.

use std::borrow::Cow;
use std::cell::OnceCell;

use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::error::ApiError;
use crate::model::storage::storage_text_to_wire;
use crate::model::storage_parse::{attributes_from_storage_text, item_from_storage_text};
use crate::model::Item;

/// One item read from storage. The attributes are parsed at most once, on first use.
#[derive(Debug)]
pub struct StoredItem {
    text: String,
    size: usize,
    parsed: OnceCell<Item>,
}

impl StoredItem {
    /// An item from its stored JSON text and its stored DynamoDB size.
    pub fn new(text: String, size: usize) -> StoredItem {
        StoredItem {
            text,
            size,
            parsed: OnceCell::new(),
        }
    }

    /// The item's DynamoDB size, as computed when it was written (what capacity is charged on).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The item's attributes, parsed on first use.
    pub fn item(&self) -> Result<&Item, ApiError> {
        if let Some(item) = self.parsed.get() {
            return Ok(item);
        }
        let item = item_from_storage_text(&self.text)?;
        Ok(self.parsed.get_or_init(|| item))
    }

    /// The item's attributes, owned.
    pub fn into_item(mut self) -> Result<Item, ApiError> {
        match self.parsed.take() {
            Some(item) => Ok(item),
            None => item_from_storage_text(&self.text),
        }
    }

    /// Only the attributes named (a page's last key): the others are skipped over, not built.
    pub fn attributes(&self, names: &[&str]) -> Result<Item, ApiError> {
        if let Some(item) = self.parsed.get() {
            return Ok(item
                .iter()
                .filter(|(name, _)| names.contains(&name.as_str()))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect());
        }
        attributes_from_storage_text(&self.text, names)
    }

    /// The item as DynamoDB JSON text, for a response: the stored text itself unless a string
    /// in it was escaped for storage.
    pub fn wire_text(&self) -> Result<Cow<'_, str>, ApiError> {
        storage_text_to_wire(&self.text)
    }
}

/// JSON text as a `jsonb` (or `json`/`text`) value, both ways: a column read as its text,
/// borrowed from the row, and a parameter sent as text. The binary form of `jsonb` is a version
/// byte (1) followed by the text, so nothing is parsed or serialized on our side.
#[derive(Debug)]
pub struct JsonText<'a>(pub &'a str);

impl ToSql for JsonText<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSONB | Type::JSON)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for JsonText<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb binary version".into()),
            }
        } else {
            raw
        };
        Ok(JsonText(std::str::from_utf8(text)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSONB | Type::JSON | Type::TEXT | Type::VARCHAR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_once_and_passes_text_through() {
        let stored = StoredItem::new(r#"{"a": {"S": "x"}, "n": {"N": "1"}}"#.into(), 7);
        assert_eq!(stored.size(), 7);
        assert!(matches!(stored.wire_text().unwrap(), Cow::Borrowed(_)));
        let first = stored.item().unwrap() as *const Item;
        assert_eq!(first, stored.item().unwrap() as *const Item);
        assert_eq!(stored.into_item().unwrap().len(), 2);
    }

    #[test]
    fn picks_named_attributes_without_parsing_the_rest() {
        let stored = StoredItem::new(
            r#"{"pk": {"S": "a"}, "big": {"M": {"x": {"L": [{"N": "1"}]}}}, "\u0001\u0001k": {"N": "2"}}"#.into(),
            9,
        );
        let picked = stored.attributes(&["pk", "\u{0}k", "absent"]).unwrap();
        assert_eq!(picked.len(), 2);
        assert!(picked.contains_key("pk") && picked.contains_key("\u{0}k"));
        // The same answer once the whole item has been parsed.
        stored.item().unwrap();
        assert_eq!(stored.attributes(&["pk", "\u{0}k"]).unwrap(), picked);
    }

    #[test]
    fn unescapes_stored_strings_on_the_way_out() {
        // U+0000 is stored as U+0001 U+0001, which PostgreSQL prints as \u0001\u0001.
        let stored = StoredItem::new(r#"{"a": {"S": "x\u0001\u0001y"}}"#.into(), 4);
        let wire: serde_json::Value = serde_json::from_str(&stored.wire_text().unwrap()).unwrap();
        assert_eq!(wire["a"]["S"], "x\u{0}y");
    }

    #[test]
    fn reads_jsonb_binary_text() {
        let raw = b"\x01{\"a\": {\"S\": \"x\"}}";
        let text = JsonText::from_sql(&Type::JSONB, raw).unwrap();
        assert_eq!(text.0, r#"{"a": {"S": "x"}}"#);
        assert!(JsonText::from_sql(&Type::JSONB, b"\x02{}").is_err());
    }
}
