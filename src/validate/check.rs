//! The walk of a request body against its operation's input shape, in the service's two stages,
//! as dynalite (whose messages were recorded against the service) performs them:
//!
//! 1. **Deserialization**: each member's JSON type against the model, in the service's member
//!    order, depth first. The first misfit ends the request with a SerializationException.
//! 2. **Validation**: for the table-level operations, the top-level `TableName` first (missing,
//!    or of the wrong length: a message of its own, alone); then every constraint of the model,
//!    collected (at most ten) into one ValidationException.
//!
//! NOTES.md beside this file gives the evidence for each message.

use serde_json::{Map, Number, Value};

use super::shapes::{
    Bounds, FloatWidth, IntWidth, Kind, Operation, ServiceModel, ShapeId, StringRules,
};
use crate::error::{ApiError, ErrorKind};

/// The service lists at most this many violations in one message.
const MAX_REPORTED: usize = 10;

/// How deep the walk descends (serde_json refuses JSON nested deeper than 128 anyway).
const MAX_DEPTH: usize = 256;

const START_OF_MAP: &str = "Start of structure or map found where not expected";
const UNEXPECTED_FIELD: &str = "Unexpected field type";
const UNEXPECTED_VALUE: &str = "Unexpected value type in payload";
/// A scalar where a collection nested in a collection belongs (a list as a map value, a map as a
/// list element): the service's deserializer fails on the generic type.
const PARAMETERIZED: &str = "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl \
     cannot be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.\
     ParameterizedTypeImpl and java.lang.Class are in module java.base of loader 'bootstrap')";
const NOT_BASE64: &str = "only base-64-encoded strings are convertible to bytes";
const BAD_BASE64_END: &str = "Invalid last non-pad Base64 character dectected";
const BAD_BOOLEAN: &str = "Unexpected token received from parser";
const NOT_NULL: &str = "Member must not be null";
const TABLE_NAME_REQUIRED: &str =
    "The parameter 'TableName' is required but was not present in the request";
const TABLE_NAME_LENGTH: &str =
    "TableName must be at least 3 characters long and at most 255 characters long";

/// Checks `body` against `op`'s input: `Err` with a SerializationException for a JSON type that
/// does not fit, else with a ValidationException for a missing or malformed table name or for
/// constraint violations.
pub(crate) fn check_request(
    svc: &ServiceModel,
    op: &Operation,
    body: &Value,
) -> Result<(), ApiError> {
    let Some(input) = op.input else {
        return Ok(());
    };
    // A body that is not an object has none of the input's members (dynalite reads it so).
    let empty = Map::new();
    let body = body.as_object().unwrap_or(&empty);

    Types { svc }.members(input, body, 0)?;

    if op.table_name_check {
        if let Some(message) = table_name_precheck(body) {
            return Err(ApiError::validation(message));
        }
    }

    let mut validator = Validator {
        svc,
        errors: Vec::new(),
    };
    validator.members(input, body, "", 0);
    match validator.errors.len() {
        0 => Ok(()),
        n => Err(ApiError::validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            validator.errors.join("; ")
        ))),
    }
}

/// The table-level operations' check of their top-level `TableName`, before the model's
/// constraints and reported alone. ARNs are left to the model's limits.
fn table_name_precheck(body: &Map<String, Value>) -> Option<&'static str> {
    match body.get("TableName") {
        None | Some(Value::Null) => Some(TABLE_NAME_REQUIRED),
        Some(Value::String(name)) if !name.starts_with("arn:") => {
            let len = utf16_len(name);
            (!(3..=255).contains(&len)).then_some(TABLE_NAME_LENGTH)
        }
        Some(_) => None,
    }
}

fn serialization(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Serialization, message)
}

/// Where a value sits, which decides some deserializer messages: a structure member, or an
/// element of a list or value of a map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Member,
    Element,
}

/// Stage 1: JSON types.
struct Types<'m> {
    svc: &'m ServiceModel,
}

