//! BatchGetItem: read up to 100 items by key, from one or more tables, in one request.
//!
//! DynamoDB checks the whole request before it reads anything, in stages that each go over
//! every table before the next begins; this module follows them as DynamoDB Local 3.3.0
//! applies them, probed one rule against another. Tables go in name order (the request's map
//! as serde_json keeps it; DynamoDB Local goes in request order, which differs only when two
//! tables hold different errors of the same stage):
//!
//! 1. the projection parameters (expression and legacy members not mixed in the request);
//! 2. each key, in order: not empty, valid attribute values, not a repeat of an earlier key of
//!    the same table, at most the 100th key of the request;
//! 3. no repeated name in AttributesToGet;
//! 4. per table: the table exists, every key fits its key schema, the projection parses.
//!
//! Then one SQL statement per table reads the keys (see `storage::items`). The answer holds the
//! items found per table, in request order; a key without an item is simply absent. Items that
//! would take the answer past DynamoDB's 16 MB limit are not returned: their keys, and every key
//! after them, come back in UnprocessedKeys with the table's other request members, for the
//! client to ask again.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::capacity::read_units;
use crate::model::size::item_size;
use crate::model::{item_from_json, item_to_json, Item};
use crate::schema::TableDef;
use crate::storage::StoredKey;

use super::capacity::Consumed;
use super::common::{enum_member, parse_key, resolve_table};
use super::projection::ReadProjection;
use super::Ctx;

/// DynamoDB's limit on the keys of one BatchGetItem, across all tables.
const MAX_KEYS: usize = 100;

/// DynamoDB's limit on the data one BatchGetItem returns; past it the rest is unprocessed.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// One `RequestItems` entry as the checks leave it.
struct TableRead<'a> {
    /// The entry's name in the request (a table name or ARN).
    name: &'a str,
    /// The entry itself: Keys, ConsistentRead and the projection members.
    request: &'a Value,
    /// The keys as sent, for UnprocessedKeys.
    keys_json: Vec<&'a Value>,
}

