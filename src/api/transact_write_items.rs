//! TransactWriteItems: up to 100 actions (ConditionCheck, Put, Delete, Update) across tables,
//! applied together or not at all.
//!
//! The checks come in DynamoDB's order (DynamoDB Local 3.3.0, probed one rule against another;
//! `tests/conformance/cases/transactions` records them):
//!
//! 1. per action, in order: exactly one of its four members; its expressions, as the
//!    single-item operation reads them; its attribute values; a Put item within 400 KB; the
//!    request's running payload (items, keys, expressions and their names and values) within
//!    4 MB;
//! 2. per action, in order: the table exists; the key (a Put item's key attributes) is
//!    complete; no earlier action names the same item. A key attribute of the wrong type, a key
//!    value over its size limit and an index key attribute of the wrong type do not fail the
//!    request here: DynamoDB reports them as that action's cancellation reason (ValidationError)
//!    once the other actions' conditions have been evaluated, and leaves the action out of the
//!    duplicate check;
//! 3. the transaction (`storage::transact`), with its ClientRequestToken: every item locked and
//!    read, every condition and update evaluated against it, then all written, in one
//!    PostgreSQL transaction. Any failure cancels all: TransactionCanceledException with one
//!    reason per action, in order. A repeat of the token within 10 minutes succeeds without
//!    applying anything again; another request with it is an
//!    IdempotentParameterMismatchException.
//!
//! Capacity is the single-item operations' doubled (AWS Developer Guide, "Capacity management
//! for transactions"); a ConditionCheck is charged as a transactional read of its item.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::model::capacity::{read_units, transactional_read_units};
use crate::model::size::item_size;
use crate::model::{item_from_json, item_to_json, AttributeValue, Item};
use crate::schema::TableDef;
use crate::storage::items::Write;
use crate::storage::transact::{TxItem, TxToken, TxWrite, TxWriteOutcome};
use crate::storage::StoredKey;

use super::capacity::{write_consumed, Consumed};
use super::common::{check_key_value, enum_member, resolve_table, str_member, MAX_ITEM_BYTES};
use super::expressions::{check_mix, Expressions, Params};
use super::update_item::apply_update;
use super::Ctx;

/// DynamoDB's limit on the aggregate size of a transaction's request, in bytes.
const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// Bytes in the gigabyte of SizeEstimateRangeGB.
const GIGABYTE: f64 = (1u64 << 30) as f64;

/// Stands in for a member that is absent (shape validation makes most of them impossible).
static NULL: Value = Value::Null;

/// Two actions on one item (DynamoDB Local; the service answers the same).
pub(super) const MSG_DUPLICATE_ITEM: &str =
    "Transaction request cannot include multiple operations on one item";
/// A Key with more or fewer attributes than the table's key.
pub(super) const MSG_KEY_COUNT: &str = "The number of conditions on the keys is invalid";
/// A key attribute missing from a Key or a Put item.
pub(super) const MSG_KEY_MISSING: &str = "One of the required keys was not given a value";
/// A key attribute of the wrong type (a cancellation reason, without the details the
/// single-item operations give).
pub(super) const MSG_KEY_TYPE: &str =
    "One or more parameter values were invalid: Type mismatch for key";
/// An index key attribute of the wrong type (a cancellation reason).
const MSG_INDEX_KEY_TYPE: &str =
    "One or more parameter values were invalid: Type mismatch for Index Key";
/// An Update that leaves an empty string or binary in an index key attribute.
const MSG_INDEX_KEY_EMPTY: &str = "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value.";
/// A failed condition. DynamoDB Local ends the ConditionCheck's with a period, and the others'
/// without.
const MSG_CONDITION_FAILED: &str = "The conditional request failed";
/// Another transaction holds an item (AWS API Reference, TransactWriteItems).
const MSG_CONFLICT: &str = "Transaction is ongoing for the item";
/// A token reused by another request (DynamoDB Local's message table; it sends an empty one).
const MSG_TOKEN_MISMATCH: &str =
    "Specified idempotent token was used with different request parameters within the idempotency window";
/// A token whose first request is still running.
const MSG_TOKEN_IN_PROGRESS: &str =
    "The transaction with the given request token is already in progress";

