//! Applying an update (UpdateExpression or legacy AttributeUpdates) to an item.
//!
//! DynamoDB's semantics, as observed:
//! - every value is computed from the item as it was before the update (`SET a = b, b = a`
//!   swaps), and list indexes refer to the list before the update: `REMOVE l[0], l[2]` removes
//!   the first and third elements, and `SET l[1] = :v REMOVE l[0]` changes the second element
//!   and then drops the first;
//! - `SET l[i]` (and `ADD l[i]`) past the end of a list appends, in index order;
//! - REMOVE of an absent attribute, map member or list element does nothing; DELETE that
//!   empties a set removes the attribute;
//! - a path whose parent is missing or of the wrong type is an error, as is an operand of the
//!   wrong type or a path operand that is absent.
//!
//! Errors are checked action by action in DynamoDB's order, which follows its hash table of
//! top-level attribute names (the order is modelled on DynamoDB Local's answers), so that the
//! same error wins when several actions are wrong.

use super::ast::{Projection, SetOperand, SetValue, UpdateAction, UpdateExpr};
use super::names::java_string_hash;
use super::path::{step, step_mut, Path, PathElement};
use crate::error::ApiError;
use crate::model::{AttributeValue, Item};

const MISSING_OPERAND: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";
const LEGACY_WRONG_TYPE: &str = "Type mismatch for attribute to update";
const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";

/// The result of applying an update.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateOutcome {
    /// The item after the update.
    pub item: Item,
    /// The paths the update wrote or removed, in the order written (for ReturnValues
    /// `UPDATED_OLD` and `UPDATED_NEW`).
    pub updated_paths: Vec<Path>,
}

impl UpdateOutcome {
    /// What ReturnValues `UPDATED_OLD` (pass the old item) or `UPDATED_NEW` (pass
    /// [`Self::item`]) returns: the updated paths that exist in `item`, projected as a
    /// ProjectionExpression would (`SET m.x = :v` returns `{"m": {"M": {"x": ...}}}`, not all of
    /// `m`). This is the service's answer (the Developer Guide's movie example returns only the
    /// updated members of `info`); DynamoDB Local returns whole top-level attributes instead.
    pub fn updated_attributes(&self, item: &Item) -> Item {
        Projection {
            paths: self.updated_paths.clone(),
        }
        .apply(item)
    }
}

/// A change to make, found valid against the old item.
enum Change {
    /// Write `value` at `path` (an existing list element, a map member or a top-level name).
    Put(Path, AttributeValue),
    /// Append `value` to the list at `list` (written with index `index`, past the end).
    Append(Path, usize, AttributeValue),
    /// Remove what is at `path` (present).
    Remove(Path),
}

