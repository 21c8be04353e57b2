//! The grammar: token stream to syntax tree, for every expression kind.
//!
//! The tree keeps token positions and nothing is resolved yet (placeholders stay placeholders,
//! reserved words are not checked): DynamoDB reports syntax errors before any other problem, so
//! parsing is a phase of its own. The one check made while parsing is DynamoDB's "redundant
//! parentheses" (`((a))`), which its parser reports when it leaves the doubled group, ahead of a
//! syntax error further right. Its parser first looks ahead (without building anything) where
//! the grammar cannot tell yet what it is reading: the first operand of a condition when it is
//! a `(` group or a function call, and the first operand of a SET value; a doubled group read
//! during that look-ahead is only reported once the look-ahead has decided, and not at all when
//! the look-ahead runs into a syntax error. [`Parser`] mirrors this with a count of undecided
//! look-aheads and a pending flag.
//!
//! A syntax error is reported at the first token at which the input stops being a prefix of
//! some valid expression, as DynamoDB's (ANTLR) parser does. The only ambiguity of the grammar
//! is a `(` at the start of a condition, which opens either a parenthesized condition or a
//! parenthesized operand (`(a) = :v`); the parser reads the group once and lets the token after
//! it decide.

use super::lexer::{syntax_error_message, tokenize, Keyword, Token, TokenKind};

/// An element of a document path as written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawElement {
    /// A bare attribute name (token index).
    Name(usize),
    /// A `#name` placeholder (token index).
    Placeholder(usize),
    /// A list index `[n]` (token index of the number).
    Index(usize),
}

/// A document path as written: `a.#b[1]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawPath {
    pub elements: Vec<RawElement>,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A node of the syntax tree (conditions, operands and SET values share one type).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Path(RawPath),
    /// A `:value` placeholder (token index).
    Value(usize),
    /// `name(args)`; the token index of the name.
    Call {
        name: usize,
        args: Vec<Node>,
    },
    Paren(Box<Node>),
    Compare {
        op: CompareOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    Between {
        subject: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
    },
    In {
        subject: Box<Node>,
        list: Vec<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// `a + b` (true) or `a - b` (false), in SET values only.
    Arith {
        plus: bool,
        left: Box<Node>,
        right: Box<Node>,
    },
}

/// What a node can stand for, which decides what may follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// A path or a value.
    Operand,
    /// A function call: an operand (`size(a)`) or a condition (`attribute_exists(a)`).
    Call,
    /// A condition.
    Condition,
    /// `a + b`, possibly in parentheses.
    Arith,
}

fn class(node: &Node) -> Class {
    match node {
        Node::Path(_) | Node::Value(_) => Class::Operand,
        Node::Call { .. } => Class::Call,
        Node::Paren(inner) => class(inner),
        Node::Arith { .. } => Class::Arith,
        _ => Class::Condition,
    }
}

/// One action of an update expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawAction {
    Set {
        path: RawPath,
        value: Node,
    },
    Remove {
        path: RawPath,
    },
    /// ADD path :value (token index of the value).
    Add {
        path: RawPath,
        value: usize,
    },
    /// DELETE path :value (token index of the value).
    Delete {
        path: RawPath,
        value: usize,
    },
}

/// A `SET`/`REMOVE`/`ADD`/`DELETE` clause.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawSection {
    pub keyword: Keyword,
    pub actions: Vec<RawAction>,
}

/// Why parsing stopped.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ParseError {
    /// A syntax error at this token.
    Syntax(usize),
    /// `((x))`.
    RedundantParentheses,
}

impl ParseError {
    /// DynamoDB's text for the error (without the `Invalid XExpression: ` prefix).
    pub fn message(&self, source: &str, tokens: &[Token]) -> String {
        match self {
            ParseError::Syntax(index) => syntax_error_message(source, tokens, *index),
            ParseError::RedundantParentheses => {
                "The expression has redundant parentheses;".to_string()
            }
        }
    }
}

type PResult<T> = Result<T, ParseError>;