/// The four kinds of action, in the order DynamoDB's messages list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ConditionCheck,
    Put,
    Delete,
    Update,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::ConditionCheck, Kind::Put, Kind::Delete, Kind::Update];

    /// The member of a TransactWriteItem that holds this action.
    fn member(self) -> &'static str {
        match self {
            Kind::ConditionCheck => "ConditionCheck",
            Kind::Put => "Put",
            Kind::Delete => "Delete",
            Kind::Update => "Update",
        }
    }

    /// The expression parameters the action takes (none of the legacy ones).
    fn params(self) -> &'static Params {
        const CONDITIONAL: Params = Params {
            expressions: &["ConditionExpression"],
            legacy: &[],
            value_expressions: &["ConditionExpression"],
        };
        const UPDATE: Params = Params {
            expressions: &["UpdateExpression", "ConditionExpression"],
            legacy: &[],
            value_expressions: &["UpdateExpression", "ConditionExpression"],
        };
        match self {
            Kind::Update => &UPDATE,
            _ => &CONDITIONAL,
        }
    }
}

/// One action, its request-level rules checked.
struct Action<'a> {
    kind: Kind,
    /// The action's member (`Put`, `Update`, ...).
    body: &'a Value,
    expressions: Expressions,
    /// A Put's item; the key of the others.
    values: Item,
    /// ReturnValuesOnConditionCheckFailure is ALL_OLD.
    wants_old: bool,
}

/// An action's table and item.
struct Target {
    def: Arc<TableDef>,
    /// The item's key, or the message of the check it failed that cancels the transaction.
    key: Result<StoredKey, String>,
}

/// Why one action of a cancelled transaction failed (or `None`).
#[derive(Clone, Debug)]
pub(super) enum Reason {
    /// The action would have been applied.
    None,
    /// Its condition did not hold.
    ConditionalCheckFailed {
        /// The action was a ConditionCheck (its message ends with a period).
        check: bool,
        /// The item, when ReturnValuesOnConditionCheckFailure asked for it and there is one.
        item: Option<Item>,
    },
    /// It is invalid for its table or its item: the message says why.
    ValidationError(String),
    /// Another writer held its item for too long.
    TransactionConflict,
}

impl Reason {
    fn code(&self) -> &'static str {
        match self {
            Reason::None => "None",
            Reason::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
            Reason::ValidationError(_) => "ValidationError",
            Reason::TransactionConflict => "TransactionConflict",
        }
    }

    /// The reason as a CancellationReasons entry.
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("Code".into(), self.code().into());
        let message = match self {
            Reason::None => None,
            Reason::ConditionalCheckFailed { check, item } => {
                if let Some(item) = item {
                    out.insert("Item".into(), item_to_json(item));
                }
                Some(if *check {
                    format!("{MSG_CONDITION_FAILED}.")
                } else {
                    MSG_CONDITION_FAILED.to_string()
                })
            }
            Reason::ValidationError(message) => Some(message.clone()),
            Reason::TransactionConflict => Some(MSG_CONFLICT.to_string()),
        };
        if let Some(message) = message {
            out.insert("Message".into(), message.into());
        }
        Value::Object(out)
    }
}