impl UpdateExpr {
    /// Applies the update to `old` (an empty item when there is none) and returns the new item.
    /// `key_attributes` are the table's key attribute names, which no action may change.
    pub fn apply(&self, old: &Item, key_attributes: &[&str]) -> Result<UpdateOutcome, ApiError> {
        if let Some(action) = self
            .actions
            .iter()
            .find(|action| key_attributes.contains(&action.path().top()))
        {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                action.path().top()
            )));
        }
        let mut changes = Vec::with_capacity(self.actions.len());
        for index in self.check_order() {
            if let Some(change) = self.plan(&self.actions[index], old)? {
                changes.push(change);
            }
        }
        let mut item = old.clone();
        let mut appends = Vec::new();
        let mut removals = Vec::new();
        for change in changes {
            match change {
                Change::Put(path, value) => put(&mut item, &path, value),
                Change::Append(list, index, value) => appends.push((list, index, value)),
                Change::Remove(path) => removals.push(path),
            }
        }
        appends.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (list, _, value) in appends {
            if let Some(AttributeValue::L(elements)) = get_mut(&mut item, &list) {
                elements.push(value);
            }
        }
        // Deepest and highest index first, so that no removal shifts another one's target.
        removals.sort_by(|a, b| b.cmp(a));
        for path in removals {
            remove(&mut item, &path);
        }
        Ok(UpdateOutcome {
            item,
            updated_paths: self.actions.iter().map(|a| a.path().clone()).collect(),
        })
    }

    /// The order in which DynamoDB checks the actions: by its hash table of top-level names,
    /// last slot first.
    fn check_order(&self) -> Vec<usize> {
        let mut names: Vec<&str> = Vec::new();
        for action in &self.actions {
            if !names.contains(&action.path().top()) {
                names.push(action.path().top());
            }
        }
        let mut capacity = 16usize;
        while names.len() as f64 > capacity as f64 * 0.75 {
            capacity *= 2;
        }
        let slot =
            |name: &str| java_string_hash(name).wrapping_add(17) as u32 as usize & (capacity - 1);
        let mut order: Vec<usize> = (0..self.actions.len()).collect();
        order.sort_by_key(|&i| {
            (
                std::cmp::Reverse(slot(self.actions[i].path().top())),
                std::cmp::Reverse(i),
            )
        });
        order
    }

    fn wrong_type(&self) -> ApiError {
        ApiError::validation(if self.legacy {
            LEGACY_WRONG_TYPE
        } else {
            WRONG_TYPE
        })
    }

    fn plan(&self, action: &UpdateAction, old: &Item) -> Result<Option<Change>, ApiError> {
        match action {
            UpdateAction::Set { path, value } => {
                let target = target(path, old)?;
                let value = self.set_value(value, old)?;
                Ok(Some(target.write(path, value)))
            }
            UpdateAction::Remove { path } => {
                let target = target(path, old)?;
                Ok(target.current.map(|_| Change::Remove(path.clone())))
            }
            UpdateAction::Add { path, value } => {
                let target = target(path, old)?;
                let new_value = match (target.current, value) {
                    (None, value) => value.clone(),
                    (Some(AttributeValue::N(a)), AttributeValue::N(b)) => {
                        AttributeValue::N(a.add(b)?)
                    }
                    (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                        AttributeValue::Ss(union(a, b))
                    }
                    (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                        AttributeValue::Ns(union(a, b))
                    }
                    (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                        AttributeValue::Bs(union(a, b))
                    }
                    (Some(AttributeValue::L(a)), AttributeValue::L(b)) if self.legacy => {
                        AttributeValue::L(a.iter().chain(b).cloned().collect())
                    }
                    _ => return Err(self.wrong_type()),
                };
                Ok(Some(target.write(path, new_value)))
            }
            UpdateAction::Delete { path, value } => {
                let target = target(path, old)?;
                let remaining = match (target.current, value) {
                    (None, _) => return Ok(None),
                    (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                        difference(a, b).map(AttributeValue::Ss)
                    }
                    (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                        difference(a, b).map(AttributeValue::Ns)
                    }
                    (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                        difference(a, b).map(AttributeValue::Bs)
                    }
                    _ => return Err(self.wrong_type()),
                };
                Ok(Some(match remaining {
                    Some(value) => Change::Put(path.clone(), value),
                    None => Change::Remove(path.clone()),
                }))
            }
        }
    }

    fn set_value(&self, value: &SetValue, old: &Item) -> Result<AttributeValue, ApiError> {
        match value {
            SetValue::Operand(operand) => self.set_operand(operand, old),
            SetValue::Plus(left, right) | SetValue::Minus(left, right) => {
                // Each operand is checked as soon as it is read: `b + c` with a binary `b` is a
                // type error even when `c` is absent.
                let number = |operand: &SetOperand| match self.set_operand(operand, old)? {
                    AttributeValue::N(n) => Ok(n),
                    _ => Err(self.wrong_type()),
                };
                let left = number(left)?;
                let right = number(right)?;
                Ok(AttributeValue::N(if matches!(value, SetValue::Plus(..)) {
                    left.add(&right)?
                } else {
                    left.sub(&right)?
                }))
            }
        }
    }

    fn set_operand(&self, operand: &SetOperand, old: &Item) -> Result<AttributeValue, ApiError> {
        match operand {
            SetOperand::Path(path) => path
                .get(old)
                .cloned()
                .ok_or_else(|| ApiError::validation(MISSING_OPERAND)),
            SetOperand::Value(value) => Ok(value.clone()),
            SetOperand::IfNotExists(path, fallback) => match path.get(old) {
                Some(value) => Ok(value.clone()),
                None => self.set_operand(fallback, old),
            },
            SetOperand::ListAppend(first, second) => {
                let list = |operand: &SetOperand| match self.set_operand(operand, old)? {
                    AttributeValue::L(list) => Ok(list),
                    _ => Err(self.wrong_type()),
                };
                let mut first = list(first)?;
                first.extend(list(second)?);
                Ok(AttributeValue::L(first))
            }
        }
    }
}

