//! KeyConditionExpression (and legacy KeyConditions): which items of one partition a Query
//! reads.
//!
//! A key condition is parsed and checked as any condition first; then it must be `hash = :v`,
//! optionally AND one condition on the range key with `=`, `<`, `<=`, `>`, `>=`, `BETWEEN` or
//! `begins_with`, with values of the key's type. DynamoDB checks, in this order: paths are top
//! level names; no OR, NOT, IN, `<>` or function other than begins_with; no `size()`; each
//! condition names exactly one attribute, first; at most one condition per key attribute; at
//! most two conditions; value types; the hash key is there, and only key attributes are; the
//! hash key's operator is `=`.

use super::ast::{Comparator, Condition, KeyCondition, Operand, RangeCondition};
use super::path::Path;
use crate::error::ApiError;
use crate::model::AttributeValue;

/// The key attributes of a table or index, with their types (`"S"`, `"N"` or `"B"`, as in
/// AttributeDefinitions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySchema<'a> {
    /// Partition key name.
    pub hash_name: &'a str,
    /// Partition key type.
    pub hash_type: &'a str,
    /// Sort key name and type, if the table has one.
    pub range: Option<(&'a str, &'a str)>,
    /// A global secondary index's further partition key attributes (name, type), in order.
    pub extra_hash: &'a [(&'a str, &'a str)],
    /// A global secondary index's further sort key attributes (name, type), in order.
    pub extra_range: &'a [(&'a str, &'a str)],
}

impl KeySchema<'_> {
    /// The key attribute names (for "cannot update a key" and filter checks).
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.hash_name];
        names.extend(self.extra_hash.iter().map(|(n, _)| *n));
        if let Some((range, _)) = self.range {
            names.push(range);
        }
        names.extend(self.extra_range.iter().map(|(n, _)| *n));
        names
    }

    /// Whether the key has several partition or sort key attributes.
    pub fn is_multi(&self) -> bool {
        !self.extra_hash.is_empty() || !self.extra_range.is_empty()
    }

    fn type_of(&self, name: &str) -> Option<&str> {
        if name == self.hash_name {
            Some(self.hash_type)
        } else {
            self.range
                .filter(|(range, _)| *range == name)
                .map(|(_, t)| t)
                .or_else(|| {
                    self.extra_hash
                        .iter()
                        .chain(self.extra_range)
                        .find(|(n, _)| *n == name)
                        .map(|(_, t)| *t)
                })
        }
    }

    fn hash_names(&self) -> Vec<&str> {
        let mut names = vec![self.hash_name];
        names.extend(self.extra_hash.iter().map(|(n, _)| *n));
        names
    }

    fn range_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.range.iter().map(|(n, _)| *n).collect();
        names.extend(self.extra_range.iter().map(|(n, _)| *n));
        names
    }
}

fn fail(message: &str) -> ApiError {
    ApiError::validation(message)
}

const NOT_SUPPORTED: &str = "Query key condition not supported";
const MISSED_ELEMENT: &str = "Query condition missed key schema element";
const TYPE_MISMATCH: &str =
    "One or more parameter values were invalid: Condition parameter type does not match schema type";

/// One simple condition on one key attribute.
struct Leaf {
    name: String,
    comparator: Option<Comparator>,
    range: RangeCondition,
}