/// The TransactionCanceledException for `reasons` (one per action, in order).
pub(super) fn canceled(reasons: &[Reason]) -> ApiError {
    let codes: Vec<&str> = reasons.iter().map(Reason::code).collect();
    let mut error = ApiError::new(
        ErrorKind::TransactionCanceled,
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    let mut extra = Map::new();
    extra.insert(
        "CancellationReasons".into(),
        reasons.iter().map(Reason::to_json).collect(),
    );
    error.extra = Some(extra);
    error
}

/// Runs TransactWriteItems.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let entries = input
        .get("TransactItems")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();

    // 1. Each action's own rules, and the payload so far.
    let mut payload = 0;
    let mut actions = Vec::with_capacity(entries.len());
    for entry in entries {
        actions.push(read_action(entry, &mut payload)?);
    }

    // 2. Tables, keys, one action per item.
    let mut targets: Vec<Target> = Vec::with_capacity(actions.len());
    for action in &actions {
        let def = resolve_table(
            ctx,
            str_member(action.body, "TableName").unwrap_or_default(),
        )
        .await?;
        let key = match action.kind {
            Kind::Put => check_put_item(&def, &action.values)?,
            _ => check_key(&def, &action.values)?,
        };
        if let Ok(key) = &key {
            let same = |t: &Target| {
                t.def.pg_table == def.pg_table && t.key.as_ref().is_ok_and(|k| same_key(k, key))
            };
            if targets.iter().any(same) {
                return Err(ApiError::validation(MSG_DUPLICATE_ITEM));
            }
        }
        targets.push(Target { def, key });
    }

    // 3. The transaction.
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    let wants_metrics = enum_member(&input, "ReturnItemCollectionMetrics", "NONE") == "SIZE";
    let locked: Vec<usize> = (0..targets.len())
        .filter(|&n| targets[n].key.is_ok())
        .collect();
    let collections = if wants_metrics {
        collections(&actions, &targets)
    } else {
        Vec::new()
    };
    let token = str_member(&input, "ClientRequestToken");
    let request_hash = match token {
        Some(_) => request_hash(input.get("TransactItems").unwrap_or(&NULL)),
        None => Vec::new(),
    };
    let request = TxWrite {
        items: locked
            .iter()
            .filter_map(|&n| {
                Some(TxItem {
                    def: &targets[n].def,
                    key: targets[n].key.as_ref().ok()?.clone(),
                })
            })
            .collect(),
        token: token.map(|token| TxToken {
            token,
            request_hash: &request_hash,
        }),
        collections: collections
            .iter()
            .map(|(n, key, _)| TxItem {
                def: &targets[*n].def,
                key: key.clone(),
            })
            .collect(),
    };
    let initial: Vec<Reason> = targets
        .iter()
        .map(|t| match &t.key {
            Ok(_) => Reason::None,
            Err(message) => Reason::ValidationError(message.clone()),
        })
        .collect();
    let outcome = ctx
        .storage
        .transact_write(&request, |old| {
            let mut reasons = initial.clone();
            let mut writes = Vec::with_capacity(old.len());
            for (&n, old) in locked.iter().zip(old) {
                match evaluate(&actions[n], &targets[n], old.as_ref()) {
                    Ok(write) => writes.push(write),
                    Err(reason) => {
                        reasons[n] = reason;
                        writes.push(Write::Keep);
                    }
                }
            }
            if reasons.iter().any(|r| !matches!(r, Reason::None)) {
                return Err(canceled(&reasons));
            }
            Ok(writes)
        })
        .await?;

    // 4. Answer.
    let mut out = Map::new();
    match outcome {
        TxWriteOutcome::Committed {
            old,
            writes,
            collection_bytes,
        } => {
            if rcc != "NONE" {
                let consumed =
                    locked
                        .iter()
                        .zip(old.iter().zip(&writes))
                        .map(|(&n, (old, write))| {
                            let new = match write {
                                Write::Put(item) => Some(item),
                                Write::Delete => None,
                                Write::Keep => old.as_ref(),
                            };
                            (
                                &targets[n].def,
                                action_capacity(
                                    actions[n].kind,
                                    &targets[n].def,
                                    old.as_ref(),
                                    new,
                                ),
                            )
                        });
                out.insert(
                    "ConsumedCapacity".into(),
                    Value::Array(report(consumed, rcc)),
                );
            }
            let metrics = item_collection_metrics(&targets, &collections, &collection_bytes);
            if !metrics.is_empty() {
                out.insert("ItemCollectionMetrics".into(), Value::Object(metrics));
            }
        }
        TxWriteOutcome::Repeated => {
            // The first request wrote; a repeat only reads the items (AWS API Reference,
            // ClientRequestToken).
            if rcc != "NONE" {
                let items = ctx.storage.transact_get(&request.items).await?;
                let consumed = locked.iter().zip(&items).map(|(&n, item)| {
                    (
                        &targets[n].def,
                        Consumed::table(read_units(
                            item.as_ref().map(item_size).unwrap_or(0),
                            true,
                        )),
                    )
                });
                out.insert(
                    "ConsumedCapacity".into(),
                    Value::Array(report(consumed, rcc)),
                );
            }
        }
        TxWriteOutcome::Conflict(positions) => {
            let mut reasons = initial;
            for (slot, &n) in locked.iter().enumerate() {
                if positions.is_empty() || positions.contains(&slot) {
                    reasons[n] = Reason::TransactionConflict;
                }
            }
            return Err(canceled(&reasons));
        }
        TxWriteOutcome::TokenMismatch => {
            return Err(ApiError::new(
                ErrorKind::IdempotentParameterMismatch,
                MSG_TOKEN_MISMATCH,
            ));
        }
        TxWriteOutcome::TokenInProgress => {
            return Err(ApiError::new(
                ErrorKind::TransactionInProgress,
                MSG_TOKEN_IN_PROGRESS,
            ));
        }
    }
    Ok(Value::Object(out))
}

