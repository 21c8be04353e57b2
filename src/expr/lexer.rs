//! Tokens of DynamoDB's expression language.
//!
//! DynamoDB tokenizes every expression kind the same way, and its syntax errors quote tokens
//! (`Syntax error; token: "x", near: "a x b"`), so the token boundaries here must be exactly
//! DynamoDB's: an identifier starts with an ASCII letter; `#name` and `:value` placeholders take
//! letters, digits and `_`; a number is `0` or a run of digits not starting with `0` (so `007`
//! is three tokens); any other character is a token of its own (`_a` is `_` then `a`).

/// Words that are grammar tokens in every expression kind (case-insensitive). As attribute
/// names they give a syntax error rather than the reserved-word error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Set,
    Remove,
    Add,
    Delete,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        const WORDS: [(&str, Keyword); 9] = [
            ("AND", Keyword::And),
            ("OR", Keyword::Or),
            ("NOT", Keyword::Not),
            ("BETWEEN", Keyword::Between),
            ("IN", Keyword::In),
            ("SET", Keyword::Set),
            ("REMOVE", Keyword::Remove),
            ("ADD", Keyword::Add),
            ("DELETE", Keyword::Delete),
        ];
        WORDS
            .iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(word))
            .map(|(_, keyword)| *keyword)
    }
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An attribute or function name.
    Ident,
    /// `#name`.
    NamePlaceholder,
    /// `:value`.
    ValuePlaceholder,
    /// A list index.
    Number,
    Keyword(Keyword),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    /// A character that starts no token; always a syntax error.
    Unknown,
    /// End of input.
    Eof,
}

/// A token and where it is in the expression (byte offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text as DynamoDB quotes it (`<EOF>` for the end).
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        if self.kind == TokenKind::Eof {
            "<EOF>"
        } else {
            &source[self.start..self.end]
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `source` into tokens; the last one is always [`TokenKind::Eof`]. Never fails: a
/// character that starts no token becomes an [`TokenKind::Unknown`] token, which the parser
/// reports as a syntax error in its place.
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut take_while = |end: &mut usize, accept: fn(char) -> bool| {
            while let Some(&(i, next)) = chars.peek() {
                if !accept(next) {
                    break;
                }
                *end = i + next.len_utf8();
                chars.next();
            }
        };
        let kind = match c {
            'a'..='z' | 'A'..='Z' => {
                take_while(&mut end, is_word_char);
                match Keyword::from_word(&source[start..end]) {
                    Some(keyword) => TokenKind::Keyword(keyword),
                    None => TokenKind::Ident,
                }
            }
            '#' | ':' => {
                take_while(&mut end, is_word_char);
                if end == start + 1 {
                    TokenKind::Unknown
                } else if c == '#' {
                    TokenKind::NamePlaceholder
                } else {
                    TokenKind::ValuePlaceholder
                }
            }
            '0' => TokenKind::Number,
            '1'..='9' => {
                take_while(&mut end, |d| d.is_ascii_digit());
                TokenKind::Number
            }
            '=' => TokenKind::Eq,
            '<' => match bytes.get(end) {
                Some(b'>') => {
                    chars.next();
                    end += 1;
                    TokenKind::Ne
                }
                Some(b'=') => {
                    chars.next();
                    end += 1;
                    TokenKind::Le
                }
                _ => TokenKind::Lt,
            },
            '>' => {
                if bytes.get(end) == Some(&b'=') {
                    chars.next();
                    end += 1;
                    TokenKind::Ge
                } else {
                    TokenKind::Gt
                }
            }
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            '[' => TokenKind::LBracket,
            ']' => TokenKind::RBracket,
            ',' => TokenKind::Comma,
            '.' => TokenKind::Dot,
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            _ => TokenKind::Unknown,
        };
        tokens.push(Token { kind, start, end });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        start: source.len(),
        end: source.len(),
    });
    tokens
}

/// DynamoDB's text for a syntax error at `tokens[index]`: the offending token, and the source
/// from the start of the token before it to the end of the token after it.
pub(crate) fn syntax_error_message(source: &str, tokens: &[Token], index: usize) -> String {
    let token = tokens[index];
    let from = if index == 0 {
        0
    } else {
        tokens[index - 1].start
    };
    let to = match tokens.get(index + 1) {
        Some(next) if next.kind != TokenKind::Eof => next.end,
        _ => source.len(),
    };
    format!(
        "Syntax error; token: \"{}\", near: \"{}\"",
        token.text(source),
        &source[from..to]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(TokenKind, &str)> {
        tokenize(source)
            .into_iter()
            .map(|t| (t.kind, t.text(source)))
            .collect()
    }

    #[test]
    fn splits_like_dynamodb() {
        use TokenKind::*;
        assert_eq!(
            kinds("a.b[10] <> :v1"),
            vec![
                (Ident, "a"),
                (Dot, "."),
                (Ident, "b"),
                (LBracket, "["),
                (Number, "10"),
                (RBracket, "]"),
                (Ne, "<>"),
                (ValuePlaceholder, ":v1"),
                (Eof, "<EOF>")
            ]
        );
        assert_eq!(
            kinds("007"),
            vec![(Number, "0"), (Number, "0"), (Number, "7"), (Eof, "<EOF>")]
        );
        assert_eq!(
            kinds("_a"),
            vec![(Unknown, "_"), (Ident, "a"), (Eof, "<EOF>")]
        );
        assert_eq!(kinds("# :")[0], (Unknown, "#"));
        assert_eq!(kinds("and")[0], (Keyword(super::Keyword::And), "and"));
        assert_eq!(kinds("SETa")[0], (Ident, "SETa"));
        assert_eq!(kinds("é")[0], (Unknown, "é"));
        assert_eq!(kinds("<=>=")[..2], [(Le, "<="), (Ge, ">=")]);
    }

    #[test]
    fn near_spans_neighbours() {
        let msg = |s: &str, i: usize| syntax_error_message(s, &tokenize(s), i);
        assert_eq!(
            msg("a = = b", 2),
            "Syntax error; token: \"=\", near: \"= = b\""
        );
        assert_eq!(msg("a =", 2), "Syntax error; token: \"<EOF>\", near: \"=\"");
        assert_eq!(msg("  ", 0), "Syntax error; token: \"<EOF>\", near: \"  \"");
        assert_eq!(msg(" 1a", 0), "Syntax error; token: \"1\", near: \" 1a\"");
        assert_eq!(
            msg("a = :v   )  ", 3),
            "Syntax error; token: \")\", near: \":v   )  \""
        );
    }
}
