//! The walk of a request body against its operation's input shape.
//!
//! One pass does what the service does in two: deserialization (a JSON type that does not fit the
//! shape ends the request at once with a SerializationException) and constraint validation
//! (violations are collected, up to ten, and reported together). The wording of every message is
//! the service's; NOTES.md beside this file gives the evidence for each.

use serde_json::{Map, Number, Value};

use super::shapes::{
    Bounds, FloatWidth, IntWidth, Kind, Operation, ServiceModel, ShapeId, StringRules,
};
use crate::error::{ApiError, ErrorKind};

/// The service lists at most this many violations in one message.
const MAX_REPORTED: usize = 10;

const START_OF_LIST: &str = "Start of list found where not expected";
const START_OF_MAP: &str = "Start of structure or map found where not expected.";
const NOT_NULL: &str = "Member must not be null";

/// Checks `body` against `op`'s input: `Err` with a SerializationException for a JSON type that
/// does not fit, else with a ValidationException for a missing or malformed table name or for
/// constraint violations.
pub(crate) fn check_request(
    svc: &ServiceModel,
    op: &Operation,
    body: &Value,
) -> Result<(), ApiError> {
    // A JSON `null` body reads as an empty input.
    let empty = Value::Object(Map::new());
    let body = if body.is_null() { &empty } else { body };
    let mut walker = Walker {
        svc,
        errors: Vec::new(),
    };
    match op.input {
        Some(input) => walker.visit(input, body, "", true)?,
        None => expect_object(body)?,
    }
    if op.table_name_check {
        if let Some(err) = table_name_precheck(body) {
            return Err(err);
        }
    }
    match walker.errors.len() {
        0 => Ok(()),
        n => Err(ApiError::validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            walker.errors.join("; ")
        ))),
    }
}

/// The check the service makes on a required top-level `TableName` before the model's
/// constraints (it needs the name to route the request), with its own messages, each reported
/// alone. ARNs are left to the model's limits.
fn table_name_precheck(body: &Value) -> Option<ApiError> {
    match body.get("TableName") {
        None | Some(Value::Null) => Some(ApiError::validation(
            "The parameter 'TableName' is required but was not present in the request",
        )),
        Some(Value::String(name)) if !name.starts_with("arn:") => {
            let len = name.chars().count();
            (!(3..=255).contains(&len)).then(|| {
                ApiError::validation(
                    "TableName must be at least 3 characters long and at most 255 characters long",
                )
            })
        }
        Some(_) => None,
    }
}

fn serialization(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Serialization, message)
}

fn expect_object(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::Object(_) => Ok(()),
        Value::Array(_) => Err(serialization(START_OF_LIST)),
        _ => Err(serialization("Expected null")),
    }
}

/// `class java.lang.X can not be converted to an Y`: the deserializer's words for a JSON scalar of
/// the wrong kind (all JSON numbers are Doubles to it).
fn conversion(value: &Value, target: &str) -> ApiError {
    let class = match value {
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Double",
        _ => "String",
    };
    serialization(format!(
        "class java.lang.{class} can not be converted to {target}"
    ))
}

struct Walker<'m> {
    svc: &'m ServiceModel,
    errors: Vec<String>,
}

