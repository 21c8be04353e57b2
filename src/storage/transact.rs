//! Transactions: TransactWriteItems and TransactGetItems in PostgreSQL.
//!
//! # Writes: lock everything, decide, write, in one PostgreSQL transaction
//!
//! [`Storage::transact_write`] runs a whole TransactWriteItems as one READ COMMITTED transaction
//! in three pipelined steps:
//!
//! 1. **Lock.** `lock_timeout` is set for the transaction; the ClientRequestToken, if any, is
//!    claimed (see below); then an advisory lock is taken per item (the same lock class and key
//!    as BatchWriteItem's, see `items::item_lock_key`), in ascending key order; then every
//!    item's row is locked, in (table, key) order, and read.
//! 2. **Decide.** The caller sees every item as it is under those locks and returns one
//!    [`Write`] per item, or an error that cancels the transaction (TransactionCanceledException
//!    with its reasons).
//! 3. **Write** all items, append their stream records, and COMMIT.
//!
//! Why each lock:
//!
//! - A row that exists is locked like `SELECT ... FOR UPDATE`, the lock single-item writes
//!   take, so a transaction and a PutItem/UpdateItem/DeleteItem on one item serialize.
//! - A row that does not exist cannot be locked, and an advisory lock alone would not stop a
//!   single-item write (which takes none) from creating it between our read and our commit: a
//!   ConditionCheck `attribute_not_exists` would then have been decided on a state that another
//!   client saw change before we committed, which breaks serializability (a reader could see
//!   the other write and not ours, though ours must come first). So an absent item is
//!   locked by inserting a **placeholder row** (`size` -1, an empty item) with `INSERT ... ON
//!   CONFLICT DO UPDATE ... WHERE false`, which either inserts it or, when the row exists, locks
//!   it as `FOR UPDATE` does, atomically. Until COMMIT the placeholder is invisible to everyone
//!   else, and any insert of that key (a conditional put's `INSERT ... ON CONFLICT DO NOTHING`,
//!   an unconditional upsert) waits for us. Before COMMIT every placeholder becomes the item
//!   written there or is deleted, so none is ever visible.
//! - Row locks are taken in one global order, but what really rules out deadlocks between
//!   transactions (and BatchWriteItem, which writes rows in request order) is the advisory lock:
//!   every multi-item writer takes all of its advisory locks, in ascending order, before its
//!   first row lock, so two of them that share an item queue on its advisory lock and never
//!   hold rows the other needs. Single-item writes hold one row at a time and the stream shard
//!   counters are always locked last (see `streams`), so no cycle remains. PostgreSQL's
//!   deadlock detector still backs this up: a transaction it aborts is run again.
//! - A lock that is not granted within [`LOCK_TIMEOUT`] ends the attempt with the item(s) it
//!   waited for: DynamoDB's TransactionConflict. DynamoDB fails at once when another
//!   transaction holds an item; waiting a little instead lets most contending transactions
//!   through.
//!
//! Reads under these rules are serializable: every writer holds a lock on each item it read or
//! wrote (present or absent) until it commits, so commit order is a serial order, and any
//! snapshot sees a prefix of it. That is what [`Storage::transact_get`] reads: one REPEATABLE
//! READ snapshot.
//!
//! # Idempotency: ClientRequestToken
//!
//! The token is inserted into `dynamo_transaction_tokens` (migration 0003) with a hash of the
//! request, first thing in the transaction, so it commits with the writes or not at all. A
//! repeat finds the row: the same hash is [`TxWriteOutcome::Repeated`] (nothing is applied), a
//! different one [`TxWriteOutcome::TokenMismatch`]. A repeat that arrives while the first one
//! is still running waits on the row's uniqueness until that one finishes (or, after
//! [`LOCK_TIMEOUT`], gives [`TxWriteOutcome::TokenInProgress`]). A cancelled transaction rolls
//! its token back, so running it again evaluates it again. Rows expire after
//! [`TOKEN_WINDOW_SECS`]: the next request with the token takes the row over, and every so
//! often a transaction deletes a batch of expired rows.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use futures_util::future::{join_all, try_join_all};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row, Statement};

