//! Reading DynamoDB JSON (`{"S": "x"}`, ...) into [`AttributeValue`]s, with DynamoDB's checks
//! and messages, in DynamoDB's order.
//!
//! DynamoDB reads a request in two stages, and so do we:
//!
//! 1. **Deserialization** (SerializationException, namespace `com.amazon.coral.service`): a
//!    member of the wrong JSON type (`{"S": 5}`), a `B` that is not canonical base64, a
//!    non-object where an AttributeValue belongs. The service does this for the whole request
//!    before validating anything, so such an error wins over every ValidationException. Unknown
//!    members and JSON `null` members are ignored here, as the service's deserializer does.
//!    [`AttributeValue::check_json_shape`] and [`check_item_json_shape`] run this stage alone,
//!    for callers that validate several parts of a request.
//! 2. **Validation** (ValidationException), one value at a time in document order, depth first;
//!    within a value the checks run as DynamoDB Local runs them: nesting depth, SS, N, NS, BS,
//!    M (each member, then its name), L, NULL, and last the count of types set.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::number::MSG_NOT_A_NUMBER;
use super::{AttributeValue, Item, Number};
use crate::error::{ApiError, ErrorKind};

/// Deepest level at which a map or list may sit (a top-level attribute is at level 1).
pub const MAX_NESTING_DEPTH: usize = 31;

/// How deep the deserialization check descends (serde_json refuses deeper JSON anyway).
const MAX_SHAPE_DEPTH: usize = 128;

pub(crate) const MSG_EMPTY_VALUE: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
pub(crate) const MSG_MANY_TYPES: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";
pub(crate) const MSG_NESTING: &str = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";
pub(crate) const MSG_NULL_VALUE: &str = "The supplied Item contains a null AttributeValue";
pub(crate) const MSG_EMPTY_NAME: &str = "Empty attribute name";
pub(crate) const MSG_EMPTY_SS: &str =
    "One or more parameter values were invalid: An string set  may not be empty";
pub(crate) const MSG_EMPTY_NS: &str =
    "One or more parameter values were invalid: An number set  may not be empty";
pub(crate) const MSG_EMPTY_BS: &str =
    "One or more parameter values were invalid: Binary sets should not be empty";
pub(crate) const MSG_NULL_IN_SS: &str =
    "One or more parameter values were invalid: An string set may not have a null string as a member";
/// Not observed (DynamoDB Local fails with a 500); modelled on the SS message.
pub(crate) const MSG_NULL_IN_BS: &str =
    "One or more parameter values were invalid: An binary set may not have a null binary as a member";
pub(crate) const MSG_DUPLICATE_NS: &str = "Input collection contains duplicates";
pub(crate) const MSG_DUPLICATE_BS: &str =
    "One or more parameter values were invalid: Input collection of type BS contains duplicates.";
pub(crate) const MSG_NULL_FALSE: &str =
    "One or more parameter values were invalid: Null attribute value types must have the value of true";

const MSG_NOT_EXPECTED_STRUCTURE: &str = "Start of structure or map found where not expected";
const MSG_UNEXPECTED_FIELD: &str = "Unexpected field type";

impl AttributeValue {
    /// Reads one value in DynamoDB JSON, with DynamoDB's checks and exact messages: a
    /// SerializationException for JSON of the wrong shape anywhere in `json`, otherwise the
    /// first ValidationException in document order.
    pub fn from_json(json: &Value) -> Result<AttributeValue, ApiError> {
        build_value(json, 1)
            .map_err(|error| prefer_shape_error(error, || Self::check_json_shape(json)))
    }

    /// Only the deserialization stage for one value: `Err` holds a SerializationException.
    pub fn check_json_shape(json: &Value) -> Result<(), ApiError> {
        check_value_shape(json, 1)
    }
}

/// Reads an item (or a key, or any map of attribute name to value) in DynamoDB JSON; see
/// [`AttributeValue::from_json`] for the checks. JSON `null` where the map belongs counts as a
/// value of the wrong type: callers treat an absent or `null` member before calling.
pub fn item_from_json(json: &Value) -> Result<Item, ApiError> {
    let result = match json {
        Value::Object(map) => build_map(map, 1),
        other => Err(map_shape_error(other)),
    };
    result.map_err(|error| prefer_shape_error(error, || check_item_json_shape(json)))
}

/// Only the deserialization stage for an item: `Err` holds a SerializationException.
pub fn check_item_json_shape(json: &Value) -> Result<(), ApiError> {
    match json {
        Value::Object(map) => map
            .values()
            .try_for_each(|value| check_value_shape(value, 1)),
        other => Err(map_shape_error(other)),
    }
}

