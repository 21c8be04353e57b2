//! Overlapping and conflicting document paths in an UpdateExpression or ProjectionExpression.
//!
//! Two paths overlap when one is a prefix of the other (`a` and `a.b`, or the same path twice);
//! they conflict when they use one list or map both as a map and as a list (`a.b` and `a[1]`).
//! DynamoDB inserts the paths into a tree, last path first, and stops at the first path that
//! overlaps or conflicts with one already in the tree: that path is "path one". Its "path two"
//! is not necessarily the path it clashes with: DynamoDB picks a path of the tree by walking down
//! from the clash point, taking at each level the child that comes last in its hash table. The
//! [`PathTree`] here reproduces that choice (table order modelled on the answers of DynamoDB
//! Local: children ordered by `(hash + 17) mod table size`, where the hash of a name is Java's
//! `String.hashCode` and that of an index the index, and the table grows as a Java `HashMap`
//! does; for children in one slot, the one inserted first comes last). With two paths the message
//! always names both of them, which is by far the common case.

use super::names::java_string_hash;
use super::path::{Path, PathElement};

#[derive(Default)]
struct TreeNode {
    /// Children in insertion order.
    children: Vec<(PathElement, TreeNode)>,
    /// Whether a path ends here.
    terminal: bool,
}

impl TreeNode {
    fn child(&self, element: &PathElement) -> Option<usize> {
        self.children.iter().position(|(e, _)| e == element)
    }

    /// The child that comes last in DynamoDB's hash table order.
    fn last_child(&self) -> Option<usize> {
        let count = self.children.len();
        let mut capacity = 16usize;
        while count as f64 > capacity as f64 * 0.75 {
            capacity *= 2;
        }
        (0..count).max_by_key(|&i| {
            let slot =
                table_hash(&self.children[i].0).wrapping_add(17) as u32 as usize & (capacity - 1);
            (slot, std::cmp::Reverse(i))
        })
    }
}

fn table_hash(element: &PathElement) -> i32 {
    match element {
        PathElement::Attribute(name) => java_string_hash(name),
        PathElement::Index(index) => *index as i32,
    }
}

fn same_kind(a: &PathElement, b: &PathElement) -> bool {
    matches!(
        (a, b),
        (PathElement::Attribute(_), PathElement::Attribute(_))
            | (PathElement::Index(_), PathElement::Index(_))
    )
}

/// The tree of paths seen so far.
#[derive(Default)]
pub(crate) struct PathTree {
    root: TreeNode,
}

impl PathTree {
    /// Adds `path`, or returns DynamoDB's error (without the `Invalid XExpression: ` prefix)
    /// when it overlaps or conflicts with a path already added.
    pub fn insert(&mut self, path: &Path) -> Result<(), String> {
        let elements = path.elements();
        let mut walked: Vec<PathElement> = Vec::new();
        // Indices of the nodes along the walk, as child positions from the root.
        let mut trail: Vec<usize> = Vec::new();
        for element in elements {
            let node = self.node(&trail);
            if node.terminal {
                let parent_trail = &trail[..trail.len() - 1];
                return Err(overlap(
                    path,
                    self.other(parent_trail, &walked[..walked.len() - 1]),
                ));
            }
            if let Some(i) = node.child(element) {
                trail.push(i);
                walked.push(element.clone());
                continue;
            }
            if let Some((first, _)) = node.children.first() {
                if !same_kind(first, element) {
                    return Err(conflict(path, self.other(&trail, &walked)));
                }
            }
            let node = self.node_mut(&trail);
            node.children.push((element.clone(), TreeNode::default()));
            trail.push(node.children.len() - 1);
            walked.push(element.clone());
        }
        let node = self.node(&trail);
        if !node.children.is_empty() || node.terminal {
            let parent_trail = &trail[..trail.len() - 1];
            return Err(overlap(
                path,
                self.other(parent_trail, &walked[..walked.len() - 1]),
            ));
        }
        self.node_mut(&trail).terminal = true;
        Ok(())
    }

    fn node(&self, trail: &[usize]) -> &TreeNode {
        trail
            .iter()
            .fold(&self.root, |node, &i| &node.children[i].1)
    }

