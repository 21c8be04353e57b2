//! GetRecords: the records of a shard from an iterator's position on, and the iterator for what
//! follows. An open shard always hands back a next iterator (there may be more later); a closed
//! shard stops handing one out once it has been read to its end.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::storage::streams::sequence_number;

use super::super::common::str_member;
use super::super::Ctx;
use super::get_shard_iterator::trimmed;
use super::{java_date, now_ms, Iterator, ITERATOR_LIFETIME_MS};

/// Records per call when Limit is absent, and its maximum.
const MAX_LIMIT: i64 = 1000;

/// Runs GetRecords.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let text = str_member(&input, "ShardIterator").unwrap_or_default();
    let secret = ctx.storage.iterator_secret().await?;
    let Some((iterator, arn)) = Iterator::decode(secret, text) else {
        return Err(ApiError::validation("Invalid ShardIterator"));
    };
    let limit = input
        .get("Limit")
        .and_then(Value::as_i64)
        .unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Limit should be less than or equal to {MAX_LIMIT}"
        )));
    }
    let now = now_ms();
    if now - iterator.issued_ms > ITERATOR_LIFETIME_MS {
        return Err(ApiError::new(
            ErrorKind::ExpiredIterator,
            format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_LIFETIME_MS} milliseconds.",
                java_date(iterator.issued_ms),
                java_date(now)
            ),
        ));
    }
    let Some(read) = ctx
        .storage
        .read_shard(iterator.stream_id, iterator.shard, iterator.position, limit)
        .await?
    else {
        return Err(ApiError::not_found(
            "Requested resource not found: Stream not found",
        ));
    };
    if iterator.position <= read.trimmed_seq {
        return Err(trimmed());
    }
    let mut records = Vec::with_capacity(read.records.len());
    for (seq, text) in &read.records {
        let mut record: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::internal(format!("corrupt stream record {seq}: {e}")))?;
        record["awsRegion"] = ctx.region.clone().into();
        record["dynamodb"]["SequenceNumber"] = sequence_number(iterator.shard, *seq).into();
        records.push(record);
    }
    let next = read
        .records
        .last()
        .map(|(seq, _)| seq + 1)
        .unwrap_or(iterator.position);
    let mut out = Map::new();
    out.insert("Records".into(), records.into());
    let finished = read.ending_seq.is_some_and(|end| next > end);
    if !finished {
        let next_iterator = Iterator {
            position: next,
            issued_ms: now,
            ..iterator
        };
        out.insert(
            "NextShardIterator".into(),
            next_iterator.encode(secret, arn)?.into(),
        );
    }
    Ok(json!(out))
}
