//! GetItem: a point read by primary key. Under load, the reads of one table that arrive while
//! others are running share one statement.
//!
//! A statement costs PostgreSQL far more than the row it returns (a wake-up, parse of the
//! protocol messages, executor start and end, a write back), so with many clients reading at
//! once the cheapest way to serve them is to read their keys together: one `unnest` join, as
//! BatchGetItem does. The batching adds no waiting of its own:
//!
//! - a read joins its table's queue; the first to find no one leading becomes the *leader*;
//! - the leader waits for its turn (at most [`PointReads`]' limit of statements run at once,
//!   and a pooled connection), then takes everything queued by then and runs it as one
//!   statement: one key (a lone reader, the usual case when idle) is a plain primary-key lookup;
//! - everyone gets their own item (or the error) back.
//!
//! So a lone request runs exactly as before (one statement, no delay), and requests that would
//! have waited for a connection anyway are answered by the statement they waited for. All the
//! keys of a statement are read in one snapshot taken after each request arrived and before
//! any is answered, so every read still sees every write acknowledged before it began.
//!
//! A leader that goes away (its client disconnected and the request future was dropped)
//! releases its queue and the keys it held; their readers see their reply channel close and
//! queue again. When more readers wait than one statement takes, the leader hands the lead to
//! one of those left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};
use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::schema::TableDef;

use super::items::{key_params, key_predicate, read_keys_sql, slot, stored_item, KeyArrays};
use super::{db_error, Storage, StoredItem, StoredKey};

/// Most keys read by one statement; more waiting readers are served by a next statement.
const MAX_KEYS: usize = 100;

/// What a waiting reader is told.
enum Reply {
    /// Its item, or why it could not be read.
    Read(Result<Option<StoredItem>, ApiError>),
    /// More readers queued than one statement takes: it leads the rest.
    Lead,
}

/// A reader waiting for its item.
struct Waiting {
    key: StoredKey,
    reply: oneshot::Sender<Reply>,
}

/// The readers of one table waiting for a statement.
#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Someone is leading: it will take `waiting` when its statement can run.
    led: bool,
}

/// The point-read queues of all tables, and the limit on statements run at once.
pub(super) struct PointReads {
    /// By the table's relation name.
    queues: Mutex<HashMap<String, Queue>>,
    /// `/metrics`: statements run and keys read; their ratio is the mean batch size.
    statements: crate::metrics::Counter,
    keys: crate::metrics::Counter,
    /// Point-read statements running at once. Fewer statements mean more keys per statement;
    /// a few per core keep PostgreSQL busy without queueing in it.
    running: Semaphore,
}

impl PointReads {
    /// Queues allowing `statements` point-read statements at once.
    pub(super) fn new(statements: usize) -> PointReads {
        let metrics = crate::metrics::global();
        PointReads {
            queues: Mutex::new(HashMap::new()),
            statements: metrics.counter(
                "dynamo_pg_point_read_statements_total",
                "Statements run for GetItem (each reads the keys of one or more requests).",
                &[],
            ),
            keys: metrics.counter(
                "dynamo_pg_point_read_keys_total",
                "Keys read for GetItem; divided by the statements, the mean batch size.",
                &[],
            ),
            running: Semaphore::new(statements.max(1)),
        }
    }

    /// Queues a reader; true if it must lead (it is the first, or it was handed the lead).
    fn join(&self, table: &str, waiting: Waiting, handed_lead: bool) -> bool {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = match queues.get_mut(table) {
            Some(queue) => queue,
            None => queues.entry(table.to_owned()).or_default(),
        };
        queue.waiting.push(waiting);
        !std::mem::replace(&mut queue.led, true) || handed_lead
    }

    /// Ends a leadership nobody will exercise: the waiting readers' reply senders are dropped,
    /// which tells them to queue again.
    fn abandon(&self, table: &str) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.remove(table);
    }
}

/// The leadership of one table's queue, released on drop if the leader goes away before it has
/// taken the queue: the readers left waiting then queue again.
struct Leadership<'a> {
    reads: &'a PointReads,
    table: &'a str,
    held: bool,
}

