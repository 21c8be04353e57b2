//! DescribeTimeToLive: whether TTL is on for a table, and on which attribute.

use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::storage::ttl::enabled_ttl;

use super::common::{resolve_table_for_control, str_member};
use super::Ctx;

/// Runs DescribeTimeToLive. The service passes through ENABLING and DISABLING while it
/// (re)configures a table; here the change is complete when UpdateTimeToLive answers, as in
/// DynamoDB Local.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let def =
        resolve_table_for_control(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let description = match enabled_ttl(&def) {
        Some(ttl) => json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": ttl.attribute }),
        None => json!({ "TimeToLiveStatus": "DISABLED" }),
    };
    Ok(json!({ "TimeToLiveDescription": description }))
}