/// The service deserializes the whole input before it validates any of it, so a
/// SerializationException anywhere beats the ValidationException found first.
fn prefer_shape_error(error: ApiError, check: impl FnOnce() -> Result<(), ApiError>) -> ApiError {
    if error.kind == ErrorKind::Serialization {
        return check().err().unwrap_or(error);
    }
    match check() {
        Err(shape_error) => shape_error,
        Ok(()) => error,
    }
}

fn serialization(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Serialization, message)
}

// ---------------------------------------------------------------------------------------------
// Stage 1: deserialization (shape) checks.
// ---------------------------------------------------------------------------------------------

/// The members of an AttributeValue object, with JSON `null` members dropped (the service's
/// deserializer treats them as absent). Unknown members are ignored the same way.
struct Members<'a> {
    s: Option<&'a Value>,
    n: Option<&'a Value>,
    b: Option<&'a Value>,
    ss: Option<&'a Value>,
    ns: Option<&'a Value>,
    bs: Option<&'a Value>,
    m: Option<&'a Value>,
    l: Option<&'a Value>,
    null: Option<&'a Value>,
    bool: Option<&'a Value>,
}

impl<'a> Members<'a> {
    fn of(map: &'a Map<String, Value>) -> Members<'a> {
        let get = |name: &str| map.get(name).filter(|value| !value.is_null());
        Members {
            s: get("S"),
            n: get("N"),
            b: get("B"),
            ss: get("SS"),
            ns: get("NS"),
            bs: get("BS"),
            m: get("M"),
            l: get("L"),
            null: get("NULL"),
            bool: get("BOOL"),
        }
    }

    fn count(&self) -> usize {
        [
            self.s, self.n, self.b, self.ss, self.ns, self.bs, self.m, self.l, self.null, self.bool,
        ]
        .iter()
        .filter(|member| member.is_some())
        .count()
    }
}

/// Checks the JSON shape of an AttributeValue, in document order.
fn check_value_shape(json: &Value, depth: usize) -> Result<(), ApiError> {
    let map = match json {
        // A null value is a validation error, found in stage 2.
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        other => return Err(value_shape_error(other)),
    };
    if depth > MAX_SHAPE_DEPTH {
        return Ok(());
    }
    for (name, member) in map {
        if member.is_null() {
            continue;
        }
        match name.as_str() {
            "S" | "N" => {
                as_string(member)?;
            }
            "B" => {
                decode_blob(member)?;
            }
            "NULL" | "BOOL" => {
                as_bool(member)?;
            }
            "SS" | "NS" => {
                for element in as_list(member)? {
                    if !element.is_null() {
                        as_string(element)?;
                    }
                }
            }
            "BS" => {
                for element in as_list(member)? {
                    if !element.is_null() {
                        decode_blob(element)?;
                    }
                }
            }
            "L" => {
                for element in as_list(member)? {
                    check_value_shape(element, depth + 1)?;
                }
            }
            "M" => {
                for element in as_map(member)?.values() {
                    check_value_shape(element, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the service says when an AttributeValue is not a JSON object.
fn value_shape_error(json: &Value) -> ApiError {
    match json {
        Value::Array(_) => serialization(
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
        _ => serialization("Unexpected value type in payload"),
    }
}

/// What the service says when a map of AttributeValues (an item, `M`) is not a JSON object.
fn map_shape_error(json: &Value) -> ApiError {
    match json {
        Value::Array(_) => serialization(
            "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
        _ => serialization(MSG_UNEXPECTED_FIELD),
    }
}

/// How the service names a JSON scalar it cannot convert.
fn scalar_token(json: &Value) -> &'static str {
    match json {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(n) if n.is_i64() || n.is_u64() => "NUMBER_VALUE",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "NUMBER_VALUE",
        Value::Number(_) => "DECIMAL_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Null => "NULL_VALUE",
        Value::Array(_) | Value::Object(_) => "STRUCTURE_VALUE",
    }
}

/// A member of type String (`S`, `N`, members of `SS` and `NS`).
fn as_string(json: &Value) -> Result<&str, ApiError> {
    match json {
        Value::String(s) => Ok(s),
        Value::Array(_) => Err(serialization(
            "Unrecognized collection type class java.lang.String",
        )),
        Value::Object(_) => Err(serialization(MSG_NOT_EXPECTED_STRUCTURE)),
        other => Err(serialization(format!(
            "{} cannot be converted to String",
            scalar_token(other)
        ))),
    }
}

/// A member of type Boolean (`BOOL`, `NULL`). The service's reader also takes the strings
/// true/false, yes/no and 1/0, in any case.
fn as_bool(json: &Value) -> Result<bool, ApiError> {
    match json {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(serialization("Unexpected token received from parser")),
        },
        Value::Array(_) => Err(serialization(
            "Unrecognized collection type class java.lang.Boolean",
        )),
        Value::Object(_) => Err(serialization(MSG_NOT_EXPECTED_STRUCTURE)),
        other => Err(serialization(format!(
            "{} cannot be converted to Boolean",
            scalar_token(other)
        ))),
    }
}

/// A member of type Blob (`B`, members of `BS`): canonical, padded, standard base64.
fn decode_blob(json: &Value) -> Result<Vec<u8>, ApiError> {
    let text = match json {
        Value::String(s) => s,
        Value::Array(_) => {
            return Err(serialization(
                "Unrecognized collection type class java.nio.ByteBuffer",
            ))
        }
        Value::Object(_) => return Err(serialization(MSG_NOT_EXPECTED_STRUCTURE)),
        _ => {
            return Err(serialization(
                "only base-64-encoded strings are convertible to bytes",
            ))
        }
    };
    // The length is counted as Java counts it, in UTF-16 units.
    let length = text.encode_utf16().count();
    if length % 4 != 0 {
        return Err(serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {length}"
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| serialization("Invalid last non-pad Base64 character dectected"))
}

/// A member of type List (`SS`, `NS`, `BS`, `L`).
fn as_list(json: &Value) -> Result<&[Value], ApiError> {
    match json {
        Value::Array(elements) => Ok(elements),
        Value::Object(_) => Err(serialization(MSG_NOT_EXPECTED_STRUCTURE)),
        _ => Err(serialization(MSG_UNEXPECTED_FIELD)),
    }
}

/// A member of type Map (`M`).
fn as_map(json: &Value) -> Result<&Map<String, Value>, ApiError> {
    match json {
        Value::Object(map) => Ok(map),
        other => Err(map_shape_error(other)),
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 2: validation, building the value.
// ---------------------------------------------------------------------------------------------

/// Validates and converts one AttributeValue found at nesting level `depth` (1 for a top-level
/// attribute). Shape errors met on the way are returned as they are; the caller replaces them
/// with the first one in document order.
fn build_value(json: &Value, depth: usize) -> Result<AttributeValue, ApiError> {
    let map = match json {
        Value::Object(map) => map,
        Value::Null => return Err(ApiError::validation(MSG_NULL_VALUE)),
        other => return Err(value_shape_error(other)),
    };
    let members = Members::of(map);
    if depth > MAX_NESTING_DEPTH && (members.m.is_some() || members.l.is_some()) {
        return Err(ApiError::validation(MSG_NESTING));
    }

    // Every member is checked, in DynamoDB's order, even when several are set; the last one
    // converted is kept, and is only returned when it is the only one.
    let mut value = None;
    if let Some(json) = members.ss {
        value = Some(AttributeValue::Ss(build_string_set(json)?));
    }
    if let Some(json) = members.n {
        value = Some(AttributeValue::N(Number::parse(as_string(json)?)?));
    }
    if let Some(json) = members.ns {
        value = Some(AttributeValue::Ns(build_number_set(json)?));
    }
    if let Some(json) = members.bs {
        value = Some(AttributeValue::Bs(build_binary_set(json)?));
    }
    if let Some(json) = members.m {
        value = Some(AttributeValue::M(build_map(as_map(json)?, depth + 1)?));
    }
    if let Some(json) = members.l {
        let elements = as_list(json)?;
        let mut list = Vec::with_capacity(elements.len());
        for element in elements {
            list.push(build_value(element, depth + 1)?);
        }
        value = Some(AttributeValue::L(list));
    }
    if let Some(json) = members.null {
        if !as_bool(json)? {
            return Err(ApiError::validation(MSG_NULL_FALSE));
        }
        value = Some(AttributeValue::Null);
    }
    if let Some(json) = members.s {
        value = Some(AttributeValue::S(as_string(json)?.to_owned()));
    }
    if let Some(json) = members.b {
        value = Some(AttributeValue::B(decode_blob(json)?));
    }
    if let Some(json) = members.bool {
        value = Some(AttributeValue::Bool(as_bool(json)?));
    }

    match (members.count(), value) {
        (1, Some(value)) => Ok(value),
        (0, _) | (_, None) => Err(ApiError::validation(MSG_EMPTY_VALUE)),
        _ => Err(ApiError::validation(MSG_MANY_TYPES)),
    }
}

/// Validates a map of attribute name to value whose values sit at level `depth`.
fn build_map(map: &Map<String, Value>, depth: usize) -> Result<Item, ApiError> {
    let mut item = Item::new();
    for (name, json) in map {
        if json.is_null() {
            return Err(ApiError::validation(format!(
                "{MSG_NULL_VALUE}: {name} is null"
            )));
        }
        let value = build_value(json, depth)?;
        if name.is_empty() {
            return Err(ApiError::validation(MSG_EMPTY_NAME));
        }
        item.insert(name.clone(), value);
    }
    Ok(item)
}

fn build_string_set(json: &Value) -> Result<Vec<String>, ApiError> {
    let elements = as_list(json)?;
    if elements.is_empty() {
        return Err(ApiError::validation(MSG_EMPTY_SS));
    }
    let members = elements
        .iter()
        .map(|element| {
            if element.is_null() {
                Ok(None)
            } else {
                as_string(element).map(Some)
            }
        })
        .collect::<Result<Vec<Option<&str>>, ApiError>>()?;
    let mut seen = HashSet::with_capacity(members.len());
    if !members.iter().all(|member| seen.insert(*member)) {
        let listed: Vec<&str> = members
            .iter()
            .map(|member| member.unwrap_or("null"))
            .collect();
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Input collection [{}] contains duplicates",
            listed.join(", ")
        )));
    }
    members
        .into_iter()
        .map(|member| {
            member
                .map(str::to_owned)
                .ok_or_else(|| ApiError::validation(MSG_NULL_IN_SS))
        })
        .collect()
}

fn build_number_set(json: &Value) -> Result<Vec<Number>, ApiError> {
    let elements = as_list(json)?;
    if elements.is_empty() {
        return Err(ApiError::validation(MSG_EMPTY_NS));
    }
    // Members are parsed in order and each is checked against the ones before it, so a bad
    // number after a duplicate reports the duplicate.
    let mut members = Vec::with_capacity(elements.len());
    let mut seen = HashSet::with_capacity(elements.len());
    for element in elements {
        if element.is_null() {
            return Err(ApiError::validation(MSG_NOT_A_NUMBER));
        }
        let number = Number::parse(as_string(element)?)?;
        if !seen.insert(number.clone()) {
            return Err(ApiError::validation(MSG_DUPLICATE_NS));
        }
        members.push(number);
    }
    Ok(members)
}

fn build_binary_set(json: &Value) -> Result<Vec<Vec<u8>>, ApiError> {
    let elements = as_list(json)?;
    if elements.is_empty() {
        return Err(ApiError::validation(MSG_EMPTY_BS));
    }
    let members = elements
        .iter()
        .map(|element| {
            if element.is_null() {
                Ok(None)
            } else {
                decode_blob(element).map(Some)
            }
        })
        .collect::<Result<Vec<Option<Vec<u8>>>, ApiError>>()?;
    let mut seen = HashSet::with_capacity(members.len());
    if !members.iter().all(|member| seen.insert(member.as_deref())) {
        return Err(ApiError::validation(MSG_DUPLICATE_BS));
    }
    members
        .into_iter()
        .map(|member| member.ok_or_else(|| ApiError::validation(MSG_NULL_IN_BS)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::number::{MSG_OVERFLOW, MSG_PRECISION};
    use serde_json::json;

    fn ok(json: Value) -> AttributeValue {
        AttributeValue::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn validation(json: Value) -> String {
        match AttributeValue::from_json(&json) {
            Ok(value) => panic!("{json} accepted as {value:?}"),
            Err(error) => {
                assert_eq!(
                    error.kind,
                    ErrorKind::Validation,
                    "{json}: {}",
                    error.message
                );
                error.message
            }
        }
    }

    fn serialization_error(json: Value) -> String {
        match AttributeValue::from_json(&json) {
            Ok(value) => panic!("{json} accepted as {value:?}"),
            Err(error) => {
                assert_eq!(
                    error.kind,
                    ErrorKind::Serialization,
                    "{json}: {}",
                    error.message
                );
                assert_eq!(AttributeValue::check_json_shape(&json), Err(error.clone()));
                error.message
            }
        }
    }

    fn item_error(json: Value) -> String {
        match item_from_json(&json) {
            Ok(item) => panic!("{json} accepted as {item:?}"),
            Err(error) => error.message,
        }
    }

    /// `depth` lists (or maps) around `inner`.
    fn nested(depth: usize, kind: &str, inner: Value) -> Value {
        (0..depth).fold(inner, |value, _| match kind {
            "L" => json!({"L": [value]}),
            _ => json!({"M": {"k": value}}),
        })
    }

    #[test]
    fn reads_every_type() {
        assert_eq!(ok(json!({"S": "x"})), AttributeValue::S("x".into()));
        assert_eq!(ok(json!({"S": ""})), AttributeValue::S(String::new()));
        assert_eq!(
            ok(json!({"N": "1.50"})),
            AttributeValue::N(Number::parse("1.5").unwrap())
        );
        assert_eq!(ok(json!({"B": "YWJj"})), AttributeValue::B(b"abc".to_vec()));
        assert_eq!(ok(json!({"B": ""})), AttributeValue::B(vec![]));
        assert_eq!(
            ok(json!({"SS": ["a", ""]})),
            AttributeValue::Ss(vec!["a".into(), String::new()])
        );
        assert_eq!(
            ok(json!({"NS": ["1", "2"]})).to_json(),
            json!({"NS": ["1", "2"]})
        );
        assert_eq!(
            ok(json!({"BS": ["YQ==", ""]})),
            AttributeValue::Bs(vec![b"a".to_vec(), vec![]])
        );
        assert_eq!(ok(json!({"NULL": true})), AttributeValue::Null);
        assert_eq!(ok(json!({"BOOL": false})), AttributeValue::Bool(false));
        assert_eq!(ok(json!({"L": []})), AttributeValue::L(vec![]));
        assert_eq!(ok(json!({"M": {}})), AttributeValue::M(Item::new()));
        let nested = json!({"M": {"a": {"L": [{"S": "x"}, {"M": {"b": {"NS": ["1e2"]}}}]}}});
        assert_eq!(
            ok(nested).to_json(),
            json!({"M": {"a": {"L": [{"S": "x"}, {"M": {"b": {"NS": ["100"]}}}]}}})
        );
    }

    #[test]
    fn ignores_null_and_unknown_members() {
        assert_eq!(
            ok(json!({"S": "x", "N": null})),
            AttributeValue::S("x".into())
        );
        assert_eq!(
            ok(json!({"S": "x", "X": 5, "s": []})),
            AttributeValue::S("x".into())
        );
    }

    #[test]
    fn boolean_members_take_the_strings_the_service_reads() {
        for (text, value) in [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("1", true),
            ("false", false),
            ("No", false),
            ("0", false),
        ] {
            assert_eq!(
                ok(json!({"BOOL": text})),
                AttributeValue::Bool(value),
                "{text}"
            );
        }
        assert_eq!(ok(json!({"NULL": "true"})), AttributeValue::Null);
        assert_eq!(validation(json!({"NULL": "false"})), MSG_NULL_FALSE);
    }

    /// Messages recorded from DynamoDB Local 3.3.0 (PutItem).
    #[test]
    fn validation_messages() {
        assert_eq!(validation(json!({})), MSG_EMPTY_VALUE);
        assert_eq!(
            MSG_EMPTY_VALUE,
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        assert_eq!(validation(json!({"X": "x"})), MSG_EMPTY_VALUE);
        assert_eq!(validation(json!({"S": null})), MSG_EMPTY_VALUE);
        assert_eq!(validation(json!({"S": "x", "N": "1"})), MSG_MANY_TYPES);
        assert_eq!(
            validation(json!({"NULL": true, "BOOL": true})),
            MSG_MANY_TYPES
        );
        assert_eq!(
            validation(json!({"SS": []})),
            "One or more parameter values were invalid: An string set  may not be empty"
        );
        assert_eq!(
            validation(json!({"NS": []})),
            "One or more parameter values were invalid: An number set  may not be empty"
        );
        assert_eq!(
            validation(json!({"BS": []})),
            "One or more parameter values were invalid: Binary sets should not be empty"
        );
        assert_eq!(
            validation(json!({"SS": ["b", "a", "b"]})),
            "One or more parameter values were invalid: Input collection [b, a, b] contains duplicates"
        );
        assert_eq!(
            validation(json!({"SS": ["a", "a", null]})),
            "One or more parameter values were invalid: Input collection [a, a, null] contains duplicates"
        );
        assert_eq!(
            validation(json!({"SS": ["a", null]})),
            "One or more parameter values were invalid: An string set may not have a null string as a member"
        );
        assert_eq!(
            validation(json!({"NS": ["1", "1.0"]})),
            "Input collection contains duplicates"
        );
        assert_eq!(
            validation(json!({"NS": ["1", "01"]})),
            "Input collection contains duplicates"
        );
        assert_eq!(
            validation(json!({"BS": ["YQ==", "YWI=", "YQ=="]})),
            "One or more parameter values were invalid: Input collection of type BS contains duplicates."
        );
        assert_eq!(validation(json!({"BS": ["YQ==", null]})), MSG_NULL_IN_BS);
        assert_eq!(
            validation(json!({"NULL": false})),
            "One or more parameter values were invalid: Null attribute value types must have the value of true"
        );
        assert_eq!(
            validation(json!({"N": "x"})),
            "A value provided cannot be converted into a number"
        );
        assert_eq!(
            validation(json!({"NS": ["x"]})),
            "A value provided cannot be converted into a number"
        );
        assert_eq!(
            validation(json!({"NS": ["1", null]})),
            "A value provided cannot be converted into a number"
        );
        assert_eq!(validation(json!({"NS": ["1e200"]})), MSG_OVERFLOW);
        assert_eq!(
            validation(json!(null)),
            "The supplied Item contains a null AttributeValue"
        );
        assert_eq!(
            validation(json!({"L": [null]})),
            "The supplied Item contains a null AttributeValue"
        );
        assert_eq!(
            validation(json!({"M": {"b": null}})),
            "The supplied Item contains a null AttributeValue: b is null"
        );
        assert_eq!(validation(json!({"M": {"x": {}}})), MSG_EMPTY_VALUE);
        assert_eq!(validation(json!({"L": [{}]})), MSG_EMPTY_VALUE);
        assert_eq!(
            validation(json!({"M": {"": {"S": "x"}}})),
            "Empty attribute name"
        );
    }

    /// Which check wins when a value breaks several rules, as DynamoDB Local decides it.
    #[test]
    fn validation_order() {
        let cases = [
            (json!({"S": "x", "N": "bad"}), MSG_NOT_A_NUMBER),
            (json!({"SS": [], "N": "1"}), MSG_EMPTY_SS),
            (json!({"NS": [], "SS": []}), MSG_EMPTY_SS),
            (json!({"SS": [], "N": "bad"}), MSG_EMPTY_SS),
            (json!({"NS": [], "N": "bad"}), MSG_NOT_A_NUMBER),
            (json!({"NULL": false, "N": "bad"}), MSG_NOT_A_NUMBER),
            (json!({"NULL": false, "SS": []}), MSG_EMPTY_SS),
            (json!({"BS": [], "SS": []}), MSG_EMPTY_SS),
            (json!({"BS": [], "NS": []}), MSG_EMPTY_NS),
            (json!({"BS": [], "NULL": false}), MSG_EMPTY_BS),
            (json!({"L": [{}], "SS": []}), MSG_EMPTY_SS),
            (json!({"M": {"x": {}}, "SS": []}), MSG_EMPTY_SS),
            (
                json!({"M": {"x": {}}, "L": [{"NULL": false}]}),
                MSG_EMPTY_VALUE,
            ),
            (json!({"M": {"x": {}}, "NULL": false}), MSG_EMPTY_VALUE),
            (json!({"L": [{}], "NULL": false}), MSG_EMPTY_VALUE),
            (json!({"L": [{}], "N": "x"}), MSG_NOT_A_NUMBER),
            (
                json!({"NS": ["1", "1"], "BS": ["YQ==", "YQ=="]}),
                MSG_DUPLICATE_NS,
            ),
            (json!({"BS": ["YQ==", "YQ=="], "L": [{}]}), MSG_DUPLICATE_BS),
            (json!({"NS": ["1", "1"], "L": [{}]}), MSG_DUPLICATE_NS),
            (json!({"NULL": false, "BOOL": true}), MSG_NULL_FALSE),
            (json!({"NULL": true, "L": [{}]}), MSG_EMPTY_VALUE),
            (json!({"NS": ["x", "1", "1"]}), MSG_NOT_A_NUMBER),
            (json!({"NS": ["1", "x", "1"]}), MSG_NOT_A_NUMBER),
            (json!({"NS": ["1", "2", "1", "1e300"]}), MSG_DUPLICATE_NS),
            (json!({"NS": ["1e300", "1", "1"]}), MSG_OVERFLOW),
            (
                json!({"NS": ["123456789012345678901234567890123456789", "1", "1"]}),
                MSG_PRECISION,
            ),
            (json!({"NS": ["1", "1", "x"]}), MSG_DUPLICATE_NS),
            (json!({"L": [{"SS": []}, null]}), MSG_EMPTY_SS),
            (json!({"L": [null, {"SS": []}]}), MSG_NULL_VALUE),
            (
                json!({"M": {"a": {"S": "x", "N": "1"}, "b": {}}}),
                MSG_MANY_TYPES,
            ),
            (
                json!({"M": {"b": {}, "c": {"S": "x", "N": "1"}}}),
                MSG_EMPTY_VALUE,
            ),
            (json!({"M": {"": {}}}), MSG_EMPTY_VALUE),
            (
                json!({"M": {"": null}}),
                "The supplied Item contains a null AttributeValue:  is null",
            ),
            (json!({"M": {"": {"S": "x"}, "b": {}}}), MSG_EMPTY_NAME),
            (json!({"M": {"a": {"SS": []}, "b": null}}), MSG_EMPTY_SS),
            (
                json!({"M": {"a": {"N": "x"}, "b": {"S": "x", "N": "1"}}}),
                MSG_NOT_A_NUMBER,
            ),
            (
                json!({"M": {"a": {"L": [{"SS": []}]}, "b": {}}}),
                MSG_EMPTY_SS,
            ),
        ];
        for (json, message) in cases {
            assert_eq!(validation(json.clone()), message, "{json}");
        }
        let duplicate_ss = "One or more parameter values were invalid: Input collection [a, a] contains duplicates";
        assert_eq!(
            validation(json!({"SS": ["a", "a"], "NS": ["1", "1"]})),
            duplicate_ss
        );
        assert_eq!(
            validation(json!({"SS": ["a", "a"], "N": "x"})),
            duplicate_ss
        );
        assert_eq!(
            validation(json!({"SS": ["a", "a"], "M": {"x": {}}})),
            duplicate_ss
        );
    }

    /// A map or list may sit at level 31 at most (a top-level attribute is at level 1).
    #[test]
    fn nesting_limit() {
        let leaf = json!({"S": "x"});
        for kind in ["L", "M"] {
            ok(nested(31, kind, leaf.clone()));
            assert_eq!(validation(nested(32, kind, leaf.clone())), MSG_NESTING);
            assert_eq!(validation(nested(40, kind, leaf.clone())), MSG_NESTING);
        }
        ok(nested(30, "L", json!({"L": []})));
        assert_eq!(validation(nested(31, "L", json!({"L": []}))), MSG_NESTING);
        assert_eq!(validation(nested(31, "L", json!({"M": {}}))), MSG_NESTING);
        // The walk is depth first in document order: what it meets first is reported.
        assert_eq!(validation(nested(31, "L", json!({}))), MSG_EMPTY_VALUE);
        assert_eq!(validation(nested(33, "L", json!({}))), MSG_NESTING);
        assert_eq!(validation(nested(31, "L", json!({"SS": []}))), MSG_EMPTY_SS);
        assert_eq!(
            validation(json!({"L": [{}, nested(33, "L", leaf.clone())]})),
            MSG_EMPTY_VALUE
        );
        let deep = nested(33, "L", leaf);
        assert_eq!(
            item_error(json!({"a": {}, "b": deep.clone()})),
            MSG_EMPTY_VALUE
        );
        assert_eq!(item_error(json!({"a": deep.clone(), "b": {}})), MSG_NESTING);
    }

    /// SerializationException texts, as the service words them (DynamoDB Local coerces or
    /// fails with a 500 here); see NOTES.md.
    #[test]
    fn serialization_messages() {
        let cases = [
            (json!({"S": 5}), "NUMBER_VALUE cannot be converted to String"),
            (json!({"S": 5.5}), "DECIMAL_VALUE cannot be converted to String"),
            (json!({"S": true}), "TRUE_VALUE cannot be converted to String"),
            (json!({"N": false}), "FALSE_VALUE cannot be converted to String"),
            (json!({"N": 5}), "NUMBER_VALUE cannot be converted to String"),
            (json!({"S": []}), "Unrecognized collection type class java.lang.String"),
            (json!({"S": {}}), "Start of structure or map found where not expected"),
            (json!({"BOOL": 1}), "NUMBER_VALUE cannot be converted to Boolean"),
            (json!({"NULL": 1.5}), "DECIMAL_VALUE cannot be converted to Boolean"),
            (json!({"BOOL": "maybe"}), "Unexpected token received from parser"),
            (json!({"BOOL": []}), "Unrecognized collection type class java.lang.Boolean"),
            (json!({"BOOL": {}}), "Start of structure or map found where not expected"),
            (json!({"B": 5}), "only base-64-encoded strings are convertible to bytes"),
            (json!({"B": true}), "only base-64-encoded strings are convertible to bytes"),
            (json!({"B": []}), "Unrecognized collection type class java.nio.ByteBuffer"),
            (json!({"B": {}}), "Start of structure or map found where not expected"),
            (json!({"B": "YQ"}), "Base64 encoded length is expected a multiple of 4 bytes but found: 2"),
            (json!({"B": "YQ="}), "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
            (json!({"B": "!!!!"}), "Invalid last non-pad Base64 character dectected"),
            (json!({"B": "YR=="}), "Invalid last non-pad Base64 character dectected"),
            (json!({"B": "===="}), "Invalid last non-pad Base64 character dectected"),
            (json!({"BS": ["YQ", "YQ=="]}), "Base64 encoded length is expected a multiple of 4 bytes but found: 2"),
            (json!({"SS": "a"}), "Unexpected field type"),
            (json!({"SS": {}}), "Start of structure or map found where not expected"),
            (json!({"SS": [1]}), "NUMBER_VALUE cannot be converted to String"),
            (json!({"NS": [1]}), "NUMBER_VALUE cannot be converted to String"),
            (json!({"L": {}}), "Start of structure or map found where not expected"),
            (json!({"L": 5}), "Unexpected field type"),
            (json!({"L": ["x"]}), "Unexpected value type in payload"),
            (json!({"L": [[]]}), "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue"),
            (json!({"M": []}), "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>"),
            (json!({"M": "x"}), "Unexpected field type"),
            (json!({"M": {"a": 5}}), "Unexpected value type in payload"),
            (json!(5), "Unexpected value type in payload"),
            (json!("x"), "Unexpected value type in payload"),
            (json!([]), "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue"),
        ];
        for (json, message) in cases {
            assert_eq!(serialization_error(json.clone()), message, "{json}");
        }
    }

    #[test]
    fn serialization_errors_win_over_validation_errors() {
        // The validation error comes first in document order, the shape error still wins.
        assert_eq!(
            serialization_error(json!({"L": [{}, {"S": 5}]})),
            "NUMBER_VALUE cannot be converted to String"
        );
        assert_eq!(
            serialization_error(json!({"SS": [], "B": "x"})),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 1"
        );
        assert_eq!(
            serialization_error(nested(40, "L", json!({"S": 5}))),
            "NUMBER_VALUE cannot be converted to String"
        );
        let item = item_from_json(&json!({"a": {}, "b": {"BOOL": 2}})).unwrap_err();
        assert_eq!(
            (item.kind, item.message.as_str()),
            (
                ErrorKind::Serialization,
                "NUMBER_VALUE cannot be converted to Boolean"
            )
        );
        // Several shape errors: the first in document order.
        assert_eq!(
            serialization_error(json!({"L": [{"S": 5}, {"B": 5}]})),
            "NUMBER_VALUE cannot be converted to String"
        );
    }

    #[test]
    fn items() {
        let item =
            item_from_json(&json!({"pk": {"S": "a"}, "n": {"N": "01"}})).expect("valid item");
        assert_eq!(item.len(), 2);
        assert_eq!(item["n"], AttributeValue::N(Number::from_i64(1)));
        assert_eq!(
            super::super::item_to_json(&item),
            json!({"pk": {"S": "a"}, "n": {"N": "1"}})
        );
        assert!(item_from_json(&json!({})).expect("empty item").is_empty());

        assert_eq!(
            item_error(json!({"a": null})),
            "The supplied Item contains a null AttributeValue: a is null"
        );
        assert_eq!(item_error(json!({"": {"S": "x"}})), MSG_EMPTY_NAME);
        assert_eq!(item_error(json!({"": {}})), MSG_EMPTY_VALUE);
        assert_eq!(
            item_error(json!({"": {"S": "x"}, "b": {"N": "1e999"}})),
            MSG_EMPTY_NAME
        );
        assert_eq!(
            item_error(json!({"a": {"M": {"": {"S": "x"}}}, "b": {}})),
            MSG_EMPTY_NAME
        );
        assert_eq!(item_error(json!(5)), "Unexpected field type");
        assert_eq!(item_error(json!(null)), "Unexpected field type");
        assert_eq!(
            item_error(json!([])),
            "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>"
        );
        assert_eq!(
            check_item_json_shape(&json!({"a": {"S": 1}})).map_err(|e| e.message),
            Err("NUMBER_VALUE cannot be converted to String".into())
        );
        assert_eq!(check_item_json_shape(&json!({"a": {}})), Ok(()));
    }

    #[test]
    fn wire_round_trip() {
        let json = json!({
            "s": {"S": "x\u{0}\u{1}é"},
            "n": {"N": "-12.5"},
            "b": {"B": "AAEC/w=="},
            "ss": {"SS": ["b", "a"]},
            "ns": {"NS": ["3", "1", "2"]},
            "bs": {"BS": ["AA==", "AQ=="]},
            "m": {"M": {"k": {"L": [{"NULL": true}, {"BOOL": true}]}}},
        });
        let item = item_from_json(&json).expect("valid item");
        assert_eq!(super::super::item_to_json(&item), json);
        assert_eq!(
            item_from_json(&super::super::item_to_json(&item)).expect("valid"),
            item
        );
    }
}
