//! The legacy (pre-expression) parameters, mapped onto the same AST as expressions so that one
//! evaluator and one update engine serve both: Expected (with ConditionalOperator), QueryFilter
//! and ScanFilter, AttributeUpdates, AttributesToGet and KeyConditions.
//!
//! Each entry is validated with DynamoDB's legacy messages (`One or more parameter values were
//! invalid: ...`), entries in request order.

use serde_json::{Map, Value};

use super::ast::{
    Comparator, Condition, KeyCondition, Operand, Projection, RangeCondition, SetOperand, SetValue,
    UpdateAction, UpdateExpr,
};
use super::eval::compare_values;
use super::key_condition::{legacy_key_condition, KeySchema};
use super::path::Path;
use super::resolve::long_type_name;
use crate::error::{ApiError, ErrorKind};
use crate::model::AttributeValue;

const INVALID: &str = "One or more parameter values were invalid: ";

fn invalid(detail: impl AsRef<str>) -> ApiError {
    ApiError::validation(format!("{INVALID}{}", detail.as_ref()))
}

/// The legacy comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegacyOp {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

impl LegacyOp {
    fn parse(name: &str) -> Option<LegacyOp> {
        Some(match name {
            "EQ" => LegacyOp::Eq,
            "NE" => LegacyOp::Ne,
            "LE" => LegacyOp::Le,
            "LT" => LegacyOp::Lt,
            "GE" => LegacyOp::Ge,
            "GT" => LegacyOp::Gt,
            "NOT_NULL" => LegacyOp::NotNull,
            "NULL" => LegacyOp::Null,
            "CONTAINS" => LegacyOp::Contains,
            "NOT_CONTAINS" => LegacyOp::NotContains,
            "BEGINS_WITH" => LegacyOp::BeginsWith,
            "IN" => LegacyOp::In,
            "BETWEEN" => LegacyOp::Between,
            _ => return None,
        })
    }

    /// Whether `count` values suit the operator.
    fn arity_ok(self, count: usize) -> bool {
        match self {
            LegacyOp::NotNull | LegacyOp::Null => count == 0,
            LegacyOp::In => count >= 1,
            LegacyOp::Between => count == 2,
            _ => count == 1,
        }
    }

    /// Whether the operator accepts values of this type.
    fn accepts(self, value: &AttributeValue) -> bool {
        let scalar = matches!(
            value,
            AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)
        );
        match self {
            LegacyOp::Eq | LegacyOp::Ne | LegacyOp::NotNull | LegacyOp::Null => true,
            LegacyOp::BeginsWith => matches!(value, AttributeValue::S(_) | AttributeValue::B(_)),
            LegacyOp::Contains | LegacyOp::NotContains => {
                scalar || matches!(value, AttributeValue::Bool(_) | AttributeValue::Null)
            }
            _ => scalar,
        }
    }
}

/// One entry of Expected, a filter or KeyConditions, read and validated.
struct Entry {
    op: LegacyOp,
    values: Vec<AttributeValue>,
}

fn object<'a>(name: &str, value: &'a Value) -> Result<&'a Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(|| {
        ApiError::new(
            ErrorKind::Serialization,
            format!("Unexpected value type in payload for {name}"),
        )
    })
}

fn read_values(entry: &Map<String, Value>) -> Result<Option<Vec<AttributeValue>>, ApiError> {
    match entry.get("AttributeValueList").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(AttributeValue::from_json)
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::new(
            ErrorKind::Serialization,
            "Unexpected value type in payload",
        )),
    }
}

