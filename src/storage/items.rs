//! Reading and writing items in a table's relation.
//!
//! Unconditional writes are one autocommit statement. Anything that must look at the current
//! item first (conditions, ReturnValues, UpdateItem) goes through [`Storage::modify_item`]: one
//! transaction that locks the row, lets the caller decide, and writes. On a table with an
//! enabled stream every write takes that path, since its stream record needs the old item and
//! is appended in the same transaction (see `streams`).

use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::model::storage::{item_to_storage, item_to_storage_text};
use crate::model::storage_parse::item_from_storage_text;
use crate::model::{size::item_size, Item};
use crate::schema::{ScalarType, TableDef};

use super::pipelined::PipelinedTx;
use super::stored_item::JsonText;
use super::{db_error, KeyParam, Storage, StoredItem, StoredKey};

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
pub(super) fn param(ty: ScalarType, n: usize) -> String {
    match ty {
        ScalarType::N => format!("${n}::text::numeric"),
        ScalarType::S | ScalarType::B => format!("${n}::bytea"),
    }
}

/// `h = $1 AND pk = $2 [AND sk = $3]` for a table.
pub(super) fn key_predicate(def: &TableDef) -> String {
    let mut sql = format!("h = $1 AND pk = {}", param(def.key.hash.ty, 2));
    if let Some(r) = &def.key.range {
        sql.push_str(&format!(" AND sk = {}", param(r.ty, 3)));
    }
    sql
}

/// The key's parameters, in the order of [`key_predicate`].
pub(super) fn key_params(key: &StoredKey) -> Vec<&(dyn ToSql + Sync)> {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&key.h, &key.pk];
    if let Some(sk) = &key.sk {
        params.push(sk);
    }
    params
}

/// `INSERT ... VALUES (key, size, item)` for a table, with the given conflict clause.
pub(super) fn insert_sql(def: &TableDef, on_conflict: &str) -> String {
    let (cols, vals, n) = match &def.key.range {
        Some(r) => (
            "h, pk, sk",
            format!("$1, {}, {}", param(def.key.hash.ty, 2), param(r.ty, 3)),
            4,
        ),
        None => ("h, pk", format!("$1, {}", param(def.key.hash.ty, 2)), 3),
    };
    format!(
        "INSERT INTO {t} ({cols}, size, item) VALUES ({vals}, ${n}, ${m}) {on_conflict}",
        t = def.pg_table,
        m = n + 1
    )
}

pub(super) fn conflict_target(def: &TableDef) -> &'static str {
    if def.key.range.is_some() {
        "(h, pk, sk)"
    } else {
        "(h, pk)"
    }
}

/// A row's `item` and `size` columns (the first two) as a [`StoredItem`].
pub(super) fn stored_item(row: &tokio_postgres::Row) -> StoredItem {
    let text: JsonText = row.get(0);
    let size: i32 = row.get(1);
    StoredItem::new(text.0.to_owned(), size.max(0) as usize)
}

/// An item column read as text, parsed into the item.
pub(super) fn decode(text: JsonText<'_>) -> Result<Item, ApiError> {
    item_from_storage_text(text.0)
}

