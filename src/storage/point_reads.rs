//! GetItem: a point read by primary key. Under load, the reads of one table that arrive while
//! others are running share one statement (see `coalesce`): an `unnest` join of their keys, as
//! BatchGetItem reads; a lone GetItem is a plain primary-key lookup.

use std::sync::Arc;

use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::schema::TableDef;

use super::coalesce::{Coalescer, CounterNames};
use super::items::{key_params, key_predicate, read_keys_sql, slot, stored_item, KeyArrays};
use super::{db_error, Storage, StoredItem, StoredKey};

/// Concurrent GetItems, queued by table.
pub(super) type PointReads = Coalescer<StoredKey, Option<StoredItem>>;

/// The `/metrics` counters of [`PointReads`].
pub(super) const COUNTERS: CounterNames = [
    (
        "dynamo_pg_point_read_statements_total",
        "Statements run for GetItem (each reads the keys of one or more requests).",
    ),
    (
        "dynamo_pg_point_read_keys_total",
        "Keys read for GetItem; divided by the statements, the mean batch size.",
    ),
];

impl Storage {
    /// The item with `key`, if any, as stored (parsed only if the caller needs it).
    pub async fn get_item(
        &self,
        def: &Arc<TableDef>,
        key: &StoredKey,
    ) -> Result<Option<StoredItem>, ApiError> {
        let reads = &self.lane().point_reads;
        reads
            .run(self, &def.pg_table, key, |conn, keys| {
                let def = def.clone();
                Box::pin(async move { read_keys(conn, &def, keys).await })
            })
            .await
    }
}

/// Reads the items of `keys`, in order: a primary-key lookup for one key, an `unnest` join for
/// several.
async fn read_keys(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    keys: &[StoredKey],
) -> Result<Vec<Option<StoredItem>>, ApiError> {
    if let [one] = keys {
        let sql = format!(
            "SELECT item, size FROM {} WHERE {}",
            def.pg_table,
            key_predicate(def)
        );
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        let row = conn
            .query_opt(&stmt, &key_params(one))
            .await
            .map_err(db_error)?;
        return Ok(vec![row.map(|r| stored_item(&r))]);
    }
    let stmt = conn
        .prepare_cached(&read_keys_sql(def))
        .await
        .map_err(db_error)?;
    let arrays = KeyArrays::new(keys.iter());
    let params: Vec<&(dyn ToSql + Sync)> = arrays.params(def.key.range.is_some());
    let rows = conn.query(&stmt, &params).await.map_err(db_error)?;
    let mut items: Vec<Option<StoredItem>> = (0..keys.len()).map(|_| None).collect();
    for row in rows {
        *slot(&mut items, row.get(2))? = Some(stored_item(&row));
    }
    Ok(items)
}