/// A tokenized expression and a cursor over it.
pub(crate) struct Parser<'a> {
    pub source: &'a str,
    pub tokens: Vec<Token>,
    pos: usize,
    /// Undecided look-aheads around the current position.
    speculation: u32,
    /// A doubled group was closed during a look-ahead.
    pending_redundant: bool,
}

impl<'a> Parser<'a> {
    /// Tokenizes `source`.
    pub fn new(source: &'a str) -> Parser<'a> {
        Parser {
            source,
            tokens: tokenize(source),
            pos: 0,
            speculation: 0,
            pending_redundant: false,
        }
    }

    /// The text of token `index`.
    pub fn text(&self, index: usize) -> &'a str {
        self.tokens[index].text(self.source)
    }

    fn peek(&self) -> TokenKind {
        self.tokens[self.pos].kind
    }

    fn peek_at(&self, offset: usize) -> TokenKind {
        self.tokens
            .get(self.pos + offset)
            .map_or(TokenKind::Eof, |t| t.kind)
    }

    fn error<T>(&self) -> PResult<T> {
        Err(ParseError::Syntax(self.pos))
    }

    fn bump(&mut self) -> usize {
        let index = self.pos;
        if self.tokens[index].kind != TokenKind::Eof {
            self.pos += 1;
        }
        index
    }

    fn expect(&mut self, kind: TokenKind) -> PResult<usize> {
        if self.peek() == kind {
            Ok(self.bump())
        } else {
            self.error()
        }
    }

    fn at_keyword(&self, keyword: Keyword) -> bool {
        self.peek() == TokenKind::Keyword(keyword)
    }

    fn expect_end(&self) -> PResult<()> {
        if self.peek() == TokenKind::Eof {
            Ok(())
        } else {
            self.error()
        }
    }

    // -----------------------------------------------------------------------------------------
    // Entry points.

    /// A condition (ConditionExpression, FilterExpression, KeyConditionExpression).
    pub fn parse_condition(&mut self) -> PResult<Node> {
        let node = self.or(false)?;
        self.expect_end()?;
        Ok(node)
    }

    /// A ProjectionExpression: paths separated by commas.
    pub fn parse_projection(&mut self) -> PResult<Vec<RawPath>> {
        let mut paths = vec![self.path()?];
        while self.peek() == TokenKind::Comma {
            self.bump();
            paths.push(self.path()?);
        }
        self.expect_end()?;
        Ok(paths)
    }

    /// An UpdateExpression: one or more sections.
    pub fn parse_update(&mut self) -> PResult<Vec<RawSection>> {
        let mut sections = Vec::new();
        loop {
            let keyword = match self.peek() {
                TokenKind::Keyword(
                    k @ (Keyword::Set | Keyword::Remove | Keyword::Add | Keyword::Delete),
                ) => k,
                TokenKind::Eof if !sections.is_empty() => return Ok(sections),
                _ => return self.error(),
            };
            self.bump();
            let mut actions = vec![self.action(keyword)?];
            while self.peek() == TokenKind::Comma {
                self.bump();
                actions.push(self.action(keyword)?);
            }
            sections.push(RawSection { keyword, actions });
        }
    }

    fn action(&mut self, keyword: Keyword) -> PResult<RawAction> {
        let path = self.path()?;
        Ok(match keyword {
            Keyword::Set => {
                self.expect(TokenKind::Eq)?;
                let value = self.set_value()?;
                RawAction::Set { path, value }
            }
            Keyword::Remove => RawAction::Remove { path },
            Keyword::Add => RawAction::Add {
                path,
                value: self.expect(TokenKind::ValuePlaceholder)?,
            },
            _ => RawAction::Delete {
                path,
                value: self.expect(TokenKind::ValuePlaceholder)?,
            },
        })
    }

    // -----------------------------------------------------------------------------------------
    // Conditions.

