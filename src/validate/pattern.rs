//! The small subset of Java regular expressions that the DynamoDB API model's `pattern` traits use.
//!
//! The model's patterns are few and simple (`[a-zA-Z0-9_.-]+`, `\p{Print}+`, `([0-9a-f]{16})+`,
//! an XML-character class with a surrogate-pair range, ...), so a full regex engine would be a
//! dependency for nothing. Patterns are compiled to a Thompson NFA and run as a Pike VM over the
//! characters of the input: linear in the input for any pattern, so a hostile megabyte-long string
//! cannot make a check slow. The whole input must match, as Java's `Matcher.matches()` requires.
//!
//! Supported: literals; `.`; classes `[...]` and `[^...]` with ranges and escapes; `\d \w \s` (and
//! their negations outside classes); `\p{Print}` and the other ASCII POSIX classes Java knows;
//! `\t \n \r \f \a \e \xhh \uhhhh` (a `\u` surrogate pair is one code point, as in Java);
//! escaped punctuation; groups `( )` and `(?: )`; alternation `|`; quantifiers `* + ? {n} {n,}
//! {n,m}`; `^` at the very start and `$` at the very end. Anything else is refused at compile time.

/// A compiled pattern; [`Pattern::matches`] tells whether a whole string matches it.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    prog: Vec<Inst>,
}

/// Longest program a pattern may compile to: counted repetitions are expanded, so this bounds the
/// work per input character.
const MAX_PROGRAM: usize = 20_000;

#[derive(Clone, Debug)]
enum Inst {
    /// Consume one character in the set.
    Char(CharSet),
    /// Continue at both targets.
    Split(usize, usize),
    /// Continue at the target.
    Jmp(usize),
    /// The input matched if it is exhausted here.
    Match,
}

/// A set of code points (as `u32`, so that lone surrogates in a pattern are representable and
/// simply never match a Rust `char`).
#[derive(Clone, Debug, Default)]
struct CharSet {
    ranges: Vec<(u32, u32)>,
    negated: bool,
}

impl CharSet {
    fn single(c: u32) -> Self {
        CharSet {
            ranges: vec![(c, c)],
            negated: false,
        }
    }

