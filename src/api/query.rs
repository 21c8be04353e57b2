//! Query: the items of one partition (of the table or an index), in sort-key order, a page at
//! a time, optionally narrowed by a sort-key condition and filtered after the read.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::expr::eval::compare_values;
use crate::expr::{self, Comparator, RangeCondition};
use crate::model::{item_from_json, AttributeValue};
use crate::storage::read::{RangeRead, SortCondition};

use super::common::{enum_member, resolve_table, str_member};
use super::expressions::{check_mix, Expressions, QueryKeys, QUERY};
use super::output::Output;
use super::paging::read_page;
use super::read::{prepare, response, select, Prepared, Target};
use super::Ctx;

/// Key attributes as (name, type) pairs.
fn key_pairs(attrs: &[crate::schema::KeyAttr]) -> Vec<(&str, &str)> {
    attrs
        .iter()
        .map(|a| (a.name.as_str(), a.ty.as_str()))
        .collect()
}

/// Runs Query.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Output> {
    // The request's own rules.
    check_mix(&input, &QUERY)?;
    if let Some(start) = input.get("ExclusiveStartKey") {
        item_from_json(start)?;
    }
    if input.get("KeyConditions").is_none() && input.get("KeyConditionExpression").is_none() {
        return Err(ApiError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    }

    // The table, the index, and the expressions checked against the key queried, in the order
    // DynamoDB checks them: key paths, consistency, the start key, then Select and projections.
    let def = resolve_table(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let target = Target::new(&def, str_member(&input, "IndexName"))?;
    let key = target.key();
    let (extra_hash, extra_range) = (key_pairs(&key.extra_hash), key_pairs(&key.extra_range));
    let schema = expr::KeySchema {
        hash_name: &key.hash.name,
        hash_type: key.hash.ty.as_str(),
        range: key.range.as_ref().map(|r| (r.name.as_str(), r.ty.as_str())),
        extra_hash: &extra_hash,
        extra_range: &extra_range,
    };
    let expressions = Expressions::parse(&input, &QUERY, Some(&QueryKeys { schema }))?;
    let Some(key_condition) = expressions.key_condition else {
        return Err(ApiError::validation(
            "Query condition missed key schema element",
        ));
    };
    let Prepared {
        consistent,
        path,
        start,
    } = prepare(
        &input,
        &target,
        expressions.projection.as_ref(),
        expressions.filter.as_ref(),
        true,
    )?;

    // Where to start: a start key must satisfy the sort-key condition and lie in the partition
    // queried.
    if let Some((start_item, _)) = &start {
        if let Some((range_name, condition)) = &key_condition.range {
            let satisfied = start_item
                .get(range_name)
                .is_some_and(|value| satisfies(value, condition));
            if !satisfied {
                return Err(ApiError::validation(
                    "The provided starting key does not match the range key predicate",
                ));
            }
        }
        let equal = |(name, value): &(String, AttributeValue)| start_item.get(name) == Some(value);
        if start_item.get(&key_condition.hash_name) != Some(&key_condition.hash_value)
            || !key_condition.extra_hash.iter().all(equal)
            || !key_condition.range_equal.iter().all(equal)
        {
            return Err(ApiError::validation(
                "The provided starting key is outside query boundaries based on provided conditions",
            ));
        }
    }
    let filter = expressions.filter;
    let select = select(&input, &target, expressions.projection, filter.as_ref())?;

    let equal: Vec<AttributeValue> = key_condition
        .extra_hash
        .into_iter()
        .chain(key_condition.range_equal)
        .map(|(_, value)| value)
        .collect();
    let sort = key_condition.range.map(|(_, condition)| match condition {
        RangeCondition::Compare(Comparator::Lt, v) => SortCondition::Lt(v),
        RangeCondition::Compare(Comparator::Le, v) => SortCondition::Le(v),
        RangeCondition::Compare(Comparator::Gt, v) => SortCondition::Gt(v),
        RangeCondition::Compare(Comparator::Ge, v) => SortCondition::Ge(v),
        RangeCondition::Compare(_, v) => SortCondition::Eq(v),
        RangeCondition::Between(a, b) => SortCondition::Between(a, b),
        RangeCondition::BeginsWith(prefix) => SortCondition::BeginsWith(prefix),
    });
    let read = RangeRead {
        path,
        partition: Some(key_condition.hash_value),
        equal,
        sort,
        forward: input
            .get("ScanIndexForward")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        after: start.map(|(_, position)| position),
        segment: None,
    };
    let limit = input
        .get("Limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize);
    let page = read_page(ctx, &target, read, limit, filter.as_ref()).await?;
    response(
        page,
        &select,
        &target,
        consistent,
        enum_member(&input, "ReturnConsumedCapacity", "NONE"),
    )
}

/// Whether a sort-key value satisfies the Query's sort-key condition (for a start key).
fn satisfies(value: &AttributeValue, condition: &RangeCondition) -> bool {
    let order = |bound: &AttributeValue| compare_values(value, bound);
    match condition {
        RangeCondition::Compare(op, bound) => match (op, order(bound)) {
            (_, None) => false,
            (Comparator::Eq, Some(o)) => o == Ordering::Equal,
            (Comparator::Ne, Some(o)) => o != Ordering::Equal,
            (Comparator::Lt, Some(o)) => o == Ordering::Less,
            (Comparator::Le, Some(o)) => o != Ordering::Greater,
            (Comparator::Gt, Some(o)) => o == Ordering::Greater,
            (Comparator::Ge, Some(o)) => o != Ordering::Less,
        },
        RangeCondition::Between(low, high) => {
            order(low).is_some_and(|o| o != Ordering::Less)
                && order(high).is_some_and(|o| o != Ordering::Greater)
        }
        RangeCondition::BeginsWith(prefix) => match (value, prefix) {
            (AttributeValue::S(v), AttributeValue::S(p)) => v.as_bytes().starts_with(p.as_bytes()),
            (AttributeValue::B(v), AttributeValue::B(p)) => v.starts_with(p),
            _ => false,
        },
    }
}
