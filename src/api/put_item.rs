//! PutItem: create or replace an item, optionally under a condition, optionally returning the
//! item it replaced.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::{item_from_json, item_to_json};
use crate::storage::items::Write;

use super::capacity::write_consumed;
use super::common::{check_item, enum_member, resolve_table, str_member};
use super::Ctx;

/// Runs PutItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    // 1. The item's values are valid DynamoDB values.
    let item = item_from_json(input.get("Item").unwrap_or(&Value::Null))?;
    // 2. PutItem returns only the old item, or nothing.
    let return_values = enum_member(&input, "ReturnValues", "NONE");
    if return_values != "NONE" && return_values != "ALL_OLD" {
        return Err(ApiError::validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    let condition = super::conditions::WriteCondition::parse(&input)?;
    // 3. The table exists and the item fits its keys and limits.
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let key = check_item(&def, &item)?;

    // 4. Write: one statement when nothing needs the old item, else a locked read-modify-write.
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    let old = if condition.is_none() && return_values == "NONE" && rcc == "NONE" {
        ctx.storage.put_item(&def, &key, &item).await?;
        None
    } else {
        let (old, _) = ctx
            .storage
            .modify_item(&def, &key, |old| {
                condition.check(old, &input)?;
                Ok(Write::Put(item.clone()))
            })
            .await?;
        old
    };

    let mut out = Map::new();
    if return_values == "ALL_OLD" {
        if let Some(old) = &old {
            out.insert("Attributes".into(), item_to_json(old));
        }
    }
    if let Some(cc) = write_consumed(&def, old.as_ref(), Some(&item)).report(&def, rcc) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Ok(Value::Object(out))
}
