//! The TTL sweeper: deletes expired items of every table with TTL enabled, in batches, each
//! batch one transaction with its REMOVE stream records (see `storage::ttl`).

use tokio::sync::watch;

use crate::error::ApiError;
use crate::storage::Storage;

/// Items deleted per transaction.
pub const BATCH: i64 = 100;
/// Most items deleted from one table in one pass, so that one large table does not starve the
/// others; the rest waits for the next pass.
pub const MAX_PER_TABLE: usize = 10_000;

/// One pass over every TTL-enabled table. Stops early when asked to stop.
pub async fn sweep(storage: Storage, stopped: watch::Receiver<bool>) -> Result<(), ApiError> {
    for def in storage.ttl_tables().await? {
        if !storage.ensure_ttl_index(&def).await? {
            // Another instance is building the index, or the table is gone.
            continue;
        }
        let mut deleted = 0usize;
        while deleted < MAX_PER_TABLE && !*stopped.borrow() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let n = storage.delete_expired(&def, now, BATCH).await?;
            deleted += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        if deleted > 0 {
            tracing::debug!(table = %def.name, deleted, "ttl: expired items deleted");
            crate::metrics::global()
                .counter(
                    "dynamo_pg_ttl_deleted_items_total",
                    "Expired items deleted by the TTL sweeper.",
                    &[],
                )
                .add(deleted as u64);
        }
        if *stopped.borrow() {
            break;
        }
    }
    Ok(())
}