use crate::error::ApiError;
use crate::model::size::item_size;
use crate::model::storage::item_to_storage;
use crate::model::Item;
use crate::schema::TableDef;

use super::items::{
    conflict_target, decode, is_retryable, item_lock_key, key_params, key_predicate, param, Write,
    ITEM_LOCK_CLASS,
};
use super::layout::index_predicate;
use super::streams::{append_changes, stream_enabled, Change, ChangeIdentity};
use super::{db_error, KeyParam, Storage, StoredKey, DEFAULT_NAMESPACE};

/// How long a transaction waits for any one lock (an item another writer holds, or a repeat of
/// its token still running) before it ends with a conflict.
pub const LOCK_TIMEOUT: &str = "2s";

/// How long a ClientRequestToken is remembered: DynamoDB's idempotency window, 10 minutes.
pub const TOKEN_WINDOW_SECS: f64 = 600.0;

/// How often a transaction is run again after PostgreSQL aborted it to break a deadlock (or a
/// token it waited for turned out to be fresh): nothing was applied, so running it again is
/// safe.
const ATTEMPTS: usize = 5;

/// The `size` of a placeholder row: a lock on an absent item, never committed.
const PLACEHOLDER_SIZE: i32 = -1;

/// Expired tokens are deleted by one transaction in this many that carry a token.
const TOKEN_SWEEP_EVERY: u64 = 64;

/// Expired tokens deleted per sweep.
const TOKEN_SWEEP_BATCH: i64 = 1000;

/// Transactions that carried a token, to pace the sweep of expired tokens.
static TOKEN_TRANSACTIONS: AtomicU64 = AtomicU64::new(0);

/// One item of a transaction: its table and primary key.
pub struct TxItem<'a> {
    /// The table.
    pub def: &'a TableDef,
    /// The item's key (for an item collection to measure, only `h` and `pk` are used).
    pub key: StoredKey,
}

/// A ClientRequestToken and the request it stands for.
pub struct TxToken<'a> {
    /// The token as the client sent it.
    pub token: &'a str,
    /// A digest of the request's actions: equal digests are the same request.
    pub request_hash: &'a [u8],
}

/// A TransactWriteItems, ready for SQL.
pub struct TxWrite<'a> {
    /// The items, in action order; no two share a key.
    pub items: Vec<TxItem<'a>>,
    /// The idempotency token, if the request has one.
    pub token: Option<TxToken<'a>>,
    /// Item collections (partitions of tables with local secondary indexes) whose size to
    /// measure after the writes, for ItemCollectionMetrics.
    pub collections: Vec<TxItem<'a>>,
}

/// How a [`Storage::transact_write`] ended, when it did not fail.
#[derive(Debug)]
pub enum TxWriteOutcome {
    /// Written and committed.
    Committed {
        /// Per item, as it was before.
        old: Vec<Option<Item>>,
        /// Per item, what was done.
        writes: Vec<Write>,
        /// Per collection asked for: its bytes after the writes, each item counted once for
        /// the table and once for each local secondary index it is in.
        collection_bytes: Vec<i64>,
    },
    /// A lock was not granted in time: the positions of the items it was for (empty when
    /// unknown). Nothing was written.
    Conflict(Vec<usize>),
    /// The token was used by this same request within the window: nothing was written again.
    Repeated,
    /// The token was used by a different request within the window.
    TokenMismatch,
    /// The token's first request is still running.
    TokenInProgress,
}

/// What one run of the transaction came to.
enum Attempt {
    /// Finished, one way or the other.
    Done(TxWriteOutcome),
    /// Aborted by PostgreSQL (deadlock, serialization) or raced by a token: run it again.
    Again,
}

/// The statements for one table's items.
struct TableStatements {
    lock: Statement,
    read: Statement,
    put: Statement,
    delete: Statement,
    measure: Option<Statement>,
}