    /// `group_start`: this is the first thing inside a `(` at the start of a condition, where a
    /// bare operand may end the group (`(a) = :v`).
    fn or(&mut self, group_start: bool) -> PResult<Node> {
        let mut left = self.and(group_start)?;
        while self.at_keyword(Keyword::Or) && class(&left) != Class::Operand {
            self.bump();
            let right = self.and(false)?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, group_start: bool) -> PResult<Node> {
        let mut left = self.not(group_start)?;
        while self.at_keyword(Keyword::And) && class(&left) != Class::Operand {
            self.bump();
            let right = self.not(false)?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self, group_start: bool) -> PResult<Node> {
        let mut nots = 0usize;
        while self.at_keyword(Keyword::Not) {
            self.bump();
            nots += 1;
        }
        let mut node = self.predicate(group_start && nots == 0)?;
        for _ in 0..nots {
            node = Node::Not(Box::new(node));
        }
        Ok(node)
    }

    /// A comparison, BETWEEN, IN, function condition or parenthesized condition. With
    /// `group_start`, a bare operand followed by `)` is returned as is (the caller's group is
    /// then an operand).
    fn predicate(&mut self, group_start: bool) -> PResult<Node> {
        // A `(` or a call leaves open what is being read until the token after it.
        let speculative = self.peek() == TokenKind::LParen
            || (self.peek() == TokenKind::Ident && self.peek_at(1) == TokenKind::LParen);
        if speculative {
            self.speculation += 1;
        }
        let left = if self.peek() == TokenKind::LParen {
            self.condition_group()?
        } else {
            self.primary()?
        };
        let left_class = class(&left);
        let op = match self.peek() {
            TokenKind::Eq => Some(CompareOp::Eq),
            TokenKind::Ne => Some(CompareOp::Ne),
            TokenKind::Lt => Some(CompareOp::Lt),
            TokenKind::Le => Some(CompareOp::Le),
            TokenKind::Gt => Some(CompareOp::Gt),
            TokenKind::Ge => Some(CompareOp::Ge),
            _ => None,
        };
        let continues =
            op.is_some() || self.at_keyword(Keyword::Between) || self.at_keyword(Keyword::In);
        if !continues {
            return match left_class {
                Class::Condition | Class::Call => {
                    if speculative {
                        self.decide(false)?;
                    }
                    Ok(left)
                }
                // Still undecided: the enclosing group decides.
                _ if group_start && self.peek() == TokenKind::RParen => {
                    if speculative {
                        self.speculation = self.speculation.saturating_sub(1);
                    }
                    Ok(left)
                }
                _ => self.error(),
            };
        }
        if left_class == Class::Condition {
            return self.error();
        }
        if speculative {
            self.decide(false)?;
        }
        self.finish_predicate(left, op)
    }

    /// The rest of a comparison, BETWEEN or IN after its first operand (kept out of
    /// [`Self::predicate`] so that the recursion through groups uses little stack).
    #[inline(never)]
    fn finish_predicate(&mut self, left: Node, op: Option<CompareOp>) -> PResult<Node> {
        let node = if let Some(op) = op {
            self.bump();
            let right = self.operand()?;
            Node::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            }
        } else if self.at_keyword(Keyword::Between) {
            self.bump();
            let low = self.operand()?;
            self.expect(TokenKind::Keyword(Keyword::And))?;
            let high = self.operand()?;
            Node::Between {
                subject: Box::new(left),
                low: Box::new(low),
                high: Box::new(high),
            }
        } else {
            self.bump();
            self.expect(TokenKind::LParen)?;
            let mut list = vec![self.operand()?];
            while self.peek() == TokenKind::Comma {
                self.bump();
                list.push(self.operand()?);
            }
            self.expect(TokenKind::RParen)?;
            Node::In {
                subject: Box::new(left),
                list,
            }
        };
        // A condition inside groups decides every group around it.
        self.decide(true)?;
        Ok(node)
    }

    /// A look-ahead decided (`all`: and every one around it): report a doubled group read
    /// during it.
    fn decide(&mut self, all: bool) -> PResult<()> {
        self.speculation = if all {
            0
        } else {
            self.speculation.saturating_sub(1)
        };
        if self.speculation == 0 && self.pending_redundant {
            return Err(ParseError::RedundantParentheses);
        }
        Ok(())
    }

    /// A `)` was just read: a doubled group is reported now, or once the look-ahead decides.
    fn close_group(&mut self, inner: Node) -> PResult<Node> {
        if matches!(inner, Node::Paren(_)) {
            if self.speculation == 0 {
                return Err(ParseError::RedundantParentheses);
            }
            self.pending_redundant = true;
        }
        Ok(Node::Paren(Box::new(inner)))
    }

    /// `(` ... `)` at the start of a condition: a condition or an operand in parentheses.
    fn condition_group(&mut self) -> PResult<Node> {
        self.bump();
        if self.at_keyword(Keyword::Not) {
            // Only a condition starts with NOT.
            self.decide(true)?;
        }
        let inner = self.or(true)?;
        self.expect(TokenKind::RParen)?;
        self.close_group(inner)
    }

    /// An operand where only an operand may stand (right of a comparator, BETWEEN bounds, IN
    /// list, function arguments).
    fn operand(&mut self) -> PResult<Node> {
        if self.peek() == TokenKind::LParen {
            self.bump();
            let inner = self.operand()?;
            self.expect(TokenKind::RParen)?;
            return self.close_group(inner);
        }
        self.primary()
    }

    /// A path, a value placeholder or a function call.
    fn primary(&mut self) -> PResult<Node> {
        match self.peek() {
            TokenKind::Ident if self.peek_at(1) == TokenKind::LParen => {
                let name = self.bump();
                self.bump();
                let mut args = vec![self.operand()?];
                while self.peek() == TokenKind::Comma {
                    self.bump();
                    args.push(self.operand()?);
                }
                self.expect(TokenKind::RParen)?;
                Ok(Node::Call { name, args })
            }
            TokenKind::Ident | TokenKind::NamePlaceholder => Ok(Node::Path(self.path()?)),
            TokenKind::ValuePlaceholder => Ok(Node::Value(self.bump())),
            _ => self.error(),
        }
    }

    /// A document path: a name, then `.name` and `[n]` in any order. DynamoDB's grammar also
    /// takes a `:value` token after a dot (resolution then rejects it).
    fn path(&mut self) -> PResult<RawPath> {
        let mut elements = vec![self.path_name()?];
        loop {
            match self.peek() {
                TokenKind::Dot if self.peek_at(1) == TokenKind::ValuePlaceholder => {
                    self.bump();
                    elements.push(RawElement::Placeholder(self.bump()));
                }
                TokenKind::Dot => {
                    self.bump();
                    elements.push(self.path_name()?);
                }
                TokenKind::LBracket => {
                    self.bump();
                    let index = self.expect(TokenKind::Number)?;
                    self.expect(TokenKind::RBracket)?;
                    elements.push(RawElement::Index(index));
                }
                _ => return Ok(RawPath { elements }),
            }
        }
    }

    fn path_name(&mut self) -> PResult<RawElement> {
        match self.peek() {
            TokenKind::Ident => Ok(RawElement::Name(self.bump())),
            TokenKind::NamePlaceholder => Ok(RawElement::Placeholder(self.bump())),
            _ => self.error(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // SET values.

    /// `operand`, `operand + operand` or `operand - operand`. What follows the first operand
    /// decides which, so DynamoDB's parser reads it in look-ahead.
    fn set_value(&mut self) -> PResult<Node> {
        self.speculation += 1;
        let left = self.set_operand()?;
        let plus = match self.peek() {
            TokenKind::Plus => true,
            TokenKind::Minus => false,
            _ => {
                self.decide(false)?;
                return Ok(left);
            }
        };
        if class(&left) == Class::Arith {
            return self.error();
        }
        self.decide(false)?;
        self.bump();
        let right = self.update_operand()?;
        Ok(Node::Arith {
            plus,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    /// The first operand of a SET value: may be a parenthesized arithmetic (`(:a + :b)`).
    fn set_operand(&mut self) -> PResult<Node> {
        if self.peek() == TokenKind::LParen {
            self.bump();
            let inner = self.set_value()?;
            self.expect(TokenKind::RParen)?;
            return self.close_group(inner);
        }
        self.update_primary()
    }

    /// An operand in an update expression where no arithmetic may stand.
    fn update_operand(&mut self) -> PResult<Node> {
        if self.peek() == TokenKind::LParen {
            self.bump();
            let inner = self.update_operand()?;
            self.expect(TokenKind::RParen)?;
            return self.close_group(inner);
        }
        self.update_primary()
    }

    fn update_primary(&mut self) -> PResult<Node> {
        match self.peek() {
            TokenKind::Ident if self.peek_at(1) == TokenKind::LParen => {
                let name = self.bump();
                self.bump();
                let mut args = vec![self.update_operand()?];
                while self.peek() == TokenKind::Comma {
                    self.bump();
                    args.push(self.update_operand()?);
                }
                self.expect(TokenKind::RParen)?;
                Ok(Node::Call { name, args })
            }
            TokenKind::Ident | TokenKind::NamePlaceholder => Ok(Node::Path(self.path()?)),
            TokenKind::ValuePlaceholder => Ok(Node::Value(self.bump())),
            _ => self.error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition_error(source: &str) -> String {
        let mut parser = Parser::new(source);
        match parser.parse_condition() {
            Ok(tree) => panic!("{source:?} parsed: {tree:?}"),
            Err(e) => e.message(source, &parser.tokens),
        }
    }

    fn condition_ok(source: &str) -> Node {
        let mut parser = Parser::new(source);
        parser
            .parse_condition()
            .unwrap_or_else(|e| panic!("{source:?}: {}", e.message(source, &parser.tokens)))
    }

    fn update_error(source: &str) -> String {
        let mut parser = Parser::new(source);
        match parser.parse_update() {
            Ok(tree) => panic!("{source:?} parsed: {tree:?}"),
            Err(e) => e.message(source, &parser.tokens),
        }
    }

    fn update_ok(source: &str) {
        let mut parser = Parser::new(source);
        if let Err(e) = parser.parse_update() {
            panic!("{source:?}: {}", e.message(source, &parser.tokens));
        }
    }

    fn syntax(token: &str, near: &str) -> String {
        format!("Syntax error; token: \"{token}\", near: \"{near}\"")
    }

    const REDUNDANT: &str = "The expression has redundant parentheses;";

    /// Every case here was answered so by DynamoDB (Local 3.3.0).
    #[test]
    fn condition_syntax_errors() {
        for (source, token, near) in [
            ("a =", "<EOF>", "="),
            ("a = = b", "=", "= = b"),
            ("a = 3", "3", "= 3"),
            ("a == b", "=", "== b"),
            ("a @ b", "@", "a @ b"),
            ("a=b$", "$", "b$"),
            ("  ", "<EOF>", "  "),
            ("a", "<EOF>", "a"),
            ("(a = b", "<EOF>", "b"),
            ("a = b)", ")", "b)"),
            ("a = b c", "c", "b c"),
            ("attribute_exists()", ")", "()"),
            ("a IN ()", ")", "()"),
            ("a BETWEEN :v", "<EOF>", ":v"),
            ("a < :v AND", "<EOF>", "AND"),
            ("NOT", "<EOF>", "NOT"),
            ("a.1 = :v", "1", ".1 ="),
            ("a[x] = :v", "x", "[x]"),
            ("a[-1] = :v", "-", "[-1"),
            ("a[1.5] = :v", ".", "1.5"),
            ("_a = :v", "_", "_a"),
            (" 1a = :v", "1", " 1a"),
            ("a[007] = :v", "0", "007"),
            ("a = #", "#", "= #"),
            ("a = ##b", "#", "= ##b"),
            (":v", "<EOF>", ":v"),
            ("(:v)", "<EOF>", ")"),
            ("a.foo(b) = :v", "(", "foo(b"),
            ("(a, b) = :v", ",", "a, b"),
            ("a IN :v", ":v", "IN :v"),
            ("a < b < c", "<", "b < c"),
            ("a = b = c", "=", "b = c"),
            ("and = :v", "and", "and ="),
            ("AND(a)", "AND", "AND("),
            ("a != :v", "!", "a !="),
            ("a = 'x'", "'", "= 'x"),
            ("é = :v", "é", "é ="),
            ("a = b + :v", "+", "b + :v"),
            ("((a)) x = :v", "x", ") x ="),
            ("x ((a = :v))", "=", "a = :v"),
            ("if_not_exists(:zz, ( (a))", "<EOF>", ")"),
            ("(((a))", "<EOF>", ")"),
            ("a = :v AND ((b = :v) x", "x", ") x"),
            ("(a) AND b = :v", "AND", ") AND b"),
            ("(a = :v) = :w", "=", ") = :w"),
            ("a = (b = :v)", "=", "b = :v"),
            ("NOT a", "<EOF>", "a"),
        ] {
            assert_eq!(condition_error(source), syntax(token, near), "{source}");
        }
    }

    #[test]
    fn redundant_parentheses() {
        for source in [
            "((a = :v))",
            "((a)) = :v",
            "a = :v AND ((b = :v))",
            "NOT ((a = :v))",
            "a = ((:v))",
            "((a = :v)) x",
            "((a)) = :v x",
            "size((((a)))) x",
            "a = ((:v)) AND name = x y",
            "a IN (:v, ((:w)) x",
            "a = size(((a))",
            "((:ss)) > :+n1",
        ] {
            assert_eq!(condition_error(source), REDUNDANT, "{source}");
        }
        for source in [
            "(a = :v)",
            "((a = :v) AND b = :v)",
            "((a = :v) OR (b = :v))",
            "(NOT (a = :v))",
            "size((a)) = :v",
            "attribute_exists((a))",
            "a IN ((:v))",
            "(a) = :v",
            "a = (:v)",
            "NOT NOT a = b",
            "a BETWEEN(:v)AND(:v)",
            "size (a) = :v",
        ] {
            condition_ok(source);
        }
    }

    #[test]
    fn precedence() {
        // NOT binds tighter than AND, AND tighter than OR.
        let tree = condition_ok("NOT a = :x AND b = :y OR c = :z");
        match tree {
            Node::Or(left, _) => match *left {
                Node::And(l, _) => assert!(matches!(*l, Node::Not(_))),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn update_syntax() {
        for (source, token, near) in [
            ("SET a = :v,", "<EOF>", ","),
            ("SET", "<EOF>", "SET"),
            ("SET a :v", ":v", "a :v"),
            ("ADD a = :v", "=", "a = :v"),
            ("REMOVE :v", ":v", "REMOVE :v"),
            ("SET :v = a", ":v", "SET :v ="),
            ("SET a = b + c + d", "+", "c + d"),
            ("ADD a b", "b", "a b"),
            ("ADD a size(b)", "size", "a size("),
            ("SETa = :v", "SETa", "SETa ="),
            ("SET a = :v AND b = :w", "AND", ":v AND b"),
            ("SET a = -:v", "-", "= -:v"),
            ("SET a = :v - - :w", "-", "- - :w"),
            ("SET a = (:v + :v) + :v", "+", ") + :v"),
            ("SET a = list_append(:l, :v + :w)", "+", ":v + :w"),
            ("SET a = :v REMOVE", "<EOF>", "REMOVE"),
            ("SET a[1] = :v, a[01] = :w", "1", "01]"),
        ] {
            assert_eq!(update_error(source), syntax(token, near), "{source}");
        }
        assert_eq!(update_error("SET a = ((:v)) x"), REDUNDANT);
        for source in [
            "SET a = (:v + :w)",
            "SET a = (:v)",
            "set a= :v,b=:w",
            "SET a = list_append(:l, (:l))",
            "SET a = (if_not_exists(a, :v)) + :w",
            "SET a = :v SET b = :w",
            "REMOVE a, b ADD c :v DELETE d :s",
        ] {
            update_ok(source);
        }
    }

    #[test]
    fn projection_syntax() {
        let error = |source: &str| {
            let mut parser = Parser::new(source);
            parser
                .parse_projection()
                .map(|_| ())
                .map_err(|e| e.message(source, &parser.tokens))
        };
        assert_eq!(error("n,"), Err(syntax("<EOF>", ",")));
        assert_eq!(error(",n"), Err(syntax(",", ",n")));
        assert_eq!(error("size(n)"), Err(syntax("(", "size(n")));
        assert_eq!(error("n = :v"), Err(syntax("=", "n = :v")));
        assert_eq!(error("(n)"), Err(syntax("(", "(n")));
        assert_eq!(error("a.b[1], #c"), Ok(()));
    }
}