/// Turns a checked condition into a key condition, with DynamoDB's key rules and messages.
pub(crate) fn key_condition(
    condition: &Condition,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    check_scalar_keys(condition, schema)?;
    let mut conditions = Vec::new();
    flatten(condition, &mut conditions);
    let mut leaves = Vec::with_capacity(conditions.len());
    for condition in conditions {
        check_operators(condition)?;
        leaves.push(leaf(condition)?);
    }
    for (i, leaf) in leaves.iter().enumerate() {
        if leaves[..i].iter().any(|other| other.name == leaf.name) {
            return Err(fail(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
    }
    if leaves.len() > 2 && !schema.is_multi() {
        return Err(fail("Conditions can be of length 1 or 2 only"));
    }
    key_condition_from_leaves(leaves, schema)
}

fn key_condition_from_leaves(
    leaves: Vec<Leaf>,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    for leaf in &leaves {
        if let Some(key_type) = schema.type_of(&leaf.name) {
            let values: Vec<&AttributeValue> = match &leaf.range {
                RangeCondition::Compare(_, v) | RangeCondition::BeginsWith(v) => vec![v],
                RangeCondition::Between(low, high) => vec![low, high],
            };
            let begins_with_number =
                matches!(leaf.range, RangeCondition::BeginsWith(_)) && key_type == "N";
            if begins_with_number || values.iter().any(|v| v.type_name() != key_type) {
                return Err(fail(TYPE_MISMATCH));
            }
        }
    }
    if schema.is_multi() {
        return multi_key_condition(leaves, schema);
    }
    let Some(hash_index) = leaves.iter().position(|l| l.name == schema.hash_name) else {
        return Err(fail(MISSED_ELEMENT));
    };
    if let Some(other) = leaves.iter().find(|l| l.name != schema.hash_name) {
        match schema.range {
            None => return Err(fail(NOT_SUPPORTED)),
            Some((range, _)) if other.name != range => return Err(fail(MISSED_ELEMENT)),
            Some(_) => {}
        }
    }
    let mut leaves = leaves;
    let hash = leaves.remove(hash_index);
    let hash_value = match (hash.comparator, hash.range) {
        (Some(Comparator::Eq), RangeCondition::Compare(_, value)) => value,
        _ => return Err(fail(NOT_SUPPORTED)),
    };
    Ok(KeyCondition {
        hash_name: hash.name,
        hash_value,
        range: leaves.pop().map(|leaf| (leaf.name, leaf.range)),
        extra_hash: Vec::new(),
        range_equal: Vec::new(),
    })
}

/// The equality value of a leaf, if it is `name = value`.
fn equality(leaf: &Leaf) -> Option<&AttributeValue> {
    match (&leaf.comparator, &leaf.range) {
        (Some(Comparator::Eq), RangeCondition::Compare(_, value)) => Some(value),
        _ => None,
    }
}

/// A key condition on a multi-attribute key: equality on every partition key attribute; sort
/// key attributes conditioned left to right, with equality on all but the last conditioned.
fn multi_key_condition(
    leaves: Vec<Leaf>,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    let find = |name: &str| leaves.iter().find(|l| l.name == name);
    let hash_names = schema.hash_names();
    let missing: Vec<&str> = hash_names
        .iter()
        .copied()
        .filter(|name| find(name).and_then(equality).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(format!(
            "HASH key attributes {} must have equality conditions specified in the query",
            missing.join(", ")
        )));
    }
    if leaves.iter().any(|l| schema.type_of(&l.name).is_none()) {
        return Err(fail(MISSED_ELEMENT));
    }
    let range_names = schema.range_names();
    let last = range_names.iter().rposition(|name| find(name).is_some());
    if let Some(last) = last {
        let missing: Vec<&str> = range_names[..last]
            .iter()
            .copied()
            .filter(|name| find(name).and_then(equality).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::validation(format!(
                "RANGE key attributes {} must have equality conditions specified in the query because a condition is present on key attribute {}",
                missing.join(", "),
                range_names[last]
            )));
        }
    }
    let value = |name: &str| {
        find(name)
            .and_then(equality)
            .cloned()
            .unwrap_or(AttributeValue::Null)
    };
    let range_equal = match last {
        Some(last) => range_names[..last]
            .iter()
            .map(|name| (name.to_string(), value(name)))
            .collect(),
        None => Vec::new(),
    };
    let range = last.and_then(|last| {
        find(range_names[last]).map(|leaf| (leaf.name.clone(), leaf.range.clone()))
    });
    Ok(KeyCondition {
        hash_name: schema.hash_name.to_string(),
        hash_value: value(schema.hash_name),
        range,
        extra_hash: hash_names[1..]
            .iter()
            .map(|name| (name.to_string(), value(name)))
            .collect(),
        range_equal,
    })
}

/// `Key attributes must be scalars`: the first nested path into a key attribute, in text
/// order. (Nested paths into other attributes are reported later, condition by condition.)
fn check_scalar_keys(condition: &Condition, schema: &KeySchema<'_>) -> Result<(), ApiError> {
    let mut paths = Vec::new();
    collect_paths(condition, &mut paths);
    match paths
        .into_iter()
        .find(|p| !p.is_top_level() && schema.type_of(p.top()).is_some())
    {
        Some(path) => Err(ApiError::validation(format!(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {}",
            path.top()
        ))),
        None => Ok(()),
    }
}

/// The paths of a condition, in text order.
pub(crate) fn collect_paths<'c>(condition: &'c Condition, out: &mut Vec<&'c Path>) {
    fn operand<'c>(value: &'c Operand, out: &mut Vec<&'c Path>) {
        match value {
            Operand::Path(path) => out.push(path),
            Operand::Size(inner) => operand(inner, out),
            Operand::Value(_) => {}
        }
    }
    match condition {
        Condition::Compare { left, right, .. } => {
            operand(left, out);
            operand(right, out);
        }
        Condition::Between { subject, low, high } => {
            operand(subject, out);
            operand(low, out);
            operand(high, out);
        }
        Condition::In { subject, list } => {
            operand(subject, out);
            list.iter().for_each(|o| operand(o, out));
        }
        Condition::AttributeExists(path) | Condition::AttributeNotExists(path) => out.push(path),
        Condition::AttributeType(a, _) => operand(a, out),
        Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
            operand(a, out);
            operand(b, out);
        }
        Condition::And(a, b) | Condition::Or(a, b) => {
            collect_paths(a, out);
            collect_paths(b, out);
        }
        Condition::Not(inner) => collect_paths(inner, out),
    }
}