    fn contains(&self, c: char) -> bool {
        let c = c as u32;
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

#[derive(Debug)]
enum Node {
    Empty,
    Set(CharSet),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

impl Pattern {
    /// Compiles `src`, or says why it is outside the supported subset.
    pub(crate) fn compile(src: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let node = parser.parse_pattern()?;
        let mut prog = Vec::new();
        emit(&node, &mut prog)?;
        prog.push(Inst::Match);
        if prog.len() > MAX_PROGRAM {
            return Err(format!("pattern {src:?} compiles to too large a program"));
        }
        Ok(Pattern { prog })
    }

    /// Whether the whole of `input` matches.
    pub(crate) fn matches(&self, input: &str) -> bool {
        let n = self.prog.len();
        let mut mark = vec![0usize; n];
        let mut generation = 1usize;
        let mut current = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        let mut stack = Vec::new();
        self.add(&mut current, 0, &mut mark, generation, &mut stack);
        for c in input.chars() {
            generation += 1;
            next.clear();
            for &pc in &current {
                if let Some(Inst::Char(set)) = self.prog.get(pc) {
                    if set.contains(c) {
                        self.add(&mut next, pc + 1, &mut mark, generation, &mut stack);
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
            if current.is_empty() {
                return false;
            }
        }
        current
            .iter()
            .any(|&pc| matches!(self.prog.get(pc), Some(Inst::Match)))
    }

    /// Adds `pc` and everything reachable from it without consuming input to `list`.
    fn add(
        &self,
        list: &mut Vec<usize>,
        pc: usize,
        mark: &mut [usize],
        generation: usize,
        stack: &mut Vec<usize>,
    ) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            match mark.get_mut(pc) {
                Some(m) if *m != generation => *m = generation,
                _ => continue,
            }
            match self.prog.get(pc) {
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Jmp(a)) => stack.push(*a),
                Some(_) => list.push(pc),
                None => {}
            }
        }
    }
}

fn emit(node: &Node, prog: &mut Vec<Inst>) -> Result<(), String> {
    if prog.len() > MAX_PROGRAM {
        return Err("pattern compiles to too large a program".into());
    }
    match node {
        Node::Empty => {}
        Node::Set(set) => prog.push(Inst::Char(set.clone())),
        Node::Concat(nodes) => {
            for n in nodes {
                emit(n, prog)?;
            }
        }
        Node::Alt(nodes) => {
            // Split(first, rest) chains; every branch but the last jumps to the end.
            let mut jumps = Vec::new();
            for (i, n) in nodes.iter().enumerate() {
                if i + 1 < nodes.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(n, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let after = prog.len();
                    prog[split] = Inst::Split(split + 1, after);
                } else {
                    emit(n, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat(inner, min, max) => {
            for _ in 0..*min {
                emit(inner, prog)?;
            }
            match max {
                None => {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(inner, prog)?;
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        emit(inner, prog)?;
                        if prog.len() > MAX_PROGRAM {
                            return Err("pattern compiles to too large a program".into());
                        }
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        let src: String = self.chars.iter().collect();
        Err(format!(
            "unsupported pattern {src:?} at {}: {what}",
            self.pos
        ))
    }

    fn parse_pattern(&mut self) -> Result<Node, String> {
        if self.peek() == Some('^') {
            self.pos += 1;
        }
        let node = self.parse_alt()?;
        if self.pos != self.chars.len() {
            return self.err("unbalanced ')'");
        }
        Ok(node)
    }

    fn parse_alt(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.parse_concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.parse_concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alt(branches)
        })
    }

    fn parse_concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '|' | ')' => break,
                '$' => {
                    // Only as the very last character of the pattern: an end anchor, which a
                    // whole-input match implies.
                    if self.pos + 1 == self.chars.len() {
                        self.pos += 1;
                        break;
                    }
                    return self.err("'$' before the end");
                }
                _ => {
                    let atom = self.parse_atom()?;
                    items.push(self.parse_quantifiers(atom)?);
                }
            }
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.remove(0),
            _ => Node::Concat(items),
        })
    }

    fn parse_atom(&mut self) -> Result<Node, String> {
        match self.bump() {
            Some('(') => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.pos + 1) == Some(&':') {
                        self.pos += 2;
                    } else {
                        return self.err("group flags");
                    }
                }
                let inner = self.parse_alt()?;
                if self.bump() != Some(')') {
                    return self.err("missing ')'");
                }
                Ok(inner)
            }
            Some('[') => self.parse_class().map(Node::Set),
            Some('.') => Ok(Node::Set(CharSet {
                ranges: vec![(0x0A, 0x0A), (0x0D, 0x0D), (0x85, 0x85), (0x2028, 0x2029)],
                negated: true,
            })),
            Some('\\') => self.parse_escape(false).map(Node::Set),
            Some(c @ ('*' | '+' | '?' | '{' | '^')) => self.err(&format!("unexpected {c:?}")),
            Some(c) => Ok(Node::Set(CharSet::single(c as u32))),
            None => self.err("unexpected end"),
        }
    }

    fn parse_quantifiers(&mut self, mut atom: Node) -> Result<Node, String> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    self.pos += 1;
                    let min = self.parse_number()?;
                    let max = if self.peek() == Some(',') {
                        self.pos += 1;
                        if self.peek() == Some('}') {
                            None
                        } else {
                            Some(self.parse_number()?)
                        }
                    } else {
                        Some(min)
                    };
                    if self.peek() != Some('}') {
                        return self.err("malformed {n,m}");
                    }
                    if max.is_some_and(|m| m < min) {
                        return self.err("{n,m} with m < n");
                    }
                    (min, max)
                }
                _ => return Ok(atom),
            };
            self.pos += 1;
            if matches!(self.peek(), Some('?' | '+')) {
                return self.err("lazy or possessive quantifier");
            }
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    fn parse_number(&mut self) -> Result<u32, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        match digits.parse::<u32>() {
            Ok(n) if n <= 10_000 => Ok(n),
            _ => self.err("bad repetition count"),
        }
    }

    /// After `[`: the class up to and including `]`.
    fn parse_class(&mut self) -> Result<CharSet, String> {
        let mut set = CharSet::default();
        if self.peek() == Some('^') {
            self.pos += 1;
            set.negated = true;
        }
        loop {
            let lo = match self.bump() {
                Some(']') => return Ok(set),
                Some('[') => return self.err("nested class"),
                Some('&') if self.peek() == Some('&') => return self.err("class intersection"),
                Some('\\') => {
                    let esc = self.parse_escape(true)?;
                    match single_char(&esc) {
                        Some(c) => c,
                        None => {
                            set.ranges.extend(esc.ranges);
                            continue;
                        }
                    }
                }
                Some(c) => c as u32,
                None => return self.err("missing ']'"),
            };
            if self.peek() == Some('-') && !matches!(self.chars.get(self.pos + 1), Some(']') | None)
            {
                self.pos += 1;
                let hi = match self.bump() {
                    Some('\\') => match single_char(&self.parse_escape(true)?) {
                        Some(c) => c,
                        None => return self.err("range ending in a class escape"),
                    },
                    Some('[') => return self.err("nested class"),
                    Some(c) => c as u32,
                    None => return self.err("missing ']'"),
                };
                if hi < lo {
                    return self.err("reversed range");
                }
                set.ranges.push((lo, hi));
            } else {
                set.ranges.push((lo, lo));
            }
        }
    }

    /// After `\`: the escaped character or class. `in_class` refuses the negated shorthands there
    /// (a class cannot hold a complement in this representation).
    fn parse_escape(&mut self, in_class: bool) -> Result<CharSet, String> {
        let c = match self.bump() {
            Some(c) => c,
            None => return self.err("trailing '\\'"),
        };
        let ascii = |ranges: &[(u32, u32)], negated: bool| CharSet {
            ranges: ranges.to_vec(),
            negated,
        };
        const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
        const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];
        const SPACE: &[(u32, u32)] = &[(0x09, 0x0D), (0x20, 0x20)];
        let set = match c {
            't' => CharSet::single(0x09),
            'n' => CharSet::single(0x0A),
            'r' => CharSet::single(0x0D),
            'f' => CharSet::single(0x0C),
            'a' => CharSet::single(0x07),
            'e' => CharSet::single(0x1B),
            'x' => CharSet::single(self.parse_hex(2)?),
            'u' => {
                let mut code = self.parse_hex(4)?;
                // A high surrogate followed by an escaped low surrogate is one code point.
                if (0xD800..0xDC00).contains(&code)
                    && self.peek() == Some('\\')
                    && self.chars.get(self.pos + 1) == Some(&'u')
                {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.parse_hex(4)?;
                    if (0xDC00..0xE000).contains(&low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    } else {
                        self.pos = save;
                    }
                }
                CharSet::single(code)
            }
            'd' => ascii(DIGIT, false),
            'w' => ascii(WORD, false),
            's' => ascii(SPACE, false),
            'D' | 'W' | 'S' if !in_class => ascii(
                match c {
                    'D' => DIGIT,
                    'W' => WORD,
                    _ => SPACE,
                },
                true,
            ),
            'p' | 'P' => {
                let negated = c == 'P';
                if negated && in_class {
                    return self.err("\\P inside a class");
                }
                if self.bump() != Some('{') {
                    return self.err("\\p without {name}");
                }
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '}') {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                let ranges: &[(u32, u32)] = match name.as_str() {
                    "Print" => &[(0x20, 0x7E)],
                    "Graph" => &[(0x21, 0x7E)],
                    "Alnum" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
                    "Alpha" => &[(0x41, 0x5A), (0x61, 0x7A)],
                    "Digit" => DIGIT,
                    "Upper" => &[(0x41, 0x5A)],
                    "Lower" => &[(0x61, 0x7A)],
                    "Punct" => &[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
                    "Space" => SPACE,
                    "XDigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
                    "ASCII" => &[(0x00, 0x7F)],
                    _ => return self.err("unknown \\p class"),
                };
                ascii(ranges, negated)
            }
            c if c.is_ascii_alphanumeric() => return self.err("unknown escape"),
            c => CharSet::single(c as u32),
        };
        Ok(set)
    }

    fn parse_hex(&mut self, digits: usize) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..digits {
            match self.bump().and_then(|c| c.to_digit(16)) {
                Some(d) => v = v * 16 + d,
                None => return self.err("bad hex escape"),
            }
        }
        Ok(v)
    }
}

