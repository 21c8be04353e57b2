//! From syntax tree to checked AST, applying DynamoDB's static rules in DynamoDB's order.
//!
//! DynamoDB reports the first problem it finds, and which one a user sees depends on the order
//! of its checks, so this module is organised by phase, exactly as DynamoDB Local answers:
//!
//! 1. the expression is empty (`The expression can not be empty;`), then longer than 4096
//!    characters (UTF-16 units, as Java counts);
//! 2. syntax, and redundant parentheses as soon as the parser commits to them ([`super::syntax`]);
//! 3. a walk in text order over names and functions: reserved words, unknown functions,
//!    functions used where they are not allowed, list indexes above 2147483647; for updates,
//!    then a section (`SET`, ...) used twice;
//! 4. resolution: placeholders are looked up and each operator and function checks its operands
//!    (count, document path required, constant types, BETWEEN bounds, IN size, distinct first
//!    operand) once its operands are resolved; conditions are resolved in text order; the paths
//!    of an update or projection are resolved last path first, together with the overlap
//!    check, then (updates) the values, again last action first;
//! 5. at most 300 operators.
//!
//! Unused placeholders are reported by the caller after every expression of the request has
//! been through all phases (see [`super::names`]).

use super::ast::{
    Comparator, Condition, Operand, Projection, SetOperand, SetValue, UpdateAction, UpdateExpr,
};
use super::lexer::Keyword;
use super::names::ExpressionAttributes;
use super::overlap::PathTree;
use super::path::{Path, PathElement};
use super::reserved::is_reserved;
use super::syntax::{CompareOp, Node, Parser, RawAction, RawElement, RawPath, RawSection};
use crate::error::ApiError;
use crate::model::AttributeValue;

/// Longest expression, in UTF-16 code units.
const MAX_EXPRESSION_SIZE: usize = 4096;
/// Deepest document path.
const MAX_PATH_DEPTH: usize = 32;
/// Largest list index.
const MAX_LIST_INDEX: u64 = 2_147_483_647;
/// Most operands of IN.
const MAX_IN_OPERANDS: usize = 100;
/// Most operators and functions in one expression.
const MAX_OPERATORS: usize = 300;

/// The expression parameters, which decide the message prefix and some limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExprKind {
    pub fn prefix(self) -> &'static str {
        match self {
            ExprKind::Condition => "Invalid ConditionExpression: ",
            ExprKind::Filter => "Invalid FilterExpression: ",
            ExprKind::KeyCondition => "Invalid KeyConditionExpression: ",
            ExprKind::Update => "Invalid UpdateExpression: ",
            ExprKind::Projection => "Invalid ProjectionExpression: ",
        }
    }
}

/// Where a node stands: condition functions may only stand where a condition is expected,
/// `size` only where an operand is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Condition,
    Operand,
}

/// Functions of condition expressions that are conditions themselves.
const CONDITION_FUNCTIONS: [&str; 5] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
];
/// Functions of update expressions.
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];

/// The type names `attribute_type` accepts, in DynamoDB's message order.
const TYPE_NAMES: [&str; 10] = ["N", "BS", "L", "B", "NULL", "M", "S", "SS", "NS", "BOOL"];

/// Phase 1 for every kind.
pub(crate) fn check_size(source: &str, kind: ExprKind) -> Result<(), ApiError> {
    if source.is_empty() {
        return Err(ApiError::validation(format!(
            "{}The expression can not be empty;",
            kind.prefix()
        )));
    }
    let size = source.encode_utf16().count();
    if size > MAX_EXPRESSION_SIZE {
        let detail = match kind {
            ExprKind::Update | ExprKind::Projection => String::new(),
            _ => format!(" expression size: {size}"),
        };
        return Err(ApiError::validation(format!(
            "{}Expression size has exceeded the maximum allowed size;{detail}",
            kind.prefix()
        )));
    }
    Ok(())
}

/// The state of phases 3 to 5 for one expression.
pub(crate) struct Resolver<'s, 'p> {
    parser: &'p Parser<'s>,
    attrs: &'p mut ExpressionAttributes,
    kind: ExprKind,
}

type R<T> = Result<T, ApiError>;

