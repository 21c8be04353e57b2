//! ListStreams: the streams of this account's tables (all of them, or one table's), enabled
//! ones and disabled ones still within their 24 hours, a page at a time in ARN order.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};

use super::super::common::str_member;
use super::super::Ctx;
use super::{parse_stream_arn, stream_arn};

/// Page size when Limit is absent, and its maximum.
const MAX_LIMIT: i64 = 100;

/// Runs ListStreams.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let limit = input
        .get("Limit")
        .and_then(Value::as_i64)
        .unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Limit cannot be greater than the maximum allowed size: {MAX_LIMIT}"
        )));
    }
    let table = str_member(&input, "TableName");
    let after = match str_member(&input, "ExclusiveStartStreamArn") {
        None => None,
        Some(arn) => match parse_stream_arn(ctx, arn) {
            Some(position) => Some(position),
            // Not a stream ARN of ours: nothing sorts after it (DynamoDB Local answers the same).
            None => return Ok(json!({ "Streams": [] })),
        },
    };
    // One more than asked tells whether another page exists.
    let mut streams = ctx.storage.list_streams(table, after, limit + 1).await?;
    let more = streams.len() as i64 > limit;
    streams.truncate(limit as usize);
    let list: Vec<Value> = streams
        .iter()
        .map(|s| {
            json!({
                "StreamArn": stream_arn(ctx, &s.table_name, &s.label),
                "TableName": s.table_name,
                "StreamLabel": s.label,
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Streams".into(), list.into());
    if more {
        if let Some(last) = streams.last() {
            out.insert(
                "LastEvaluatedStreamArn".into(),
                stream_arn(ctx, &last.table_name, &last.label).into(),
            );
        }
    }
    Ok(Value::Object(out))
}
