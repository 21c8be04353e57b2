//! ExpressionAttributeNames and ExpressionAttributeValues: their validation, and tracking which
//! placeholders the expressions of a request used.
//!
//! One request may carry several expressions (UpdateItem: UpdateExpression and
//! ConditionExpression; Query: KeyConditionExpression, FilterExpression, ProjectionExpression)
//! that share the two maps. Every placeholder an expression uses is marked here; after all of
//! them are parsed, [`ExpressionAttributes::check_unused`] reports the entries no expression
//! used, listing them in the order DynamoDB does (that of a Java `HashMap` copied from the
//! request's map, see [`java_hash_map_order`]).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorKind};
use crate::model::AttributeValue;

/// Longest attribute name, in bytes.
const MAX_NAME_BYTES: usize = 65535;

/// One entry of ExpressionAttributeValues.
#[derive(Clone, Debug)]
struct ValueEntry {
    key: String,
    value: AttributeValue,
    /// The entry as sent, for messages that quote it (BETWEEN bounds).
    raw: Value,
}

/// The placeholders of one request and which of them its expressions used.
#[derive(Clone, Debug, Default)]
pub struct ExpressionAttributes {
    names: Option<Vec<(String, String)>>,
    values: Option<Vec<ValueEntry>>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

fn placeholder_key_ok(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ExpressionAttributes {
    /// No placeholders at all (a request without the two maps).
    pub fn none() -> ExpressionAttributes {
        ExpressionAttributes::default()
    }

    /// Reads and validates the two maps of a request (`None` when the member is absent or
    /// `null`), in DynamoDB's order: the shape of every value (SerializationException), then
    /// ExpressionAttributeNames (not empty; every key `#[A-Za-z0-9_]+`; every name non-empty and
    /// under 64 KB), then ExpressionAttributeValues (not empty; every key `:[A-Za-z0-9_]+`;
    /// every value valid).
    pub fn from_request(
        names: Option<&Map<String, Value>>,
        values: Option<&Map<String, Value>>,
    ) -> Result<ExpressionAttributes, ApiError> {
        if let Some(values) = values {
            for value in values.values() {
                AttributeValue::check_json_shape(value)?;
            }
        }
        let names = match names {
            None => None,
            Some(map) => Some(read_names(map)?),
        };
        let values = match values {
            None => None,
            Some(map) => Some(read_values(map)?),
        };
        Ok(ExpressionAttributes {
            names,
            values,
            used_names: HashSet::new(),
            used_values: HashSet::new(),
        })
    }

    /// The attribute name `#placeholder` stands for, marking it used.
    pub(crate) fn name(&mut self, placeholder: &str) -> Option<String> {
        let name = self
            .names
            .as_ref()?
            .iter()
            .find(|(key, _)| key == placeholder)
            .map(|(_, name)| name.clone())?;
        self.used_names.insert(placeholder.to_string());
        Some(name)
    }

    /// The value `:placeholder` stands for, marking it used.
    pub(crate) fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let value = self
            .values
            .as_ref()?
            .iter()
            .find(|entry| entry.key == placeholder)
            .map(|entry| entry.value.clone())?;
        self.used_values.insert(placeholder.to_string());
        Some(value)
    }

    /// The value `:placeholder` as it was sent (for messages quoting it).
    pub(crate) fn raw_value(&self, placeholder: &str) -> Option<&Value> {
        self.values
            .as_ref()?
            .iter()
            .find(|entry| entry.key == placeholder)
            .map(|entry| &entry.raw)
    }

    /// Whether the request carried ExpressionAttributeNames.
    pub fn has_names(&self) -> bool {
        self.names.is_some()
    }

    /// Whether the request carried ExpressionAttributeValues.
    pub fn has_values(&self) -> bool {
        self.values.is_some()
    }

    /// DynamoDB's error for names no expression used.
    pub fn check_unused_names(&self) -> Result<(), ApiError> {
        let Some(names) = &self.names else {
            return Ok(());
        };
        let keys: Vec<&str> = names.iter().map(|(key, _)| key.as_str()).collect();
        unused_error("ExpressionAttributeNames", &keys, &self.used_names)
    }

    /// DynamoDB's error for values no expression used.
    pub fn check_unused_values(&self) -> Result<(), ApiError> {
        let Some(values) = &self.values else {
            return Ok(());
        };
        let keys: Vec<&str> = values.iter().map(|entry| entry.key.as_str()).collect();
        unused_error("ExpressionAttributeValues", &keys, &self.used_values)
    }

    /// Both checks, names first (as DynamoDB does), once every expression of the request has
    /// been parsed. (GetItem, which has only a ProjectionExpression, checks names only.)
    pub fn check_unused(&self) -> Result<(), ApiError> {
        self.check_unused_names()?;
        self.check_unused_values()
    }
}

fn read_names(map: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    if map.is_empty() {
        return Err(ApiError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    for key in map.keys() {
        if !placeholder_key_ok(key, '#') {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
    }
    let mut names = Vec::with_capacity(map.len());
    for (key, value) in map {
        let Value::String(name) = value else {
            return Err(ApiError::new(
                ErrorKind::Serialization,
                "Unexpected value type in payload",
            ));
        };
        if name.is_empty() {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}"
            )));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeNames contains invalid value: Attribute name is too large, must be less than 65536 bytes for key {key}"
            )));
        }
        names.push((key.clone(), name.clone()));
    }
    Ok(names)
}