impl<'m> Walker<'m> {
    fn kind(&self, id: ShapeId) -> Option<&'m Kind> {
        self.svc.shapes.get(id).map(|s| &s.kind)
    }

    /// Records one violation; `value` renders the offending value (`None` for null).
    fn violation(&mut self, value: Option<&dyn Fn() -> String>, path: &str, constraint: &str) {
        if self.errors.len() >= MAX_REPORTED {
            return;
        }
        let shown = match value {
            Some(show) => format!("'{}'", show()),
            None => "null".to_owned(),
        };
        self.errors.push(format!(
            "Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Checks `value` (not null) against shape `id` at `path`. `own` is false for list elements
    /// and map values, whose own constraints the container reports in its bracketed form.
    fn visit(&mut self, id: ShapeId, value: &Value, path: &str, own: bool) -> Result<(), ApiError> {
        let svc = self.svc;
        let Some(kind) = self.kind(id) else {
            return Ok(());
        };
        self.expect_type(kind, value)?;
        if own {
            for constraint in self.failures(kind, value) {
                self.violation(Some(&|| render(svc, id, value)), path, &constraint);
            }
        }
        match kind {
            Kind::Structure { members } => {
                let Value::Object(obj) = value else {
                    return Ok(());
                };
                for m in members {
                    let member_path = if path.is_empty() {
                        m.path_name.clone()
                    } else {
                        format!("{path}.{}", m.path_name)
                    };
                    match obj.get(&m.name) {
                        None | Some(Value::Null) => {
                            if m.required {
                                self.violation(None, &member_path, NOT_NULL);
                            }
                        }
                        Some(v) => self.visit(m.shape, v, &member_path, true)?,
                    }
                }
            }
            Kind::List { member, .. } => {
                let Value::Array(items) = value else {
                    return Ok(());
                };
                let elements = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ((i + 1).to_string(), v));
                self.elements(
                    id,
                    value,
                    *member,
                    elements,
                    path,
                    "Member must satisfy constraint",
                )?;
            }
            Kind::Map {
                key,
                value: value_shape,
                ..
            } => {
                let Value::Object(obj) = value else {
                    return Ok(());
                };
                if let Some(Kind::String(rules)) = self.kind(*key) {
                    if let Some(bad) = obj.keys().find(|k| !string_failures(rules, k).is_empty()) {
                        let all = all_string_constraints(rules.for_value(bad), None);
                        let constraint =
                            format!("Map keys must satisfy constraint: [{}]", all.join(", "));
                        self.violation(Some(&|| render(svc, id, value)), path, &constraint);
                    }
                }
                let entries = obj.iter().map(|(k, v)| (k.clone(), v));
                self.elements(
                    id,
                    value,
                    *value_shape,
                    entries,
                    path,
                    "Map value must satisfy constraint",
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The elements of a list or the values of a map: their JSON types, their own constraints
    /// (reported once, at the container, listing every constraint of the element shape), then
    /// what is inside them, at `path.<index or key>.member`.
    fn elements<'v>(
        &mut self,
        container: ShapeId,
        container_value: &Value,
        element: ShapeId,
        entries: impl Iterator<Item = (String, &'v Value)> + Clone,
        path: &str,
        label: &str,
    ) -> Result<(), ApiError> {
        let svc = self.svc;
        let Some(kind) = self.kind(element) else {
            return Ok(());
        };
        let mut first_bad = None;
        for (_, v) in entries.clone().filter(|(_, v)| !v.is_null()) {
            self.expect_type(kind, v)?;
            if first_bad.is_none() && !self.failures(kind, v).is_empty() {
                first_bad = Some(v);
            }
        }
        if let Some(bad) = first_bad {
            let constraint = format!("{label}: [{}]", self.all_constraints(kind, bad).join(", "));
            self.violation(
                Some(&|| render(svc, container, container_value)),
                path,
                &constraint,
            );
        }
        if matches!(
            kind,
            Kind::Structure { .. } | Kind::List { .. } | Kind::Map { .. }
        ) {
            for (name, v) in entries.filter(|(_, v)| !v.is_null()) {
                self.visit(element, v, &format!("{path}.{name}.member"), false)?;
            }
        }
        Ok(())
    }

    /// The deserializer's check: does the JSON type of `value` fit the shape?
    fn expect_type(&self, kind: &Kind, value: &Value) -> Result<(), ApiError> {
        // Containers first: a list or an object where a scalar belongs has fixed messages.
        match (kind, value) {
            (Kind::Structure { .. } | Kind::Opaque, _) => return expect_object(value),
            (Kind::List { .. }, Value::Array(_)) | (Kind::Map { .. }, Value::Object(_)) => {
                return Ok(())
            }
            (Kind::List { .. }, Value::Object(_)) => return Err(serialization(START_OF_MAP)),
            (Kind::List { .. }, _) => return Err(serialization("Expected list or null")),
            (Kind::Map { .. }, Value::Array(_)) => return Err(serialization(START_OF_LIST)),
            (Kind::Map { .. }, _) => return Err(serialization("Expected map or null")),
            (_, Value::Array(_)) => return Err(serialization(START_OF_LIST)),
            (_, Value::Object(_)) => return Err(serialization(START_OF_MAP)),
            _ => {}
        }
        match (kind, value) {
            (Kind::String(_), Value::String(_))
            | (Kind::Integer(..) | Kind::Float(..) | Kind::Timestamp, Value::Number(_))
            | (Kind::Boolean, Value::Bool(_)) => Ok(()),
            (Kind::String(_), _) => Err(conversion(value, "an String")),
            (Kind::Integer(IntWidth::Integer, _), _) => Err(conversion(value, "an Integer")),
            (Kind::Integer(IntWidth::Long, _), _) => Err(conversion(value, "an Long")),
            (Kind::Float(FloatWidth::Double, _), _) => Err(conversion(value, "an Double")),
            (Kind::Float(FloatWidth::Float, _), _) => Err(conversion(value, "an Float")),
            (Kind::Timestamp, _) => Err(conversion(value, "an Date")),
            (Kind::Boolean, Value::String(s)) => Err(serialization(format!(
                "'{}' can not be converted to an Boolean",
                s.to_uppercase()
            ))),
            (Kind::Boolean, _) => Err(conversion(value, "an Boolean")),
            (Kind::Blob(_), Value::String(s)) => check_base64(s).map_err(|why| {
                serialization(format!("'{s}' can not be converted to a Blob: {why}"))
            }),
            (Kind::Blob(_), _) => Err(conversion(value, "a Blob")),
            _ => Ok(()),
        }
    }

    /// The constraints `value` (of the right JSON type) breaks, in the order the service reports
    /// them.
    fn failures(&self, kind: &Kind, value: &Value) -> Vec<String> {
        match (kind, value) {
            (Kind::String(rules), Value::String(s)) => string_failures(rules, s),
            (Kind::Integer(width, range), Value::Number(n)) => {
                value_failures(range, int_value(n, *width) as f64)
            }
            (Kind::Float(_, range), Value::Number(n)) => {
                value_failures(range, n.as_f64().unwrap_or(0.0))
            }
            (Kind::List { len, .. }, Value::Array(a)) => length_failures(len, a.len()),
            (Kind::Map { len, .. }, Value::Object(o)) => length_failures(len, o.len()),
            (Kind::Blob(len), Value::String(s)) => length_failures(len, base64_decoded_len(s)),
            _ => Vec::new(),
        }
    }

    /// Every constraint of the shape, as the service lists them inside `[...]` for list elements,
    /// map keys and map values.
    fn all_constraints(&self, kind: &Kind, value: &Value) -> Vec<String> {
        match (kind, value) {
            (Kind::String(rules), Value::String(s)) => {
                all_string_constraints(rules.for_value(s), None)
            }
            (Kind::Integer(_, range) | Kind::Float(_, range), _) => {
                all_string_constraints(&no_rules(), Some(range))
            }
            (Kind::List { len, .. } | Kind::Map { len, .. } | Kind::Blob(len), _) => {
                all_string_constraints(
                    &StringRules {
                        len: *len,
                        ..no_rules()
                    },
                    None,
                )
            }
            _ => Vec::new(),
        }
    }
}

/// Java's `toString` of the deserialized value, as the service prints it in messages.
fn render(svc: &ServiceModel, id: ShapeId, value: &Value) -> String {
    let Some(shape) = svc.shapes.get(id) else {
        return value.to_string();
    };
    match (&shape.kind, value) {
        (_, Value::Null) => "null".to_owned(),
        (_, Value::String(s)) => s.clone(),
        (Kind::Integer(width, _), Value::Number(n)) => int_value(n, *width).to_string(),
        (_, Value::Number(n)) => java_double(n.as_f64().unwrap_or(0.0)),
        (_, Value::Bool(b)) => b.to_string(),
        (Kind::List { member, .. }, Value::Array(items)) => {
            let parts: Vec<String> = items.iter().map(|v| render(svc, *member, v)).collect();
            format!("[{}]", parts.join(", "))
        }
        (
            Kind::Map {
                value: value_shape, ..
            },
            Value::Object(obj),
        ) => {
            let parts: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{k}={}", render(svc, *value_shape, v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        // Generated model classes print as `package.Class@hashCode`; the hash cannot be the
        // service's, so it is a stable one of the value.
        _ => format!(
            "{}.{}@{:x}",
            svc.namespace,
            shape.name,
            java_hash(&value.to_string())
        ),
    }
}

fn no_rules() -> StringRules {
    StringRules {
        len: Bounds::default(),
        pattern: None,
        enum_values: None,
        arn: None,
    }
}

fn string_failures(rules: &StringRules, s: &str) -> Vec<String> {
    let rules = rules.for_value(s);
    let mut out = Vec::new();
    if let Some((source, Some(pattern))) = &rules.pattern {
        if !pattern.matches(s) {
            out.push(format!(
                "Member must satisfy regular expression pattern: {source}"
            ));
        }
    }
    out.extend(length_failures(&rules.len, s.chars().count()));
    if let Some(values) = &rules.enum_values {
        if !values.iter().any(|v| v == s) {
            out.push(format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ));
        }
    }
    out
}

fn length_failures(len: &Bounds, n: usize) -> Vec<String> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    if let Some(min) = len.min.filter(|&min| n < min) {
        out.push(format!(
            "Member must have length greater than or equal to {min}"
        ));
    }
    if let Some(max) = len.max.filter(|&max| n > max) {
        out.push(format!(
            "Member must have length less than or equal to {max}"
        ));
    }
    out
}

fn value_failures(range: &Bounds, v: f64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(min) = range.min.filter(|&min| v < min as f64) {
        out.push(format!(
            "Member must have value greater than or equal to {min}"
        ));
    }
    if let Some(max) = range.max.filter(|&max| v > max as f64) {
        out.push(format!(
            "Member must have value less than or equal to {max}"
        ));
    }
    out
}

/// All constraints in the bracketed order: maximum before minimum, then pattern, then enum.
fn all_string_constraints(rules: &StringRules, range: Option<&Bounds>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(max) = rules.len.max {
        out.push(format!(
            "Member must have length less than or equal to {max}"
        ));
    }
    if let Some(min) = rules.len.min {
        out.push(format!(
            "Member must have length greater than or equal to {min}"
        ));
    }
    if let Some(range) = range {
        if let Some(max) = range.max {
            out.push(format!(
                "Member must have value less than or equal to {max}"
            ));
        }
        if let Some(min) = range.min {
            out.push(format!(
                "Member must have value greater than or equal to {min}"
            ));
        }
    }
    if let Some((source, _)) = &rules.pattern {
        out.push(format!(
            "Member must satisfy regular expression pattern: {source}"
        ));
    }
    if let Some(values) = &rules.enum_values {
        out.push(format!(
            "Member must satisfy enum value set: [{}]",
            values.join(", ")
        ));
    }
    out
}

/// A JSON number as the Java integer the service converts it to: truncated toward zero and
/// saturated at the type's bounds (a fraction is accepted, not refused).
fn int_value(n: &Number, width: IntWidth) -> i64 {
    let v = if let Some(i) = n.as_i64() {
        i
    } else if n.is_u64() {
        i64::MAX
    } else {
        // `as` truncates toward zero and saturates, like Java's double-to-long conversion.
        n.as_f64().unwrap_or(0.0) as i64
    };
    match width {
        IntWidth::Integer => v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)),
        IntWidth::Long => v,
    }
}

/// Java's `Double.toString`: plain notation with at least one decimal in [1e-3, 1e7), else
/// `d.dddE±n`.
fn java_double(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let a = f.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_owned()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, u| h.wrapping_mul(31).wrapping_add(u32::from(u)))
}

/// The service's base64 rules for a blob, with its reason for refusing one.
fn check_base64(s: &str) -> Result<(), String> {
    let len = s.encode_utf16().count();
    if !len.is_multiple_of(4) {
        return Err(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {len}"
        ));
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let bad_char = !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=');
        let inner_pad = c == '=' && chars.get(i + 1).is_some_and(|&n| n != '=');
        if bad_char || inner_pad {
            return Err(format!("Invalid Base64 character: '{c}'"));
        }
    }
    let padding = chars.iter().rev().take_while(|&&c| c == '=').count();
    let last_data = chars.iter().rev().nth(padding).copied();
    let sextet = last_data.map(|c| match c {
        'A'..='Z' => c as u32 - 'A' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 26,
        '0'..='9' => c as u32 - '0' as u32 + 52,
        '+' => 62,
        _ => 63,
    });
    let canonical = match (padding, sextet) {
        (0, _) => true,
        (1, Some(v)) => v & 0b11 == 0,
        (2, Some(v)) => v & 0b1111 == 0,
        _ => false,
    };
    if canonical {
        Ok(())
    } else {
        Err("Invalid last non-pad Base64 character dectected".to_owned())
    }
}