impl<'s, 'p> Resolver<'s, 'p> {
    pub fn new(
        parser: &'p Parser<'s>,
        attrs: &'p mut ExpressionAttributes,
        kind: ExprKind,
    ) -> Self {
        Resolver {
            parser,
            attrs,
            kind,
        }
    }

    fn error(&self, message: impl AsRef<str>) -> ApiError {
        ApiError::validation(format!("{}{}", self.kind.prefix(), message.as_ref()))
    }

    fn text(&self, token: usize) -> &'s str {
        self.parser.text(token)
    }

    // -----------------------------------------------------------------------------------------
    // Phase 3: names and functions, in text order.

    fn static_path(&self, path: &RawPath) -> R<()> {
        for element in &path.elements {
            match element {
                RawElement::Name(token) => {
                    let name = self.text(*token);
                    if is_reserved(name) {
                        return Err(self.error(format!(
                            "Attribute name is a reserved keyword; reserved keyword: {name}"
                        )));
                    }
                }
                RawElement::Index(token) => {
                    let digits = self.text(*token);
                    let in_range = digits.len() <= 10
                        && digits.parse::<u64>().is_ok_and(|n| n <= MAX_LIST_INDEX);
                    if !in_range {
                        return Err(self.error(format!(
                            "List index is not within the allowable range; index: [{digits}]"
                        )));
                    }
                }
                RawElement::Placeholder(_) => {}
            }
        }
        Ok(())
    }

    /// Phase 3 of a condition.
    pub fn static_condition(&self, node: &Node) -> R<()> {
        self.static_node(node, Place::Condition)
    }

    fn static_node(&self, node: &Node, place: Place) -> R<()> {
        match node {
            Node::Path(path) => self.static_path(path),
            Node::Value(_) => Ok(()),
            Node::Paren(inner) => self.static_node(inner, place),
            Node::Call { name, args } => {
                self.static_call(self.text(*name), place)?;
                args.iter()
                    .try_for_each(|arg| self.static_node(arg, Place::Operand))
            }
            Node::Compare { left, right, .. } => {
                self.static_node(left, Place::Operand)?;
                self.static_node(right, Place::Operand)
            }
            Node::Between { subject, low, high } => {
                self.static_node(subject, Place::Operand)?;
                self.static_node(low, Place::Operand)?;
                self.static_node(high, Place::Operand)
            }
            Node::In { subject, list } => {
                self.static_node(subject, Place::Operand)?;
                list.iter()
                    .try_for_each(|item| self.static_node(item, Place::Operand))
            }
            Node::And(left, right) | Node::Or(left, right) => {
                self.static_node(left, Place::Condition)?;
                self.static_node(right, Place::Condition)
            }
            Node::Not(inner) => self.static_node(inner, Place::Condition),
            // Conditions hold no arithmetic (the grammar rejects it).
            Node::Arith { left, right, .. } => {
                self.static_node(left, Place::Operand)?;
                self.static_node(right, Place::Operand)
            }
        }
    }

    /// Phase 3 for a function name in a condition.
    #[inline(never)]
    fn static_call(&self, name: &str, place: Place) -> R<()> {
        let misused = if CONDITION_FUNCTIONS.contains(&name) {
            place == Place::Operand
        } else if name == "size" {
            place == Place::Condition
        } else if UPDATE_FUNCTIONS.contains(&name) {
            return Err(self.error(format!(
                "The function is not allowed in a condition expression; function: {name}"
            )));
        } else {
            return Err(self.error(format!("Invalid function name; function: {name}")));
        };
        if misused {
            return Err(self.error(format!(
                "The function is not allowed to be used this way in an expression; function: {name}"
            )));
        }
        Ok(())
    }

    /// Phase 3 of an update: names and functions in text order; a section whose keyword was
    /// used before is reported once its actions have been walked.
    pub fn static_update(&self, sections: &[RawSection]) -> R<()> {
        let mut seen: Vec<Keyword> = Vec::new();
        for section in sections {
            for action in &section.actions {
                match action {
                    RawAction::Set { path, value } => {
                        self.static_path(path)?;
                        self.static_set_value(value, false)?;
                    }
                    RawAction::Remove { path }
                    | RawAction::Add { path, .. }
                    | RawAction::Delete { path, .. } => self.static_path(path)?,
                }
            }
            if seen.contains(&section.keyword) {
                let word = match section.keyword {
                    Keyword::Set => "SET",
                    Keyword::Remove => "REMOVE",
                    Keyword::Add => "ADD",
                    _ => "DELETE",
                };
                return Err(self.error(format!(
                    "The \"{word}\" section can only be used once in an update expression;"
                )));
            }
            seen.push(section.keyword);
        }
        Ok(())
    }

    /// `nested`: inside arithmetic or a function, where list_append may not stand.
    fn static_set_value(&self, node: &Node, nested: bool) -> R<()> {
        match node {
            Node::Path(path) => self.static_path(path),
            Node::Value(_) => Ok(()),
            Node::Paren(inner) => self.static_set_value(inner, nested),
            Node::Arith { left, right, .. } => {
                self.static_set_value(left, true)?;
                self.static_set_value(right, true)
            }
            Node::Call { name, args } => {
                let name = self.text(*name);
                match name {
                    "if_not_exists" => {}
                    "list_append" if nested => {
                        return Err(self.error(format!(
                            "The function is not allowed to be used this way in an expression; function: {name}"
                        )))
                    }
                    "list_append" => {}
                    _ if CONDITION_FUNCTIONS.contains(&name) || name == "size" => {
                        return Err(self.error(format!(
                            "The function is not allowed in an update expression; function: {name}"
                        )))
                    }
                    _ => {
                        return Err(
                            self.error(format!("Invalid function name; function: {name}"))
                        )
                    }
                }
                args.iter()
                    .try_for_each(|arg| self.static_set_value(arg, true))
            }
            // The update grammar builds no condition nodes.
            _ => Ok(()),
        }
    }

    /// Phase 3 of a projection.
    pub fn static_projection(&self, paths: &[RawPath]) -> R<()> {
        paths.iter().try_for_each(|path| self.static_path(path))
    }

    // -----------------------------------------------------------------------------------------
    // Phase 4: resolution.

    fn resolve_path(&mut self, raw: &RawPath) -> R<Path> {
        if raw.elements.len() > MAX_PATH_DEPTH {
            return Err(self.error(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                raw.elements.len()
            )));
        }
        let mut elements = Vec::with_capacity(raw.elements.len());
        for element in &raw.elements {
            elements.push(match element {
                RawElement::Name(token) => PathElement::Attribute(self.text(*token).to_string()),
                RawElement::Placeholder(token) => {
                    let placeholder = self.text(*token);
                    // `a.:v`: DynamoDB's parser takes it, and then fails like this.
                    if placeholder.starts_with(':') && self.kind != ExprKind::Projection {
                        return Err(self.error("Internal server error"));
                    }
                    match self.attrs.name(placeholder) {
                        Some(name) => PathElement::Attribute(name),
                        None => {
                            return Err(self.error(format!(
                                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
                            )))
                        }
                    }
                }
                // Checked in phase 3: at most 2147483647.
                RawElement::Index(token) => {
                    PathElement::Index(self.text(*token).parse().unwrap_or(0))
                }
            });
        }
        Path::new(elements).ok_or_else(|| self.error("Invalid document path"))
    }

    fn resolve_value(&mut self, token: usize) -> R<AttributeValue> {
        let placeholder = self.text(token);
        self.attrs.value(placeholder).ok_or_else(|| {
            self.error(format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            ))
        })
    }

    /// Phases 4 and 5 of a condition (after [`Self::static_condition`]).
    pub fn condition(&mut self, node: &Node) -> R<Condition> {
        let condition = self.resolve_condition(node)?;
        self.check_operator_count(count_operators(node))?;
        Ok(condition)
    }

    fn check_operator_count(&self, count: usize) -> R<()> {
        if count > MAX_OPERATORS {
            return Err(self.error(format!(
                "The expression contains too many operators; operator count: {}",
                MAX_OPERATORS + 1
            )));
        }
        Ok(())
    }

    fn resolve_condition(&mut self, node: &Node) -> R<Condition> {
        // Chains of NOT are unwound in a loop, the rest recurses through small frames only.
        let mut nots = 0usize;
        let mut node = node;
        loop {
            match node {
                Node::Not(inner) => {
                    nots += 1;
                    node = inner;
                }
                Node::Paren(inner) => node = inner,
                _ => break,
            }
        }
        let mut condition = match node {
            Node::And(left, right) => Condition::And(
                Box::new(self.resolve_condition(left)?),
                Box::new(self.resolve_condition(right)?),
            ),
            Node::Or(left, right) => Condition::Or(
                Box::new(self.resolve_condition(left)?),
                Box::new(self.resolve_condition(right)?),
            ),
            other => self.leaf_condition(other)?,
        };
        for _ in 0..nots {
            condition = Condition::Not(Box::new(condition));
        }
        Ok(condition)
    }

    /// A comparison, BETWEEN, IN or function condition.
    #[inline(never)]
    fn leaf_condition(&mut self, node: &Node) -> R<Condition> {
        Ok(match node {
            Node::Compare { op, left, right } => {
                let op = comparator(*op);
                let (left, _) = self.operand(left)?;
                let (right, _) = self.operand(right)?;
                if !matches!(op, Comparator::Eq | Comparator::Ne) {
                    self.check_scalar(op.symbol(), &left)?;
                    self.check_scalar(op.symbol(), &right)?;
                }
                self.check_distinct(op.symbol(), &left, [&right])?;
                Condition::Compare { op, left, right }
            }
            Node::Between { subject, low, high } => {
                let (subject, _) = self.operand(subject)?;
                let (low, low_token) = self.operand(low)?;
                let (high, high_token) = self.operand(high)?;
                for operand in [&subject, &low, &high] {
                    self.check_scalar("BETWEEN", operand)?;
                }
                self.check_distinct("BETWEEN", &subject, [&low, &high])?;
                if let (
                    Operand::Value(low_value),
                    Operand::Value(high_value),
                    Some(low_token),
                    Some(high_token),
                ) = (&low, &high, low_token, high_token)
                {
                    self.check_bounds(low_value, high_value, low_token, high_token)?;
                }
                Condition::Between { subject, low, high }
            }
            Node::In { subject, list } => {
                let (subject, _) = self.operand(subject)?;
                let mut operands = Vec::with_capacity(list.len());
                for item in list {
                    operands.push(self.operand(item)?.0);
                }
                if operands.len() > MAX_IN_OPERANDS {
                    return Err(self.error(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        operands.len()
                    )));
                }
                self.check_distinct("IN", &subject, operands.iter())?;
                Condition::In {
                    subject,
                    list: operands,
                }
            }
            Node::Call { name, args } => self.condition_function(self.text(*name), args)?,
            // Phase 2 lets only conditions stand here.
            _ => return Err(self.error("Invalid condition")),
        })
    }

    fn condition_function(&mut self, name: &str, args: &[Node]) -> R<Condition> {
        let mut operands = Vec::with_capacity(args.len());
        for arg in args {
            operands.push(self.operand(arg)?.0);
        }
        let expected = if name == "attribute_exists" || name == "attribute_not_exists" {
            1
        } else {
            2
        };
        self.check_count(name, operands.len(), expected)?;
        let mut operands = operands.into_iter();
        let (first, second) = (operands.next(), operands.next());
        Ok(match (name, first, second) {
            ("attribute_exists", Some(Operand::Path(path)), None) => {
                Condition::AttributeExists(path)
            }
            ("attribute_not_exists", Some(Operand::Path(path)), None) => {
                Condition::AttributeNotExists(path)
            }
            ("attribute_exists" | "attribute_not_exists", _, _) => {
                return Err(self.error(format!(
                    "Operator or function requires a document path; operator or function: {name}"
                )))
            }
            ("attribute_type", Some(subject), Some(type_operand)) => {
                let type_name = self.attribute_type_name(&type_operand)?;
                Condition::AttributeType(subject, type_name)
            }
            ("begins_with", Some(subject), Some(prefix)) => {
                for operand in [&subject, &prefix] {
                    if let Some(t) = static_type(operand) {
                        if !matches!(t, "S" | "B") {
                            return Err(self.incorrect_operand(name, t));
                        }
                    }
                }
                self.check_distinct(name, &subject, [&prefix])?;
                Condition::BeginsWith(subject, prefix)
            }
            ("contains", Some(subject), Some(operand)) => {
                self.check_distinct(name, &subject, [&operand])?;
                Condition::Contains(subject, operand)
            }
            _ => return Err(self.error(format!("Invalid function name; function: {name}"))),
        })
    }

    fn attribute_type_name(&self, operand: &Operand) -> R<String> {
        match operand {
            Operand::Value(AttributeValue::S(type_name)) => {
                if TYPE_NAMES.contains(&type_name.as_str()) {
                    Ok(type_name.clone())
                } else {
                    Err(self.error(format!(
                        "Invalid attribute type name found; type: {type_name}, valid types: {{{}}}",
                        TYPE_NAMES.join(",")
                    )))
                }
            }
            // DynamoDB lists its internal type names here, in an order that varies between
            // runs; this is one order it was seen in.
            Operand::Path(_) => Err(self.incorrect_operand(
                "attribute_type",
                "{M,INTSET,FS,B,S,INT,NULL,DOUBLE,L,DICT,HDS,DECIMAL,N,NS,BOOL,SS,BS,DOUBLESET,HD,DECIMALSET,FLOAT}",
            )),
            other => Err(self.incorrect_operand(
                "attribute_type",
                static_type(other).unwrap_or("N"),
            )),
        }
    }

    fn incorrect_operand(&self, function: &str, type_name: &str) -> ApiError {
        self.error(format!(
            "Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"
        ))
    }

    fn check_count(&self, function: &str, count: usize, expected: usize) -> R<()> {
        if count != expected {
            return Err(self.error(format!(
                "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
            )));
        }
        Ok(())
    }

    /// Ordering operators take strings, numbers and binaries only.
    fn check_scalar(&self, operator: &str, operand: &Operand) -> R<()> {
        match static_type(operand) {
            Some(t) if !matches!(t, "S" | "N" | "B") => Err(self.incorrect_operand(operator, t)),
            _ => Ok(()),
        }
    }

    fn check_distinct<'o>(
        &self,
        operator: &str,
        first: &Operand,
        rest: impl IntoIterator<Item = &'o Operand>,
    ) -> R<()> {
        if let Operand::Path(path) = first {
            if rest
                .into_iter()
                .any(|other| matches!(other, Operand::Path(p) if p == path))
            {
                return Err(self.error(format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {path}"
                )));
            }
        }
        Ok(())
    }

    fn check_bounds(
        &self,
        low: &AttributeValue,
        high: &AttributeValue,
        low_token: usize,
        high_token: usize,
    ) -> R<()> {
        let describe = |token: usize, value: &AttributeValue| -> String {
            let raw = self.attrs.raw_value(self.text(token));
            format!("AttributeValue: {{{}}}", describe_value(value, raw))
        };
        let problem = if low.type_name() != high.type_name() {
            "The BETWEEN operator requires same data type for lower and upper bounds"
        } else if super::eval::compare_values(low, high) == Some(std::cmp::Ordering::Greater) {
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"
        } else {
            return Ok(());
        };
        Err(self.error(format!(
            "{problem}; lower bound operand: {}, upper bound operand: {}",
            describe(low_token, low),
            describe(high_token, high)
        )))
    }

    /// An operand, and the token of its value placeholder when it is one.
    fn operand(&mut self, node: &Node) -> R<(Operand, Option<usize>)> {
        Ok(match node {
            Node::Paren(inner) => self.operand(inner)?,
            Node::Path(path) => (Operand::Path(self.resolve_path(path)?), None),
            Node::Value(token) => (Operand::Value(self.resolve_value(*token)?), Some(*token)),
            Node::Call { args, .. } => (self.size_operand(args)?, None),
            _ => return Err(self.error("Invalid operand")),
        })
    }

    /// `size(...)`, the one function phase 3 lets stand as an operand.
    #[inline(never)]
    fn size_operand(&mut self, args: &[Node]) -> R<Operand> {
        let mut operands = Vec::with_capacity(args.len());
        for arg in args {
            operands.push(self.operand(arg)?.0);
        }
        self.check_count("size", operands.len(), 1)?;
        let inner = operands.remove(0);
        if let Some(t) = static_type(&inner) {
            if matches!(t, "N" | "BOOL" | "NULL") {
                return Err(self.incorrect_operand("size", t));
            }
        }
        Ok(Operand::Size(Box::new(inner)))
    }

    // -----------------------------------------------------------------------------------------
    // Updates and projections.

    /// Phases 4 and 5 of an update (after [`Self::static_update`]).
    pub fn update(&mut self, sections: &[RawSection]) -> R<UpdateExpr> {
        let raw_actions: Vec<&RawAction> = sections.iter().flat_map(|s| &s.actions).collect();
        // Target paths, last action first, with the overlap check.
        let mut tree = PathTree::default();
        let mut paths: Vec<Option<Path>> = vec![None; raw_actions.len()];
        for (i, action) in raw_actions.iter().enumerate().rev() {
            let raw = match action {
                RawAction::Set { path, .. }
                | RawAction::Remove { path }
                | RawAction::Add { path, .. }
                | RawAction::Delete { path, .. } => path,
            };
            let path = self.resolve_path(raw)?;
            tree.insert(&path).map_err(|message| self.error(message))?;
            paths[i] = Some(path);
        }
        // Values, last action first.
        let mut actions: Vec<Option<UpdateAction>> = vec![None; raw_actions.len()];
        for (i, action) in raw_actions.iter().enumerate().rev() {
            let path = paths[i].take().unwrap_or_else(|| Path::attribute(""));
            actions[i] = Some(match action {
                RawAction::Set { value, .. } => UpdateAction::Set {
                    path,
                    value: self.set_value(value)?,
                },
                RawAction::Remove { .. } => UpdateAction::Remove { path },
                RawAction::Add { value, .. } => {
                    let value = self.resolve_value(*value)?;
                    if !matches!(
                        value,
                        AttributeValue::N(_)
                            | AttributeValue::Ss(_)
                            | AttributeValue::Ns(_)
                            | AttributeValue::Bs(_)
                    ) {
                        return Err(self.error(format!(
                            "Incorrect operand type for operator or function; operator: ADD, operand type: {}, typeSet: ALLOWED_FOR_ADD_OPERAND",
                            long_type_name(&value)
                        )));
                    }
                    UpdateAction::Add { path, value }
                }
                RawAction::Delete { value, .. } => {
                    let value = self.resolve_value(*value)?;
                    if !matches!(
                        value,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                    ) {
                        return Err(self.error(format!(
                            "Incorrect operand type for operator or function; operator: DELETE, operand type: {}, typeSet: ALLOWED_FOR_DELETE_OPERAND",
                            long_type_name(&value)
                        )));
                    }
                    UpdateAction::Delete { path, value }
                }
            });
        }
        let operators: usize = raw_actions
            .iter()
            .map(|action| match action {
                RawAction::Set { value, .. } => count_operators(value),
                _ => 0,
            })
            .sum();
        self.check_operator_count(operators)?;
        Ok(UpdateExpr {
            actions: actions.into_iter().flatten().collect(),
            legacy: false,
        })
    }

    fn set_value(&mut self, node: &Node) -> R<SetValue> {
        match node {
            Node::Paren(inner) => self.set_value(inner),
            Node::Arith { plus, left, right } => {
                let left = self.set_operand(left)?;
                let right = self.set_operand(right)?;
                let symbol = if *plus { "+" } else { "-" };
                for operand in [&left, &right] {
                    if let SetOperand::Value(value) = operand {
                        if !matches!(value, AttributeValue::N(_)) {
                            return Err(self.incorrect_operand(symbol, value.type_name()));
                        }
                    }
                }
                Ok(if *plus {
                    SetValue::Plus(left, right)
                } else {
                    SetValue::Minus(left, right)
                })
            }
            _ => Ok(SetValue::Operand(self.set_operand(node)?)),
        }
    }

    fn set_operand(&mut self, node: &Node) -> R<SetOperand> {
        Ok(match node {
            Node::Paren(inner) => self.set_operand(inner)?,
            Node::Path(path) => SetOperand::Path(self.resolve_path(path)?),
            Node::Value(token) => SetOperand::Value(self.resolve_value(*token)?),
            Node::Call { name, args } => {
                let name = self.text(*name);
                let mut operands = Vec::with_capacity(args.len());
                for arg in args {
                    operands.push(self.set_operand(arg)?);
                }
                self.check_count(name, operands.len(), 2)?;
                let second = operands
                    .pop()
                    .unwrap_or(SetOperand::Value(AttributeValue::Null));
                let first = operands
                    .pop()
                    .unwrap_or(SetOperand::Value(AttributeValue::Null));
                if name == "if_not_exists" {
                    match first {
                        SetOperand::Path(path) => SetOperand::IfNotExists(path, Box::new(second)),
                        _ => {
                            return Err(self.error(format!(
                                "Operator or function requires a document path; operator or function: {name}"
                            )))
                        }
                    }
                } else {
                    for operand in [&first, &second] {
                        if let SetOperand::Value(value) = operand {
                            if !matches!(value, AttributeValue::L(_)) {
                                return Err(self.incorrect_operand(name, value.type_name()));
                            }
                        }
                    }
                    SetOperand::ListAppend(Box::new(first), Box::new(second))
                }
            }
            _ => return Err(self.error("Invalid operand")),
        })
    }

    /// Phase 4 of a projection (after [`Self::static_projection`]): paths last first, with the
    /// overlap check.
    pub fn projection(&mut self, raw: &[RawPath]) -> R<Projection> {
        let mut tree = PathTree::default();
        let mut paths: Vec<Option<Path>> = vec![None; raw.len()];
        for (i, raw_path) in raw.iter().enumerate().rev() {
            let path = self.resolve_path(raw_path)?;
            tree.insert(&path).map_err(|message| self.error(message))?;
            paths[i] = Some(path);
        }
        Ok(Projection {
            paths: paths.into_iter().flatten().collect(),
        })
    }
}

