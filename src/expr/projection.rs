//! Applying a projection (ProjectionExpression or legacy AttributesToGet) to an item.
//!
//! The result keeps the structure of the item down to each projected path: `m.x` gives
//! `{"m": {"M": {"x": ...}}}`, and list elements keep their relative order but are packed
//! (`l[2], l[0]` gives a two-element list, element 0 first). Paths that are absent, or that
//! step into a value of the wrong type, contribute nothing.

use std::collections::BTreeMap;

use super::ast::Projection;
use super::path::PathElement;
use crate::error::ApiError;
use crate::model::{AttributeValue, Item};

/// The requested paths as a tree; a node with no children takes the whole value.
#[derive(Default)]
struct Wanted {
    children: BTreeMap<PathElement, Wanted>,
}

impl Projection {
    /// The parts of `item` the projection asks for.
    pub fn apply(&self, item: &Item) -> Item {
        let mut wanted = Wanted::default();
        for path in &self.paths {
            let mut node = &mut wanted;
            for element in path.elements() {
                node = node.children.entry(element.clone()).or_default();
            }
        }
        let mut result = Item::new();
        for (element, node) in &wanted.children {
            if let PathElement::Attribute(name) = element {
                if let Some(value) = item.get(name).and_then(|value| node.pick(value)) {
                    result.insert(name.clone(), value);
                }
            }
        }
        result
    }

    /// Legacy AttributesToGet: top-level names, each at most once.
    pub fn from_attribute_names(names: &[String]) -> Result<Projection, ApiError> {
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(ApiError::validation(
                    "Cannot have two attributes with the same name",
                ));
            }
        }
        Ok(Projection {
            paths: names
                .iter()
                .map(|name| super::path::Path::attribute(name.clone()))
                .collect(),
        })
    }

    /// The top-level attribute names the projection reads (for index projections and
    /// `Select`).
    pub fn top_level_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for path in &self.paths {
            if !names.contains(&path.top()) {
                names.push(path.top());
            }
        }
        names
    }
}

impl Wanted {
    fn pick(&self, value: &AttributeValue) -> Option<AttributeValue> {
        if self.children.is_empty() {
            return Some(value.clone());
        }
        match value {
            AttributeValue::M(map) => {
                let mut picked = Item::new();
                for (element, node) in &self.children {
                    if let PathElement::Attribute(name) = element {
                        if let Some(member) = map.get(name).and_then(|v| node.pick(v)) {
                            picked.insert(name.clone(), member);
                        }
                    }
                }
                (!picked.is_empty()).then_some(AttributeValue::M(picked))
            }
            AttributeValue::L(list) => {
                // BTreeMap order: indexes ascending.
                let picked: Vec<AttributeValue> = self
                    .children
                    .iter()
                    .filter_map(|(element, node)| match element {
                        PathElement::Index(i) => list.get(*i).and_then(|v| node.pick(v)),
                        PathElement::Attribute(_) => None,
                    })
                    .collect();
                (!picked.is_empty()).then_some(AttributeValue::L(picked))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{parse_projection, ExpressionAttributes};
    use crate::model::value::item_to_json;
    use serde_json::json;

    fn item() -> Item {
        crate::model::wire::item_from_json(&json!({
            "n": {"N": "5"},
            "l": {"L": [{"N": "1"}, {"M": {"a": {"N": "2"}, "b": {"N": "3"}}}, {"L": [{"S": "x"}, {"S": "y"}]}]},
            "m": {"M": {"x": {"N": "1"}, "y": {"M": {"z": {"S": "deep"}, "w": {"S": "w"}}}}}
        }))
        .unwrap()
    }

    fn project(expression: &str) -> serde_json::Value {
        let mut attrs = ExpressionAttributes::none();
        let projection = parse_projection(expression, &mut attrs).unwrap();
        item_to_json(&projection.apply(&item()))
    }

    /// Answers of DynamoDB Local to GetItem with these projections.
    #[test]
    fn keeps_structure_and_packs_lists() {
        assert_eq!(
            project("m.y.z"),
            json!({"m": {"M": {"y": {"M": {"z": {"S": "deep"}}}}}})
        );
        assert_eq!(
            project("l[1].a, l[2][0]"),
            json!({"l": {"L": [{"M": {"a": {"N": "2"}}}, {"L": [{"S": "x"}]}]}})
        );
        assert_eq!(
            project("l[2][1], l[1]"),
            json!({"l": {"L": [{"M": {"a": {"N": "2"}, "b": {"N": "3"}}}, {"L": [{"S": "y"}]}]}})
        );
        for absent in ["l[5]", "m.nope", "nope", "n.x", "m[0]", "l.a"] {
            assert_eq!(project(absent), json!({}), "{absent}");
        }
        assert_eq!(
            project("n, m.x"),
            json!({"n": {"N": "5"}, "m": {"M": {"x": {"N": "1"}}}})
        );
    }

    #[test]
    fn attributes_to_get() {
        let names = vec!["n".to_string(), "n".to_string()];
        assert_eq!(
            Projection::from_attribute_names(&names)
                .unwrap_err()
                .message,
            "Cannot have two attributes with the same name"
        );
        let projection = Projection::from_attribute_names(&["n".to_string()]).unwrap();
        assert_eq!(
            item_to_json(&projection.apply(&item())),
            json!({"n": {"N": "5"}})
        );
    }
}
