//! Document paths (`a.b[3].c`): what expressions address inside an item.

use std::fmt;

use crate::model::{AttributeValue, Item};

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A top-level attribute or a map member, by name (placeholders already resolved).
    Attribute(String),
    /// A list element, by position (at most 2147483647, DynamoDB's limit).
    Index(usize),
}

/// A resolved document path: never empty, and its first element is always an
/// [`PathElement::Attribute`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    elements: Vec<PathElement>,
}

impl Path {
    /// A path from its elements; `None` unless it starts with an attribute name.
    pub fn new(elements: Vec<PathElement>) -> Option<Path> {
        match elements.first() {
            Some(PathElement::Attribute(_)) => Some(Path { elements }),
            _ => None,
        }
    }

    /// A path to a top-level attribute (legacy parameters address only those).
    pub fn attribute(name: impl Into<String>) -> Path {
        Path {
            elements: vec![PathElement::Attribute(name.into())],
        }
    }

    /// The steps of the path.
    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute the path starts at.
    pub fn top(&self) -> &str {
        match &self.elements[0] {
            PathElement::Attribute(name) => name,
            // `new` guarantees an attribute first.
            PathElement::Index(_) => "",
        }
    }

    /// Whether the path is a bare top-level attribute name.
    pub fn is_top_level(&self) -> bool {
        self.elements.len() == 1
    }

    /// The value the path points at in `item`, if there is one.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut current = item.get(self.top())?;
        for element in &self.elements[1..] {
            current = step(current, element)?;
        }
        Some(current)
    }
}

/// One step down from `value`.
pub(crate) fn step<'a>(
    value: &'a AttributeValue,
    element: &PathElement,
) -> Option<&'a AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute(name)) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(i)) => list.get(*i),
        _ => None,
    }
}

/// One step down from `value`, for changing what is there.
pub(crate) fn step_mut<'a>(
    value: &'a mut AttributeValue,
    element: &PathElement,
) -> Option<&'a mut AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute(name)) => map.get_mut(name),
        (AttributeValue::L(list), PathElement::Index(i)) => list.get_mut(*i),
        _ => None,
    }
}

/// DynamoDB's rendering in messages: `[a, [1], b]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, element) in self.elements.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match element {
                PathElement::Attribute(name) => f.write_str(name)?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Number;

    fn item() -> Item {
        let mut inner = Item::new();
        inner.insert("c".into(), AttributeValue::N(Number::from_i64(7)));
        let mut item = Item::new();
        item.insert(
            "a".into(),
            AttributeValue::L(vec![AttributeValue::Null, AttributeValue::M(inner)]),
        );
        item
    }

    #[test]
    fn navigates() {
        let path = Path::new(vec![
            PathElement::Attribute("a".into()),
            PathElement::Index(1),
            PathElement::Attribute("c".into()),
        ])
        .unwrap();
        assert_eq!(path.to_string(), "[a, [1], c]");
        assert_eq!(
            path.get(&item()),
            Some(&AttributeValue::N(Number::from_i64(7)))
        );
        let missing = Path::new(vec![
            PathElement::Attribute("a".into()),
            PathElement::Attribute("c".into()),
        ])
        .unwrap();
        assert_eq!(missing.get(&item()), None);
        assert!(Path::new(vec![PathElement::Index(0)]).is_none());
        assert!(Path::new(vec![]).is_none());
    }
}