impl Types<'_> {
    /// The members of structure `id` present in `obj`, in the service's order. Unknown members
    /// and members sent as `null` are ignored.
    fn members(&self, id: ShapeId, obj: &Map<String, Value>, depth: usize) -> Result<(), ApiError> {
        let Some(Kind::Structure { members, .. }) = self.svc.shapes.get(id).map(|s| &s.kind) else {
            return Ok(());
        };
        for m in members {
            if let Some(v) = obj.get(&m.name) {
                self.value(m.shape, v, Slot::Member, depth + 1)?;
            }
        }
        Ok(())
    }

    fn value(&self, id: ShapeId, value: &Value, slot: Slot, depth: usize) -> Result<(), ApiError> {
        if value.is_null() || depth > MAX_DEPTH {
            return Ok(());
        }
        let Some(shape) = self.svc.shapes.get(id) else {
            return Ok(());
        };
        match &shape.kind {
            Kind::String(_) => string_type(value),
            Kind::Integer(IntWidth::Integer, _) => number_type(value, "Integer", "java.lang"),
            Kind::Integer(IntWidth::Long, _) => number_type(value, "Long", "java.lang"),
            Kind::Float(FloatWidth::Double, _) => number_type(value, "Double", "java.lang"),
            Kind::Float(FloatWidth::Float, _) => number_type(value, "Float", "java.lang"),
            Kind::Timestamp => number_type(value, "Date", "java.util"),
            Kind::Boolean => boolean_type(value),
            Kind::Blob(_) => blob_type(value),
            Kind::List { member, .. } => match value {
                Value::Array(items) => items
                    .iter()
                    .try_for_each(|item| self.value(*member, item, Slot::Element, depth + 1)),
                Value::Object(_) => Err(serialization(START_OF_MAP)),
                _ if slot == Slot::Member => Err(serialization(UNEXPECTED_FIELD)),
                _ => Err(serialization(PARAMETERIZED)),
            },
            Kind::Map {
                value: value_shape, ..
            } => match value {
                Value::Object(obj) => obj
                    .values()
                    .try_for_each(|v| self.value(*value_shape, v, Slot::Element, depth + 1)),
                Value::Array(_) => Err(serialization(format!(
                    "Unrecognized collection type {}",
                    java_type(self.svc, id, 0)
                ))),
                _ if slot == Slot::Member => Err(serialization(UNEXPECTED_FIELD)),
                _ => Err(serialization(PARAMETERIZED)),
            },
            Kind::Structure { .. } => match value {
                Value::Object(obj) => self.members(id, obj, depth),
                Value::Array(_) => Err(serialization(format!(
                    "Unrecognized collection type class {}",
                    java_type(self.svc, id, 0)
                ))),
                _ if slot == Slot::Member => Err(serialization(UNEXPECTED_FIELD)),
                _ => Err(serialization(UNEXPECTED_VALUE)),
            },
        }
    }
}

/// Rewrites the values the service reads leniently into their plain form, in place: a boolean
/// member sent as a string (`"yes"`, `"0"`, ...) becomes a JSON boolean, an integer member sent
/// with a fraction becomes the integer it is read as (rounded down). Meant for a body that
/// [`check_request`] accepted; anything else is left alone.
pub(crate) fn normalize_request(svc: &ServiceModel, op: &Operation, body: &mut Value) {
    if let (Some(input), Value::Object(obj)) = (op.input, body) {
        normalize_members(svc, input, obj, 0);
    }
}

fn normalize_members(svc: &ServiceModel, id: ShapeId, obj: &mut Map<String, Value>, depth: usize) {
    let Some(Kind::Structure { members, .. }) = svc.shapes.get(id).map(|s| &s.kind) else {
        return;
    };
    for m in members {
        if let Some(v) = obj.get_mut(&m.name) {
            normalize_value(svc, m.shape, v, depth + 1);
        }
    }
}

fn normalize_value(svc: &ServiceModel, id: ShapeId, value: &mut Value, depth: usize) {
    let Some(shape) = svc.shapes.get(id) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    match (&shape.kind, value) {
        (Kind::Boolean, v @ Value::String(_)) => {
            if let Some(b) = v.as_str().and_then(boolean_string) {
                *v = Value::Bool(b);
            }
        }
        (Kind::Integer(..), v @ Value::Number(_)) => {
            let floored = match v {
                Value::Number(n) if !(n.is_i64() || n.is_u64()) => n.as_f64().map(f64::floor),
                _ => None,
            };
            // Within i64 only (beyond it, the f64 is kept as it is).
            if let Some(f) = floored.filter(|f| (-9.2e18..9.2e18).contains(f)) {
                *v = Value::from(f as i64);
            }
        }
        (Kind::List { member, .. }, Value::Array(items)) => {
            for item in items {
                normalize_value(svc, *member, item, depth + 1);
            }
        }
        (
            Kind::Map {
                value: value_shape, ..
            },
            Value::Object(obj),
        ) => {
            for v in obj.values_mut() {
                normalize_value(svc, *value_shape, v, depth + 1);
            }
        }
        (Kind::Structure { .. }, Value::Object(obj)) => normalize_members(svc, id, obj, depth),
        _ => {}
    }
}

