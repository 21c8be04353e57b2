//! Rules shared by several operations: finding a table by name or ARN, and checking keys and
//! items against a table's key schema, with DynamoDB's messages.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::item_from_json;
use crate::model::{AttributeValue, Item};
use crate::schema::{KeySchema, TableDef};
use crate::storage::StoredKey;

use super::Ctx;

/// DynamoDB's limits on key values, in bytes.
const MAX_HASH_KEY_BYTES: usize = 2048;
const MAX_RANGE_KEY_BYTES: usize = 1024;
/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The table name inside a TableName member, which may also be the table's ARN.
pub fn table_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(rest) => rest
            .rsplit_once(":table/")
            .map(|(_, name)| name)
            .unwrap_or(name_or_arn),
        None => name_or_arn,
    }
}

/// The table's ARN, as DynamoDB forms it.
pub fn table_arn(ctx: &Ctx, name: &str) -> String {
    format!(
        "arn:aws:dynamodb:{}:{}:table/{}",
        ctx.region, ctx.account_id, name
    )
}

/// The table a data-plane request names; missing is DynamoDB's ResourceNotFoundException.
pub async fn resolve_table(ctx: &Ctx, name_or_arn: &str) -> ApiResult<Arc<TableDef>> {
    ctx.storage
        .table(table_name_of(name_or_arn))
        .await?
        .ok_or_else(|| ApiError::not_found("Requested resource not found"))
}

/// The table a control-plane request names (DescribeTable, DeleteTable, UpdateTable): the
/// service names the table in its message there.
pub async fn resolve_table_for_control(ctx: &Ctx, name_or_arn: &str) -> ApiResult<Arc<TableDef>> {
    let name = table_name_of(name_or_arn);
    ctx.storage.table(name).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "Requested resource not found: Table: {name} not found"
        ))
    })
}

/// A string member of the request (shape validation has checked its type).
pub fn str_member<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

/// Checks the sizes and emptiness of key attribute values, as DynamoDB does for keys in Key
/// and in items alike.
pub fn check_key_value(schema: &KeySchema, name: &str, value: &AttributeValue) -> ApiResult<()> {
    let (len, empty) = match value {
        AttributeValue::S(s) => (s.len(), s.is_empty()),
        AttributeValue::B(b) => (b.len(), b.is_empty()),
        _ => (0, false),
    };
    if empty {
        let kind = if value.type_name() == "S" {
            "string"
        } else {
            "binary"
        };
        return Err(ApiError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
        )));
    }
    if schema.hash.name == name && len > MAX_HASH_KEY_BYTES {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if schema.range.as_ref().is_some_and(|r| r.name == name) && len > MAX_RANGE_KEY_BYTES {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}

/// Parses and checks a `Key` member: exactly the table's key attributes, each of its declared
/// type. Returns the key as an item and as stored columns.
pub fn parse_key(def: &TableDef, key_json: &Value) -> ApiResult<(Item, StoredKey)> {
    let key = item_from_json(key_json)?;
    let schema = &def.key;
    let expected = schema.attrs().count();
    let mismatch = || ApiError::validation("The provided key element does not match the schema");
    if key.len() != expected {
        return Err(mismatch());
    }
    for attr in schema.attrs() {
        let value = key.get(&attr.name).ok_or_else(mismatch)?;
        if !attr.ty.matches(value) {
            return Err(mismatch());
        }
    }
    for attr in schema.attrs() {
        check_key_value(schema, &attr.name, &key[&attr.name])?;
    }
    let stored = StoredKey::from_item(schema, &key).ok_or_else(mismatch)?;
    Ok((key, stored))
}

/// Checks an item about to be written: the table's key attributes present and typed, index key
/// attributes typed, and the item within 400 KB. Returns its stored key.
pub fn check_item(def: &TableDef, item: &Item) -> ApiResult<StoredKey> {
    for attr in def.key.attrs() {
        let value = item.get(&attr.name).ok_or_else(|| {
            ApiError::validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attr.name
            ))
        })?;
        if !attr.ty.matches(value) {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                attr.name,
                attr.ty.as_str(),
                value.type_name()
            )));
        }
        check_key_value(&def.key, &attr.name, value)?;
    }
    for index in def.local_indexes.iter().chain(&def.global_indexes) {
        for attr in index.key.attrs() {
            let Some(value) = item.get(&attr.name) else {
                continue;
            };
            if !attr.ty.matches(value) && index.key.is_multi() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Type mismatch for Index Key",
                ));
            }
            if !attr.ty.matches(value) {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    attr.ty.as_str(),
                    value.type_name(),
                    index.name
                )));
            }
            if let Some(kind) = empty_kind(value) {
                return Err(ApiError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {kind} value. IndexName: {}, IndexKey: {}",
                    index.name, attr.name
                )));
            }
        }
    }
    if crate::model::size::item_size(item) > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    StoredKey::from_item(&def.key, item)
        .ok_or_else(|| ApiError::validation("The provided key element does not match the schema"))
}

/// "string" or "binary" when `value` is an empty S or B (which no key may hold).
pub fn empty_kind(value: &AttributeValue) -> Option<&'static str> {
    match value {
        AttributeValue::S(s) if s.is_empty() => Some("string"),
        AttributeValue::B(b) if b.is_empty() => Some("binary"),
        _ => None,
    }
}

/// UpdateItem's own wording for an update that leaves an index key empty.
pub fn check_updated_index_keys(def: &TableDef, item: &Item) -> ApiResult<()> {
    for index in def.local_indexes.iter().chain(&def.global_indexes) {
        for attr in index.key.attrs() {
            if let Some(kind) = item.get(&attr.name).and_then(empty_kind) {
                return Err(ApiError::validation(format!(
                    "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty {kind} value."
                )));
            }
        }
    }
    Ok(())
}

/// Reads an enum-like string member with a default, as DynamoDB does for ReturnValues and the
/// like (shape validation has already checked the value is one of the enum's).
pub fn enum_member<'a>(input: &'a Value, name: &str, default: &'a str) -> &'a str {
    str_member(input, name).unwrap_or(default)
}