fn comparator(op: CompareOp) -> Comparator {
    match op {
        CompareOp::Eq => Comparator::Eq,
        CompareOp::Ne => Comparator::Ne,
        CompareOp::Lt => Comparator::Lt,
        CompareOp::Le => Comparator::Le,
        CompareOp::Gt => Comparator::Gt,
        CompareOp::Ge => Comparator::Ge,
    }
}

/// The type of an operand when it is known before reading the item.
pub(crate) fn static_type(operand: &Operand) -> Option<&'static str> {
    match operand {
        Operand::Value(value) => Some(value.type_name()),
        Operand::Size(_) => Some("N"),
        Operand::Path(_) => None,
    }
}

/// DynamoDB's long type names (update operand messages).
pub(crate) fn long_type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Null => "NULL",
        AttributeValue::Bool(_) => "BOOLEAN",
    }
}

/// A value as DynamoDB quotes it in BETWEEN messages: `N:1.50` (the number as sent), `S:x`,
/// and binaries as the Java buffer object they are held in.
fn describe_value(value: &AttributeValue, raw: Option<&serde_json::Value>) -> String {
    match value {
        AttributeValue::N(number) => {
            let text = raw
                .and_then(|raw| raw.get("N"))
                .and_then(|n| n.as_str())
                .unwrap_or(number.as_str());
            format!("N:{text}")
        }
        AttributeValue::S(text) => format!("S:{text}"),
        AttributeValue::B(bytes) => format!(
            "B:java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
            bytes.len()
        ),
        other => format!("{}:{}", other.type_name(), other.to_json()),
    }
}

/// Operators and functions in a tree (phase 5).
fn count_operators(node: &Node) -> usize {
    match node {
        Node::Path(_) | Node::Value(_) => 0,
        Node::Paren(inner) | Node::Not(inner) => {
            usize::from(matches!(node, Node::Not(_))) + count_operators(inner)
        }
        Node::Call { args, .. } => 1 + args.iter().map(count_operators).sum::<usize>(),
        Node::Compare { left, right, .. }
        | Node::And(left, right)
        | Node::Or(left, right)
        | Node::Arith { left, right, .. } => 1 + count_operators(left) + count_operators(right),
        Node::Between { subject, low, high } => {
            1 + count_operators(subject) + count_operators(low) + count_operators(high)
        }
        Node::In { subject, list } => {
            1 + count_operators(subject) + list.iter().map(count_operators).sum::<usize>()
        }
    }
}