/// Where an action writes, checked against the old item.
struct Target<'a> {
    /// What is there now.
    current: Option<&'a AttributeValue>,
    /// For a list index past the end: the list's path.
    append_to: Option<Path>,
}

impl Target<'_> {
    fn write(&self, path: &Path, value: AttributeValue) -> Change {
        match (&self.append_to, path.elements().last()) {
            (Some(list), Some(PathElement::Index(index))) => {
                Change::Append(list.clone(), *index, value)
            }
            _ => Change::Put(path.clone(), value),
        }
    }
}

/// Checks that `path` can be written in `old`: its parent exists and is a map (for a name) or
/// a list (for an index).
fn target<'a>(path: &Path, old: &'a Item) -> Result<Target<'a>, ApiError> {
    let elements = path.elements();
    if elements.len() == 1 {
        return Ok(Target {
            current: old.get(path.top()),
            append_to: None,
        });
    }
    let mut parent = old
        .get(path.top())
        .ok_or_else(|| ApiError::validation(INVALID_PATH))?;
    for element in &elements[1..elements.len() - 1] {
        parent = step(parent, element).ok_or_else(|| ApiError::validation(INVALID_PATH))?;
    }
    match (parent, &elements[elements.len() - 1]) {
        (AttributeValue::M(map), PathElement::Attribute(name)) => Ok(Target {
            current: map.get(name),
            append_to: None,
        }),
        (AttributeValue::L(list), PathElement::Index(index)) => Ok(Target {
            current: list.get(*index),
            append_to: (*index >= list.len())
                .then(|| Path::new(elements[..elements.len() - 1].to_vec()))
                .flatten(),
        }),
        _ => Err(ApiError::validation(INVALID_PATH)),
    }
}

fn get_mut<'a>(item: &'a mut Item, path: &Path) -> Option<&'a mut AttributeValue> {
    let mut current = item.get_mut(path.top())?;
    for element in &path.elements()[1..] {
        current = step_mut(current, element)?;
    }
    Some(current)
}

fn put(item: &mut Item, path: &Path, value: AttributeValue) {
    let elements = path.elements();
    if elements.len() == 1 {
        item.insert(path.top().to_string(), value);
        return;
    }
    let Some(parent_path) = Path::new(elements[..elements.len() - 1].to_vec()) else {
        return;
    };
    match (get_mut(item, &parent_path), &elements[elements.len() - 1]) {
        (Some(AttributeValue::M(map)), PathElement::Attribute(name)) => {
            map.insert(name.clone(), value);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) => {
            if let Some(slot) = list.get_mut(*index) {
                *slot = value;
            }
        }
        _ => {}
    }
}

fn remove(item: &mut Item, path: &Path) {
    let elements = path.elements();
    if elements.len() == 1 {
        item.remove(path.top());
        return;
    }
    let Some(parent_path) = Path::new(elements[..elements.len() - 1].to_vec()) else {
        return;
    };
    match (get_mut(item, &parent_path), &elements[elements.len() - 1]) {
        (Some(AttributeValue::M(map)), PathElement::Attribute(name)) => {
            map.remove(name);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) if *index < list.len() => {
            list.remove(*index);
        }
        _ => {}
    }
}

/// Members of `a`, then members of `b` not in `a`.
fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    let mut result = a.to_vec();
    for member in b {
        if !result.contains(member) {
            result.push(member.clone());
        }
    }
    result
}

/// Members of `a` not in `b`; `None` when that leaves nothing.
fn difference<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Option<Vec<T>> {
    let result: Vec<T> = a.iter().filter(|m| !b.contains(m)).cloned().collect();
    (!result.is_empty()).then_some(result)
}
