//! TransactGetItems: up to 100 items across tables, read from one snapshot, so that the answer
//! shows every transaction wholly or not at all.
//!
//! Each Get is checked in turn, all of its rules before the next Get's (DynamoDB Local 3.3.0,
//! probed one rule against another): the table exists; its projection (ProjectionExpression
//! and ExpressionAttributeNames, as GetItem reads them); its key values; the key against the
//! table's key schema; no earlier Get names the same item. A key that does not fit the schema
//! is a TransactionCanceledException that carries only the problem as its message (DynamoDB
//! Local's answer), an empty key value the single-item operations' ValidationException.
//!
//! Then the items are read from one REPEATABLE READ snapshot (`storage::transact`), returned in
//! request order (`{}` for a missing item), each charged as a transactional read of the whole
//! item (two read units per 4 KB), whatever the projection returns.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::model::capacity::transactional_read_units;
use crate::model::size::item_size;
use crate::model::{item_from_json, item_to_json, Item};
use crate::schema::TableDef;
use crate::storage::transact::TxItem;
use crate::storage::StoredKey;

use super::capacity::Consumed;
use super::common::{check_key_value, enum_member, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, Params};
use super::transact_write_items::{
    report, MSG_DUPLICATE_ITEM, MSG_KEY_COUNT, MSG_KEY_MISSING, MSG_KEY_TYPE,
};
use super::{projection, Ctx};

/// The largest answer DynamoDB returns: 4 MB of items.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// What each item adds to the answer's size besides its projected attributes, as DynamoDB
/// Local counts it.
const RESPONSE_BYTES_PER_ITEM: usize = 4;

/// A Get's expression parameters: only a projection.
const GET: Params = Params {
    expressions: &["ProjectionExpression"],
    legacy: &[],
    value_expressions: &[],
};

/// Stands in for a member that is absent (shape validation makes that impossible).
static NULL: Value = Value::Null;

/// One checked Get.
struct Get {
    def: Arc<TableDef>,
    key: StoredKey,
    expressions: Expressions,
}

/// A key that does not fit the table: DynamoDB Local cancels the transaction, with the problem
/// as the message and no reasons.
fn key_problem(message: &str) -> ApiError {
    ApiError::new(ErrorKind::TransactionCanceled, message)
}

/// Runs TransactGetItems.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let entries = input
        .get("TransactItems")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();

    // 1. Each Get: table, projection, key, one Get per item.
    let mut gets: Vec<Get> = Vec::with_capacity(entries.len());
    for entry in entries {
        let get = entry.get("Get").unwrap_or(&NULL);
        let def = resolve_table(ctx, str_member(get, "TableName").unwrap_or_default()).await?;
        check_mix(get, &GET)?;
        let expressions = Expressions::parse(get, &GET, None)?;
        let key = check_key(&def, &item_from_json(get.get("Key").unwrap_or(&NULL))?)?;
        let same = |g: &Get| {
            g.def.pg_table == def.pg_table
                && g.key.h == key.h
                && g.key.pk == key.pk
                && g.key.sk == key.sk
        };
        if gets.iter().any(same) {
            return Err(ApiError::validation(MSG_DUPLICATE_ITEM));
        }
        gets.push(Get {
            def,
            key,
            expressions,
        });
    }

    // 2. Read them from one snapshot.
    let items: Vec<TxItem<'_>> = gets
        .iter()
        .map(|g| TxItem {
            def: &g.def,
            key: g.key.clone(),
        })
        .collect();
    let found: Vec<Option<Item>> = ctx
        .storage
        .transact_get(&items)
        .await?
        .into_iter()
        .zip(&gets)
        .map(|(item, get)| item.filter(|item| !ctx.hidden(&get.def, item)))
        .collect();

    // 3. Answer, within DynamoDB's size limit.
    let sizes: Vec<usize> = found
        .iter()
        .map(|item| item.as_ref().map(item_size).unwrap_or(0))
        .collect();
    let projected: Vec<Option<Item>> = gets
        .iter()
        .zip(found)
        .map(|(get, item)| {
            item.map(|item| projection::apply(get.expressions.projection.as_ref(), item))
        })
        .collect();
    let response_bytes: usize = projected
        .iter()
        .flatten()
        .map(|item| RESPONSE_BYTES_PER_ITEM + item_size(item))
        .sum();
    if response_bytes > MAX_RESPONSE_BYTES {
        return Err(ApiError::validation(format!(
            "Payload in response is too large.{response_bytes}"
        )));
    }
    let mut out = Map::new();
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    if rcc != "NONE" {
        let consumed = gets
            .iter()
            .zip(&sizes)
            .map(|(get, size)| (&get.def, Consumed::table(transactional_read_units(*size))));
        out.insert(
            "ConsumedCapacity".into(),
            Value::Array(report(consumed, rcc)),
        );
    }
    let responses: Vec<Value> = projected
        .iter()
        .map(|item| {
            let mut response = Map::new();
            if let Some(item) = item {
                response.insert("Item".into(), item_to_json(item));
            }
            Value::Object(response)
        })
        .collect();
    out.insert("Responses".into(), Value::Array(responses));
    Ok(Value::Object(out))
}

/// A Get's key against its table's key schema.
fn check_key(def: &TableDef, key: &Item) -> ApiResult<StoredKey> {
    if key.len() != def.key.attrs().count() {
        return Err(key_problem(MSG_KEY_COUNT));
    }
    for attr in def.key.attrs() {
        let value = key
            .get(&attr.name)
            .ok_or_else(|| key_problem(MSG_KEY_MISSING))?;
        if !attr.ty.matches(value) {
            return Err(key_problem(MSG_KEY_TYPE));
        }
        check_key_value(&def.key, &attr.name, value)?;
    }
    StoredKey::from_item(&def.key, key)
        .ok_or_else(|| ApiError::validation("The provided key element does not match the schema"))
}