impl Leadership<'_> {
    /// Takes up to [`MAX_KEYS`] waiting readers. Leadership ends here; if readers remain, it
    /// passes to one of them.
    fn take(&mut self) -> Vec<Waiting> {
        self.held = false;
        let mut queues = self.reads.queues.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = queues.get_mut(self.table) else {
            return Vec::new();
        };
        let rest = if queue.waiting.len() > MAX_KEYS {
            queue.waiting.split_off(MAX_KEYS)
        } else {
            Vec::new()
        };
        let taken = std::mem::replace(&mut queue.waiting, rest);
        // Hand the lead on to a reader still there (one whose request was dropped cannot take
        // it). It queues again as the leader without waiting in between, so the lead is never
        // lost.
        while !queue.waiting.is_empty() {
            let next = queue.waiting.remove(0);
            if next.reply.send(Reply::Lead).is_ok() {
                return taken;
            }
        }
        queues.remove(self.table);
        taken
    }
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        if self.held {
            self.reads.abandon(self.table);
        }
    }
}

/// A reader's end of its reply channel. A reader handed the lead whose request is dropped
/// before it reads that message would leave its table's queue without a leader: its drop
/// abandons the queue instead.
struct Answer<'a> {
    reply: oneshot::Receiver<Reply>,
    reads: &'a PointReads,
    table: &'a str,
}

impl Drop for Answer<'_> {
    fn drop(&mut self) {
        if let Ok(Reply::Lead) = self.reply.try_recv() {
            self.reads.abandon(self.table);
        }
    }
}

impl Storage {
    /// The item with `key`, if any, as stored (parsed only if the caller needs it).
    pub async fn get_item(
        &self,
        def: &Arc<TableDef>,
        key: &StoredKey,
    ) -> Result<Option<StoredItem>, ApiError> {
        let mut handed_lead = false;
        loop {
            let (reply, answer) = oneshot::channel();
            let mut answer = Answer {
                reply: answer,
                reads: &self.point_reads,
                table: &def.pg_table,
            };
            let waiting = Waiting {
                key: key.clone(),
                reply,
            };
            if self.point_reads.join(&def.pg_table, waiting, handed_lead) {
                self.lead_point_reads(def).await;
            }
            handed_lead = match (&mut answer.reply).await {
                Ok(Reply::Read(result)) => return result,
                Ok(Reply::Lead) => true,
                // The leader went away with our key: queue again.
                Err(_) => false,
            };
        }
    }

    /// Leads `def`'s queue: waits for a turn and a connection, then reads what has queued.
    async fn lead_point_reads(&self, def: &Arc<TableDef>) {
        let mut leadership = Leadership {
            reads: &self.point_reads,
            table: &def.pg_table,
            held: true,
        };
        // The semaphore is never closed.
        let _turn = self.point_reads.running.acquire().await;
        let conn = self.conn().await;
        // Let the requests that arrived with this one (other connections' tasks ready in the
        // same turn of the scheduler) join before the keys are taken.
        tokio::task::yield_now().await;
        let waiting = leadership.take();
        if waiting.is_empty() {
            return;
        }
        self.point_reads.statements.inc();
        self.point_reads.keys.add(waiting.len() as u64);
        let result = match conn {
            Ok(conn) => read_keys(&conn, def, &waiting).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(items) => {
                for (w, item) in waiting.into_iter().zip(items) {
                    let _ = w.reply.send(Reply::Read(Ok(item)));
                }
            }
            Err(e) => {
                for w in waiting {
                    let _ = w.reply.send(Reply::Read(Err(e.clone())));
                }
            }
        }
    }
}

/// Reads the items of `waiting`'s keys, in order: a primary-key lookup for one key, an
/// `unnest` join for several.
async fn read_keys(
    conn: &deadpool_postgres::Object,
    def: &TableDef,
    waiting: &[Waiting],
) -> Result<Vec<Option<StoredItem>>, ApiError> {
    if let [one] = waiting {
        let sql = format!(
            "SELECT item, size FROM {} WHERE {}",
            def.pg_table,
            key_predicate(def)
        );
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        let row = conn
            .query_opt(&stmt, &key_params(&one.key))
            .await
            .map_err(db_error)?;
        return Ok(vec![row.map(|r| stored_item(&r))]);
    }
    let stmt = conn
        .prepare_cached(&read_keys_sql(def))
        .await
        .map_err(db_error)?;
    let arrays = KeyArrays::new(waiting.iter().map(|w| &w.key));
    let params: Vec<&(dyn ToSql + Sync)> = arrays.params(def.key.range.is_some());
    let rows = conn.query(&stmt, &params).await.map_err(db_error)?;
    let mut items: Vec<Option<StoredItem>> = (0..waiting.len()).map(|_| None).collect();
    for row in rows {
        *slot(&mut items, row.get(2))? = Some(stored_item(&row));
    }
    Ok(items)
}
