//! DynamoDB's expression language: one engine for the five expression kinds
//! (ConditionExpression, FilterExpression, KeyConditionExpression, UpdateExpression,
//! ProjectionExpression) and for the legacy parameters that predate them.
//!
//! Grammar and evaluation are kept apart (as dynalite does):
//!
//! - `lexer`, `syntax`: tokens and the syntax tree, for every kind;
//! - `resolve`: from syntax tree to the checked [`ast`], applying DynamoDB's static rules in
//!   DynamoDB's order (which decides the error a user sees; see that module);
//! - [`eval`], [`update`], [`projection`], [`key_condition`]: what the checked forms do;
//! - [`legacy`]: Expected, QueryFilter/ScanFilter, AttributeUpdates, AttributesToGet and
//!   KeyConditions, mapped onto the same AST.
//!
//! # Using it for one request
//!
//! ```text
//! let mut attrs = ExpressionAttributes::from_request(names, values)?;   // the two maps
//! let update = parse_update(update_expression, &mut attrs)?;            // UpdateExpression first,
//! let condition = parse_condition(condition_expression, &mut attrs)?;   // then the condition,
//! attrs.check_unused()?;                                                // then unused entries.
//! // ... read the item in a transaction ...
//! if !condition.evaluate(&old) { /* ConditionalCheckFailedException */ }
//! let outcome = update.apply(&old, &key_names)?;                        // runtime errors
//! ```
//!
//! DynamoDB parses the expressions of a request in a fixed order: UpdateExpression,
//! ConditionExpression, KeyConditionExpression, FilterExpression, ProjectionExpression; then
//! reports unused names, then unused values. Before any of that it checks the mix of expression
//! and legacy parameters ([`check_parameter_mix`]). All messages are DynamoDB's, word for word,
//! as answered by DynamoDB Local 3.3.0; the places where the model of DynamoDB's behaviour is an
//! approximation are documented where they are implemented (overlapping-path messages naming a
//! third path, the order of runtime update errors).

pub mod ast;
pub mod eval;
pub mod key_condition;
pub mod legacy;
mod lexer;
mod names;
mod overlap;
pub mod path;
pub mod projection;
mod reserved;
mod resolve;
mod syntax;
pub mod update;

pub use ast::{
    Comparator, Condition, KeyCondition, Operand, Projection, RangeCondition, SetOperand, SetValue,
    UpdateAction, UpdateExpr,
};
pub use key_condition::KeySchema;
pub use legacy::{
    attribute_updates_to_update, attributes_to_get_to_projection, expected_to_condition,
    filter_to_condition, key_conditions_to_key_condition,
};
pub use names::ExpressionAttributes;
pub use path::{Path, PathElement};
pub use update::UpdateOutcome;

use crate::error::ApiError;
use crate::model::Item;
use resolve::{check_size, ExprKind, Resolver};
use syntax::Parser;

/// Phases 1 and 2 (size, syntax) for any kind; returns the parser holding the tokens.
fn parse_with<'s, T>(
    source: &'s str,
    kind: ExprKind,
    parse: impl FnOnce(&mut Parser<'s>) -> Result<T, syntax::ParseError>,
) -> Result<(Parser<'s>, T), ApiError> {
    check_size(source, kind)?;
    let mut parser = Parser::new(source);
    match parse(&mut parser) {
        Ok(tree) => Ok((parser, tree)),
        Err(error) => Err(ApiError::validation(format!(
            "{}{}",
            kind.prefix(),
            error.message(source, &parser.tokens)
        ))),
    }
}

/// Parentheses, ANDs, ORs and NOTs (each may add a level of recursion) above which parsing moves
/// to a thread with a large stack.
const DEEP_NESTING: usize = 100;

/// Stack for parsing deeply nested expressions: a 4 KB expression nests at most ~4000 levels,
/// and a debug build spends about 2 KB of stack per level.
const DEEP_STACK: usize = 64 * 1024 * 1024;

/// Runs `work` (parsing and checking `expression`) where the stack is large enough.
///
/// The parser and checker recurse once per nesting level (and once per AND or OR of a chain).
/// A 4 KB expression can nest some thousands of levels (DynamoDB answers `((((a))))` with its redundant-parentheses error, and
/// ~2000 levels with a syntax or operator-count error), more than the 2 MB stack of a Tokio
/// worker holds. Such expressions are rare, so they get a thread of their own; everything else
/// runs in place.
fn with_stack<T: Send>(
    expression: &str,
    work: impl FnOnce() -> Result<T, ApiError> + Send,
) -> Result<T, ApiError> {
    let nesting = lexer::tokenize(expression)
        .iter()
        .filter(|token| {
            matches!(
                token.kind,
                lexer::TokenKind::LParen
                    | lexer::TokenKind::Keyword(
                        lexer::Keyword::And | lexer::Keyword::Or | lexer::Keyword::Not
                    )
            )
        })
        .count();
    if nesting <= DEEP_NESTING {
        return work();
    }
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("expr-deep".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(scope, work);
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(error) => Err(ApiError::internal(format!(
                "cannot start a thread to parse a deeply nested expression: {error}"
            ))),
        }
    })
}

