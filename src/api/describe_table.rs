//! DescribeTable: the table's definition, status and (approximate, in DynamoDB) size.

use serde_json::{json, Value};

use crate::error::ApiResult;

use super::common::{resolve_table_for_control, str_member};
use super::describe::describe_table;
use super::Ctx;

/// Runs DescribeTable.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let def =
        resolve_table_for_control(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    Ok(json!({ "Table": describe_table(ctx, &def, None).await? }))
}
