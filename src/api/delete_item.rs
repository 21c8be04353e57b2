//! DeleteItem: remove one item by its key, optionally under a condition, optionally returning it.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::item_to_json;
use crate::storage::items::Write;

use super::capacity::write_consumed;
use super::common::{enum_member, parse_key, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, CONDITIONAL_WRITE};
use super::{conditions, Ctx};

/// Runs DeleteItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    check_mix(&input, &CONDITIONAL_WRITE)?;
    crate::model::item_from_json(input.get("Key").unwrap_or(&Value::Null))?;
    let return_values = enum_member(&input, "ReturnValues", "NONE");
    if return_values != "NONE" && return_values != "ALL_OLD" {
        return Err(ApiError::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ));
    }
    let expressions = Expressions::parse(&input, &CONDITIONAL_WRITE, None)?;

    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let (_, key) = parse_key(&def, input.get("Key").unwrap_or(&Value::Null))?;
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");

    let condition = expressions.condition.as_ref();
    let old = if condition.is_none() && return_values == "NONE" && rcc == "NONE" {
        ctx.storage.delete_item(&def, &key).await?;
        None
    } else {
        let (old, _) = ctx
            .storage
            .modify_item(&def, &key, |old| {
                conditions::check(condition, old, &input)?;
                Ok(Write::Delete)
            })
            .await?;
        old
    };

    let mut out = Map::new();
    if let (true, Some(old)) = (return_values == "ALL_OLD", &old) {
        out.insert("Attributes".into(), item_to_json(old));
    }
    if let Some(cc) = write_consumed(&def, old.as_ref(), None).report(&def, rcc) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Ok(Value::Object(out))
}