/// `NUMBER_VALUE` for a JSON number without a fraction, else `DECIMAL_VALUE`.
fn number_token(n: &Number) -> &'static str {
    let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
    if integral {
        "NUMBER_VALUE"
    } else {
        "DECIMAL_VALUE"
    }
}

fn bool_token(b: bool) -> &'static str {
    if b {
        "TRUE_VALUE"
    } else {
        "FALSE_VALUE"
    }
}

fn string_type(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::Bool(b) => Err(serialization(format!(
            "{} cannot be converted to String",
            bool_token(*b)
        ))),
        Value::Number(n) => Err(serialization(format!(
            "{} cannot be converted to String",
            number_token(n)
        ))),
        Value::Array(_) => Err(serialization(
            "Unrecognized collection type class java.lang.String",
        )),
        Value::Object(_) => Err(serialization(START_OF_MAP)),
        _ => Ok(()),
    }
}

/// Integer, Long, Double, Float and (Inferred) Date members. A fraction is accepted.
fn number_type(value: &Value, type_name: &str, package: &str) -> Result<(), ApiError> {
    match value {
        Value::Bool(b) => Err(serialization(format!(
            "{} cannot be converted to {type_name}",
            bool_token(*b)
        ))),
        Value::String(_) => Err(serialization(format!(
            "STRING_VALUE cannot be converted to {type_name}"
        ))),
        Value::Array(_) => Err(serialization(format!(
            "Unrecognized collection type class {package}.{type_name}"
        ))),
        Value::Object(_) => Err(serialization(START_OF_MAP)),
        _ => Ok(()),
    }
}

/// The strings the service reads as a boolean, whatever their case.
fn boolean_string(s: &str) -> Option<bool> {
    match s.to_uppercase().as_str() {
        "TRUE" | "1" | "YES" => Some(true),
        "FALSE" | "0" | "NO" => Some(false),
        _ => None,
    }
}

fn boolean_type(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::Number(n) => Err(serialization(format!(
            "{} cannot be converted to Boolean",
            number_token(n)
        ))),
        Value::String(s) if boolean_string(s).is_none() => Err(serialization(BAD_BOOLEAN)),
        Value::Array(_) => Err(serialization(
            "Unrecognized collection type class java.lang.Boolean",
        )),
        Value::Object(_) => Err(serialization(START_OF_MAP)),
        _ => Ok(()),
    }
}

fn blob_type(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::Bool(_) | Value::Number(_) => Err(serialization(NOT_BASE64)),
        Value::Array(_) => Err(serialization(
            "Unrecognized collection type class java.nio.ByteBuffer",
        )),
        Value::Object(_) => Err(serialization(START_OF_MAP)),
        Value::String(s) => check_base64(s).map_err(serialization),
        Value::Null => Ok(()),
    }
}

/// The Java type the service deserializes shape `id` into, as its messages name it.
fn java_type(svc: &ServiceModel, id: ShapeId, depth: usize) -> String {
    let Some(shape) = svc.shapes.get(id) else {
        return "java.lang.Object".to_owned();
    };
    if depth > 8 {
        return "java.lang.Object".to_owned();
    }
    match &shape.kind {
        Kind::String(_) => "java.lang.String".to_owned(),
        Kind::Integer(IntWidth::Integer, _) => "java.lang.Integer".to_owned(),
        Kind::Integer(IntWidth::Long, _) => "java.lang.Long".to_owned(),
        Kind::Float(FloatWidth::Double, _) => "java.lang.Double".to_owned(),
        Kind::Float(FloatWidth::Float, _) => "java.lang.Float".to_owned(),
        Kind::Boolean => "java.lang.Boolean".to_owned(),
        Kind::Timestamp => "java.util.Date".to_owned(),
        Kind::Blob(_) => "java.nio.ByteBuffer".to_owned(),
        Kind::List { member, .. } => {
            format!("java.util.List<{}>", java_type(svc, *member, depth + 1))
        }
        Kind::Map { value, .. } => format!(
            "java.util.Map<java.lang.String, {}>",
            java_type(svc, *value, depth + 1)
        ),
        Kind::Structure { .. } => format!("{}.{}", svc.namespace, shape.name),
    }
}

