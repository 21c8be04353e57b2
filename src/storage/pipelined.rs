//! A read-modify-write transaction in two round trips instead of four: BEGIN travels with the
//! first statement (the locking read) and COMMIT with the last (the write).
//!
//! tokio-postgres pipelines requests that are in flight together on one connection, so sending
//! `BEGIN` and the `SELECT ... FOR UPDATE` side by side costs one trip to PostgreSQL and one
//! wake-up of its backend, and the same for the write and `COMMIT`. The statements still run
//! one after the other, in order, each with its own result: if the write fails, PostgreSQL
//! turns the `COMMIT` behind it into a rollback.
//!
//! A transaction left open (an error returned early, or the request dropped because its
//! client went away) is rolled back when this value is dropped: the `ROLLBACK` is queued on the
//! connection before it goes back to the pool, so the next user finds it clean.

use futures_util::future::try_join;
use futures_util::FutureExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement};

/// A pooled connection running a pipelined transaction.
pub(super) struct PipelinedTx {
    conn: deadpool_postgres::Object,
    /// A BEGIN was sent and no COMMIT or ROLLBACK after it.
    open: bool,
}

impl PipelinedTx {
    /// Wraps a pooled connection; no transaction is open yet.
    pub(super) fn new(conn: deadpool_postgres::Object) -> PipelinedTx {
        PipelinedTx { conn, open: false }
    }

    /// The connection, for statements inside the transaction.
    pub(super) fn conn(&self) -> &deadpool_postgres::Object {
        &self.conn
    }

    /// Starts a transaction with `stmt` as its first statement, sent together; the row it
    /// returns, if any.
    pub(super) async fn begin_with(
        &mut self,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        self.open = true;
        let (_, row) = try_join(
            self.conn.batch_execute("BEGIN"),
            self.conn.query_opt(stmt, params),
        )
        .await?;
        Ok(row)
    }

    /// Runs `stmt` and commits, sent together; the rows `stmt` affected. Whatever the outcome,
    /// the transaction is over.
    pub(super) async fn execute_and_commit(
        &mut self,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        let result = try_join(
            self.conn.execute(stmt, params),
            self.conn.batch_execute("COMMIT"),
        )
        .await;
        self.open = false;
        result.map(|(n, _)| n)
    }

    /// Commits.
    pub(super) async fn commit(&mut self) -> Result<(), Error> {
        let result = self.conn.batch_execute("COMMIT").await;
        self.open = false;
        result
    }

    /// Rolls back.
    pub(super) async fn rollback(&mut self) -> Result<(), Error> {
        let result = self.conn.batch_execute("ROLLBACK").await;
        self.open = false;
        result
    }
}

impl Drop for PipelinedTx {
    fn drop(&mut self) {
        if self.open {
            // One poll sends the request; its answer is not waited for (as tokio-postgres does
            // for a dropped Transaction). The connection runs it before anything sent later.
            let _ = self.conn.batch_execute("ROLLBACK").now_or_never();
        }
    }
}