/// Operators a key condition may not use.
fn check_operators(condition: &Condition) -> Result<(), ApiError> {
    let operator = match condition {
        Condition::Or(..) => "OR",
        Condition::Not(_) => "NOT",
        Condition::In { .. } => "IN",
        Condition::Compare {
            op: Comparator::Ne, ..
        } => "<>",
        Condition::AttributeExists(_) => "attribute_exists",
        Condition::AttributeNotExists(_) => "attribute_not_exists",
        Condition::AttributeType(..) => "attribute_type",
        Condition::Contains(..) => "contains",
        _ => return Ok(()),
    };
    Err(ApiError::validation(format!(
        "Invalid operator used in KeyConditionExpression: {operator}"
    )))
}

fn flatten<'c>(condition: &'c Condition, out: &mut Vec<&'c Condition>) {
    match condition {
        Condition::And(a, b) => {
            flatten(a, out);
            flatten(b, out);
        }
        other => out.push(other),
    }
}

/// The attribute and condition of one simple condition. DynamoDB looks at the key operand
/// first (it must be a top-level path), then at the others (constants only).
fn leaf(condition: &Condition) -> Result<Leaf, ApiError> {
    let (key, others, comparator) = match condition {
        Condition::Compare { op, left, right } => match (left, right) {
            (Operand::Value(_), Operand::Value(_)) => {
                return Err(fail(
                    "Invalid condition in KeyConditionExpression: No key attribute specified",
                ))
            }
            (Operand::Value(_), key) => (key, vec![left], Some(op.flipped())),
            (key, _) => (key, vec![right], Some(*op)),
        },
        Condition::Between { subject, low, high } => {
            if matches!(subject, Operand::Value(_)) {
                return Err(fail(
                    "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
                ));
            }
            (subject, vec![low, high], None)
        }
        Condition::BeginsWith(subject, prefix) => {
            if matches!(subject, Operand::Value(_)) {
                return Err(fail(
                    "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
                ));
            }
            (subject, vec![prefix], None)
        }
        // check_operators lets nothing else through.
        _ => return Err(fail(NOT_SUPPORTED)),
    };
    let name = match key {
        Operand::Path(path) if path.is_top_level() => path.top().to_string(),
        Operand::Path(_) => {
            return Err(fail(
                "KeyConditionExpressions cannot have conditions on nested attributes",
            ))
        }
        _ => {
            return Err(fail(
                "KeyConditionExpressions cannot contain nested operations",
            ))
        }
    };
    let mut values = Vec::with_capacity(others.len());
    for operand in others {
        match operand {
            Operand::Value(value) => values.push(value.clone()),
            Operand::Size(_) => {
                return Err(fail(
                    "KeyConditionExpressions cannot contain nested operations",
                ))
            }
            Operand::Path(_) => {
                return Err(fail(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                ))
            }
        }
    }
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(AttributeValue::Null);
    let range = match (condition, comparator) {
        (Condition::Between { .. }, _) => {
            let low = next();
            RangeCondition::Between(low, next())
        }
        (Condition::BeginsWith(..), _) => RangeCondition::BeginsWith(next()),
        (_, Some(op)) => RangeCondition::Compare(op, next()),
        _ => return Err(fail(NOT_SUPPORTED)),
    };
    Ok(Leaf {
        name,
        comparator,
        range,
    })
}

/// Legacy KeyConditions, already read into `(attribute, condition)` pairs by
/// [`super::legacy`]; `range` conditions on the hash key and the counts are checked here with
/// the legacy messages.
pub(crate) fn legacy_key_condition(
    conditions: Vec<(String, Option<Comparator>, RangeCondition)>,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    if conditions.is_empty() {
        return Err(fail("Conditions must be at least length 1"));
    }
    if conditions.len() > 2 && !schema.is_multi() {
        return Err(fail("Conditions can be of length 1 or 2 only"));
    }
    let leaves = conditions
        .into_iter()
        .map(|(name, comparator, range)| Leaf {
            name,
            comparator,
            range,
        })
        .collect();
    key_condition_from_leaves(leaves, schema)
}