/// Step 1 for one action: which action it is, its expressions and values, its item size, and
/// its share of the request's payload.
fn read_action<'a>(entry: &'a Value, payload: &mut usize) -> ApiResult<Action<'a>> {
    let present: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| entry.get(k.member()).is_some_and(|v| !v.is_null()))
        .collect();
    let kind = match present.as_slice() {
        [] => return Err(ApiError::validation(
            "Invalid Request: TransactWriteRequest should contain Delete or Put or Update request",
        )),
        [kind] => *kind,
        _ => {
            return Err(ApiError::validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            ))
        }
    };
    let body = &entry[kind.member()];
    check_mix(body, kind.params())?;
    let expressions = Expressions::parse(body, kind.params(), None)?;
    let values = item_from_json(
        body.get(if kind == Kind::Put { "Item" } else { "Key" })
            .unwrap_or(&NULL),
    )?;
    let size = item_size(&values);
    if kind == Kind::Put && size > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    *payload += size + expression_bytes(body);
    if *payload > MAX_PAYLOAD_BYTES {
        return Err(ApiError::validation(format!(
            "Transaction payload size cannot exceed 4MB. Payload Size: {payload}"
        )));
    }
    let wants_old = str_member(body, "ReturnValuesOnConditionCheckFailure") == Some("ALL_OLD");
    Ok(Action {
        kind,
        body,
        expressions,
        values,
        wants_old,
    })
}

/// What an action's expressions add to the payload, as DynamoDB Local measures it: the text of
/// UpdateExpression and ConditionExpression, the names that ExpressionAttributeNames stands
/// for, and the sizes of the ExpressionAttributeValues (placeholders themselves are free).
fn expression_bytes(body: &Value) -> usize {
    let text = ["UpdateExpression", "ConditionExpression"]
        .iter()
        .filter_map(|m| str_member(body, m))
        .map(str::len);
    let names = body
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_str)
        .map(str::len);
    let values = body
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|v| AttributeValue::from_json(v).ok())
        .map(|v| v.size());
    text.chain(names).chain(values).sum()
}

/// Checks one key attribute value found in a Key or a Put item: `Ok(Err)` carries a problem
/// that becomes the action's cancellation reason, `Err` one that fails the request.
fn check_key_attr(
    def: &TableDef,
    name: &str,
    value: &AttributeValue,
    ty_matches: bool,
) -> ApiResult<Result<(), String>> {
    if !ty_matches {
        return Ok(Err(MSG_KEY_TYPE.to_string()));
    }
    match check_key_value(&def.key, name, value) {
        Ok(()) => Ok(Ok(())),
        // An empty value fails the request; a value over the size limit, the action.
        Err(e) if is_empty(value) => Err(e),
        Err(e) => Ok(Err(e.message)),
    }
}

fn is_empty(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::S(s) => s.is_empty(),
        AttributeValue::B(b) => b.is_empty(),
        _ => false,
    }
}

/// Step 2 for a Key (ConditionCheck, Delete, Update).
fn check_key(def: &TableDef, key: &Item) -> ApiResult<Result<StoredKey, String>> {
    if key.len() != def.key.attrs().count() {
        return Err(ApiError::validation(MSG_KEY_COUNT));
    }
    for attr in def.key.attrs() {
        let value = key
            .get(&attr.name)
            .ok_or_else(|| ApiError::validation(MSG_KEY_MISSING))?;
        if let Err(problem) = check_key_attr(def, &attr.name, value, attr.ty.matches(value))? {
            return Ok(Err(problem));
        }
    }
    stored_key(def, key)
}