/// What each statement of a pipeline was for, to read its answer.
#[derive(Clone, Copy)]
enum Step {
    Setup,
    Token,
    /// The advisory lock of `lock_keys[n]`.
    Advisory(usize),
    /// The row lock of item `n`.
    Lock(usize),
    /// The read of item `n`.
    Read(usize),
    /// The write of item `n`.
    Write(usize),
    /// The measure of collection `n`.
    Measure(usize),
}

/// The bytes a key column compares by, for the lock order (any fixed total order will do).
fn param_bytes(p: &KeyParam) -> &[u8] {
    match p {
        KeyParam::Bytes(b) => b,
        KeyParam::Text(t) => t.as_bytes(),
    }
}

/// The global order rows are locked in: table, then key.
fn row_order(a: &TxItem<'_>, b: &TxItem<'_>) -> Ordering {
    a.def
        .pg_table
        .cmp(&b.def.pg_table)
        .then(a.key.h.cmp(&b.key.h))
        .then_with(|| param_bytes(&a.key.pk).cmp(param_bytes(&b.key.pk)))
        .then_with(|| {
            let (sa, sb) = (a.key.sk.as_ref(), b.key.sk.as_ref());
            sa.map(param_bytes).cmp(&sb.map(param_bytes))
        })
}

/// The advisory lock keys of `items`, ascending, each with the positions of the items it
/// stands for (several when two keys share a hash).
fn lock_keys(items: &[TxItem<'_>]) -> Vec<(i32, Vec<usize>)> {
    let mut keys: Vec<(i32, usize)> = items
        .iter()
        .enumerate()
        .map(|(n, item)| (item_lock_key(item.def, &item.key), n))
        .collect();
    keys.sort_unstable();
    let mut grouped: Vec<(i32, Vec<usize>)> = Vec::new();
    for (key, n) in keys {
        match grouped.last_mut() {
            Some((last, positions)) if *last == key => positions.push(n),
            _ => grouped.push((key, vec![n])),
        }
    }
    grouped
}

/// `SELECT (bytes of the table's items and their local index entries)` for one item
/// collection, as BatchWriteItem measures it.
fn measure_sql(def: &TableDef) -> String {
    let mut sum = String::from("coalesce(sum(size), 0)");
    for index in &def.local_indexes {
        sum.push_str(&format!(
            " + coalesce(sum(size) FILTER (WHERE {}), 0)",
            index_predicate(index)
        ));
    }
    format!(
        "SELECT ({sum})::int8 FROM {} WHERE h = $1 AND pk = {}",
        def.pg_table,
        param(def.key.hash.ty, 2)
    )
}

/// The claim of a ClientRequestToken: insert it, or take over an expired row. Answers one row:
/// (true, hash) when claimed, (false, stored hash) when a fresh row exists (now locked by us),
/// and no row when that row committed after this statement's snapshot (look again).
const CLAIM_TOKEN_SQL: &str = "WITH claimed AS (\
       INSERT INTO dynamo_transaction_tokens AS t (namespace, token, request_hash, created_at) \
       VALUES ($1, $2, $3, now()) \
       ON CONFLICT (namespace, token) DO UPDATE \
         SET request_hash = excluded.request_hash, created_at = excluded.created_at \
         WHERE t.created_at < excluded.created_at - make_interval(secs => $4) \
       RETURNING request_hash) \
     SELECT true, request_hash FROM claimed \
     UNION ALL \
     SELECT false, request_hash FROM dynamo_transaction_tokens \
     WHERE namespace = $1 AND token = $2 AND NOT EXISTS (SELECT 1 FROM claimed)";

/// Deletes a batch of expired tokens, skipping rows a transaction is claiming.
const SWEEP_TOKENS_SQL: &str =
    "DELETE FROM dynamo_transaction_tokens WHERE (namespace, token) IN (\
       SELECT namespace, token FROM dynamo_transaction_tokens \
       WHERE created_at < now() - make_interval(secs => $1) \
       LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// How a PostgreSQL error in a transaction maps onto an outcome: a lock wait that timed out is
/// a conflict on what `step` waited for; a deadlock or serialization failure runs the
/// transaction again; a dropped table is DynamoDB's missing table; anything else is a 500.
fn classify(
    e: tokio_postgres::Error,
    step: Step,
    lock_keys: &[(i32, Vec<usize>)],
) -> Result<Attempt, ApiError> {
    if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        return Ok(Attempt::Done(match step {
            Step::Token => TxWriteOutcome::TokenInProgress,
            Step::Advisory(n) => TxWriteOutcome::Conflict(
                lock_keys.get(n).map(|(_, p)| p.clone()).unwrap_or_default(),
            ),
            Step::Lock(n) | Step::Read(n) | Step::Write(n) => TxWriteOutcome::Conflict(vec![n]),
            Step::Setup | Step::Measure(_) => TxWriteOutcome::Conflict(Vec::new()),
        }));
    }
    if is_retryable(&e) {
        tracing::debug!("transaction run again: {e}");
        return Ok(Attempt::Again);
    }
    Err(table_gone_or_db_error(e))
}

