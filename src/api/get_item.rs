//! GetItem: read one item by its key, optionally only some of its attributes.

use serde_json::{Map, Value};

use crate::error::ApiResult;
use crate::model::capacity::read_units;
use crate::model::item_to_json;
use crate::model::size::item_size;

use super::capacity::Consumed;
use super::common::{enum_member, parse_key, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, GET};
use super::{projection, Ctx};

/// Runs GetItem.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    check_mix(&input, &GET)?;
    crate::model::item_from_json(input.get("Key").unwrap_or(&Value::Null))?;
    let expressions = Expressions::parse(&input, &GET, None)?;
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let (_, key) = parse_key(&def, input.get("Key").unwrap_or(&Value::Null))?;
    let consistent = input
        .get("ConsistentRead")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let item = ctx
        .storage
        .get_item(&def, &key)
        .await?
        .filter(|item| !ctx.hidden(&def, item));

    let mut out = Map::new();
    // Capacity is charged on the whole item, whatever the projection returns.
    let size = item.as_ref().map(item_size).unwrap_or(0);
    if let Some(item) = item {
        out.insert(
            "Item".into(),
            item_to_json(&projection::apply(expressions.projection.as_ref(), item)),
        );
    }
    let rcc = enum_member(&input, "ReturnConsumedCapacity", "NONE");
    if let Some(cc) = Consumed::table(read_units(size, consistent)).report(&def, rcc) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Ok(Value::Object(out))
}
