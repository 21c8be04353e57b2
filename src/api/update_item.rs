//! UpdateItem: change some attributes of an item (creating it when absent, as DynamoDB does),
//! optionally under a condition, optionally returning attributes from before or after.
//!
//! The current item is read and the update applied inside one transaction that holds the row
//! lock, so concurrent updates of one item never lose each other's changes.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::expr::{UpdateExpr, UpdateOutcome};
use crate::model::{item_from_json, item_size, item_to_json, Item};
use crate::storage::items::Write;

use super::capacity::write_consumed;
use super::common::{
    check_item, check_updated_index_keys, enum_member, parse_key, resolve_table, str_member,
    MAX_ITEM_BYTES,
};
use super::expressions::{check_mix, Expressions, UPDATE};
use super::{conditions, Ctx};

/// Runs UpdateItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    // The request's own rules, before the table is looked at.
    check_mix(&input, &UPDATE)?;
    item_from_json(input.get("Key").unwrap_or(&Value::Null))?;
    let expressions = Expressions::parse(&input, &UPDATE, None)?;
    let return_values = enum_member(&input, "ReturnValues", "NONE");

    // The table exists and the key matches it.
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let (key_item, key) = parse_key(&def, input.get("Key").unwrap_or(&Value::Null))?;
    let key_names: Vec<&str> = def.key.attrs().map(|a| a.name.as_str()).collect();

    // Read, check, apply and write under the row lock. The condition is checked before the
    // update is applied, so a failing condition wins over an update of a key attribute (as
    // DynamoDB Local answers).
    let condition = expressions.condition.as_ref();
    let mut outcome = None;
    let (old, write) = ctx
        .storage
        .modify_item(&def, &key, |old| {
            conditions::check(condition, old, &input)?;
            let Some(update) = &expressions.update else {
                // Nothing to change: the item is written as it is (or created from its key).
                outcome = None;
                return Ok(Write::Put(old.cloned().unwrap_or_else(|| key_item.clone())));
            };
            let Some(result) = apply_update(update, old, &key_item, &key_names)? else {
                outcome = None;
                return Ok(Write::Keep);
            };
            check_updated_index_keys(&def, &result.item)?;
            check_item(&def, &result.item)?;
            let new = result.item.clone();
            outcome = Some(result);
            Ok(Write::Put(new))
        })
        .await?;
    let new = match &write {
        Write::Put(item) => Some(item),
        _ => None,
    };

    let mut out = Map::new();
    let attributes: Option<Item> = match (return_values, &old, new, &outcome) {
        ("ALL_OLD", Some(old), _, _) => Some(old.clone()),
        ("ALL_NEW", _, Some(new), _) => Some(new.clone()),
        ("UPDATED_OLD", Some(old), _, Some(o)) => Some(o.updated_attributes(old)),
        ("UPDATED_NEW", _, Some(new), Some(o)) => Some(o.updated_attributes(new)),
        _ => None,
    };
    if let Some(attributes) = attributes.filter(|a| !a.is_empty()) {
        out.insert("Attributes".into(), item_to_json(&attributes));
    }
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    if let Some(cc) = write_consumed(&def, old.as_ref(), new).report(&def, rcc) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Ok(Value::Object(out))
}

/// Applies `update` to the item as it is (`old`, or a new item made of its key, `key_item`) and
/// checks the 400 KB limit: what UpdateItem and a TransactWriteItems Update both do once their
/// condition holds. `None` when the update leaves nothing to write: an update that only removes
/// creates no item in the service. The caller checks the result against the table's schema.
pub fn apply_update(
    update: &UpdateExpr,
    old: Option<&Item>,
    key_item: &Item,
    key_names: &[&str],
) -> ApiResult<Option<UpdateOutcome>> {
    if old.is_none() && update.only_removes() {
        return Ok(None);
    }
    let base = old.cloned().unwrap_or_else(|| key_item.clone());
    let result = update.apply(&base, key_names)?;
    if item_size(&result.item) > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    Ok(Some(result))
}