/// A table dropped while the request ran is DynamoDB's missing table; other failures are 500s.
fn table_gone_or_db_error(e: tokio_postgres::Error) -> ApiError {
    if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
        ApiError::not_found("Requested resource not found")
    } else {
        db_error(e)
    }
}

/// The answers of a pipeline, or how its first failure maps (see [`classify`]).
fn answers(
    steps: &[Step],
    results: Vec<Result<Vec<Row>, tokio_postgres::Error>>,
    lock_keys: &[(i32, Vec<usize>)],
) -> Result<Result<Vec<Vec<Row>>, Attempt>, ApiError> {
    let mut rows = Vec::with_capacity(results.len());
    for (step, result) in steps.iter().zip(results) {
        match result {
            Ok(r) => rows.push(r),
            // The first failure is the cause; the statements after it only report the aborted
            // transaction.
            Err(e) => return classify(e, *step, lock_keys).map(Err),
        }
    }
    Ok(Ok(rows))
}

/// An item read inside a transaction: a placeholder (our own lock on an absent item) reads as
/// no item.
fn read_item(rows: &[Row]) -> Result<Option<Item>, ApiError> {
    match rows.first() {
        Some(row) if row.get::<_, i32>(0) != PLACEHOLDER_SIZE => decode(row.get(1)).map(Some),
        _ => Ok(None),
    }
}