/// Stage 2: constraints.
struct Validator<'m> {
    svc: &'m ServiceModel,
    errors: Vec<String>,
}

impl<'m> Validator<'m> {
    fn kind(&self, id: ShapeId) -> Option<&'m Kind> {
        self.svc.shapes.get(id).map(|s| &s.kind)
    }

    fn full(&self) -> bool {
        self.errors.len() >= MAX_REPORTED
    }

    /// Records one violation of the value at `path`; `shown` is the value as printed (`None`:
    /// null).
    fn violation(&mut self, shown: Option<String>, path: &str, constraint: &str) {
        if self.full() {
            return;
        }
        let shown = match shown {
            Some(s) => format!("'{s}'"),
            None => "null".to_owned(),
        };
        self.errors.push(format!(
            "Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// The members of structure `id`, in the service's order, below `parent`.
    fn members(&mut self, id: ShapeId, obj: &Map<String, Value>, parent: &str, depth: usize) {
        let Some(Kind::Structure {
            members,
            attribute_value,
        }) = self.kind(id)
        else {
            return;
        };
        if *attribute_value {
            return;
        }
        for m in members {
            if self.full() {
                return;
            }
            let path = if parent.is_empty() {
                m.path_name.clone()
            } else {
                format!("{parent}.{}", m.path_name)
            };
            match obj.get(&m.name).filter(|v| !v.is_null()) {
                None if m.required => self.violation(None, &path, NOT_NULL),
                None => {}
                Some(v) => self.member(m.shape, v, &path, depth + 1),
            }
        }
    }

    /// A present structure member: its own constraints, then what is inside it.
    fn member(&mut self, id: ShapeId, value: &Value, path: &str, depth: usize) {
        let Some(kind) = self.kind(id) else {
            return;
        };
        let failures = own_failures(kind, value);
        if !failures.is_empty() {
            let shown = render(self.svc, id, value, 0);
            for constraint in failures {
                self.violation(Some(shown.clone()), path, &constraint);
            }
        }
        self.contents(id, value, path, depth);
    }

    /// What is inside a list, map or structure: map keys, then the constraints of list elements
    /// and map values (reported at the container, one violation per offending entry, in the
    /// bracketed form that lists every constraint of the entry's shape), then the insides of the
    /// entries at `path.<index or key>.member`.
    fn contents(&mut self, id: ShapeId, value: &Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH || self.full() {
            return;
        }
        let svc = self.svc;
        match (self.kind(id), value) {
            (Some(Kind::Structure { .. }), Value::Object(obj)) => {
                self.members(id, obj, path, depth);
            }
            (Some(Kind::List { member, .. }), Value::Array(items)) => {
                self.entries(id, value, *member, items.iter(), path, "Member");
                for (i, item) in items.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    if !item.is_null() {
                        let item_path = format!("{path}.{}.member", i + 1);
                        self.contents(*member, item, &item_path, depth + 1);
                    }
                }
            }
            (
                Some(Kind::Map {
                    key,
                    value: value_shape,
                    ..
                }),
                Value::Object(obj),
            ) => {
                if let Some(Kind::String(rules)) = self.kind(*key) {
                    for k in obj.keys() {
                        if !string_failures(rules, k).is_empty() {
                            let all = all_constraints_of_string(rules.for_value(k), None);
                            let constraint =
                                format!("Map keys must satisfy constraint: [{}]", all.join(", "));
                            self.violation(Some(render(svc, id, value, 0)), path, &constraint);
                        }
                    }
                }
                self.entries(id, value, *value_shape, obj.values(), path, "Map value");
                for (k, v) in obj {
                    if self.full() {
                        return;
                    }
                    if !v.is_null() {
                        self.contents(*value_shape, v, &format!("{path}.{k}.member"), depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// The own constraints of list elements or map values (`label` `Member` or `Map value`).
    /// A `null` entry breaks them whenever there are any.
    fn entries<'v>(
        &mut self,
        container: ShapeId,
        container_value: &Value,
        entry: ShapeId,
        values: impl Iterator<Item = &'v Value>,
        path: &str,
        label: &str,
    ) {
        let Some(kind) = self.kind(entry) else {
            return;
        };
        if !has_constraints(kind) {
            return;
        }
        for v in values {
            if self.full() {
                return;
            }
            if v.is_null() || !own_failures(kind, v).is_empty() {
                let constraint = format!(
                    "{label} must satisfy constraint: [{}]",
                    all_constraints(kind, v).join(", ")
                );
                let shown = render(self.svc, container, container_value, 0);
                self.violation(Some(shown), path, &constraint);
            }
        }
    }
}

/// Whether a value of this shape can break any constraint of its own.
fn has_constraints(kind: &Kind) -> bool {
    let bounded = |b: &Bounds| b.min.is_some() || b.max.is_some();
    match kind {
        Kind::String(rules) => {
            bounded(&rules.len)
                || rules.pattern.is_some()
                || rules.enum_values.is_some()
                || rules.arn.is_some()
        }
        Kind::Integer(_, b)
        | Kind::Float(_, b)
        | Kind::List { len: b, .. }
        | Kind::Map { len: b, .. }
        | Kind::Blob(b) => bounded(b),
        Kind::Structure { .. } | Kind::Boolean | Kind::Timestamp => false,
    }
}

/// The constraints `value` breaks, in the order the service reports them: pattern, minimum
/// length, maximum length, minimum value, maximum value, enum.
fn own_failures(kind: &Kind, value: &Value) -> Vec<String> {
    match (kind, value) {
        (Kind::String(rules), Value::String(s)) => string_failures(rules, s),
        (Kind::Integer(_, range), Value::Number(n)) => value_failures(range, integer_value(n)),
        (Kind::Float(_, range), Value::Number(n)) => {
            value_failures(range, n.as_f64().unwrap_or(0.0))
        }
        (Kind::List { len, .. }, Value::Array(a)) => length_failures(len, a.len()),
        (Kind::Map { len, .. }, Value::Object(o)) => length_failures(len, o.len()),
        (Kind::Blob(len), Value::String(s)) => length_failures(len, base64_decoded_len(s)),
        _ => Vec::new(),
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
    out.extend(length_failures(&rules.len, utf16_len(s)));
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

/// Every constraint of an entry's shape, as listed inside `[...]`. `value` picks the rules of
/// names that may be ARNs.
fn all_constraints(kind: &Kind, value: &Value) -> Vec<String> {
    match kind {
        Kind::String(rules) => {
            let rules = match value {
                Value::String(s) => rules.for_value(s),
                _ => rules,
            };
            all_constraints_of_string(rules, None)
        }
        Kind::Integer(_, range) | Kind::Float(_, range) => {
            all_constraints_of_string(&no_rules(Bounds::default()), Some(range))
        }
        Kind::List { len, .. } | Kind::Map { len, .. } | Kind::Blob(len) => {
            all_constraints_of_string(&no_rules(*len), None)
        }
        Kind::Structure { .. } | Kind::Boolean | Kind::Timestamp => Vec::new(),
    }
}

fn no_rules(len: Bounds) -> StringRules {
    StringRules {
        len,
        pattern: None,
        enum_values: None,
        arn: None,
    }
}

/// All constraints in the bracketed order: maximum before minimum, then pattern, then enum
/// (dynalite: `[Member must have length less than or equal to 255, Member must have length
/// greater than or equal to 3, Member must satisfy regular expression pattern: ...]`).
fn all_constraints_of_string(rules: &StringRules, range: Option<&Bounds>) -> Vec<String> {
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

/// A JSON number as an integer member reads it: rounded down (`1.9` is 1, `-1.5` is -2).
fn integer_value(n: &Number) -> f64 {
    if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().unwrap_or(0.0).floor()
    }
}

/// An integer member's value as printed in messages (after rounding down).
fn integer_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        js_integral(n.as_f64().unwrap_or(0.0).floor())
    }
}

/// An integral f64 as JavaScript prints it: plain digits below 1e21, else `1e+21`.
fn js_integral(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    if f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => s,
    }
}

/// The value as the service prints it in a violation: strings raw, numbers as read, lists
/// `[a, b]`, maps `{k=v}`, structures as Java objects (`package.Class@hash`).
fn render(svc: &ServiceModel, id: ShapeId, value: &Value, depth: usize) -> String {
    let Some(shape) = svc.shapes.get(id) else {
        return value.to_string();
    };
    if depth > MAX_DEPTH {
        return String::new();
    }
    match (&shape.kind, value) {
        (_, Value::Null) => "null".to_owned(),
        (_, Value::String(s)) => s.clone(),
        (Kind::Integer(..), Value::Number(n)) => integer_text(n),
        (_, Value::Number(n)) => java_double(n.as_f64().unwrap_or(0.0)),
        (_, Value::Bool(b)) => b.to_string(),
        (Kind::List { member, .. }, Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| render(svc, *member, v, depth + 1))
                .collect();
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
                .map(|(k, v)| format!("{k}={}", render(svc, *value_shape, v, depth + 1)))
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

/// String lengths count UTF-16 code units, as Java's `String.length()` (and JavaScript's) do.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The service's base64 rules for a blob: the length must be a multiple of 4, and the text must
/// be the canonical standard encoding of its bytes (alphabet `A-Za-z0-9+/`, `=` padding only at
/// the end, unused trailing bits zero).
fn check_base64(s: &str) -> Result<(), String> {
    let len = utf16_len(s);
    if !len.is_multiple_of(4) {
        return Err(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {len}"
        ));
    }
    let bytes = s.as_bytes();
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let data = &bytes[..bytes.len() - padding];
    let sextet = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let alphabet = data.iter().all(|&b| sextet(b).is_some());
    let last = data.last().and_then(|&b| sextet(b));
    let canonical = alphabet
        && match (padding, last) {
            (0, _) => true,
            (1, Some(v)) => v & 0b11 == 0,
            (2, Some(v)) => v & 0b1111 == 0,
            _ => false,
        };
    if canonical {
        Ok(())
    } else {
        Err(BAD_BASE64_END.to_owned())
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

    fn n(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            _ => Number::from(0),
        }
    }

    #[test]
    fn integers_round_down_without_saturating() {
        assert_eq!(integer_value(&n(serde_json::json!(1.9))), 1.0);
        assert_eq!(integer_value(&n(serde_json::json!(-1.5))), -2.0);
        assert_eq!(integer_text(&n(serde_json::json!(-1.5))), "-2");
        assert_eq!(integer_text(&n(serde_json::json!(-0.5))), "-1");
        assert_eq!(integer_text(&n(serde_json::json!(0.5))), "0");
        assert_eq!(integer_text(&n(serde_json::json!(1e12))), "1000000000000");
        assert_eq!(integer_text(&n(serde_json::json!(1e300))), "1e+300");
        assert_eq!(integer_text(&n(serde_json::json!(2.5e21))), "2.5e+21");
        assert_eq!(
            integer_text(&n(serde_json::json!(u64::MAX))),
            "18446744073709551615"
        );
    }

    #[test]
    fn number_tokens() {
        assert_eq!(number_token(&n(serde_json::json!(5))), "NUMBER_VALUE");
        assert_eq!(number_token(&n(serde_json::json!(-5))), "NUMBER_VALUE");
        assert_eq!(number_token(&n(serde_json::json!(5.0))), "NUMBER_VALUE");
        assert_eq!(number_token(&n(serde_json::json!(5.5))), "DECIMAL_VALUE");
    }

    #[test]
    fn base64_rules() {
        assert!(check_base64("").is_ok());
        assert!(check_base64("YWJj").is_ok());
        assert!(check_base64("YQ==").is_ok());
        assert!(check_base64("YWI=").is_ok());
        assert!(check_base64("+/+/").is_ok());
        assert_eq!(
            check_base64("abc").unwrap_err(),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        );
        for bad in [
            "ab!c", "a=bc", "YR==", "Y===", "====", "YQ==YQ==", "-_-_", "éééé",
        ] {
            assert_eq!(check_base64(bad).unwrap_err(), BAD_BASE64_END, "{bad}");
        }
        assert_eq!(base64_decoded_len("YWI="), 2);
        assert_eq!(base64_decoded_len("YQ=="), 1);
    }
}