impl Storage {
    /// Removes the item with `key`, if any: one statement.
    pub async fn delete_item(&self, def: &TableDef, key: &StoredKey) -> Result<(), ApiError> {
        if super::streams::stream_enabled(def) {
            // The stream record needs the old item and must commit with the write.
            self.modify_item(def, key, |_| Ok(Write::Delete)).await?;
            return Ok(());
        }
        let conn = self.conn().await?;
        let sql = format!("DELETE FROM {} WHERE {}", def.pg_table, key_predicate(def));
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        conn.execute(&stmt, &key_params(key))
            .await
            .map_err(db_error)?;
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
        let conn = self.conn().await?;
        let select = format!(
            "SELECT item FROM {} WHERE {} FOR UPDATE",
            def.pg_table,
            key_predicate(def)
        );
        let insert = insert_sql(def, "ON CONFLICT DO NOTHING");
        let update = format!(
            "UPDATE {} SET size = ${s}, item = ${j} WHERE {}",
            def.pg_table,
            key_predicate(def),
            s = if def.key.range.is_some() { 4 } else { 3 },
            j = if def.key.range.is_some() { 5 } else { 4 },
        );
        let delete = format!("DELETE FROM {} WHERE {}", def.pg_table, key_predicate(def));
        let select = conn.prepare_cached(&select).await.map_err(db_error)?;
        // A stream record is appended after the write, so COMMIT cannot travel with the write.
        let streamed = super::streams::stream_enabled(def);
        let mut tx = PipelinedTx::new(conn);
        loop {
            let old = tx
                .begin_with(&select, &key_params(key))
                .await
                .map_err(db_error)?
                .map(|r| decode(r.get(0)))
                .transpose()?;
            let write = decide(old.as_ref())?;
            let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>);
            let size;
            let text;
            let json;
            match &write {
                Write::Put(item) => {
                    size = item_size(item) as i32;
                    text = item_to_storage_text(item);
                    json = JsonText(&text);
                    let mut p = key_params(key);
                    p.push(&size);
                    p.push(&json);
                    (sql, params) = (if old.is_some() { &update } else { &insert }, p);
                }
                Write::Delete if old.is_some() => (sql, params) = (&delete, key_params(key)),
                Write::Delete | Write::Keep => {
                    if streamed {
                        append_stream_change(tx.conn(), def, old.as_ref(), &write).await?;
                    }
                    tx.commit().await.map_err(db_error)?;
                    return Ok((old, write));
                }
            }
            let stmt = tx.conn().prepare_cached(sql).await.map_err(db_error)?;
            let written = if streamed {
                let n = tx.conn().execute(&stmt, &params).await.map_err(db_error)?;
                if n > 0 {
                    append_stream_change(tx.conn(), def, old.as_ref(), &write).await?;
                    tx.commit().await.map_err(db_error)?;
                } else {
                    tx.rollback().await.map_err(db_error)?;
                }
                n
            } else {
                tx.execute_and_commit(&stmt, &params)
                    .await
                    .map_err(db_error)?
            };
            if written == 0 {
                // The item was created concurrently (the INSERT found it): look again, now
                // that it exists.
                continue;
            }
            return Ok((old, write));
        }
    }
}

/// Appends the stream record of a single-item write, last before COMMIT (the append takes the
/// stream shard's lock, see `streams`).
async fn append_stream_change(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    old: Option<&Item>,
    write: &Write,
) -> Result<(), ApiError> {
    let new = match write {
        Write::Put(item) => Some(item),
        Write::Delete => None,
        Write::Keep => old,
    };
    super::streams::append_change(conn, def, old, new, super::streams::ChangeIdentity::Client).await
}

// Batches (BatchGetItem, BatchWriteItem): the keys of one table travel as array parameters that
// `unnest` turns back into rows, so a batch costs one statement per table and per kind of work,
// not one per key. Measured on PostgreSQL 15 for 100 point reads of 1 KB items: 1.2 ms as one
// unnest join, against 2.8-4.0 ms for 100 pipelined prepared point reads and 8-11 ms one after
// the other. The join runs as a nested loop over the primary key index, in array order.

/// One table's share of a BatchWriteItem, ready for SQL.
pub struct TableBatch<'a> {
    /// The table written.
    pub def: &'a TableDef,
    /// The writes, in request order: a key, and the item to store under it (`None`: delete).
    /// No two writes may share a key (the caller rejects such batches, as DynamoDB does).
    pub writes: Vec<(StoredKey, Option<&'a Item>)>,
    /// Whether to return the item each write replaced or removed (capacity is charged on it).
    pub read_old: bool,
    /// Partitions whose item collection to measure after the writes (only `h` and `pk` are
    /// used): ItemCollectionMetrics for tables with local secondary indexes.
    pub collections: Vec<StoredKey>,
}