/// Step 2 for a Put item: its key attributes as for a Key, and its index key attributes typed
/// as the indexes declare them.
fn check_put_item(def: &TableDef, item: &Item) -> ApiResult<Result<StoredKey, String>> {
    for attr in def.key.attrs() {
        let value = item
            .get(&attr.name)
            .ok_or_else(|| ApiError::validation(MSG_KEY_MISSING))?;
        if let Err(problem) = check_key_attr(def, &attr.name, value, attr.ty.matches(value))? {
            return Ok(Err(problem));
        }
    }
    for index in def.local_indexes.iter().chain(&def.global_indexes) {
        for attr in index.key.attrs() {
            let Some(value) = item.get(&attr.name) else {
                continue;
            };
            if !attr.ty.matches(value) {
                return Ok(Err(MSG_INDEX_KEY_TYPE.to_string()));
            }
            if matches!(value, AttributeValue::S(s) if s.is_empty()) {
                return Err(ApiError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                    index.name, attr.name
                )));
            }
        }
    }
    stored_key(def, item)
}

fn stored_key(def: &TableDef, item: &Item) -> ApiResult<Result<StoredKey, String>> {
    StoredKey::from_item(&def.key, item)
        .map(Ok)
        .ok_or_else(|| ApiError::validation("The provided key element does not match the schema"))
}

/// Whether two stored keys of one table name the same item (numbers are normalized, so `1` and
/// `1.0` are one item).
fn same_key(a: &StoredKey, b: &StoredKey) -> bool {
    a.h == b.h && a.pk == b.pk && a.sk == b.sk
}

/// Step 3 for one action, against its item as it is under the transaction's locks: the write
/// it makes, or why it cancels the transaction.
fn evaluate(action: &Action<'_>, target: &Target, old: Option<&Item>) -> Result<Write, Reason> {
    let empty = Item::new();
    if let Some(condition) = &action.expressions.condition {
        if !condition.evaluate(old.unwrap_or(&empty)) {
            return Err(Reason::ConditionalCheckFailed {
                check: action.kind == Kind::ConditionCheck,
                item: if action.wants_old { old.cloned() } else { None },
            });
        }
    }
    match action.kind {
        Kind::ConditionCheck => Ok(Write::Keep),
        Kind::Put => Ok(Write::Put(action.values.clone())),
        Kind::Delete => Ok(Write::Delete),
        Kind::Update => {
            let def = &target.def;
            let Some(update) = &action.expressions.update else {
                // UpdateExpression is required; an update without one changes nothing.
                return Ok(Write::Put(
                    old.cloned().unwrap_or_else(|| action.values.clone()),
                ));
            };
            let key_names: Vec<&str> = def.key.attrs().map(|a| a.name.as_str()).collect();
            match apply_update(update, old, &action.values, &key_names) {
                Err(e) => Err(Reason::ValidationError(e.message)),
                Ok(None) => Ok(Write::Keep),
                Ok(Some(outcome)) => match index_key_problem(def, &outcome.item) {
                    Some(message) => Err(Reason::ValidationError(message.to_string())),
                    None => Ok(Write::Put(outcome.item)),
                },
            }
        }
    }
}

/// What is wrong with the index key attributes of an updated item, if anything.
fn index_key_problem(def: &TableDef, item: &Item) -> Option<&'static str> {
    def.local_indexes
        .iter()
        .chain(&def.global_indexes)
        .flat_map(|index| index.key.attrs())
        .find_map(|attr| {
            let value = item.get(&attr.name)?;
            if !attr.ty.matches(value) {
                Some(MSG_INDEX_KEY_TYPE)
            } else if is_empty(value) {
                Some(MSG_INDEX_KEY_EMPTY)
            } else {
                None
            }
        })
}

/// The capacity of one applied action: a write's doubled, or a ConditionCheck's transactional
/// read of its item.
fn action_capacity(kind: Kind, def: &TableDef, old: Option<&Item>, new: Option<&Item>) -> Consumed {
    if kind == Kind::ConditionCheck {
        return Consumed::table(transactional_read_units(old.map(item_size).unwrap_or(0)));
    }
    let mut consumed = write_consumed(def, old, new);
    consumed.table *= 2.0;
    for (_, units) in consumed.local.iter_mut().chain(consumed.global.iter_mut()) {
        *units *= 2.0;
    }
    consumed
}