    fn node_mut(&mut self, trail: &[usize]) -> &mut TreeNode {
        trail
            .iter()
            .fold(&mut self.root, |node, &i| &mut node.children[i].1)
    }

    /// The path DynamoDB names as "path two": from the node at `trail` (reached by `prefix`),
    /// down through the last children until a path ends.
    fn other(&self, trail: &[usize], prefix: &[PathElement]) -> Path {
        let mut node = self.node(trail);
        let mut elements = prefix.to_vec();
        while let Some(i) = node.last_child() {
            let (element, child) = &node.children[i];
            elements.push(element.clone());
            node = child;
            if node.terminal {
                break;
            }
        }
        // The walk starts at a node with children, so the path has at least one element, and a
        // first element is always an attribute name.
        Path::new(elements).unwrap_or_else(|| Path::attribute(""))
    }
}

fn overlap(one: &Path, two: Path) -> String {
    format!(
        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
    )
}

fn conflict(one: &Path, two: Path) -> String {
    format!(
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    /// Checks a list of paths as DynamoDB does (last path first); `prefix` is the message prefix
    /// (`Invalid ProjectionExpression: `).
    fn check_paths<'a>(
        paths: impl DoubleEndedIterator<Item = &'a Path>,
        prefix: &str,
    ) -> Result<(), ApiError> {
        let mut tree = PathTree::default();
        for path in paths.rev() {
            tree.insert(path)
                .map_err(|message| ApiError::validation(format!("{prefix}{message}")))?;
        }
        Ok(())
    }

    fn parse(text: &str) -> Path {
        let mut elements = Vec::new();
        for part in text.split('.') {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            if !name.is_empty() {
                elements.push(PathElement::Attribute(name.to_string()));
            }
            for index in rest.split('[').filter(|s| !s.is_empty()) {
                elements.push(PathElement::Index(
                    index.trim_end_matches(']').parse().unwrap(),
                ));
            }
        }
        Path::new(elements).unwrap()
    }

    fn check(paths: &[&str]) -> Option<String> {
        let paths: Vec<Path> = paths.iter().map(|p| parse(p)).collect();
        check_paths(paths.iter(), "")
            .err()
            .map(|e| e.message.split("paths; ").nth(1).unwrap().to_string())
    }

    /// Answers of DynamoDB Local to `SET <paths> = :v`.
    #[test]
    fn reproduces_dynamodb_choice_of_paths() {
        for (paths, expected) in [
            (&["a", "a"][..], "path one: [a], path two: [a]"),
            (&["a", "a.b"], "path one: [a], path two: [a, b]"),
            (&["a.b", "a"], "path one: [a, b], path two: [a]"),
            (&["a", "a", "b"], "path one: [a], path two: [b]"),
            (&["b", "a", "a"], "path one: [a], path two: [a]"),
            (&["zz", "a", "zz"], "path one: [zz], path two: [a]"),
            (&["a", "zz", "zz"], "path one: [zz], path two: [zz]"),
            (&["x", "y", "x", "z", "w"], "path one: [x], path two: [z]"),
            (&["a.b", "a.c", "a"], "path one: [a, c], path two: [a]"),
            (
                &["a[1]", "a[2]", "a[1]", "b"],
                "path one: [a, [1]], path two: [a, [2]]",
            ),
            (
                &["c[0]", "a[2]", "a", "q", "a[1].b"],
                "path one: [a], path two: [a, [1], b]",
            ),
            (&["a", "b", "c", "d", "a"], "path one: [a], path two: [d]"),
            (
                &["a.c", "a.b", "b", "a.c"],
                "path one: [a, c], path two: [a, c]",
            ),
        ] {
            assert_eq!(check(paths).as_deref(), Some(expected), "{paths:?}");
        }
        assert_eq!(
            check(&["a.b", "a[1]"]).as_deref(),
            Some("path one: [a, b], path two: [a, [1]]")
        );
        assert_eq!(
            check(&["a[1]", "a.b"]).as_deref(),
            Some("path one: [a, [1]], path two: [a, b]")
        );
        assert!(check(&["a.b", "a.c", "a[1].x"]).is_some());
        assert_eq!(check(&["a.b", "a.c", "b[1]", "b[2]"]), None);
    }
}
