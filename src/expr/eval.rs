//! Evaluating a condition against an item.
//!
//! Evaluation never fails: every static rule was checked when the condition was built, and what
//! is left are DynamoDB's runtime rules, which all make a comparison false rather than an error:
//! values of different types are never equal and never ordered (a number never equals a
//! string), ordering applies to strings (by UTF-8 bytes), numbers and binaries only, and an
//! absent attribute makes `=`, `<`, `BETWEEN`, `IN` and the functions false and `<>` true.

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand};
use crate::model::{AttributeValue, Item, Number};

impl Condition {
    /// Whether `item` satisfies the condition (an absent item is an empty one).
    pub fn evaluate(&self, item: &Item) -> bool {
        match self {
            Condition::Compare { op, left, right } => {
                let left = left.evaluate(item);
                let right = right.evaluate(item);
                match (op, left, right) {
                    (Comparator::Eq, Some(a), Some(b)) => a == b,
                    (Comparator::Ne, Some(a), Some(b)) => a != b,
                    (Comparator::Ne, _, _) => true,
                    (_, Some(a), Some(b)) => match compare_values(&a, &b) {
                        Some(ordering) => match op {
                            Comparator::Lt => ordering == Ordering::Less,
                            Comparator::Le => ordering != Ordering::Greater,
                            Comparator::Gt => ordering == Ordering::Greater,
                            Comparator::Ge => ordering != Ordering::Less,
                            Comparator::Eq | Comparator::Ne => false,
                        },
                        None => false,
                    },
                    _ => false,
                }
            }
            Condition::Between { subject, low, high } => {
                match (
                    subject.evaluate(item),
                    low.evaluate(item),
                    high.evaluate(item),
                ) {
                    (Some(value), Some(low), Some(high)) => {
                        compare_values(&low, &value).is_some_and(|o| o != Ordering::Greater)
                            && compare_values(&value, &high).is_some_and(|o| o != Ordering::Greater)
                    }
                    _ => false,
                }
            }
            Condition::In { subject, list } => match subject.evaluate(item) {
                Some(value) => list
                    .iter()
                    .any(|candidate| candidate.evaluate(item).is_some_and(|c| c == value)),
                None => false,
            },
            Condition::AttributeExists(path) => path.get(item).is_some(),
            Condition::AttributeNotExists(path) => path.get(item).is_none(),
            Condition::AttributeType(operand, type_name) => operand
                .evaluate(item)
                .is_some_and(|value| value.type_name() == type_name),
            Condition::BeginsWith(subject, prefix) => {
                match (subject.evaluate(item), prefix.evaluate(item)) {
                    (Some(AttributeValue::S(s)), Some(AttributeValue::S(p))) => s.starts_with(&p),
                    (Some(AttributeValue::B(s)), Some(AttributeValue::B(p))) => s.starts_with(&p),
                    _ => false,
                }
            }
            Condition::Contains(subject, operand) => {
                match (subject.evaluate(item), operand.evaluate(item)) {
                    (Some(haystack), Some(needle)) => contains(&haystack, &needle),
                    _ => false,
                }
            }
            Condition::And(left, right) => left.evaluate(item) && right.evaluate(item),
            Condition::Or(left, right) => left.evaluate(item) || right.evaluate(item),
            Condition::Not(inner) => !inner.evaluate(item),
        }
    }
}

impl Operand {
    /// The operand's value for `item`; `None` when the path is absent or `size` does not apply.
    pub fn evaluate(&self, item: &Item) -> Option<AttributeValue> {
        match self {
            Operand::Path(path) => path.get(item).cloned(),
            Operand::Value(value) => Some(value.clone()),
            Operand::Size(inner) => size_of(&inner.evaluate(item)?).map(AttributeValue::N),
        }
    }
}

/// `size()`: characters of a string (UTF-16 units, as DynamoDB counts), bytes of a binary,
/// members of a set, list or map; nothing for other types.
fn size_of(value: &AttributeValue) -> Option<Number> {
    let size = match value {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(set) => set.len(),
        AttributeValue::Ns(set) => set.len(),
        AttributeValue::Bs(set) => set.len(),
        AttributeValue::L(list) => list.len(),
        AttributeValue::M(map) => map.len(),
        AttributeValue::N(_) | AttributeValue::Null | AttributeValue::Bool(_) => return None,
    };
    Some(Number::from_i64(i64::try_from(size).unwrap_or(i64::MAX)))
}

/// The order of two values of one scalar type (strings by UTF-8 bytes, numbers by value,
/// binaries by unsigned bytes); `None` for different types or non-scalars.
pub(crate) fn compare_values(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `contains()`: a substring of a string, a byte run of a binary, a member of a set (of the
/// matching scalar type), or an element of a list.
pub(crate) fn contains(haystack: &AttributeValue, needle: &AttributeValue) -> bool {
    match (haystack, needle) {
        (AttributeValue::S(s), AttributeValue::S(n)) => s.contains(n.as_str()),
        (AttributeValue::B(b), AttributeValue::B(n)) => {
            n.is_empty() || b.windows(n.len()).any(|w| w == n.as_slice())
        }
        (AttributeValue::Ss(set), AttributeValue::S(n)) => set.contains(n),
        (AttributeValue::Ns(set), AttributeValue::N(n)) => set.contains(n),
        (AttributeValue::Bs(set), AttributeValue::B(n)) => set.contains(n),
        (AttributeValue::L(list), needle) => list.contains(needle),
        _ => false,
    }
}