/// The ComparisonOperator/AttributeValueList part of an entry.
fn read_comparison(
    name: &str,
    op_name: &str,
    values: Option<Vec<AttributeValue>>,
) -> Result<Entry, ApiError> {
    let op = LegacyOp::parse(op_name)
        .ok_or_else(|| ApiError::validation("Comparison type does not exist in DynamoDB"))?;
    let values = match values {
        Some(values) => values,
        None if op.arity_ok(0) => Vec::new(),
        None => {
            return Err(invalid(format!(
                "Value or AttributeValueList must be used with ComparisonOperator: {op_name} for Attribute: {name}"
            )))
        }
    };
    if !op.arity_ok(values.len()) {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {op_name} ComparisonOperator"
        )));
    }
    if let Some(bad) = values.iter().find(|v| !op.accepts(v)) {
        return Err(invalid(format!(
            "ComparisonOperator {op_name} is not valid for {} AttributeValue type",
            bad.type_name()
        )));
    }
    if let Some(first) = values.first() {
        if values.iter().any(|v| v.type_name() != first.type_name()) {
            return Err(invalid(
                "AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    if op == LegacyOp::Between
        && compare_values(&values[0], &values[1]) == Some(std::cmp::Ordering::Greater)
    {
        return Err(ApiError::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(Entry { op, values })
}

/// The condition an entry stands for.
fn entry_condition(name: &str, entry: Entry) -> Condition {
    let path = || Operand::Path(Path::attribute(name));
    let mut values = entry.values.into_iter().map(Operand::Value);
    let mut value = || {
        values
            .next()
            .unwrap_or(Operand::Value(AttributeValue::Null))
    };
    let compare = |op: Comparator, right: Operand| Condition::Compare {
        op,
        left: path(),
        right,
    };
    match entry.op {
        LegacyOp::Eq => compare(Comparator::Eq, value()),
        LegacyOp::Ne => compare(Comparator::Ne, value()),
        LegacyOp::Le => compare(Comparator::Le, value()),
        LegacyOp::Lt => compare(Comparator::Lt, value()),
        LegacyOp::Ge => compare(Comparator::Ge, value()),
        LegacyOp::Gt => compare(Comparator::Gt, value()),
        LegacyOp::NotNull => Condition::AttributeExists(Path::attribute(name)),
        LegacyOp::Null => Condition::AttributeNotExists(Path::attribute(name)),
        LegacyOp::Contains => Condition::Contains(path(), value()),
        LegacyOp::NotContains => Condition::And(
            Box::new(Condition::AttributeExists(Path::attribute(name))),
            Box::new(Condition::Not(Box::new(Condition::Contains(
                path(),
                value(),
            )))),
        ),
        LegacyOp::BeginsWith => Condition::BeginsWith(path(), value()),
        LegacyOp::In => Condition::In {
            subject: path(),
            list: values.collect(),
        },
        LegacyOp::Between => {
            let low = value();
            let high = value();
            Condition::Between {
                subject: path(),
                low,
                high,
            }
        }
    }
}

fn check_conditional_operator(
    count: Option<usize>,
    conditional_operator: Option<&str>,
) -> Result<bool, ApiError> {
    let Some(operator) = conditional_operator else {
        return Ok(false);
    };
    match count {
        None => Err(ApiError::validation(
            "ConditionalOperator cannot be used without Filter or Expected",
        )),
        Some(n) if n < 2 => Err(ApiError::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        )),
        Some(_) => Ok(operator == "OR"),
    }
}

fn combine(conditions: Vec<Condition>, or: bool) -> Option<Condition> {
    conditions.into_iter().reduce(|a, b| {
        if or {
            Condition::Or(Box::new(a), Box::new(b))
        } else {
            Condition::And(Box::new(a), Box::new(b))
        }
    })
}

/// Legacy `Expected` (absent: `None`) with `ConditionalOperator` (`AND` by default): the
/// condition to evaluate, or `None` when there is nothing to check.
pub fn expected_to_condition(
    expected: Option<&Map<String, Value>>,
    conditional_operator: Option<&str>,
) -> Result<Option<Condition>, ApiError> {
    let or = check_conditional_operator(expected.map(Map::len), conditional_operator)?;
    let Some(expected) = expected else {
        return Ok(None);
    };
    let mut conditions = Vec::with_capacity(expected.len());
    for (name, entry) in expected {
        let entry = object(name, entry)?;
        let values = read_values(entry)?;
        let value = match entry.get("Value").filter(|v| !v.is_null()) {
            Some(json) => Some(AttributeValue::from_json(json)?),
            None => None,
        };
        let exists = entry.get("Exists").and_then(Value::as_bool);
        let op_name = entry.get("ComparisonOperator").and_then(Value::as_str);
        let condition = match op_name {
            Some(op_name) => {
                if exists.is_some() {
                    return Err(invalid(format!(
                        "Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                    )));
                }
                if value.is_some() {
                    return Err(invalid(format!(
                        "Value and AttributeValueList cannot be used together for Attribute: {name}"
                    )));
                }
                entry_condition(name, read_comparison(name, op_name, values)?)
            }
            None => {
                if values.is_some() {
                    return Err(invalid(format!(
                        "AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
                    )));
                }
                match (exists, value) {
                    (Some(false), Some(_)) => {
                        return Err(invalid(format!(
                            "Value cannot be used when Exists is false for Attribute: {name}"
                        )))
                    }
                    (Some(false), None) => Condition::AttributeNotExists(Path::attribute(name)),
                    (_, Some(value)) => Condition::Compare {
                        op: Comparator::Eq,
                        left: Operand::Path(Path::attribute(name)),
                        right: Operand::Value(value),
                    },
                    (Some(true), None) => {
                        return Err(invalid(format!(
                            "Value must be provided when Exists is true for Attribute: {name}"
                        )))
                    }
                    (None, None) => {
                        return Err(invalid(format!(
                            "Value must be provided when Exists is null for Attribute: {name}"
                        )))
                    }
                }
            }
        };
        conditions.push(condition);
    }
    Ok(combine(conditions, or))
}

/// Legacy `QueryFilter` or `ScanFilter` (`parameter` names which, for messages) with
/// `ConditionalOperator`. `key_names` are the key attributes a QueryFilter may not use (empty
/// for a ScanFilter).
pub fn filter_to_condition(
    filter: Option<&Map<String, Value>>,
    conditional_operator: Option<&str>,
    parameter: &str,
    key_names: &[&str],
) -> Result<Option<Condition>, ApiError> {
    let or = check_conditional_operator(filter.map(Map::len), conditional_operator)?;
    let Some(filter) = filter else {
        return Ok(None);
    };
    let mut conditions = Vec::with_capacity(filter.len());
    for (name, entry) in filter {
        if key_names.contains(&name.as_str()) {
            return Err(ApiError::validation(format!(
                "{parameter} can only contain non-primary key attributes: Primary key attribute: {name}"
            )));
        }
        let entry = object(name, entry)?;
        let values = read_values(entry)?;
        let op_name = entry
            .get("ComparisonOperator")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("Comparison type does not exist in DynamoDB"))?;
        conditions.push(entry_condition(
            name,
            read_comparison(name, op_name, values)?,
        ));
    }
    Ok(combine(conditions, or))
}

/// Legacy `KeyConditions` of a Query.
pub fn key_conditions_to_key_condition(
    conditions: &Map<String, Value>,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    let mut leaves = Vec::with_capacity(conditions.len());
    for (name, entry) in conditions {
        let entry_map = object(name, entry)?;
        let values = read_values(entry_map)?;
        let op_name = entry_map
            .get("ComparisonOperator")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("Comparison type does not exist in DynamoDB"))?;
        let entry = read_comparison(name, op_name, values)?;
        let mut values = entry.values.into_iter();
        let mut next = || values.next().unwrap_or(AttributeValue::Null);
        let (comparator, range) = match entry.op {
            LegacyOp::Eq => (Comparator::Eq, None),
            LegacyOp::Lt => (Comparator::Lt, None),
            LegacyOp::Le => (Comparator::Le, None),
            LegacyOp::Gt => (Comparator::Gt, None),
            LegacyOp::Ge => (Comparator::Ge, None),
            LegacyOp::Between => {
                let low = next();
                let high = next();
                (Comparator::Eq, Some(RangeCondition::Between(low, high)))
            }
            LegacyOp::BeginsWith => (Comparator::Eq, Some(RangeCondition::BeginsWith(next()))),
            LegacyOp::Null | LegacyOp::NotNull => {
                return Err(ApiError::validation(
                    "Only scalar types can be used as Range Key values",
                ))
            }
            LegacyOp::Ne | LegacyOp::In | LegacyOp::Contains | LegacyOp::NotContains => {
                return Err(ApiError::validation(
                    "Attempted conditional constraint is not an indexable operation",
                ))
            }
        };
        leaves.push(match range {
            Some(range) => (name.clone(), None, range),
            None => (
                name.clone(),
                Some(comparator),
                RangeCondition::Compare(comparator, next()),
            ),
        });
    }
    legacy_key_condition(leaves, schema)
}

/// Legacy `AttributeUpdates` of UpdateItem: `PUT` (the default) sets, `DELETE` without a value
/// removes, `DELETE` with a set removes members, `ADD` adds to a number or set or appends to a
/// list.
pub fn attribute_updates_to_update(updates: &Map<String, Value>) -> Result<UpdateExpr, ApiError> {
    let mut actions = Vec::with_capacity(updates.len());
    for (name, update) in updates {
        if name.is_empty() {
            return Err(ApiError::validation("Empty attribute name"));
        }
        let update = object(name, update)?;
        let value = match update.get("Value").filter(|v| !v.is_null()) {
            Some(json) => Some(AttributeValue::from_json(json)?),
            None => None,
        };
        let action = update
            .get("Action")
            .and_then(Value::as_str)
            .unwrap_or("PUT");
        if !matches!(action, "PUT" | "ADD" | "DELETE") {
            return Err(ApiError::validation(
                "Member must satisfy enum value set: [ADD, DELETE, PUT]",
            ));
        }
        let path = Path::attribute(name.clone());
        actions.push(match (action, value) {
            ("DELETE", None) => UpdateAction::Remove { path },
            (_, None) => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ))
            }
            ("PUT", Some(value)) => UpdateAction::Set {
                path,
                value: SetValue::Operand(SetOperand::Value(value)),
            },
            ("ADD", Some(value)) => {
                if !matches!(
                    value,
                    AttributeValue::N(_)
                        | AttributeValue::Ss(_)
                        | AttributeValue::Ns(_)
                        | AttributeValue::Bs(_)
                        | AttributeValue::L(_)
                ) {
                    return Err(invalid(format!(
                        "ADD action is not supported for the type {}",
                        long_type_name(&value)
                    )));
                }
                UpdateAction::Add { path, value }
            }
            (_, Some(value)) => {
                if !matches!(
                    value,
                    AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                ) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        long_type_name(&value)
                    )));
                }
                UpdateAction::Delete { path, value }
            }
        });
    }
    Ok(UpdateExpr {
        actions,
        legacy: true,
    })
}

