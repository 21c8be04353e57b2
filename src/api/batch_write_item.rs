//! BatchWriteItem: up to 25 unconditional puts and deletes, across tables, in one request.
//!
//! Every request is checked before any is applied, so one bad request fails the whole batch
//! and writes nothing. The checks come in stages, in DynamoDB's order (DynamoDB Local 3.3.0,
//! probed one rule against another; requests in list order, tables in name order, where
//! DynamoDB Local takes them in request order: that differs only when two tables hold different
//! errors of the same stage):
//!
//! 1. per request: exactly one of PutRequest and DeleteRequest; at most 25 requests so far;
//!    valid attribute values; a put item within 400 KB;
//! 2. per table: the table exists; per request: the key fits the table's key schema (and the
//!    rest of an item its index key types), and no earlier request of the batch names the same
//!    item.
//!
//! Then the whole batch is one PostgreSQL transaction with a few multi-row statements per table
//! (see `storage::items`). Each put and delete is charged as the PutItem or DeleteItem it
//! stands for. UnprocessedItems is always empty: once checked, the batch is written in full or,
//! when the database fails, not at all (a 500 the SDKs retry). DynamoDB returns unprocessed
//! items when throughput is exceeded, which has no counterpart here.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::size::item_size;
use crate::model::wire::MSG_MANY_TYPES;
use crate::model::{item_from_json, AttributeValue, Item};
use crate::schema::TableDef;
use crate::storage::items::{TableBatch, TableBatchResult};
use crate::storage::{KeyParam, StoredKey};

use super::capacity::{write_consumed, Consumed};
use super::common::{check_item, enum_member, parse_key, resolve_table, MAX_ITEM_BYTES};
use super::Ctx;

/// DynamoDB's limit on the requests of one BatchWriteItem, across all tables.
const MAX_REQUESTS: usize = 25;

/// Stands in for a member that is absent (shape validation makes that impossible).
static NULL: Value = Value::Null;

/// Bytes in the gigabyte of SizeEstimateRangeGB.
const GIGABYTE: f64 = (1u64 << 30) as f64;

/// One write request, its values read.
enum Action<'a> {
    /// PutRequest: the item.
    Put(Item),
    /// DeleteRequest: the key as sent (checked against the schema in stage 2).
    Delete(&'a Value),
}

/// One checked write: where it goes, what it stores, and its item collection.
struct Write {
    /// The item's primary key.
    key: StoredKey,
    /// The item to store; `None` deletes.
    item: Option<Item>,
    /// The partition key value (the item collection, for ItemCollectionMetrics).
    partition: AttributeValue,
}

