//! Conditional writes: the condition (ConditionExpression, or legacy Expected) is evaluated
//! against the item as it is inside the write's transaction, and a failure is DynamoDB's
//! ConditionalCheckFailedException, carrying the item when ReturnValuesOnConditionCheckFailure
//! asks for it.

use serde_json::Value;

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::expr::Condition;
use crate::model::{item_to_json, Item};

/// DynamoDB's message for a condition that did not hold.
pub const FAILED: &str = "The conditional request failed";

/// Checks `condition` (if any) against `old` (the item, or none). Missing items evaluate as an
/// empty item, as in DynamoDB.
pub fn check(condition: Option<&Condition>, old: Option<&Item>, input: &Value) -> ApiResult<()> {
    let Some(condition) = condition else {
        return Ok(());
    };
    let empty = Item::new();
    if condition.evaluate(old.unwrap_or(&empty)) {
        return Ok(());
    }
    Err(failed(old, input))
}

/// The ConditionalCheckFailedException for `old`, with the item when the request asked for
/// it with ReturnValuesOnConditionCheckFailure ALL_OLD (and there is one).
pub fn failed(old: Option<&Item>, input: &Value) -> ApiError {
    let mut error = ApiError::new(ErrorKind::ConditionalCheckFailed, FAILED);
    let wants_item = input
        .get("ReturnValuesOnConditionCheckFailure")
        .and_then(Value::as_str)
        == Some("ALL_OLD");
    if let (true, Some(old)) = (wants_item, old) {
        let mut extra = serde_json::Map::new();
        extra.insert("Item".into(), item_to_json(old));
        error.extra = Some(extra);
    }
    error
}