/// Legacy `AttributesToGet`.
pub fn attributes_to_get_to_projection(names: &[String]) -> Result<Projection, ApiError> {
    Projection::from_attribute_names(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::item_from_json;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn expected_error(expected: Value) -> String {
        expected_to_condition(Some(&map(expected)), None)
            .unwrap_err()
            .message
    }

    fn expected_holds(expected: Value, operator: Option<&str>) -> bool {
        let item = item_from_json(&json!({
            "n": {"N": "5"}, "s": {"S": "abc"}, "ss": {"SS": ["a", "b"]},
            "l": {"L": [{"S": "a"}, {"N": "1"}]}
        }))
        .unwrap();
        expected_to_condition(Some(&map(expected)), operator)
            .unwrap()
            .unwrap()
            .evaluate(&item)
    }

    /// Messages of DynamoDB Local for DeleteItem with these Expected entries.
    #[test]
    fn expected_messages() {
        let p = "One or more parameter values were invalid: ";
        for (expected, message) in [
            (json!({"n": {"Exists": true}}), format!("{p}Value must be provided when Exists is true for Attribute: n")),
            (json!({"n": {"Exists": false, "Value": {"N": "1"}}}), format!("{p}Value cannot be used when Exists is false for Attribute: n")),
            (json!({"n": {}}), format!("{p}Value must be provided when Exists is null for Attribute: n")),
            (json!({"n": {"ComparisonOperator": "EQ"}}), format!("{p}Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: n")),
            (json!({"n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}, {"N": "1"}]}}), format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator")),
            (json!({"n": {"ComparisonOperator": "NULL", "AttributeValueList": [{"N": "1"}]}}), format!("{p}Invalid number of argument(s) for the NULL ComparisonOperator")),
            (json!({"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "9"}, {"N": "1"}]}}), "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound".to_string()),
            (json!({"n": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "a"}]}}), format!("{p}AttributeValues inside AttributeValueList must be of same type")),
            (json!({"n": {"ComparisonOperator": "IN", "AttributeValueList": [{"SS": ["a"]}]}}), format!("{p}ComparisonOperator IN is not valid for SS AttributeValue type")),
            (json!({"n": {"ComparisonOperator": "LT", "AttributeValueList": [{"BOOL": true}]}}), format!("{p}ComparisonOperator LT is not valid for BOOL AttributeValue type")),
            (json!({"n": {"ComparisonOperator": "IN", "AttributeValueList": [{"SS": ["a"]}, {"N": "1"}]}}), format!("{p}ComparisonOperator IN is not valid for SS AttributeValue type")),
            (json!({"n": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"M": {}}]}}), format!("{p}ComparisonOperator CONTAINS is not valid for M AttributeValue type")),
            (json!({"n": {"ComparisonOperator": "EQ", "AttributeValueList": []}}), format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator")),
            (json!({"n": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}}), format!("{p}ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")),
            (json!({"n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "5"}], "Exists": true}}), format!("{p}Exists and ComparisonOperator cannot be used together for Attribute: n")),
            (json!({"n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "5"}], "Value": {"N": "1"}}}), format!("{p}Value and AttributeValueList cannot be used together for Attribute: n")),
            (json!({"zz": {"Exists": false, "AttributeValueList": [{"N": "1"}]}}), format!("{p}AttributeValueList can only be used with a ComparisonOperator for Attribute: zz")),
            (json!({"n": {"Value": {"N": "x"}}}), "A value provided cannot be converted into a number".to_string()),
        ] {
            assert_eq!(expected_error(expected.clone()), message, "{expected}");
        }
        assert_eq!(
            expected_to_condition(None, Some("OR")).unwrap_err().message,
            "ConditionalOperator cannot be used without Filter or Expected"
        );
        assert_eq!(
            expected_to_condition(Some(&map(json!({"n": {"Value": {"N": "5"}}}))), Some("OR"))
                .unwrap_err()
                .message,
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
        );
    }

    /// Outcomes of DynamoDB Local for DeleteItem with these Expected entries.
    #[test]
    fn expected_semantics() {
        assert!(expected_holds(json!({"zz": {"Exists": false}}), None));
        assert!(!expected_holds(json!({"n": {"Exists": false}}), None));
        assert!(expected_holds(json!({"n": {"Value": {"N": "5"}}}), None));
        assert!(!expected_holds(json!({"n": {"Value": {"N": "6"}}}), None));
        assert!(expected_holds(
            json!({"l": {"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [{"S": "a"}, {"N": "1"}]}]}}),
            None
        ));
        assert!(expected_holds(
            json!({"ss": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "b"}]}}),
            None
        ));
        assert!(expected_holds(
            json!({"l": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "a"}]}}),
            None
        ));
        assert!(!expected_holds(
            json!({"zz": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "z"}]}}),
            None
        ));
        assert!(expected_holds(
            json!({"s": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "z"}]}}),
            None
        ));
        assert!(expected_holds(
            json!({"n": {"Value": {"N": "6"}}, "s": {"Value": {"S": "abc"}}}),
            Some("OR")
        ));
        assert!(!expected_holds(
            json!({"n": {"Value": {"N": "6"}}, "s": {"Value": {"S": "abc"}}}),
            Some("AND")
        ));
    }

    #[test]
    fn attribute_updates() {
        let p = "One or more parameter values were invalid: ";
        let error = |updates: Value| {
            attribute_updates_to_update(&map(updates))
                .unwrap_err()
                .message
        };
        assert_eq!(
            error(json!({"x": {"Action": "PUT"}})),
            format!("{p}Only DELETE action is allowed when no attribute value is specified")
        );
        assert_eq!(
            error(json!({"x": {"Action": "ADD", "Value": {"S": "x"}}})),
            format!("{p}ADD action is not supported for the type STRING")
        );
        assert_eq!(
            error(json!({"x": {"Action": "ADD", "Value": {"M": {}}}})),
            format!("{p}ADD action is not supported for the type MAP")
        );
        assert_eq!(
            error(json!({"x": {"Action": "DELETE", "Value": {"N": "1"}}})),
            format!("{p}DELETE action with value is not supported for the type NUMBER")
        );
        assert_eq!(
            error(json!({"": {"Value": {"N": "1"}}})),
            "Empty attribute name"
        );

        let old = item_from_json(&json!({"pk": {"S": "k"}, "n": {"N": "5"}, "s": {"S": "abc"}, "l": {"L": [{"S": "a"}]}})).unwrap();
        let update = attribute_updates_to_update(&map(json!({
            "n": {"Action": "ADD", "Value": {"N": "1"}},
            "s": {"Action": "DELETE"},
            "l": {"Action": "ADD", "Value": {"L": [{"N": "2"}]}},
            "x": {"Value": {"N": "1"}}
        })))
        .unwrap();
        let outcome = update.apply(&old, &["pk"]).unwrap();
        assert_eq!(
            crate::model::item_to_json(&outcome.item),
            json!({"pk": {"S": "k"}, "n": {"N": "6"}, "l": {"L": [{"S": "a"}, {"N": "2"}]}, "x": {"N": "1"}})
        );
        let mismatch =
            attribute_updates_to_update(&map(json!({"s": {"Action": "ADD", "Value": {"N": "1"}}})))
                .unwrap();
        assert_eq!(
            mismatch.apply(&old, &["pk"]).unwrap_err().message,
            "Type mismatch for attribute to update"
        );
        let key = attribute_updates_to_update(&map(json!({"pk": {"Action": "DELETE"}}))).unwrap();
        assert_eq!(key.apply(&old, &["pk"]).unwrap_err().message, "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key");
    }

    #[test]
    fn key_conditions() {
        let schema = KeySchema {
            hash_name: "pk",
            hash_type: "S",
            range: Some(("sk", "N")),
            extra_hash: &[],
            extra_range: &[],
        };
        let error = |conditions: Value| {
            key_conditions_to_key_condition(&map(conditions), &schema)
                .unwrap_err()
                .message
        };
        let eq = |v: Value| json!({"ComparisonOperator": "EQ", "AttributeValueList": [v]});
        assert_eq!(
            error(json!({"sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "1"}]}})),
            "Query condition missed key schema element"
        );
        assert_eq!(
            error(json!({"pk": {"ComparisonOperator": "LT", "AttributeValueList": [{"S": "a"}]}})),
            "Query key condition not supported"
        );
        assert_eq!(
            error(
                json!({"pk": eq(json!({"S": "a"})), "sk": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}]}})
            ),
            "Attempted conditional constraint is not an indexable operation"
        );
        assert_eq!(error(json!({"pk": eq(json!({"N": "1"}))})), "One or more parameter values were invalid: Condition parameter type does not match schema type");
        assert_eq!(
            error(json!({"pk": eq(json!({"S": "a"})), "x": eq(json!({"S": "a"}))})),
            "Query condition missed key schema element"
        );
        assert_eq!(
            error(
                json!({"pk": eq(json!({"S": "a"})), "sk": eq(json!({"N": "1"})), "x": eq(json!({"S": "a"}))})
            ),
            "Conditions can be of length 1 or 2 only"
        );
        assert_eq!(error(json!({})), "Conditions must be at least length 1");
        let ok = key_conditions_to_key_condition(&map(json!({"pk": eq(json!({"S": "a"})), "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}})), &schema).unwrap();
        assert_eq!(ok.hash_name, "pk");
        assert!(matches!(ok.range, Some((ref name, RangeCondition::Between(..))) if name == "sk"));
    }

    #[test]
    fn query_filter_keys() {
        let filter =
            map(json!({"sk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}}));
        assert_eq!(
            filter_to_condition(Some(&filter), None, "QueryFilter", &["pk", "sk"])
                .unwrap_err()
                .message,
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: sk"
        );
        let filter = map(json!({"x": {"Exists": false}}));
        assert_eq!(
            filter_to_condition(Some(&filter), None, "ScanFilter", &[])
                .unwrap_err()
                .message,
            "Comparison type does not exist in DynamoDB"
        );
    }
}
