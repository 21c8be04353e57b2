//! GetShardIterator: a position in a shard to read from (its oldest record, just after its
//! newest, at or after a given sequence number), as a signed, expiring iterator.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::storage::streams::parse_sequence_number;

use super::super::common::str_member;
use super::super::Ctx;
use super::{find_stream, now_ms, stream_arn, Iterator};

fn invalid(msg: &str) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// The error for reading behind the trim horizon (the model's wording for the exception).
pub fn trimmed() -> ApiError {
    ApiError::new(
        ErrorKind::TrimmedDataAccess,
        "The operation attempted to read past the oldest stream record in a shard.",
    )
}

/// Runs GetShardIterator.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let kind = str_member(&input, "ShardIteratorType").unwrap_or_default();
    let sequence = str_member(&input, "SequenceNumber");
    let by_sequence = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
    match (by_sequence, sequence) {
        (true, None) => return Err(invalid("Invalid SequenceNumber")),
        (false, Some(_)) => {
            return Err(invalid(
                "SequenceNumber should not be passed for this iterator type",
            ))
        }
        _ => {}
    }
    let arn = str_member(&input, "StreamArn").unwrap_or_default();
    let Some(stream) = find_stream(ctx, arn).await? else {
        return Err(ApiError::not_found("Stream does not exist"));
    };
    let shard_id = str_member(&input, "ShardId").unwrap_or_default();
    let shards = ctx.storage.stream_shards(stream.stream_id).await?;
    let Some(shard) = shards.iter().find(|s| s.shard_id == shard_id) else {
        return Err(ApiError::not_found("Shard does not exist"));
    };
    let position = match (kind, sequence) {
        ("TRIM_HORIZON", _) => shard.trimmed_seq + 1,
        ("LATEST", _) => shard.ending_seq.unwrap_or(shard.last_seq) + 1,
        (_, Some(text)) => {
            let seq = match parse_sequence_number(text) {
                Some((k, n)) if k == shard.shard && n >= 1 => n,
                _ => return Err(ApiError::validation("Invalid SequenceNumber for the shard")),
            };
            let position = if kind == "AFTER_SEQUENCE_NUMBER" {
                seq + 1
            } else {
                seq
            };
            if position <= shard.trimmed_seq {
                return Err(trimmed());
            }
            position
        }
        _ => return Err(invalid("Invalid ShardIteratorType")),
    };
    let iterator = Iterator {
        stream_id: stream.stream_id,
        shard: shard.shard,
        position,
        issued_ms: now_ms(),
    };
    let secret = ctx.storage.iterator_secret().await?;
    let text = iterator.encode(secret, &stream_arn(ctx, &stream.table_name, &stream.label))?;
    Ok(json!({ "ShardIterator": text }))
}