/// Runs BatchWriteItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let empty = Map::new();
    let request_items = input
        .get("RequestItems")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    // 1. Each request: one action, within the count, with valid values and a valid size.
    let mut entries: Vec<(&str, Vec<Action>)> = Vec::with_capacity(request_items.len());
    let mut count = 0;
    for (name, requests) in request_items {
        let requests = requests.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut actions = Vec::with_capacity(requests.len());
        for request in requests {
            if request.is_null() {
                return Err(ApiError::validation(
                    "The batch write request list for a table cannot be null or empty",
                ));
            }
            let member = |name: &str| request.get(name).filter(|v| !v.is_null());
            let (put, delete) = (member("PutRequest"), member("DeleteRequest"));
            if put.is_some() == delete.is_some() {
                // DynamoDB reads a WriteRequest like an AttributeValue: one member, exactly.
                return Err(ApiError::validation(MSG_MANY_TYPES));
            }
            count += 1;
            if count > MAX_REQUESTS {
                return Err(ApiError::validation(
                    "Too many items requested for the BatchWriteItem call",
                ));
            }
            actions.push(match (put, delete) {
                (Some(put), _) => {
                    let item = item_from_json(put.get("Item").unwrap_or(&NULL))?;
                    if item_size(&item) > MAX_ITEM_BYTES {
                        return Err(ApiError::validation(
                            "Item size has exceeded the maximum allowed size",
                        ));
                    }
                    Action::Put(item)
                }
                (None, _) => {
                    let key = delete.and_then(|d| d.get("Key")).unwrap_or(&NULL);
                    item_from_json(key)?;
                    Action::Delete(key)
                }
            });
        }
        entries.push((name, actions));
    }

    // 2. Per table: it exists; each key fits its schema; no item is written twice.
    let mut tables: Vec<(Arc<TableDef>, Vec<Write>)> = Vec::with_capacity(entries.len());
    let mut seen: Vec<(String, KeyIdentity)> = Vec::new();
    for (name, actions) in entries {
        let def = resolve_table(ctx, name).await?;
        let mut writes = Vec::with_capacity(actions.len());
        for action in actions {
            let write = match action {
                Action::Put(item) => Write {
                    key: check_put(&def, &item)?,
                    partition: partition_of(&def, &item),
                    item: Some(item),
                },
                Action::Delete(key) => {
                    let (key_item, key) = parse_key(&def, key)?;
                    Write {
                        key,
                        partition: partition_of(&def, &key_item),
                        item: None,
                    }
                }
            };
            let identity = (def.name.clone(), KeyIdentity::of(&write.key));
            if seen.contains(&identity) {
                return Err(ApiError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            seen.push(identity);
            writes.push(write);
        }
        tables.push((def, writes));
    }

    // 3. Write the batch: one transaction.
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    let metrics = enum_member(&input, "ReturnItemCollectionMetrics", "NONE") == "SIZE";
    let partitions: Vec<Vec<(StoredKey, &AttributeValue)>> = tables
        .iter()
        .map(|(def, writes)| {
            if metrics && !def.local_indexes.is_empty() {
                partitions(writes)
            } else {
                Vec::new()
            }
        })
        .collect();
    let batches: Vec<TableBatch> = tables
        .iter()
        .zip(&partitions)
        .map(|((def, writes), partitions)| TableBatch {
            def,
            writes: writes
                .iter()
                .map(|w| (w.key.clone(), w.item.as_ref()))
                .collect(),
            read_old: rcc != "NONE",
            collections: partitions.iter().map(|(key, _)| key.clone()).collect(),
        })
        .collect();
    let results = ctx.storage.batch_write(&batches).await?;

    // 4. Answer.
    let mut out = Map::new();
    out.insert("UnprocessedItems".into(), Value::Object(Map::new()));
    if rcc != "NONE" {
        out.insert(
            "ConsumedCapacity".into(),
            Value::Array(consumed_capacity(&tables, &results, rcc)),
        );
    }
    let collections = item_collection_metrics(&tables, &partitions, &results);
    if !collections.is_empty() {
        out.insert("ItemCollectionMetrics".into(), Value::Object(collections));
    }
    Ok(Value::Object(out))
}

/// Checks a put item against its table as PutItem does, except that a key attribute missing or
/// of the wrong type gets BatchWriteItem's own message (the service's, as dynalite records it;
/// DynamoDB Local reuses PutItem's and GetItem's texts).
fn check_put(def: &TableDef, item: &Item) -> ApiResult<StoredKey> {
    check_item(def, item).map_err(|e| {
        let key_error = ["Missing the key ", "Type mismatch for key "]
            .iter()
            .any(|m| {
                e.message
                    .starts_with(&format!("One or more parameter values were invalid: {m}"))
            });
        if key_error {
            ApiError::validation("The provided key element does not match the schema")
        } else {
            e
        }
    })
}

/// A stored key in a form that compares by value, to find two requests on one item.
#[derive(PartialEq)]
struct KeyIdentity(i32, KeyParam, Option<KeyParam>);

impl KeyIdentity {
    fn of(key: &StoredKey) -> KeyIdentity {
        KeyIdentity(key.h, key.pk.clone(), key.sk.clone())
    }
}

/// The partition key value of a checked item or key.
fn partition_of(def: &TableDef, item: &Item) -> AttributeValue {
    item.get(&def.key.hash.name)
        .cloned()
        .unwrap_or(AttributeValue::Null)
}

/// The partitions (item collections) a table's writes touch, each once, in order of first
/// touch: the stored key to measure (without sort key), and the partition key value to report.
fn partitions(writes: &[Write]) -> Vec<(StoredKey, &AttributeValue)> {
    let mut out: Vec<(StoredKey, &AttributeValue)> = Vec::new();
    for write in writes {
        if !out.iter().any(|(_, value)| **value == write.partition) {
            out.push((
                StoredKey {
                    h: write.key.h,
                    pk: write.key.pk.clone(),
                    sk: None,
                },
                &write.partition,
            ));
        }
    }
    out
}

/// ConsumedCapacity: one entry per table, each put and delete charged as PutItem and DeleteItem
/// charge them (on the larger of the old and new item, plus the indexes the item is in).
fn consumed_capacity(
    tables: &[(Arc<TableDef>, Vec<Write>)],
    results: &[TableBatchResult],
    rcc: &str,
) -> Vec<Value> {
    let mut totals: Vec<(&TableDef, Consumed)> = Vec::new();
    for ((def, writes), result) in tables.iter().zip(results) {
        let mut total = Consumed::default();
        for (write, old) in writes.iter().zip(&result.old) {
            add(
                &mut total,
                write_consumed(def, old.as_ref(), write.item.as_ref()),
            );
        }
        // A table named twice (by name and by ARN) is reported once.
        match totals.iter_mut().find(|(d, _)| d.name == def.name) {
            Some((_, sum)) => add(sum, total),
            None => totals.push((def, total)),
        }
    }
    totals
        .iter()
        .filter_map(|(def, consumed)| consumed.report(def, rcc))
        .collect()
}

/// Adds one write's capacity to a table's total.
fn add(total: &mut Consumed, one: Consumed) {
    total.table += one.table;
    for (sums, units) in [
        (&mut total.local, one.local),
        (&mut total.global, one.global),
    ] {
        for (index, u) in units {
            match sums.iter_mut().find(|(name, _)| *name == index) {
                Some((_, sum)) => *sum += u,
                None => sums.push((index, u)),
            }
        }
    }
}

/// ItemCollectionMetrics for the tables with local secondary indexes: per item collection the
/// batch touched, its partition key and the size range, in whole gigabytes, of the collection
/// (the table's items with that partition key plus their entries in the local indexes; an item
/// counts in full for each index it is in, an upper bound of what the index projects).
fn item_collection_metrics(
    tables: &[(Arc<TableDef>, Vec<Write>)],
    partitions: &[Vec<(StoredKey, &AttributeValue)>],
    results: &[TableBatchResult],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (((def, _), partitions), result) in tables.iter().zip(partitions).zip(results) {
        if partitions.is_empty() {
            continue;
        }
        let metrics = partitions
            .iter()
            .zip(&result.collection_bytes)
            .map(|((_, value), bytes)| {
                let low = (*bytes as f64 / GIGABYTE).floor();
                json!({
                    "ItemCollectionKey": {def.key.hash.name.clone(): value.to_json()},
                    "SizeEstimateRangeGB": [low, low + 1.0],
                })
            });
        if let Value::Array(list) = out
            .entry(def.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.extend(metrics);
        }
    }
    out
}