/// Runs BatchGetItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let empty = Map::new();
    let request_items = input
        .get("RequestItems")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    // 1. Projection parameters: expression and legacy members not mixed anywhere in the
    //    request, and ExpressionAttributeNames only beside a ProjectionExpression.
    check_projection_members(request_items)?;

    // 2. Keys, one by one: not empty, valid values, not repeated within the table, and at
    //    most 100 so far.
    let mut reads: Vec<TableRead> = Vec::with_capacity(request_items.len());
    let mut total = 0;
    for (name, request) in request_items {
        let keys_json: Vec<&Value> = request
            .get("Keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let mut seen: Vec<Item> = Vec::with_capacity(keys_json.len());
        for key in &keys_json {
            if key.as_object().is_none_or(Map::is_empty) {
                return Err(ApiError::validation(format!(
                    "The list of keys in RequestItems for BatchGetItem may not contain null or empty values: {name} has one or more empty keys"
                )));
            }
            let key = item_from_json(key)?;
            // Values compare as DynamoDB compares them: `1` and `1.0` are one number.
            if seen.contains(&key) {
                return Err(ApiError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            seen.push(key);
            total += 1;
            if total > MAX_KEYS {
                return Err(ApiError::validation(
                    "Too many items requested for the BatchGetItem call",
                ));
            }
        }
        reads.push(TableRead {
            name,
            request,
            keys_json,
        });
    }

    // 3. AttributesToGet names no attribute twice.
    for read in &reads {
        check_attributes_to_get(read.request)?;
    }

    // 4. Per table: it exists, the keys fit its schema, the projection parses.
    let mut tables: Vec<(std::sync::Arc<TableDef>, Vec<StoredKey>, ReadProjection)> =
        Vec::with_capacity(reads.len());
    for read in &reads {
        let def = resolve_table(ctx, read.name).await?;
        let keys = read
            .keys_json
            .iter()
            .map(|key| parse_key(&def, key).map(|(_, stored)| stored))
            .collect::<ApiResult<Vec<_>>>()?;
        let projection = ReadProjection::parse(read.request)?;
        tables.push((def, keys, projection));
    }

    // 5. Read: one statement per table, pipelined.
    let batch: Vec<(&TableDef, &[StoredKey])> = tables
        .iter()
        .map(|(def, keys, _)| (def.as_ref(), keys.as_slice()))
        .collect();
    let found = ctx.storage.batch_get_items(&batch).await?;

    // 6. Answer, up to the response limit, in request order.
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut consumed: Vec<(&TableDef, f64)> = Vec::new();
    let mut bytes = 0usize;
    let mut full = false;
    for ((read, (def, _, projection)), items) in reads.iter().zip(&tables).zip(found) {
        let consistent = read
            .request
            .get("ConsistentRead")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut units = 0.0;
        let mut returned = Vec::new();
        let mut left = Vec::new();
        for (key, item) in read.keys_json.iter().zip(items) {
            if !full {
                let Some(item) = item.filter(|item| !ctx.hidden(def, item)) else {
                    continue;
                };
                let size = item_size(&item);
                if bytes + size <= MAX_RESPONSE_BYTES {
                    bytes += size;
                    // Each item is charged as a GetItem of it would be; keys without an item
                    // cost nothing (DynamoDB Local; the documented per-item rounding).
                    units += read_units(size, consistent);
                    returned.push(item_to_json(&projection.apply(item)));
                    continue;
                }
                full = true;
            }
            left.push((*key).clone());
        }
        match responses.get_mut(&def.name) {
            // A table named twice (by name and by ARN) answers in one list.
            Some(Value::Array(list)) => list.extend(returned),
            _ => {
                responses.insert(def.name.clone(), Value::Array(returned));
            }
        }
        if !left.is_empty() {
            unprocessed.insert(read.name.to_string(), unprocessed_entry(read.request, left));
        }
        match consumed.iter_mut().find(|(d, _)| d.name == def.name) {
            Some((_, total)) => *total += units,
            None => consumed.push((def.as_ref(), units)),
        }
    }

    let mut out = Map::new();
    out.insert("Responses".into(), Value::Object(responses));
    out.insert("UnprocessedKeys".into(), Value::Object(unprocessed));
    let reports: Vec<Value> = consumed
        .iter()
        .filter_map(|(def, units)| Consumed::table(*units).report(def, rcc))
        .collect();
    if !reports.is_empty() {
        out.insert("ConsumedCapacity".into(), Value::Array(reports));
    }
    Ok(Value::Object(out))
}

/// The parameter combinations DynamoDB refuses before it looks at any key, with GetItem's
/// messages. Mixing is judged over the whole request (DynamoDB Local refuses a
/// ProjectionExpression for one table beside AttributesToGet for another); names without an
/// expression, per table.
fn check_projection_members(request_items: &Map<String, Value>) -> ApiResult<()> {
    let present = |request: &Value, member: &str| request.get(member).is_some_and(|v| !v.is_null());
    let anywhere = |member: &str| request_items.values().any(|r| present(r, member));
    if anywhere("AttributesToGet") && anywhere("ProjectionExpression") {
        return Err(ApiError::validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        ));
    }
    if request_items
        .values()
        .any(|r| present(r, "ExpressionAttributeNames") && !present(r, "ProjectionExpression"))
    {
        return Err(ApiError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    Ok(())
}

/// A name repeated in AttributesToGet; BatchGetItem words this differently from GetItem.
fn check_attributes_to_get(request: &Value) -> ApiResult<()> {
    let names: Vec<&str> = request
        .get("AttributesToGet")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Duplicate value in attribute name: {name}"
            )));
        }
    }
    Ok(())
}

/// An UnprocessedKeys entry: the keys left over, with the table's other request members as
/// sent, so that the client can send the entry again as it is.
fn unprocessed_entry(request: &Value, keys: Vec<Value>) -> Value {
    let mut entry = request.as_object().cloned().unwrap_or_default();
    entry.retain(|member, value| member != "Keys" && !value.is_null());
    entry.insert("Keys".into(), Value::Array(keys));
    Value::Object(entry)
}
