//! PutItem: create or replace an item, optionally under a condition, optionally returning the
//! item it replaced.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::{item_from_json, item_size, item_to_json};
use crate::storage::items::Write;

use super::capacity::write_consumed;
use super::common::{check_item, enum_member, resolve_table, str_member, MAX_ITEM_BYTES};
use super::expressions::{check_mix, Expressions, CONDITIONAL_WRITE};
use super::{conditions, Ctx};

/// Runs PutItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    // The request's own rules, before the table is looked at.
    check_mix(&input, &CONDITIONAL_WRITE)?;
    let item = item_from_json(input.get("Item").unwrap_or(&Value::Null))?;
    let return_values = enum_member(&input, "ReturnValues", "NONE");
    if return_values != "NONE" && return_values != "ALL_OLD" {
        return Err(ApiError::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ));
    }
    if item_size(&item) > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    let expressions = Expressions::parse(&input, &CONDITIONAL_WRITE, None)?;

    // The table exists and the item fits its keys.
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let key = check_item(&def, &item)?;

    // One statement when nothing needs the old item; else a locked read-modify-write.
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    let condition = expressions.condition.as_ref();
    let old = if condition.is_none() && return_values == "NONE" && rcc == "NONE" {
        ctx.storage.put_item(&def, &key, &item).await?;
        None
    } else {
        let (old, _) = ctx
            .storage
            .modify_item(&def, &key, |old| {
                conditions::check(condition, old, &input)?;
                Ok(Write::Put(item.clone()))
            })
            .await?;
        old
    };

    let mut out = Map::new();
    if let (true, Some(old)) = (return_values == "ALL_OLD", &old) {
        out.insert("Attributes".into(), item_to_json(old));
    }
    if let Some(cc) = write_consumed(&def, old.as_ref(), Some(&item)).report(&def, rcc) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Ok(Value::Object(out))
}