/// What a [`TableBatch`] found and left.
pub struct TableBatchResult {
    /// Per write, in request order, the item before it (empty unless `read_old`).
    pub old: Vec<Option<Item>>,
    /// Per entry of `collections`: the bytes of the item collection after the writes, counting
    /// each item once for the table and once for each local secondary index it is in.
    pub collection_bytes: Vec<i64>,
}

/// How often a batch write is retried after PostgreSQL broke a deadlock or a serialization
/// conflict by aborting it; the batch is idempotent, so running it again is safe.
const BATCH_WRITE_ATTEMPTS: usize = 5;

/// The key columns of several keys as arrays, one element per key, in one order.
pub(super) struct KeyArrays {
    h: Vec<i32>,
    pk: Vec<KeyParam>,
    sk: Vec<KeyParam>,
}

impl KeyArrays {
    pub(super) fn new<'k>(keys: impl Iterator<Item = &'k StoredKey>) -> KeyArrays {
        let mut arrays = KeyArrays {
            h: Vec::new(),
            pk: Vec::new(),
            sk: Vec::new(),
        };
        for key in keys {
            arrays.h.push(key.h);
            arrays.pk.push(key.pk.clone());
            if let Some(sk) = &key.sk {
                arrays.sk.push(sk.clone());
            }
        }
        arrays
    }

    /// The parameters of [`unnest_keys`]: `h`, `pk`, and `sk` when the table has a sort key.
    pub(super) fn params(&self, with_sort_key: bool) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.h, &self.pk];
        if with_sort_key {
            params.push(&self.sk);
        }
        params
    }
}

/// The SQL for array parameter `$n` holding key column values of type `ty`.
fn array_param(ty: ScalarType, n: usize) -> String {
    match ty {
        ScalarType::N => format!("${n}::text[]::numeric[]"),
        ScalarType::S | ScalarType::B => format!("${n}::bytea[]"),
    }
}

/// `unnest($1, $2[, $3]) WITH ORDINALITY AS k(h, pk[, sk], ord)`: the keys of [`KeyArrays`] as
/// rows, numbered from 1 in array order. `with_sort_key` false gives partitions only.
pub(super) fn unnest_keys(def: &TableDef, with_sort_key: bool) -> String {
    match (&def.key.range, with_sort_key) {
        (Some(r), true) => format!(
            "unnest($1::int4[], {}, {}) WITH ORDINALITY AS k(h, pk, sk, ord)",
            array_param(def.key.hash.ty, 2),
            array_param(r.ty, 3)
        ),
        _ => format!(
            "unnest($1::int4[], {}) WITH ORDINALITY AS k(h, pk, ord)",
            array_param(def.key.hash.ty, 2)
        ),
    }
}

/// Reads the items of the keys in [`KeyArrays`] (BatchGetItem, batched GetItems): the columns
/// of [`stored_item`], then the key's position (`ord`, from 1); absent items have no row.
pub(super) fn read_keys_sql(def: &TableDef) -> String {
    format!(
        "SELECT t.item, t.size, k.ord FROM {} JOIN {} t ON {}",
        unnest_keys(def, true),
        def.pg_table,
        join_keys(def)
    )
}