/// ConsumedCapacity: one entry per table, in order of first appearance.
pub(super) fn report<'d>(
    consumed: impl Iterator<Item = (&'d Arc<TableDef>, Consumed)>,
    rcc: &str,
) -> Vec<Value> {
    let mut totals: Vec<(&TableDef, Consumed)> = Vec::new();
    for (def, one) in consumed {
        let at = match totals.iter().position(|(d, _)| d.name == def.name) {
            Some(at) => at,
            None => {
                totals.push((def, Consumed::default()));
                totals.len() - 1
            }
        };
        let total = &mut totals[at].1;
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
    totals
        .iter()
        .filter_map(|(def, consumed)| consumed.report(def, rcc))
        .collect()
}

/// The item collections to measure for ItemCollectionMetrics: each partition that a Put,
/// Update or Delete touches in a table with local secondary indexes, once: (action, stored
/// partition key, partition key value).
fn collections(
    actions: &[Action<'_>],
    targets: &[Target],
) -> Vec<(usize, StoredKey, AttributeValue)> {
    let mut out: Vec<(usize, StoredKey, AttributeValue)> = Vec::new();
    for (n, (action, target)) in actions.iter().zip(targets).enumerate() {
        let (Ok(key), false) = (&target.key, target.def.local_indexes.is_empty()) else {
            continue;
        };
        if action.kind == Kind::ConditionCheck {
            continue;
        }
        let Some(value) = action.values.get(&target.def.key.hash.name) else {
            continue;
        };
        let seen = out.iter().any(|(m, k, _)| {
            targets[*m].def.pg_table == target.def.pg_table && k.h == key.h && k.pk == key.pk
        });
        if !seen {
            out.push((
                n,
                StoredKey {
                    h: key.h,
                    pk: key.pk.clone(),
                    sk: None,
                },
                value.clone(),
            ));
        }
    }
    out
}

/// ItemCollectionMetrics: per table, each item collection written and its size range in whole
/// gigabytes (as BatchWriteItem reports it).
fn item_collection_metrics(
    targets: &[Target],
    collections: &[(usize, StoredKey, AttributeValue)],
    bytes: &[i64],
) -> Map<String, Value> {
    let mut out = Map::new();
    for ((n, _, value), bytes) in collections.iter().zip(bytes) {
        let def = &targets[*n].def;
        let low = (*bytes as f64 / GIGABYTE).floor();
        let metric = json!({
            "ItemCollectionKey": {def.key.hash.name.clone(): value.to_json()},
            "SizeEstimateRangeGB": [low, low + 1.0],
        });
        if let Value::Array(list) = out
            .entry(def.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(metric);
        }
    }
    out
}

/// A digest of the request's actions that two sends of one request share: SHA-256 of
/// TransactItems written canonically (object members sorted by name). ReturnConsumedCapacity
/// and ReturnItemCollectionMetrics are left out: a repeat may ask for other figures.
fn request_hash(items: &Value) -> Vec<u8> {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (name, member)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(name.clone()).to_string());
                    out.push(':');
                    write(member, out);
                }
                out.push('}');
            }
            Value::Array(list) => {
                out.push('[');
                for (i, member) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(member, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    write(items, &mut text);
    Sha256::digest(text.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_hash_ignores_member_order() {
        let a = json!([{"Put": {"TableName": "t", "Item": {"a": {"S": "1"}, "b": {"N": "2"}}}}]);
        let b = json!([{"Put": {"Item": {"b": {"N": "2"}, "a": {"S": "1"}}, "TableName": "t"}}]);
        let c = json!([{"Put": {"Item": {"b": {"N": "3"}, "a": {"S": "1"}}, "TableName": "t"}}]);
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&c));
    }

    #[test]
    fn cancellation_message_lists_the_codes() {
        let error = canceled(&[
            Reason::None,
            Reason::ConditionalCheckFailed {
                check: true,
                item: None,
            },
            Reason::TransactionConflict,
        ]);
        assert_eq!(
            error.message,
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, TransactionConflict]"
        );
        let reasons = &error.extra.expect("reasons")["CancellationReasons"];
        assert_eq!(
            reasons,
            &json!([
                {"Code": "None"},
                {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed."},
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
            ])
        );
    }
}
