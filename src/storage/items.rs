//! Reading and writing items in a table's relation.
//!
//! Unconditional writes are one autocommit statement. Anything that must look at the current
//! item first (conditions, ReturnValues, UpdateItem) goes through [`Storage::modify_item`]: one
//! transaction that locks the row, lets the caller decide, and writes.

use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::model::storage::{item_from_storage, item_to_storage};
use crate::model::{size::item_size, Item};
use crate::schema::{ScalarType, TableDef};

use super::{db_error, Storage, StoredKey};

/// What a read-modify-write decided to do with the item.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Store this item (insert or replace).
    Put(Item),
    /// Remove the item.
    Delete,
    /// Leave things as they are.
    Keep,
}

/// The SQL expression for key parameter `$n` of a column of type `ty`.
fn param(ty: ScalarType, n: usize) -> String {
    match ty {
        ScalarType::N => format!("${n}::text::numeric"),
        ScalarType::S | ScalarType::B => format!("${n}::bytea"),
    }
}

/// `h = $1 AND pk = $2 [AND sk = $3]` for a table.
fn key_predicate(def: &TableDef) -> String {
    let mut sql = format!("h = $1 AND pk = {}", param(def.key.hash.ty, 2));
    if let Some(r) = &def.key.range {
        sql.push_str(&format!(" AND sk = {}", param(r.ty, 3)));
    }
    sql
}

/// The key's parameters, in the order of [`key_predicate`].
fn key_params(key: &StoredKey) -> Vec<&(dyn ToSql + Sync)> {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&key.h, &key.pk];
    if let Some(sk) = &key.sk {
        params.push(sk);
    }
    params
}

/// `INSERT ... VALUES (key, size, item)` for a table, with the given conflict clause.
fn insert_sql(def: &TableDef, on_conflict: &str) -> String {
    let (cols, vals, n) = match &def.key.range {
        Some(r) => ("h, pk, sk", format!("$1, {}, {}", param(def.key.hash.ty, 2), param(r.ty, 3)), 4),
        None => ("h, pk", format!("$1, {}", param(def.key.hash.ty, 2)), 3),
    };
    format!(
        "INSERT INTO {t} ({cols}, size, item) VALUES ({vals}, ${n}, ${m}) {on_conflict}",
        t = def.pg_table,
        m = n + 1
    )
}

fn conflict_target(def: &TableDef) -> &'static str {
    if def.key.range.is_some() {
        "(h, pk, sk)"
    } else {
        "(h, pk)"
    }
}

fn decode(value: serde_json::Value) -> Result<Item, ApiError> {
    item_from_storage(&value)
}

impl Storage {
    /// The item with `key`, if any.
    pub async fn get_item(&self, def: &TableDef, key: &StoredKey) -> Result<Option<Item>, ApiError> {
        let conn = self.conn().await?;
        let sql = format!("SELECT item FROM {} WHERE {}", def.pg_table, key_predicate(def));
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        let row = conn.query_opt(&stmt, &key_params(key)).await.map_err(db_error)?;
        row.map(|r| decode(r.get(0))).transpose()
    }

    /// Stores `item` under `key`, replacing any item there: one statement.
    pub async fn put_item(&self, def: &TableDef, key: &StoredKey, item: &Item) -> Result<(), ApiError> {
        let conn = self.conn().await?;
        let sql = insert_sql(
            def,
            &format!(
                "ON CONFLICT {} DO UPDATE SET size = excluded.size, item = excluded.item",
                conflict_target(def)
            ),
        );
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        let size = item_size(item) as i32;
        let json = item_to_storage(item);
        let mut params = key_params(key);
        params.push(&size);
        params.push(&json);
        conn.execute(&stmt, &params).await.map_err(db_error)?;
        Ok(())
    }

    /// Removes the item with `key`, if any: one statement.
    pub async fn delete_item(&self, def: &TableDef, key: &StoredKey) -> Result<(), ApiError> {
        let conn = self.conn().await?;
        let sql = format!("DELETE FROM {} WHERE {}", def.pg_table, key_predicate(def));
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        conn.execute(&stmt, &key_params(key)).await.map_err(db_error)?;
        Ok(())
    }

    /// Read-modify-write of one item, atomic with its read.
    ///
    /// Locks the row (`FOR UPDATE`), hands the current item to `decide`, and applies its
    /// [`Write`] in the same transaction. An absent row cannot be locked, so a Put of a new item
    /// is an `INSERT ... ON CONFLICT DO NOTHING`: if another request created the item meanwhile,
    /// the transaction is rolled back and `decide` runs again on the item that now exists. That
    /// makes two concurrent `attribute_not_exists` puts on one new key resolve to one winner.
    ///
    /// Returns the item as it was and the write that was applied. An error from `decide` rolls
    /// back and is returned as is.
    pub async fn modify_item<F>(
        &self,
        def: &TableDef,
        key: &StoredKey,
        mut decide: F,
    ) -> Result<(Option<Item>, Write), ApiError>
    where
        F: FnMut(Option<&Item>) -> Result<Write, ApiError>,
    {
        let mut conn = self.conn().await?;
        let select = format!("SELECT item FROM {} WHERE {} FOR UPDATE", def.pg_table, key_predicate(def));
        let insert = insert_sql(def, "ON CONFLICT DO NOTHING");
        let update = format!(
            "UPDATE {} SET size = ${s}, item = ${j} WHERE {}",
            def.pg_table,
            key_predicate(def),
            s = if def.key.range.is_some() { 4 } else { 3 },
            j = if def.key.range.is_some() { 5 } else { 4 },
        );
        let delete = format!("DELETE FROM {} WHERE {}", def.pg_table, key_predicate(def));
        loop {
            let tx = conn.transaction().await.map_err(db_error)?;
            let stmt = tx.prepare_cached(&select).await.map_err(db_error)?;
            let old = tx
                .query_opt(&stmt, &key_params(key))
                .await
                .map_err(db_error)?
                .map(|r| decode(r.get(0)))
                .transpose()?;
            let write = decide(old.as_ref())?;
            match &write {
                Write::Put(item) => {
                    let size = item_size(item) as i32;
                    let json = item_to_storage(item);
                    let mut params = key_params(key);
                    params.push(&size);
                    params.push(&json);
                    let sql = if old.is_some() { &update } else { &insert };
                    let stmt = tx.prepare_cached(sql).await.map_err(db_error)?;
                    let n = tx.execute(&stmt, &params).await.map_err(db_error)?;
                    if n == 0 {
                        // Created concurrently: look again, now that it exists.
                        drop(tx);
                        continue;
                    }
                }
                Write::Delete if old.is_some() => {
                    let stmt = tx.prepare_cached(&delete).await.map_err(db_error)?;
                    tx.execute(&stmt, &key_params(key)).await.map_err(db_error)?;
                }
                Write::Delete | Write::Keep => {}
            }
            tx.commit().await.map_err(db_error)?;
            return Ok((old, write));
        }
    }
}