fn parse_condition_kind(
    expression: &str,
    attrs: &mut ExpressionAttributes,
    kind: ExprKind,
) -> Result<Condition, ApiError> {
    with_stack(expression, || {
        let (parser, tree) = parse_with(expression, kind, Parser::parse_condition)?;
        let mut resolver = Resolver::new(&parser, attrs, kind);
        resolver.static_condition(&tree)?;
        resolver.condition(&tree)
    })
}

/// Parses and checks a ConditionExpression, marking the placeholders it uses in `attrs`.
pub fn parse_condition(
    expression: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<Condition, ApiError> {
    parse_condition_kind(expression, attrs, ExprKind::Condition)
}

/// Parses and checks a FilterExpression (Query, Scan). For a Query, also call
/// [`check_query_filter`] with the key attribute names.
pub fn parse_filter(
    expression: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<Condition, ApiError> {
    parse_condition_kind(expression, attrs, ExprKind::Filter)
}

/// Parses and checks an UpdateExpression.
pub fn parse_update(
    expression: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<UpdateExpr, ApiError> {
    with_stack(expression, || {
        let (parser, sections) = parse_with(expression, ExprKind::Update, Parser::parse_update)?;
        let mut resolver = Resolver::new(&parser, attrs, ExprKind::Update);
        resolver.static_update(&sections)?;
        resolver.update(&sections)
    })
}

/// Parses and checks a ProjectionExpression.
pub fn parse_projection(
    expression: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<Projection, ApiError> {
    let (parser, paths) = parse_with(expression, ExprKind::Projection, Parser::parse_projection)?;
    let mut resolver = Resolver::new(&parser, attrs, ExprKind::Projection);
    resolver.static_projection(&paths)?;
    resolver.projection(&paths)
}

/// Parses and checks a KeyConditionExpression against the key of the table or index queried.
pub fn parse_key_condition(
    expression: &str,
    attrs: &mut ExpressionAttributes,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, ApiError> {
    let condition = parse_condition_kind(expression, attrs, ExprKind::KeyCondition)?;
    key_condition::key_condition(&condition, schema)
}

/// The parts of `item` a projection asks for (see [`Projection::apply`]).
pub fn project(item: &Item, projection: &Projection) -> Item {
    projection.apply(item)
}

/// A Query's FilterExpression may not use key attributes: DynamoDB's error for the first one
/// it uses, in text order.
pub fn check_query_filter(condition: &Condition, key_names: &[&str]) -> Result<(), ApiError> {
    let mut paths = Vec::new();
    key_condition::collect_paths(condition, &mut paths);
    match paths
        .into_iter()
        .find(|path| key_names.contains(&path.top()))
    {
        Some(path) => Err(ApiError::validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
            path.top()
        ))),
        None => Ok(()),
    }
}

/// The checks DynamoDB makes on the mix of parameters before reading any expression.
///
/// `expressions` and `legacy` are the operation's expression and legacy parameters, in the
/// order DynamoDB lists them, each with whether the request carries it; `value_expressions`
/// are the expression parameters that may use ExpressionAttributeValues (all but
/// ProjectionExpression), in DynamoDB's order. `names_given`/`values_given`: the request
/// carries a non-empty ExpressionAttributeNames/Values (an empty map passes this check).
///
/// Orders observed in DynamoDB Local: UpdateItem legacy `[AttributeUpdates, Expected]`,
/// expressions `[UpdateExpression, ConditionExpression]`; Query legacy
/// `[AttributesToGet, QueryFilter]` (plus KeyConditions only against KeyConditionExpression),
/// expressions `[ProjectionExpression, FilterExpression]`, values
/// `[FilterExpression, KeyConditionExpression]`.
pub fn check_parameter_mix(
    expressions: &[(&str, bool)],
    legacy: &[(&str, bool)],
    value_expressions: &[(&str, bool)],
    names_given: bool,
    values_given: bool,
) -> Result<(), ApiError> {
    let given = |params: &[(&str, bool)]| -> Vec<String> {
        params
            .iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| name.to_string())
            .collect()
    };
    let used_expressions = given(expressions);
    let used_legacy = given(legacy);
    if !used_expressions.is_empty() && !used_legacy.is_empty() {
        return Err(ApiError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            used_legacy.join(", "),
            used_expressions.join(", ")
        )));
    }
    if names_given && used_expressions.is_empty() {
        return Err(ApiError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if values_given
        && !value_expressions.is_empty()
        && value_expressions.iter().all(|(_, present)| !present)
    {
        let names: Vec<&str> = value_expressions.iter().map(|(name, _)| *name).collect();
        let verb = if names.len() == 1 { "is" } else { "are" };
        return Err(ApiError::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
            names.join(" and ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
