//! What a table is: its keys, indexes, billing and settings, as kept in the catalog.
//!
//! These types are the catalog's JSON (serde) and the input every operation validates against;
//! DescribeTable's output is built from them in `api::describe`.

use serde::{Deserialize, Serialize};

use crate::model::AttributeValue;

/// The three types a key attribute may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    /// Parses the wire name (`"S"`, `"N"`, `"B"`).
    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    /// Whether `value` is of this type.
    pub fn matches(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (ScalarType::S, AttributeValue::S(_))
                | (ScalarType::N, AttributeValue::N(_))
                | (ScalarType::B, AttributeValue::B(_))
        )
    }
}

/// One key attribute: its name and declared type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttr {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ScalarType,
}

/// A primary key or an index key: a partition (hash) key and an optional sort (range) key.
/// A global secondary index may have up to four of each (multi-attribute keys): the first ones
/// are `hash` and `range`, the others `extra_hash` and `extra_range`, in KeySchema order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hash: Vec<KeyAttr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_range: Vec<KeyAttr>,
}

impl KeySchema {
    /// A key of one partition key attribute and at most one sort key attribute.
    pub fn simple(hash: KeyAttr, range: Option<KeyAttr>) -> KeySchema {
        KeySchema {
            hash,
            range,
            extra_hash: Vec::new(),
            extra_range: Vec::new(),
        }
    }

    /// The partition key attributes, in KeySchema order.
    pub fn hash_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(&self.extra_hash)
    }

    /// The sort key attributes, in KeySchema order.
    pub fn range_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        self.range.iter().chain(&self.extra_range)
    }

    /// Whether the key has more than one partition or sort key attribute.
    pub fn is_multi(&self) -> bool {
        !self.extra_hash.is_empty() || !self.extra_range.is_empty()
    }

    /// The key attributes, hash first.
    pub fn attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        self.hash_attrs().chain(self.range_attrs())
    }

    /// Whether `name` is one of the key attributes.
    pub fn contains(&self, name: &str) -> bool {
        self.attrs().any(|a| a.name == name)
    }

    /// DynamoDB's `KeySchema` list.
    pub fn to_json(&self) -> serde_json::Value {
        let mut list: Vec<serde_json::Value> = self
            .hash_attrs()
            .map(|h| serde_json::json!({"AttributeName": h.name, "KeyType": "HASH"}))
            .collect();
        for r in self.range_attrs() {
            list.push(serde_json::json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        serde_json::Value::Array(list)
    }
}

/// PROVISIONED or PAY_PER_REQUEST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "PAY_PER_REQUEST")]
    PayPerRequest,
}

impl BillingMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// Provisioned throughput and its change history, which DescribeTable reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub read: i64,
    pub write: i64,
    /// Epoch seconds of the last increase / decrease, if any.
    pub last_increase: Option<f64>,
    pub last_decrease: Option<f64>,
    pub decreases_today: i64,
}

/// Which attributes an index copies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// For INCLUDE: the extra attributes.
    pub non_key_attributes: Vec<String>,
}

/// A local or global secondary index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    /// GSIs: `CREATING`, `ACTIVE`, `DELETING`, `UPDATING`. LSIs are always ACTIVE.
    pub status: String,
    /// GSIs under PROVISIONED billing.
    pub throughput: Option<Throughput>,
    /// GSIs being built online report Backfilling.
    #[serde(default)]
    pub backfilling: bool,
}

/// Stream settings of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    pub enabled: bool,
    pub view_type: String,
    /// Stream label (creation time in ISO 8601, as DynamoDB forms it).
    pub label: String,
}

/// Time-to-live settings of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlSpec {
    pub enabled: bool,
    pub attribute: String,
}

/// Everything the catalog knows about a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// DynamoDB's TableId (a UUID).
    pub table_id: String,
    /// The PostgreSQL relation that holds the items.
    pub pg_table: String,
    /// Epoch seconds.
    pub created_at: f64,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`.
    pub status: String,
    pub key: KeySchema,
    /// AttributeDefinitions, in the order given at creation (plus ones added by index creation).
    pub attribute_definitions: Vec<KeyAttr>,
    pub billing_mode: BillingMode,
    /// Epoch seconds when the billing mode was last set to PAY_PER_REQUEST.
    pub billing_mode_changed_at: Option<f64>,
    pub throughput: Throughput,
    pub local_indexes: Vec<IndexDef>,
    pub global_indexes: Vec<IndexDef>,
    pub deletion_protection: bool,
    pub stream: Option<StreamSpec>,
    pub ttl: Option<TtlSpec>,
    pub tags: Vec<(String, String)>,
    /// `STANDARD` or `STANDARD_INFREQUENT_ACCESS`.
    pub table_class: Option<String>,
}
