//! DeleteTable: drop a table and its items, unless deletion protection is on.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};

use super::common::{resolve_table_for_control, str_member};
use super::describe::describe_table;
use super::Ctx;

/// Runs DeleteTable.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let name = str_member(&input, "TableName").unwrap_or_default();
    let def = resolve_table_for_control(ctx, name).await?;
    if def.deletion_protection {
        return Err(ApiError::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    // The description is taken before the drop, so it still reports the items it held.
    let mut description = describe_table(ctx, &def, None).await?;
    if !ctx.storage.drop_table(&def).await? {
        return Err(ApiError::not_found(format!(
            "Requested resource not found: Table: {} not found",
            def.name
        )));
    }
    description["TableStatus"] = "DELETING".into();
    Ok(json!({ "TableDescription": description }))
}