impl Storage {
    /// Prepares (or finds cached) the statements for the tables of `items`.
    async fn table_statements(
        conn: &deadpool_postgres::Object,
        items: &[&TxItem<'_>],
        with_measure: bool,
    ) -> Result<HashMap<String, TableStatements>, ApiError> {
        let mut defs: Vec<&TableDef> = Vec::new();
        for item in items {
            if !defs.iter().any(|d| d.pg_table == item.def.pg_table) {
                defs.push(item.def);
            }
        }
        let prepared = try_join_all(defs.iter().map(|def| async move {
            let (pk_cols, key_vals, next) = match &def.key.range {
                Some(r) => (
                    "h, pk, sk",
                    format!("$1, {}, {}", param(def.key.hash.ty, 2), param(r.ty, 3)),
                    4,
                ),
                None => ("h, pk", format!("$1, {}", param(def.key.hash.ty, 2)), 3),
            };
            let lock = format!(
                "INSERT INTO {t} AS t ({pk_cols}, size, item) VALUES ({key_vals}, {PLACEHOLDER_SIZE}, '{{}}'::jsonb) \
                 ON CONFLICT {target} DO UPDATE SET size = t.size WHERE false",
                t = def.pg_table,
                target = conflict_target(def),
            );
            let read = format!("SELECT size, item FROM {} WHERE {}", def.pg_table, key_predicate(def));
            let put = format!(
                "UPDATE {} SET size = ${next}, item = ${} WHERE {}",
                def.pg_table,
                next + 1,
                key_predicate(def)
            );
            let delete = format!("DELETE FROM {} WHERE {}", def.pg_table, key_predicate(def));
            let wants_measure = with_measure && !def.local_indexes.is_empty();
            let (lock, read, put, delete, measure) = futures_util::future::try_join5(
                conn.prepare_cached(&lock),
                conn.prepare_cached(&read),
                conn.prepare_cached(&put),
                conn.prepare_cached(&delete),
                async {
                    if wants_measure {
                        conn.prepare_cached(&measure_sql(def)).await.map(Some)
                    } else {
                        Ok(None)
                    }
                },
            )
            .await?;
            Ok::<_, tokio_postgres::Error>((
                def.pg_table.clone(),
                TableStatements { lock, read, put, delete, measure },
            ))
        }))
        .await
        .map_err(table_gone_or_db_error)?;
        Ok(prepared.into_iter().collect())
    }

    /// Runs a TransactWriteItems (see the module documentation): locks every item, hands them
    /// (in item order) to `decide`, applies its [`Write`]s (one per item) and commits. An error
    /// from `decide` rolls everything back and is returned as is; `decide` may run more than
    /// once when PostgreSQL aborts an attempt.
    pub async fn transact_write<F>(
        &self,
        request: &TxWrite<'_>,
        mut decide: F,
    ) -> Result<TxWriteOutcome, ApiError>
    where
        F: FnMut(&[Option<Item>]) -> Result<Vec<Write>, ApiError>,
    {
        let mut conn = self.conn().await?;
        let all: Vec<&TxItem<'_>> = request.items.iter().chain(&request.collections).collect();
        let tables = Self::table_statements(&conn, &all, !request.collections.is_empty()).await?;
        let (setup, claim, advisory) = futures_util::future::try_join3(
            conn.prepare_cached("SELECT set_config('lock_timeout', $1, true)"),
            conn.prepare_cached(CLAIM_TOKEN_SQL),
            conn.prepare_cached("SELECT pg_advisory_xact_lock($1::int4, $2::int4)"),
        )
        .await
        .map_err(db_error)?;
        let statements = Shared {
            setup,
            claim,
            advisory,
            tables,
        };
        let mut row_order_positions: Vec<usize> = (0..request.items.len()).collect();
        row_order_positions.sort_by(|a, b| row_order(&request.items[*a], &request.items[*b]));
        let lock_keys = lock_keys(&request.items);

        for attempt in 1..=ATTEMPTS {
            let run = Run {
                request,
                statements: &statements,
                row_order: &row_order_positions,
                lock_keys: &lock_keys,
            };
            match run.attempt(&mut conn, &mut decide).await? {
                Attempt::Done(outcome) => {
                    if request.token.is_some()
                        && matches!(outcome, TxWriteOutcome::Committed { .. })
                    {
                        sweep_tokens(&conn).await;
                    }
                    return Ok(outcome);
                }
                Attempt::Again => {
                    tokio::time::sleep(std::time::Duration::from_millis(2 * attempt as u64)).await;
                }
            }
        }
        Ok(TxWriteOutcome::Conflict(Vec::new()))
    }

    /// Reads the items of a TransactGetItems (in item order) from one snapshot: a REPEATABLE
    /// READ, read-only transaction whose reads are pipelined. Under the locking rules of
    /// [`Storage::transact_write`] and the single-item writes, the snapshot shows every
    /// transaction wholly or not at all.
    pub async fn transact_get(&self, items: &[TxItem<'_>]) -> Result<Vec<Option<Item>>, ApiError> {
        let mut conn = self.conn().await?;
        let refs: Vec<&TxItem<'_>> = items.iter().collect();
        let tables = Self::table_statements(&conn, &refs, false).await?;
        let read = |item: &TxItem<'_>| -> Result<&Statement, ApiError> {
            tables
                .get(&item.def.pg_table)
                .map(|s| &s.read)
                .ok_or_else(|| ApiError::internal("transaction statement missing"))
        };
        let statements: Vec<&Statement> = items.iter().map(read).collect::<Result<_, _>>()?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            items.iter().map(|i| key_params(&i.key)).collect();
        let rows = if items.len() <= 1 {
            // One statement is one snapshot already.
            try_join_all(
                statements
                    .iter()
                    .zip(&params)
                    .map(|(s, p)| conn.query(*s, p)),
            )
            .await
            .map_err(table_gone_or_db_error)?
        } else {
            let tx = conn
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(db_error)?;
            let rows = try_join_all(statements.iter().zip(&params).map(|(s, p)| tx.query(*s, p)))
                .await
                .map_err(table_gone_or_db_error)?;
            tx.commit().await.map_err(db_error)?;
            rows
        };
        rows.iter().map(|r| read_item(r)).collect()
    }
}

/// The statements every attempt uses.
struct Shared {
    setup: Statement,
    claim: Statement,
    advisory: Statement,
    tables: HashMap<String, TableStatements>,
}

/// One transaction's fixed inputs, for its attempts.
struct Run<'r, 'a> {
    request: &'r TxWrite<'a>,
    statements: &'r Shared,
    /// Item positions in row lock order.
    row_order: &'r [usize],
    lock_keys: &'r [(i32, Vec<usize>)],
}

impl Run<'_, '_> {
    fn table(&self, def: &TableDef) -> Result<&TableStatements, ApiError> {
        self.statements
            .tables
            .get(&def.pg_table)
            .ok_or_else(|| ApiError::internal("transaction statement missing"))
    }

