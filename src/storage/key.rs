//! Primary keys as SQL parameters.

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::model::hash::partition_hash;
use crate::model::{AttributeValue, Item};
use crate::schema::KeySchema;

/// One key column's value: bytes for S and B (`bytea`), canonical text for N (cast to `numeric`
/// in SQL, so no binary numeric encoding is needed here).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyParam {
    Bytes(Vec<u8>),
    Text(String),
}

impl KeyParam {
    /// The column value of a key attribute. Callers have already checked the type.
    pub fn from_value(value: &AttributeValue) -> Option<KeyParam> {
        match value {
            AttributeValue::S(s) => Some(KeyParam::Bytes(s.as_bytes().to_vec())),
            AttributeValue::B(b) => Some(KeyParam::Bytes(b.clone())),
            AttributeValue::N(n) => Some(KeyParam::Text(n.as_str().to_string())),
            _ => None,
        }
    }
}

impl ToSql for KeyParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            KeyParam::Bytes(b) => b.as_slice().to_sql(ty, out),
            KeyParam::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA || *ty == Type::TEXT
    }

    to_sql_checked!();
}

/// A primary key ready for SQL: the partition hash and the key columns. Ordered column by
/// column, the order in which batched writes lock their rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredKey {
    pub h: i32,
    pub pk: KeyParam,
    pub sk: Option<KeyParam>,
}

impl StoredKey {
    /// The stored key of an item (or of a Key map) that has already been validated against
    /// `schema`; `None` if a key attribute is missing or not a scalar.
    pub fn from_item(schema: &KeySchema, item: &Item) -> Option<StoredKey> {
        let hash_value = item.get(&schema.hash.name)?;
        let pk = KeyParam::from_value(hash_value)?;
        let sk = match &schema.range {
            Some(r) => Some(KeyParam::from_value(item.get(&r.name)?)?),
            None => None,
        };
        Some(StoredKey {
            h: partition_hash(hash_value),
            pk,
            sk,
        })
    }
}
