//! PutItem without a condition or return values: a write by primary key. Under load, the puts
//! to one table that arrive while others are being written share one statement (see
//! `coalesce`): a multi-row upsert, as BatchWriteItem writes, committed once for all of them.
//! A lone put is a plain single-row upsert.
//!
//! Why: a commit costs PostgreSQL a WAL flush and a wake-up of the client whatever it
//! carries, and every statement costs the server a round trip. PostgreSQL groups the flushes
//! of commits that coincide, but only up to the number of connections committing at once;
//! one statement for the puts that queued while the last one ran groups them whatever the pool
//! size.
//!
//! Rules a shared statement keeps:
//! - Two puts of the same item in one batch are concurrent requests: the later one is
//!   written, as if both had run in arrival order; both are acknowledged after the commit.
//! - Rows are written in key order, after a transaction-level advisory lock on each item (the
//!   lock order of BatchWriteItem and transactions, `items::item_lock_key`), so a batch never
//!   deadlocks with those or with another batch.
//! - If the shared statement fails, each put runs again on its own, so that one put's failure
//!   is its own.
//!
//! On a table with a stream, every put needs the old item for its record and takes the
//! read-modify-write path instead (`items::modify_item`).

use std::sync::Arc;

use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::model::storage::item_to_storage_text;
use crate::model::{size::item_size, Item};
use crate::schema::TableDef;

use super::coalesce::{Coalescer, CounterNames};
use super::items::{
    insert_sql, item_lock_key, key_params, replace_on_conflict, upsert_rows_params,
    upsert_rows_sql, KeyArrays, Write, ITEM_LOCK_CLASS,
};
use super::stored_item::JsonText;
use super::{db_error, Storage, StoredKey};

/// One put waiting for its statement: the key and what the row will hold.
pub(super) struct PutRow {
    key: StoredKey,
    size: i32,
    /// The item as stored (jsonb text).
    item: String,
}

/// Concurrent puts, queued by table; each answer is the put's own outcome.
pub(super) type Puts = Coalescer<Arc<PutRow>, Result<(), ApiError>>;

/// The `/metrics` counters of [`Puts`].
pub(super) const COUNTERS: CounterNames = [
    (
        "dynamo_pg_put_statements_total",
        "Statements run for PutItem without a condition (each writes one or more puts).",
    ),
    (
        "dynamo_pg_put_items_total",
        "Puts written by those statements; divided by the statements, the mean batch size.",
    ),
];

impl Storage {
    /// Stores `item` under `key`, replacing any item there: one statement, shared with the
    /// puts to the same table queued meanwhile.
    pub async fn put_item(
        &self,
        def: &Arc<TableDef>,
        key: &StoredKey,
        item: &Item,
    ) -> Result<(), ApiError> {
        if super::streams::stream_enabled(def) {
            // The stream record needs the old item and must commit with the write.
            self.modify_item(def, key, |_| Ok(Write::Put(item.clone())))
                .await?;
            return Ok(());
        }
        let row = Arc::new(PutRow {
            key: key.clone(),
            size: item_size(item) as i32,
            item: item_to_storage_text(item),
        });
        let puts = &self.lane().puts;
        puts.run(self, &def.pg_table, &row, |conn, rows| {
            let def = def.clone();
            Box::pin(async move { Ok(write_rows(conn, &def, rows).await) })
        })
        .await?
    }
}

/// Writes `rows`, answering each: one upsert, or one per row if the shared one fails.
async fn write_rows(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    rows: &[Arc<PutRow>],
) -> Vec<Result<(), ApiError>> {
    if rows.len() > 1 {
        match write_together(conn, def, rows).await {
            Ok(()) => return rows.iter().map(|_| Ok(())).collect(),
            Err(e) => tracing::debug!("a batched put failed, writing its rows one by one: {e}"),
        }
    }
    let mut answers = Vec::with_capacity(rows.len());
    for row in rows {
        answers.push(write_one(conn, def, row).await);
    }
    answers
}

/// The single-row upsert.
async fn write_one(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    row: &PutRow,
) -> Result<(), ApiError> {
    let sql = insert_sql(def, &replace_on_conflict(def));
    let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
    let json = JsonText(&row.item);
    let mut params = key_params(&row.key);
    params.push(&row.size);
    params.push(&json);
    conn.execute(&stmt, &params).await.map_err(db_error)?;
    Ok(())
}

/// One upsert of `rows` (the last of each key), in key order, under the items' advisory locks.
async fn write_together(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    rows: &[Arc<PutRow>],
) -> Result<(), ApiError> {
    let mut latest: Vec<&PutRow> = Vec::with_capacity(rows.len());
    // A stable sort keeps arrival order among puts of one key; the last of each is kept.
    let mut sorted: Vec<&PutRow> = rows.iter().map(|r| r.as_ref()).collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for row in sorted {
        match latest.last_mut() {
            Some(last) if last.key == row.key => *last = row,
            _ => latest.push(row),
        }
    }
    let mut locks: Vec<i32> = latest.iter().map(|r| item_lock_key(def, &r.key)).collect();
    locks.sort_unstable();
    locks.dedup();

    let n = upsert_rows_params(def);
    let filter = format!(
        "WHERE (SELECT count(pg_advisory_xact_lock(${class}, l)) FROM unnest(${locks}::int4[]) AS l) >= 0",
        class = n + 2,
        locks = n + 3
    );
    let stmt = conn
        .prepare_cached(&upsert_rows_sql(def, &filter, ""))
        .await
        .map_err(db_error)?;
    let keys = KeyArrays::new(latest.iter().map(|r| &r.key));
    let sizes: Vec<i32> = latest.iter().map(|r| r.size).collect();
    let items: Vec<JsonText> = latest.iter().map(|r| JsonText(&r.item)).collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = keys.params(def.key.range.is_some());
    params.push(&sizes);
    params.push(&items);
    params.push(&ITEM_LOCK_CLASS);
    params.push(&locks);
    conn.execute(&stmt, &params).await.map_err(db_error)?;
    Ok(())
}