    /// One run of the transaction: lock and read, decide, write, commit.
    async fn attempt<F>(
        &self,
        conn: &mut deadpool_postgres::Object,
        decide: &mut F,
    ) -> Result<Attempt, ApiError>
    where
        F: FnMut(&[Option<Item>]) -> Result<Vec<Write>, ApiError>,
    {
        let items = &self.request.items;
        let tx = conn.transaction().await.map_err(db_error)?;

        // 1. Lock and read, in one round trip.
        let timeout = LOCK_TIMEOUT;
        let namespace = DEFAULT_NAMESPACE;
        let window = TOKEN_WINDOW_SECS;
        let mut steps: Vec<Step> = vec![Step::Setup];
        let mut sends: Vec<(&Statement, Vec<&(dyn ToSql + Sync)>)> =
            vec![(&self.statements.setup, vec![&timeout])];
        if let Some(token) = &self.request.token {
            steps.push(Step::Token);
            sends.push((
                &self.statements.claim,
                vec![&namespace, &token.token, &token.request_hash, &window],
            ));
        }
        for (n, (key, _)) in self.lock_keys.iter().enumerate() {
            steps.push(Step::Advisory(n));
            sends.push((&self.statements.advisory, vec![&ITEM_LOCK_CLASS, key]));
        }
        for &n in self.row_order {
            steps.push(Step::Lock(n));
            sends.push((&self.table(items[n].def)?.lock, key_params(&items[n].key)));
        }
        for (n, item) in items.iter().enumerate() {
            steps.push(Step::Read(n));
            sends.push((&self.table(item.def)?.read, key_params(&item.key)));
        }
        let results = join_all(sends.iter().map(|(s, p)| tx.query(*s, p))).await;
        let rows = match answers(&steps, results, self.lock_keys)? {
            Ok(rows) => rows,
            Err(attempt) => return Ok(attempt),
        };
        let mut old: Vec<Option<Item>> = Vec::with_capacity(items.len());
        for (step, rows) in steps.iter().zip(&rows) {
            match step {
                Step::Token => match rows.first() {
                    Some(row) if row.get::<_, bool>(0) => {}
                    Some(row) => {
                        let stored: &[u8] = row.get(1);
                        let same = self
                            .request
                            .token
                            .as_ref()
                            .is_some_and(|t| t.request_hash == stored);
                        return Ok(Attempt::Done(if same {
                            TxWriteOutcome::Repeated
                        } else {
                            TxWriteOutcome::TokenMismatch
                        }));
                    }
                    // Its first request committed while we waited: look again.
                    None => return Ok(Attempt::Again),
                },
                Step::Read(_) => old.push(read_item(rows)?),
                _ => {}
            }
        }

        // 2. Decide.
        let writes = decide(&old)?;
        if writes.len() != items.len() {
            return Err(ApiError::internal(
                "a transaction decided on the wrong number of items",
            ));
        }

        // 3. Write, measure, record the changes, commit.
        let mut steps: Vec<Step> = Vec::new();
        let mut sends: Vec<(&Statement, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
        let stored: Vec<Option<(i32, serde_json::Value)>> = writes
            .iter()
            .map(|w| match w {
                Write::Put(item) => Some((item_size(item) as i32, item_to_storage(item))),
                _ => None,
            })
            .collect();
        for (n, item) in items.iter().enumerate() {
            let table = self.table(item.def)?;
            let mut params = key_params(&item.key);
            let statement = match (&writes[n], &stored[n]) {
                (Write::Put(_), Some((size, json))) => {
                    params.push(size);
                    params.push(json);
                    &table.put
                }
                (Write::Delete, _) => &table.delete,
                // Nothing to change; our placeholder, if any, goes.
                (Write::Keep, _) if old[n].is_none() => &table.delete,
                _ => continue,
            };
            steps.push(Step::Write(n));
            sends.push((statement, params));
        }
        for (n, collection) in self.request.collections.iter().enumerate() {
            let Some(measure) = &self.table(collection.def)?.measure else {
                continue;
            };
            steps.push(Step::Measure(n));
            sends.push((measure, vec![&collection.key.h, &collection.key.pk]));
        }
        let results = join_all(sends.iter().map(|(s, p)| tx.query(*s, p))).await;
        let rows = match answers(&steps, results, self.lock_keys)? {
            Ok(rows) => rows,
            Err(attempt) => return Ok(attempt),
        };
        let mut collection_bytes = vec![0i64; self.request.collections.len()];
        for (step, rows) in steps.iter().zip(&rows) {
            if let (Step::Measure(n), Some(row)) = (step, rows.first()) {
                collection_bytes[*n] = row.get(0);
            }
        }
        let changes: Vec<Change<'_>> = items
            .iter()
            .zip(&writes)
            .zip(&old)
            .filter(|((item, _), _)| stream_enabled(item.def))
            .map(|((item, write), old)| Change {
                def: item.def,
                old: old.as_ref(),
                new: match write {
                    Write::Put(new) => Some(new),
                    Write::Delete => None,
                    Write::Keep => old.as_ref(),
                },
                identity: ChangeIdentity::Client,
            })
            .collect();
        if !changes.is_empty() {
            // Last before COMMIT: the append takes the stream shards' locks (see streams).
            append_changes(&tx, &changes).await?;
        }
        match tx.commit().await {
            Ok(()) => Ok(Attempt::Done(TxWriteOutcome::Committed {
                old,
                writes,
                collection_bytes,
            })),
            Err(e) if is_retryable(&e) => Ok(Attempt::Again),
            Err(e) => Err(db_error(e)),
        }
    }
}

/// Now and then, deletes a batch of expired tokens (on the connection, outside any
/// transaction). A failure only delays the cleanup.
async fn sweep_tokens(conn: &deadpool_postgres::Object) {
    if !TOKEN_TRANSACTIONS
        .fetch_add(1, AtomicOrdering::Relaxed)
        .is_multiple_of(TOKEN_SWEEP_EVERY)
    {
        return;
    }
    let sweep = async {
        let stmt = conn.prepare_cached(SWEEP_TOKENS_SQL).await?;
        conn.execute(&stmt, &[&TOKEN_WINDOW_SECS, &TOKEN_SWEEP_BATCH])
            .await
    };
    if let Err(e) = sweep.await {
        tracing::warn!("expired transaction tokens not deleted: {e}");
    }
}