/// Inserts or replaces the rows of [`KeyArrays`] (in its parameters' order) with sizes
/// `$n` and items `$n+1` (`n` is [`upsert_rows_params`]), where `filter` allows, then
/// `returning`: the multi-row upsert of BatchWriteItem and of batched PutItems.
pub(super) fn upsert_rows_sql(def: &TableDef, filter: &str, returning: &str) -> String {
    let n = upsert_rows_params(def);
    format!(
        "INSERT INTO {t} ({cols}, size, item) \
         SELECT * FROM unnest($1::int4[], {pk}{sk}, ${n}::int4[], ${m}::jsonb[]) {filter} \
         {replace}{returning}",
        t = def.pg_table,
        cols = if def.key.range.is_some() {
            "h, pk, sk"
        } else {
            "h, pk"
        },
        pk = array_param(def.key.hash.ty, 2),
        sk = def
            .key
            .range
            .as_ref()
            .map(|r| format!(", {}", array_param(r.ty, 3)))
            .unwrap_or_default(),
        m = n + 1,
        replace = replace_on_conflict(def),
    )
}

/// The conflict clause of an upsert: a row already there for the key is replaced.
pub(super) fn replace_on_conflict(def: &TableDef) -> String {
    format!(
        "ON CONFLICT {} DO UPDATE SET size = excluded.size, item = excluded.item",
        conflict_target(def)
    )
}

/// The number of [`upsert_rows_sql`]'s sizes parameter: the one after the key arrays.
pub(super) fn upsert_rows_params(def: &TableDef) -> usize {
    if def.key.range.is_some() {
        4
    } else {
        3
    }
}

/// The join of the item relation `t` with the rows of [`unnest_keys`] on the whole key.
pub(super) fn join_keys(def: &TableDef) -> &'static str {
    if def.key.range.is_some() {
        "t.h = k.h AND t.pk = k.pk AND t.sk = k.sk"
    } else {
        "t.h = k.h AND t.pk = k.pk"
    }
}

/// The advisory lock class of item locks taken by batch writes and transactions (`bwit` in
/// ASCII), the first key of `pg_advisory_xact_lock(int, int)`, so that they never meet the locks
/// of other features. Both take these locks in ascending key order before any row lock, so the
/// two queue on shared items instead of deadlocking (see `transact`).
pub(super) const ITEM_LOCK_CLASS: i32 = 0x6277_6974;

