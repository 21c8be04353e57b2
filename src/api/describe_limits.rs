//! DescribeLimits: the capacity limits DynamoDB applies by default to an account.

use serde_json::{json, Value};

use crate::error::ApiResult;

use super::Ctx;

/// Runs DescribeLimits.
pub async fn handle(_ctx: &Ctx, _input: Value) -> ApiResult<Value> {
    Ok(json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000
    }))
}
