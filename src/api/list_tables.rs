//! ListTables: table names in order, a page at a time.

use serde_json::{Map, Value};

use crate::error::ApiResult;

use super::common::str_member;
use super::Ctx;

/// DynamoDB's page size when Limit is absent (and its maximum).
const DEFAULT_LIMIT: i64 = 100;

/// Runs ListTables.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let limit = input
        .get("Limit")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_LIMIT);
    let start = str_member(&input, "ExclusiveStartTableName");
    // One more than asked tells whether another page exists.
    let mut names = ctx.storage.list_tables(start, limit + 1).await?;
    let more = names.len() as i64 > limit;
    names.truncate(limit as usize);
    let mut out = Map::new();
    if more {
        if let Some(last) = names.last() {
            out.insert("LastEvaluatedTableName".into(), last.clone().into());
        }
    }
    out.insert("TableNames".into(), names.into());
    Ok(Value::Object(out))
}