fn read_values(map: &Map<String, Value>) -> Result<Vec<ValueEntry>, ApiError> {
    if map.is_empty() {
        return Err(ApiError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    for key in map.keys() {
        if !placeholder_key_ok(key, ':') {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
    }
    let mut values = Vec::with_capacity(map.len());
    for (key, raw) in map {
        let value = AttributeValue::from_json(raw).map_err(|error| {
            if error.kind == ErrorKind::Validation {
                ApiError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {} for key {key}",
                    error.message
                ))
            } else {
                error
            }
        })?;
        values.push(ValueEntry {
            key: key.clone(),
            value,
            raw: raw.clone(),
        });
    }
    Ok(values)
}

fn unused_error(member: &str, keys: &[&str], used: &HashSet<String>) -> Result<(), ApiError> {
    let unused: Vec<&str> = java_hash_map_order(keys)
        .into_iter()
        .filter(|key| !used.contains(*key))
        .collect();
    if unused.is_empty() {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "Value provided in {member} unused in expressions: keys: {{{}}}",
        unused.join(", ")
    )))
}

/// Java's `String.hashCode` (over UTF-16 code units).
pub(crate) fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The iteration order of a `java.util.HashSet` built from `keys` in this order
/// (`new HashSet<>(keys)`): the table is sized for all of them up front (at least 16 slots),
/// keys are visited slot by slot (slot = spread hash masked by the table size), and keys sharing
/// a slot in insertion order. DynamoDB lists unused placeholders in this order (checked against
/// DynamoDB Local with 5 to 80 keys).
pub(crate) fn java_hash_map_order<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    // HashSet(Collection): new HashMap<>(Math.max((int) (size / .75f) + 1, 16)).
    let wanted = ((keys.len() as f32 / 0.75f32) as usize + 1).max(16);
    let capacity = wanted.next_power_of_two();
    let mut order: Vec<(usize, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(position, key)| {
            let h = java_string_hash(key) as u32;
            let spread = h ^ (h >> 16);
            (spread as usize & (capacity - 1), position, *key)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, _, key)| key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn error(names: Option<Value>, values: Option<Value>) -> String {
        let names = names.map(map);
        let values = values.map(map);
        ExpressionAttributes::from_request(names.as_ref(), values.as_ref())
            .unwrap_err()
            .message
    }

    #[test]
    fn validation_messages_and_order() {
        assert_eq!(
            error(Some(json!({})), Some(json!({}))),
            "ExpressionAttributeNames must not be empty"
        );
        assert_eq!(
            error(None, Some(json!({}))),
            "ExpressionAttributeValues must not be empty"
        );
        assert_eq!(
            error(Some(json!({"#a": "", "b": "x"})), None),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"b\""
        );
        assert_eq!(
            error(Some(json!({"#": "x"})), None),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#\""
        );
        assert_eq!(
            error(Some(json!({"#a": ""})), Some(json!({"v": {"N": "1"}}))),
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key #a"
        );
        assert_eq!(
            error(Some(json!({"#a": "x".repeat(65536)})), None),
            "ExpressionAttributeNames contains invalid value: Attribute name is too large, must be less than 65536 bytes for key #a"
        );
        assert_eq!(
            error(None, Some(json!({":v": {"N": "x"}, "b": {"N": "1"}}))),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"b\""
        );
        assert_eq!(
            error(None, Some(json!({":v": {"N": "x"}}))),
            "ExpressionAttributeValues contains invalid value: A value provided cannot be converted into a number for key :v"
        );
        assert_eq!(
            error(None, Some(json!({":v": {}}))),
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :v"
        );
    }

    #[test]
    fn unused_in_java_order() {
        let names: Vec<(String, Value)> = [
            "#zeta", "#alpha", "#m1", "#b2", "#B", "#_", "#10", "#9", "#a",
        ]
        .iter()
        .map(|k| (k.to_string(), json!("x")))
        .collect();
        let names: Map<String, Value> = names.into_iter().collect();
        let attrs = ExpressionAttributes::from_request(Some(&names), None).unwrap();
        assert_eq!(
            attrs.check_unused().unwrap_err().message,
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#10, #b2, #9, #m1, #alpha, #_, #zeta, #a, #B}"
        );
        // DynamoDB keeps the request's order within a slot (`:zeta` was sent before `:B`); a
        // serde_json map without `preserve_order` sorts keys, so test the order itself.
        let keys = [
            ":zeta", ":alpha", ":m1", ":b2", ":B", ":_", ":10", ":9", ":v",
        ];
        let unused: Vec<&str> = java_hash_map_order(&keys)
            .into_iter()
            .filter(|k| *k != ":v")
            .collect();
        assert_eq!(
            unused,
            [":_", ":alpha", ":zeta", ":B", ":10", ":b2", ":m1", ":9"]
        );
        let mut values = Map::new();
        for key in keys {
            values.insert(key.into(), json!({"N": "1"}));
        }
        let mut attrs = ExpressionAttributes::from_request(None, Some(&values)).unwrap();
        assert!(attrs.value(":v").is_some());
        assert!(attrs.check_unused_names().is_ok());
        assert!(attrs
            .check_unused()
            .unwrap_err()
            .message
            .starts_with("Value provided in ExpressionAttributeValues unused in expressions: keys: {:_, :alpha, "));
    }

    #[test]
    fn small_sets_have_sixteen_slots() {
        // DynamoDB Local's answer for these five unused names.
        assert_eq!(
            java_hash_map_order(&["#zeta", "#alpha", "#m1", "#b2", "#9"]),
            ["#b2", "#9", "#m1", "#alpha", "#zeta"]
        );
    }

    #[test]
    fn java_hash() {
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("zz"), 3904);
        assert_eq!(java_string_hash("name2"), 0x63bd707);
    }
}