/// Bytes a (valid) base64 string decodes to.
fn base64_decoded_len(s: &str) -> usize {
    let padding = s.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    (s.len() / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_formats() {
        assert_eq!(java_double(1.5), "1.5");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(-2.25), "-2.25");
    }

    #[test]
    fn java_hash_matches_java() {
        // "hello".hashCode() == 99162322 in Java.
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash(""), 0);
    }

    #[test]
    fn integers_truncate_and_saturate() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!("test builds numbers only"),
        };
        assert_eq!(int_value(&n(serde_json::json!(1.9)), IntWidth::Integer), 1);
        assert_eq!(
            int_value(&n(serde_json::json!(-1.9)), IntWidth::Integer),
            -1
        );
        assert_eq!(
            int_value(&n(serde_json::json!(1e12)), IntWidth::Integer),
            i64::from(i32::MAX)
        );
        assert_eq!(
            int_value(&n(serde_json::json!(1e12)), IntWidth::Long),
            1_000_000_000_000
        );
        assert_eq!(
            int_value(&n(serde_json::json!(u64::MAX)), IntWidth::Long),
            i64::MAX
        );
    }

    #[test]
    fn base64_rules() {
        assert!(check_base64("").is_ok());
        assert!(check_base64("YWJj").is_ok());
        assert!(check_base64("YQ==").is_ok());
        assert!(check_base64("YWI=").is_ok());
        assert_eq!(
            check_base64("abc").unwrap_err(),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        );
        assert_eq!(
            check_base64("ab!c").unwrap_err(),
            "Invalid Base64 character: '!'"
        );
        assert_eq!(
            check_base64("a=bc").unwrap_err(),
            "Invalid Base64 character: '='"
        );
        assert_eq!(
            check_base64("YR==").unwrap_err(),
            "Invalid last non-pad Base64 character dectected"
        );
        assert_eq!(
            check_base64("Y===").unwrap_err(),
            "Invalid last non-pad Base64 character dectected"
        );
        assert_eq!(base64_decoded_len("YWI="), 2);
        assert_eq!(base64_decoded_len("YQ=="), 1);
    }
}
