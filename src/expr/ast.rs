//! The checked, resolved form of expressions: what evaluation and update work on.
//!
//! Placeholders are replaced by the names and values they stand for, every static rule has been
//! checked, and the legacy parameters (Expected, AttributeUpdates, ...) produce the same types,
//! so there is one evaluator and one update engine.

use super::path::Path;
use crate::model::AttributeValue;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator as written in expressions and messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`:v < a` is `a > :v`).
    pub fn flipped(self) -> Comparator {
        match self {
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
            other => other,
        }
    }
}

/// Something a condition compares: an attribute, a constant, or the size of either.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// The value at a document path of the item (possibly absent).
    Path(Path),
    /// A constant (from ExpressionAttributeValues or a legacy parameter).
    Value(AttributeValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

/// A condition (ConditionExpression, FilterExpression, legacy Expected and filters).
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `left op right`.
    Compare {
        /// The operator.
        op: Comparator,
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `subject BETWEEN low AND high`.
    Between {
        /// The operand tested.
        subject: Operand,
        /// Lower bound (inclusive).
        low: Operand,
        /// Upper bound (inclusive).
        high: Operand,
    },
    /// `subject IN (list)`.
    In {
        /// The operand tested.
        subject: Operand,
        /// The candidates.
        list: Vec<Operand>,
    },
    /// `attribute_exists(path)`.
    AttributeExists(Path),
    /// `attribute_not_exists(path)`.
    AttributeNotExists(Path),
    /// `attribute_type(operand, :type)`, with the type name (`S`, `N`, `SS`, ...).
    AttributeType(Operand, String),
    /// `begins_with(operand, operand)`.
    BeginsWith(Operand, Operand),
    /// `contains(operand, operand)`.
    Contains(Operand, Operand),
    /// Both.
    And(Box<Condition>, Box<Condition>),
    /// Either.
    Or(Box<Condition>, Box<Condition>),
    /// Negation.
    Not(Box<Condition>),
}

/// An operand of a SET value.
#[derive(Clone, Debug, PartialEq)]
pub enum SetOperand {
    /// The value at a path of the item before the update (must exist).
    Path(Path),
    /// A constant.
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`.
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(operand, operand)`.
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    /// A single operand.
    Operand(SetOperand),
    /// `left + right`.
    Plus(SetOperand, SetOperand),
    /// `left - right`.
    Minus(SetOperand, SetOperand),
}

/// One action of an update.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set {
        /// Where to write.
        path: Path,
        /// What to write.
        value: SetValue,
    },
    /// `REMOVE path`.
    Remove {
        /// What to remove.
        path: Path,
    },
    /// `ADD path value`: add a number, or add members to a set (legacy: also append to a list).
    Add {
        /// Where to add.
        path: Path,
        /// A number or a set (legacy: also a list).
        value: AttributeValue,
    },
    /// `DELETE path value`: remove members from a set.
    Delete {
        /// The set to shrink.
        path: Path,
        /// The members to remove (a set of the same type).
        value: AttributeValue,
    },
}

impl UpdateAction {
    /// The document path the action changes.
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set { path, .. }
            | UpdateAction::Remove { path }
            | UpdateAction::Add { path, .. }
            | UpdateAction::Delete { path, .. } => path,
        }
    }
}

/// A checked update: actions in the order written.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateExpr {
    /// The actions, in the order written.
    pub actions: Vec<UpdateAction>,
    /// Built from legacy AttributeUpdates: DynamoDB words runtime type errors differently
    /// (`Type mismatch for attribute to update`) and ADD may append to a list.
    pub legacy: bool,
}

impl UpdateExpr {
    /// Whether the update only removes (REMOVE, DELETE): on a missing item such an update
    /// creates nothing in the DynamoDB service.
    pub fn only_removes(&self) -> bool {
        self.actions.iter().all(|action| {
            matches!(
                action,
                UpdateAction::Remove { .. } | UpdateAction::Delete { .. }
            )
        })
    }
}

/// A checked projection: the paths to return, in the order written.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// The paths (never overlapping).
    pub paths: Vec<Path>,
}

/// The condition on the range key of a Query.
#[derive(Clone, Debug, PartialEq)]
pub enum RangeCondition {
    /// `sk op value` (any comparator but `<>`).
    Compare(Comparator, AttributeValue),
    /// `sk BETWEEN low AND high`.
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)`.
    BeginsWith(AttributeValue),
}

/// A checked key condition of a Query: the partition key value and, optionally, a condition on
/// the sort key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyCondition {
    /// The partition key attribute name.
    pub hash_name: String,
    /// The partition key value.
    pub hash_value: AttributeValue,
    /// The sort key attribute name and its condition, if any. For a multi-attribute key: the
    /// last sort key attribute with a condition.
    pub range: Option<(String, RangeCondition)>,
    /// Multi-attribute keys: the other partition key attributes and values, in key order.
    pub extra_hash: Vec<(String, AttributeValue)>,
    /// Multi-attribute keys: the sort key attributes before `range`, each with its equality
    /// value, in key order.
    pub range_equal: Vec<(String, AttributeValue)>,
}