/// The code point of a one-character set, if that is what `set` is.
fn single_char(set: &CharSet) -> Option<u32> {
    match set.ranges.as_slice() {
        [(lo, hi)] if lo == hi && !set.negated => Some(*lo),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, s: &str) -> bool {
        Pattern::compile(p).expect("pattern compiles").matches(s)
    }

    #[test]
    fn table_name_pattern() {
        let p = "[a-zA-Z0-9_.-]+";
        assert!(m(p, "abc"));
        assert!(m(p, "A-b_c.9"));
        assert!(!m(p, ""));
        assert!(!m(p, "abc;"));
        assert!(!m(p, "a b"));
        assert!(!m(p, "é"));
    }

    #[test]
    fn model_patterns() {
        assert!(m("\\p{Print}+", "Policy name 1"));
        assert!(!m("\\p{Print}+", "tab\there"));
        assert!(m("^[^\\$]+$", "token"));
        assert!(!m("^[^\\$]+$", "to$ken"));
        assert!(!m("^[^\\$]+$", ""));
        let xml = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*";
        assert!(m(xml, "arn:aws:iam::1:role/x\n\u{1F600}"));
        assert!(!m(xml, "\u{1}"));
        assert!(!m(xml, "\u{FFFE}"));
        assert!(m("([0-9a-f]{16})+", "0123456789abcdef0123456789abcdef"));
        assert!(!m("([0-9a-f]{16})+", "0123456789abcdef0"));
        assert!(m("[,;:|\\t ]", "\t"));
        assert!(!m("[,;:|\\t ]", ",,"));
        assert!(m("[\\x20-\\x21\\x23-\\x2B\\x2D-\\x7E]*", "col a"));
        assert!(!m("[\\x20-\\x21\\x23-\\x2B\\x2D-\\x7E]*", "a,b"));
        assert!(!m("[\\x20-\\x21\\x23-\\x2B\\x2D-\\x7E]*", "\"a\""));
        let bucket = "^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$";
        assert!(m(bucket, "my-bucket.x_1"));
        assert!(!m(bucket, "a"));
        assert!(!m(bucket, "-ab"));
        assert!(m("[0-9]{12}", "123456789012"));
        assert!(!m("[0-9]{12}", "12345678901"));
        let rule = "[A-Za-z0-9][A-Za-z0-9\\-\\_\\.]{0,126}[A-Za-z0-9]";
        assert!(m(rule, "ab"));
        assert!(m(rule, &format!("a{}b", "-".repeat(126))));
        assert!(!m(rule, &format!("a{}b", "-".repeat(127))));
        let uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
        assert!(m(uuid, "01234567-89ab-cdef-0123-456789abcdef"));
    }

    #[test]
    fn alternation_groups_and_dot() {
        assert!(m("(ab|c)+d?", "abcab"));
        assert!(m("(ab|c)+d?", "cd"));
        assert!(!m("(ab|c)+d?", "abd d"));
        assert!(m("(?:a|)b", "b"));
        assert!(m("a.c", "a-c"));
        assert!(!m("a.c", "a\nc"));
        assert!(m("(a*)*b", "aaab"));
        assert!(m("x{2,}", "xxxx"));
        assert!(!m("x{2,3}", "xxxx"));
    }

    #[test]
    fn unsupported_syntax_is_refused_not_misread() {
        for p in [
            "a$b", "[a-", "(a", "a)", "a{3,2}", "\\q", "a*?", "(?i)a", "[[a]]", "[z-a]",
        ] {
            assert!(Pattern::compile(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn long_input_is_linear() {
        let p = Pattern::compile("^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$").expect("compiles");
        let s = "a".repeat(200_000) + "!";
        assert!(!p.matches(&s));
    }
}
