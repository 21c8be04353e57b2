//! Scan: every item of the table or an index, a page at a time, in the stored order (by the
//! partition hash), optionally one segment of a parallel scan, filtered after the read.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::hash::segment_hash_range;
use crate::model::item_from_json;
use crate::storage::read::RangeRead;

use super::common::{enum_member, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, SCAN};
use super::output::Output;
use super::paging::read_page;
use super::read::{prepare, response, select, Prepared, Target};
use super::Ctx;

/// Runs Scan.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Output> {
    // The request's own rules.
    check_mix(&input, &SCAN)?;
    if let Some(start) = input.get("ExclusiveStartKey") {
        item_from_json(start)?;
    }
    let segment = match (input.get("Segment").and_then(Value::as_u64), input.get("TotalSegments").and_then(Value::as_u64)) {
        (Some(_), None) => return Err(ApiError::validation("If segment is specified, total segment must also be specified")),
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "If total segments is specified, a particular segment must also be specified for this request",
            ))
        }
        (Some(segment), Some(total)) if segment >= total => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{segment}' at 'segment' failed to satisfy constraint: Member must have value less than or equal to {}",
                total - 1
            )))
        }
        (Some(segment), Some(total)) => segment_hash_range(segment as u32, total as u32),
        (None, None) => None,
    };
    let expressions = Expressions::parse(&input, &SCAN, None)?;

    // The table or index, then DynamoDB's checks in its order: key paths, consistency, the
    // start key, then Select and projections.
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let target = Target::new(&def, str_member(&input, "IndexName"))?;
    let Prepared {
        consistent,
        path,
        start,
    } = prepare(
        &input,
        &target,
        expressions.projection.as_ref(),
        expressions.filter.as_ref(),
        false,
    )?;
    let select = select(&input, &target, expressions.projection, None)?;

    let read = RangeRead {
        path,
        partition: None,
        equal: Vec::new(),
        sort: None,
        forward: true,
        after: start.map(|(_, position)| position),
        segment,
    };
    let limit = input
        .get("Limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize);
    let filter = expressions.filter;
    let page = read_page(ctx, &target, read, limit, filter.as_ref()).await?;
    response(
        page,
        &select,
        &target,
        consistent,
        enum_member(&input, "ReturnConsumedCapacity", "NONE"),
    )
}
