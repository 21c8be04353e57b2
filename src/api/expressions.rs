//! The expressions of one request, read in DynamoDB's order, whichever form they come in
//! (expression parameters, or the legacy parameters mapped onto the same engine):
//!
//! 1. the mix of expression and legacy parameters ([`check_mix`]);
//! 2. ExpressionAttributeNames/Values, then the expressions in DynamoDB's fixed order
//!    (UpdateExpression, ConditionExpression, KeyConditionExpression, FilterExpression,
//!    ProjectionExpression), then unused names and values ([`Expressions::parse`]).

use serde_json::{Map, Value};

use crate::error::ApiResult;
use crate::expr::{self, Condition, ExpressionAttributes, KeyCondition, Projection, UpdateExpr};

/// Which parameters an operation takes, in the order DynamoDB lists them in its messages.
pub struct Params {
    /// Expression parameters.
    pub expressions: &'static [&'static str],
    /// Legacy parameters.
    pub legacy: &'static [&'static str],
    /// Expression parameters that may use ExpressionAttributeValues.
    pub value_expressions: &'static [&'static str],
}

/// PutItem and DeleteItem.
pub const CONDITIONAL_WRITE: Params = Params {
    expressions: &["ConditionExpression"],
    legacy: &["Expected"],
    value_expressions: &["ConditionExpression"],
};
/// UpdateItem.
pub const UPDATE: Params = Params {
    expressions: &["UpdateExpression", "ConditionExpression"],
    legacy: &["AttributeUpdates", "Expected"],
    value_expressions: &["UpdateExpression", "ConditionExpression"],
};
/// GetItem.
pub const GET: Params = Params {
    expressions: &["ProjectionExpression"],
    legacy: &["AttributesToGet"],
    value_expressions: &[],
};
/// Query.
pub const QUERY: Params = Params {
    expressions: &[
        "ProjectionExpression",
        "FilterExpression",
        "KeyConditionExpression",
    ],
    legacy: &["AttributesToGet", "QueryFilter", "KeyConditions"],
    value_expressions: &["FilterExpression", "KeyConditionExpression"],
};
/// Scan.
pub const SCAN: Params = Params {
    expressions: &["ProjectionExpression", "FilterExpression"],
    legacy: &["AttributesToGet", "ScanFilter"],
    value_expressions: &["FilterExpression"],
};

fn present(input: &Value, name: &str) -> bool {
    input.get(name).is_some_and(|v| !v.is_null())
}

fn non_empty_map(input: &Value, name: &str) -> bool {
    input
        .get(name)
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// Step 1: expression and legacy parameters may not be mixed, and placeholders need an
/// expression that can use them.
pub fn check_mix(input: &Value, params: &Params) -> ApiResult<()> {
    let flags = |names: &[&'static str]| -> Vec<(&'static str, bool)> {
        names.iter().map(|n| (*n, present(input, n))).collect()
    };
    expr::check_parameter_mix(
        &flags(params.expressions),
        &flags(params.legacy),
        &flags(params.value_expressions),
        non_empty_map(input, "ExpressionAttributeNames"),
        non_empty_map(input, "ExpressionAttributeValues"),
    )
}

/// The parsed expressions of a request; each is `None` when the request has none of that kind.
#[derive(Default)]
pub struct Expressions {
    pub update: Option<UpdateExpr>,
    pub condition: Option<Condition>,
    pub key_condition: Option<KeyCondition>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
}

/// What a Query's key condition is checked against.
pub struct QueryKeys<'a> {
    /// The key schema of the table or index queried.
    pub schema: expr::KeySchema<'a>,
}

fn map<'a>(input: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    input.get(name).and_then(Value::as_object)
}

fn string<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

impl Expressions {
    /// Step 2: reads every expression (or legacy parameter) of the request in DynamoDB's order.
    /// `query` is given for Query, whose key condition is checked against the key queried.
    pub fn parse(
        input: &Value,
        params: &Params,
        query: Option<&QueryKeys<'_>>,
    ) -> ApiResult<Expressions> {
        let mut attrs = ExpressionAttributes::from_request(
            map(input, "ExpressionAttributeNames"),
            map(input, "ExpressionAttributeValues"),
        )?;
        let mut out = Expressions::default();
        let conditional_operator = string(input, "ConditionalOperator");

        if let Some(e) = string(input, "UpdateExpression") {
            out.update = Some(expr::parse_update(e, &mut attrs)?);
        } else if let Some(updates) = map(input, "AttributeUpdates") {
            out.update = Some(expr::attribute_updates_to_update(updates)?);
        }

        if let Some(e) = string(input, "ConditionExpression") {
            out.condition = Some(expr::parse_condition(e, &mut attrs)?);
        } else if params.legacy.contains(&"Expected") {
            out.condition =
                expr::expected_to_condition(map(input, "Expected"), conditional_operator)?;
        }

        if let Some(keys) = query {
            if let Some(e) = string(input, "KeyConditionExpression") {
                out.key_condition = Some(expr::parse_key_condition(e, &mut attrs, &keys.schema)?);
            } else if let Some(conditions) = map(input, "KeyConditions") {
                out.key_condition = Some(expr::key_conditions_to_key_condition(
                    conditions,
                    &keys.schema,
                )?);
            }
        }

        if let Some(e) = string(input, "FilterExpression") {
            let filter = expr::parse_filter(e, &mut attrs)?;
            if let Some(keys) = query {
                expr::check_query_filter(&filter, &keys.schema.names())?;
            }
            out.filter = Some(filter);
        } else if params.legacy.contains(&"QueryFilter") {
            let key_names = query.map(|k| k.schema.names()).unwrap_or_default();
            out.filter = expr::filter_to_condition(
                map(input, "QueryFilter"),
                conditional_operator,
                "QueryFilter",
                &key_names,
            )?;
        } else if params.legacy.contains(&"ScanFilter") {
            out.filter = expr::filter_to_condition(
                map(input, "ScanFilter"),
                conditional_operator,
                "ScanFilter",
                &[],
            )?;
        }

        if let Some(e) = string(input, "ProjectionExpression") {
            out.projection = Some(expr::parse_projection(e, &mut attrs)?);
        } else if let Some(names) = input.get("AttributesToGet").and_then(Value::as_array) {
            let names: Vec<String> = names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            out.projection = Some(expr::attributes_to_get_to_projection(&names)?);
        }

        attrs.check_unused()?;
        Ok(out)
    }
}
