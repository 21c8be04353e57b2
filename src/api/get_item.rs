//! GetItem: read one item by its key, optionally only some of its attributes.

use serde_json::Value;

use crate::error::ApiResult;
use crate::model::capacity::read_units;
use crate::model::item_to_json;
use crate::storage::StoredItem;

use super::capacity::Consumed;
use super::common::{enum_member, parse_key, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, GET};
use super::output::{ObjectWriter, Output};
use super::{projection, Ctx};

/// Runs GetItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Output> {
    check_mix(&input, &GET)?;
    crate::model::item_from_json(input.get("Key").unwrap_or(&Value::Null))?;
    let expressions = Expressions::parse(&input, &GET, None)?;
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let (_, key) = parse_key(&def, input.get("Key").unwrap_or(&Value::Null))?;
    let consistent = input
        .get("ConsistentRead")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let stored = ctx.storage.get_item(&def, &key).await?;
    let stored = match stored {
        Some(stored) if ctx.may_hide(&def) && ctx.hidden(&def, stored.item()?) => None,
        other => other,
    };

    // Capacity is charged on the whole item, whatever the projection returns.
    let size = stored.as_ref().map(StoredItem::size).unwrap_or(0);
    let mut out = ObjectWriter::with_capacity(size + 128);
    if let Some(stored) = stored {
        match expressions.projection.as_ref() {
            // The item as stored is the answer: its text goes out unparsed.
            None => out.text("Item", &stored.wire_text()?),
            Some(projection) => out.value(
                "Item",
                &item_to_json(&projection::apply(Some(projection), stored.into_item()?)),
            ),
        }
    }
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    if let Some(cc) = Consumed::table(read_units(size, consistent)).report(&def, rcc) {
        out.value("ConsumedCapacity", &cc);
    }
    Ok(out.finish())
}