/// The second advisory lock key for an item: a stable 32-bit hash (FNV-1a) of its table and
/// key. Two items that share a hash merely wait for each other.
pub(super) fn item_lock_key(def: &TableDef, key: &StoredKey) -> i32 {
    fn bytes(p: &KeyParam) -> &[u8] {
        match p {
            KeyParam::Bytes(b) => b,
            KeyParam::Text(t) => t.as_bytes(),
        }
    }
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |data: &[u8]| {
        for byte in data.iter().chain(&[0xff]) {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(def.pg_table.as_bytes());
    feed(&key.h.to_be_bytes());
    feed(bytes(&key.pk));
    if let Some(sk) = &key.sk {
        feed(bytes(sk));
    }
    hash as i32
}

/// Whether PostgreSQL aborted the transaction to break a deadlock or a serialization conflict,
/// after which running it again is the documented remedy.
pub(super) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// The SQL parameters of one table's batch write, built before the transaction starts.
struct PreparedBatch {
    /// Every key written, in request order.
    all: KeyArrays,
    /// The keys and stored items of the puts.
    puts: KeyArrays,
    put_sizes: Vec<i32>,
    put_items: Vec<serde_json::Value>,
    /// The keys of the deletes.
    deletes: KeyArrays,
    /// The partitions to measure.
    collections: KeyArrays,
}

/// The statements of one table's batch write; those with nothing to do are left out.
struct BatchStatements {
    /// Locks and reads the current items: when the caller needs them, or for stream records.
    read_old: Option<tokio_postgres::Statement>,
    /// The upsert; with `read_old`, it returns per item whether it was new.
    put: Option<tokio_postgres::Statement>,
    /// The delete; with `read_old`, it returns one row per item it removed.
    delete: Option<tokio_postgres::Statement>,
    measure: Option<tokio_postgres::Statement>,
}

/// How one attempt at a batch write ended, short of a database error.
enum Attempt {
    /// Done: the results per table.
    Done(Vec<TableBatchResult>),
    /// An item appeared between the read of the old items and the write (a single-item write
    /// that takes no item lock): the old items are wrong, so the attempt is rolled back.
    Raced,
}

impl Storage {
    /// The items with `keys`, for several tables at once: one statement per table, pipelined on
    /// one connection. Returns, per table and in the order of its keys, the item or `None`.
    /// Keys may repeat (each gets the item).
    pub async fn batch_get_items(
        &self,
        reads: &[(&TableDef, &[StoredKey])],
    ) -> Result<Vec<Vec<Option<Item>>>, ApiError> {
        let conn = self.conn().await?;
        let sqls: Vec<String> = reads.iter().map(|(def, _)| read_keys_sql(def)).collect();
        let statements =
            futures_util::future::try_join_all(sqls.iter().map(|sql| conn.prepare_cached(sql)))
                .await
                .map_err(db_error)?;
        let arrays: Vec<KeyArrays> = reads
            .iter()
            .map(|(_, keys)| KeyArrays::new(keys.iter()))
            .collect();
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = reads
            .iter()
            .zip(&arrays)
            .map(|((def, _), a)| a.params(def.key.range.is_some()))
            .collect();
        let rows = futures_util::future::try_join_all(
            statements
                .iter()
                .zip(&params)
                .map(|(stmt, p)| conn.query(stmt, p)),
        )
        .await
        .map_err(db_error)?;
        reads
            .iter()
            .zip(rows)
            .map(|((_, keys), rows)| {
                let mut items: Vec<Option<Item>> = vec![None; keys.len()];
                for row in rows {
                    *slot(&mut items, row.get(2))? = Some(stored_item(&row).into_item()?);
                }
                Ok(items)
            })
            .collect()
    }

    /// Applies a BatchWriteItem: every put and delete of every table in one transaction, so a
    /// batch is all or nothing even when the database fails half way.
    ///
    /// Pipelined in one round trip: the batch first takes a transaction-level advisory lock per
    /// item, in one global order (see [`item_lock_key`]), so that two batches touching the same
    /// items queue instead of deadlocking, absent items included (a row lock cannot be taken on
    /// a row that does not exist yet). Then per table: a `SELECT ... FOR UPDATE` of the current
    /// items when the caller needs them or the table has a stream, one multi-row upsert for the
    /// puts, one multi-row delete for the deletes, and a query of the item collection sizes when
    /// asked. Stream records are appended last, before COMMIT, as for single-item writes.
    ///
    /// The attempt is run again when PostgreSQL aborts it (a deadlock with a transaction that
    /// takes no item locks) and when an item was created between the read and the write by a
    /// single-item write, which takes no item lock: the upsert reports how many items it
    /// replaced, and that must match the items read.
    pub async fn batch_write(
        &self,
        tables: &[TableBatch<'_>],
    ) -> Result<Vec<TableBatchResult>, ApiError> {
        let mut conn = self.conn().await?;
        let mut lock_keys: Vec<i32> = tables
            .iter()
            .flat_map(|t| t.writes.iter().map(|(key, _)| item_lock_key(t.def, key)))
            .collect();
        lock_keys.sort_unstable();
        lock_keys.dedup();
        let lock = conn
            .prepare_cached("SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k")
            .await
            .map_err(db_error)?;

        let mut prepared: Vec<(PreparedBatch, BatchStatements)> = Vec::with_capacity(tables.len());
        for batch in tables {
            let def = batch.def;
            let put_items: Vec<&Item> = batch.writes.iter().filter_map(|(_, item)| *item).collect();
            let p = PreparedBatch {
                all: KeyArrays::new(batch.writes.iter().map(|(key, _)| key)),
                puts: KeyArrays::new(
                    batch
                        .writes
                        .iter()
                        .filter(|(_, item)| item.is_some())
                        .map(|(key, _)| key),
                ),
                put_sizes: put_items
                    .iter()
                    .map(|item| item_size(item) as i32)
                    .collect(),
                put_items: put_items.iter().map(|item| item_to_storage(item)).collect(),
                deletes: KeyArrays::new(
                    batch
                        .writes
                        .iter()
                        .filter(|(_, item)| item.is_none())
                        .map(|(key, _)| key),
                ),
                collections: KeyArrays::new(batch.collections.iter()),
            };
            let read_old = batch.read_old || super::streams::stream_enabled(def);
            let read_old_sql = format!(
                "SELECT k.ord, t.item FROM {} JOIN {} t ON {} FOR UPDATE OF t",
                unnest_keys(def, true),
                def.pg_table,
                join_keys(def)
            );
            let put_sql = upsert_rows_sql(
                def,
                "",
                // Whether each row is new: an upserted row has xmax set exactly when it replaced
                // one (PostgreSQL records the conflict's row lock there).
                if read_old {
                    " RETURNING (xmax = 0)"
                } else {
                    ""
                },
            );
            let delete_sql = format!(
                "DELETE FROM {} t USING {} WHERE {}{}",
                def.pg_table,
                unnest_keys(def, true),
                join_keys(def),
                if read_old { " RETURNING k.ord" } else { "" }
            );
            let measure_sql = {
                let mut sum = String::from("coalesce(sum(t.size), 0)");
                for index in &def.local_indexes {
                    sum.push_str(&format!(
                        " + coalesce(sum(t.size) FILTER (WHERE {}), 0)",
                        super::layout::index_predicate(index)
                    ));
                }
                format!(
                    "SELECT k.ord, ({sum})::int8 FROM {} LEFT JOIN {} t ON t.h = k.h AND t.pk = k.pk \
                     GROUP BY k.ord",
                    unnest_keys(def, false),
                    def.pg_table
                )
            };
            let prepare = |sql: String, wanted: bool| {
                let conn = &conn;
                async move {
                    if wanted {
                        conn.prepare_cached(&sql).await.map(Some)
                    } else {
                        Ok(None)
                    }
                }
            };
            let (read_old, put, delete, measure) = futures_util::future::try_join4(
                prepare(read_old_sql, read_old),
                prepare(put_sql, !p.put_items.is_empty()),
                prepare(delete_sql, !p.deletes.h.is_empty()),
                prepare(measure_sql, !p.collections.h.is_empty()),
            )
            .await
            .map_err(db_error)?;
            prepared.push((
                p,
                BatchStatements {
                    read_old,
                    put,
                    delete,
                    measure,
                },
            ));
        }

        // Every statement with its parameters, in the order they are sent.
        let mut sends: Vec<(&tokio_postgres::Statement, Vec<&(dyn ToSql + Sync)>)> =
            vec![(&lock, vec![&ITEM_LOCK_CLASS, &lock_keys])];
        for (batch, (p, s)) in tables.iter().zip(&prepared) {
            let ranged = batch.def.key.range.is_some();
            if let Some(read_old) = &s.read_old {
                sends.push((read_old, p.all.params(ranged)));
            }
            if let Some(put) = &s.put {
                let mut params = p.puts.params(ranged);
                params.push(&p.put_sizes);
                params.push(&p.put_items);
                sends.push((put, params));
            }
            if let Some(delete) = &s.delete {
                sends.push((delete, p.deletes.params(ranged)));
            }
            if let Some(measure) = &s.measure {
                sends.push((measure, p.collections.params(false)));
            }
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = attempt < BATCH_WRITE_ATTEMPTS;
            let tx = conn.transaction().await.map_err(db_error)?;
            let sent = futures_util::future::try_join_all(
                sends.iter().map(|(stmt, params)| tx.query(*stmt, params)),
            );
            let replies = match sent.await {
                Ok(replies) => replies,
                Err(e) if retry && is_retryable(&e) => {
                    tracing::debug!("batch write retried: {e}");
                    continue;
                }
                Err(e) => return Err(db_error(e)),
            };
            let results = match batch_results(tables, &prepared, replies)? {
                Attempt::Done(results) => results,
                Attempt::Raced if retry => {
                    tracing::debug!("batch write retried: an item appeared meanwhile");
                    continue;
                }
                Attempt::Raced => {
                    return Err(ApiError::internal(
                        "batch write kept racing single-item writes",
                    ))
                }
            };
            let changes: Vec<super::streams::Change> = tables
                .iter()
                .zip(&results)
                .filter(|(batch, _)| super::streams::stream_enabled(batch.def))
                .flat_map(|(batch, result)| {
                    batch.writes.iter().zip(&result.old).map(|((_, new), old)| {
                        super::streams::Change {
                            def: batch.def,
                            old: old.as_ref(),
                            new: *new,
                            identity: super::streams::ChangeIdentity::Client,
                        }
                    })
                })
                .collect();
            if !changes.is_empty() {
                // Last before COMMIT: the append takes the stream shards' locks.
                super::streams::append_changes(&tx, &changes).await?;
            }
            match tx.commit().await {
                Ok(()) => {}
                Err(e) if retry && is_retryable(&e) => continue,
                Err(e) => return Err(db_error(e)),
            }
            return Ok(results
                .into_iter()
                .zip(tables)
                .map(|(mut result, batch)| {
                    if !batch.read_old {
                        result.old.clear();
                    }
                    result
                })
                .collect());
        }
    }
}

/// Reads the replies of one batch write attempt back per table (the first reply is the item
/// locks'), and checks that the writes met the items that were read.
fn batch_results(
    tables: &[TableBatch<'_>],
    prepared: &[(PreparedBatch, BatchStatements)],
    replies: Vec<Vec<tokio_postgres::Row>>,
) -> Result<Attempt, ApiError> {
    let mut replies = replies.into_iter().skip(1);
    let mut results = Vec::with_capacity(tables.len());
    for (batch, (_, s)) in tables.iter().zip(prepared) {
        let mut next = || {
            replies
                .next()
                .ok_or_else(|| ApiError::internal("batch write lost a reply"))
        };
        let mut old: Vec<Option<Item>> = Vec::new();
        if s.read_old.is_some() {
            old = vec![None; batch.writes.len()];
            for row in next()? {
                *slot(&mut old, row.get(0))? = Some(decode(row.get(1))?);
            }
        }
        if s.put.is_some() {
            let replaced = next()?.iter().filter(|row| !row.get::<_, bool>(0)).count();
            let read = batch
                .writes
                .iter()
                .zip(&old)
                .filter(|((_, new), old)| new.is_some() && old.is_some())
                .count();
            if s.read_old.is_some() && replaced != read {
                return Ok(Attempt::Raced);
            }
        }
        if s.delete.is_some() {
            let removed = next()?.len();
            let read = batch
                .writes
                .iter()
                .zip(&old)
                .filter(|((_, new), old)| new.is_none() && old.is_some())
                .count();
            if s.read_old.is_some() && removed != read {
                return Ok(Attempt::Raced);
            }
        }
        let mut collection_bytes = vec![0i64; batch.collections.len()];
        if s.measure.is_some() {
            for row in next()? {
                *slot(&mut collection_bytes, row.get(0))? = row.get(1);
            }
        }
        results.push(TableBatchResult {
            old,
            collection_bytes,
        });
    }
    Ok(Attempt::Done(results))
}

/// The element of `list` that `WITH ORDINALITY` number `ord` (counted from 1) stands for.
pub(super) fn slot<T>(list: &mut [T], ord: i64) -> Result<&mut T, ApiError> {
    usize::try_from(ord - 1)
        .ok()
        .and_then(|i| list.get_mut(i))
        .ok_or_else(|| ApiError::internal("a batch statement returned an unknown position"))
}
