//! The stream trimmer: keeps the change log in line with the catalog (streams of deleted tables
//! and disabled streams closed, enabled ones registered) and removes records older than
//! DynamoDB's 24-hour retention, and closed streams once that long has passed.

use crate::error::ApiError;
use crate::storage::streams::RETENTION_MS;
use crate::storage::Storage;

/// One pass.
pub async fn trim(storage: Storage) -> Result<(), ApiError> {
    let changed = storage.reconcile_streams().await?;
    if changed > 0 {
        tracing::debug!(changed, "streams reconciled with the catalog");
    }
    let removed = storage.trim_streams(RETENTION_MS).await?;
    if removed > 0 {
        tracing::debug!(removed, "stream records trimmed");
        crate::metrics::global()
            .counter(
                "dynamo_pg_stream_trimmed_records_total",
                "Stream records removed after the 24-hour retention period.",
                &[],
            )
            .add(removed);
    }
    Ok(())
}
