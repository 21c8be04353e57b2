//! DescribeStream: a stream's status, view type, key schema and shards (with their sequence
//! number ranges), the shards a page at a time.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::storage::streams::sequence_number;

use super::super::common::str_member;
use super::super::Ctx;
use super::{find_stream, stream_arn};

/// Shards per page when Limit is absent, and its maximum.
const MAX_LIMIT: i64 = 100;

/// Runs DescribeStream.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let limit = input
        .get("Limit")
        .and_then(Value::as_i64)
        .unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Limit cannot be greater than the maximum: {MAX_LIMIT}"
        )));
    }
    let arn = str_member(&input, "StreamArn").unwrap_or_default();
    let Some(stream) = find_stream(ctx, arn).await? else {
        return Err(ApiError::not_found(format!(
            "Requested resource not found: Stream: {arn} not found"
        )));
    };
    let mut shards = ctx.storage.stream_shards(stream.stream_id).await?;
    // Our shards never split, so no shard has children.
    if input.get("ShardFilter").is_some() {
        shards.clear();
    }
    if let Some(start) = str_member(&input, "ExclusiveStartShardId") {
        // An unknown shard id starts from the beginning, as DynamoDB Local does.
        if let Some(at) = shards.iter().position(|s| s.shard_id == start) {
            shards.drain(..=at);
        }
    }
    let more = shards.len() as i64 > limit;
    shards.truncate(limit as usize);
    let list: Vec<Value> = shards
        .iter()
        .map(|s| {
            let mut range = Map::new();
            range.insert(
                "StartingSequenceNumber".into(),
                sequence_number(s.shard, 1).into(),
            );
            if let Some(end) = s.ending_seq {
                range.insert(
                    "EndingSequenceNumber".into(),
                    sequence_number(s.shard, end).into(),
                );
            }
            json!({"ShardId": s.shard_id, "SequenceNumberRange": Value::Object(range)})
        })
        .collect();
    let mut description = Map::new();
    description.insert(
        "StreamArn".into(),
        stream_arn(ctx, &stream.table_name, &stream.label).into(),
    );
    description.insert("StreamLabel".into(), stream.label.clone().into());
    let status = if stream.closed_at.is_some() {
        "DISABLED"
    } else {
        "ENABLED"
    };
    description.insert("StreamStatus".into(), status.into());
    description.insert("StreamViewType".into(), stream.view_type.clone().into());
    description.insert("CreationRequestDateTime".into(), stream.created_at.into());
    description.insert("TableName".into(), stream.table_name.clone().into());
    description.insert("KeySchema".into(), stream.key_schema.clone());
    description.insert("Shards".into(), list.into());
    if more {
        if let Some(last) = shards.last() {
            description.insert("LastEvaluatedShardId".into(), last.shard_id.clone().into());
        }
    }
    Ok(json!({ "StreamDescription": Value::Object(description) }))
}
