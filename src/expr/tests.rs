//! End-to-end tests of the engine: expression text in, DynamoDB's answer out.
//!
//! `dynamodb_answers.jsonl` holds 700 answers of DynamoDB Local 3.3.0 (conditions, updates,
//! projections and key conditions, valid and invalid, with the exact messages), recorded
//! against the item of [`base_item`]; [`recorded_answers`] replays them all.

use serde_json::{json, Map, Value};

use super::*;
use crate::model::{item_from_json, item_to_json, AttributeValue};

/// The item every recorded answer was taken against.
fn base_item() -> Item {
    item_from_json(&json!({
        "pk": {"S": "dx"}, "n": {"N": "5"}, "s": {"S": "abc"},
        "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]},
        "m": {"M": {"x": {"N": "1"}, "y": {"M": {"z": {"S": "deep"}}}}},
        "ss": {"SS": ["a", "c"]}, "ns": {"NS": ["1", "2"]}, "b": {"B": "AQID"},
        "bo": {"BOOL": true}, "nu": {"NULL": true}, "e": {"S": ""}
    }))
    .unwrap()
}

fn object(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value.and_then(Value::as_object)
}

/// What the engine answers for one recorded case, in the recorded form.
fn answer(case: &Value, item: &Item) -> Value {
    let error = |e: ApiError| json!({ "error": e.message });
    let mut attrs = match ExpressionAttributes::from_request(
        object(case.get("names")),
        object(case.get("values")),
    ) {
        Ok(attrs) => attrs,
        Err(e) => return error(e),
    };
    let expression = case["expr"].as_str().unwrap_or_default();
    let result = (|| -> Result<Value, ApiError> {
        Ok(match case["kind"].as_str().unwrap_or_default() {
            "condition" => {
                let condition = parse_condition(expression, &mut attrs)?;
                attrs.check_unused()?;
                json!({ "result": condition.evaluate(item) })
            }
            "update" => {
                let update = parse_update(expression, &mut attrs)?;
                let condition = match case.get("cond").and_then(Value::as_str) {
                    Some(text) => Some(parse_condition(text, &mut attrs)?),
                    None => None,
                };
                attrs.check_unused()?;
                if condition.is_some_and(|c| !c.evaluate(item)) {
                    return Ok(json!({ "error": "The conditional request failed" }));
                }
                let new = update.apply(item, &["pk"])?.item;
                let changed: Map<String, Value> = new
                    .iter()
                    .filter(|(k, v)| item.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                let removed: Vec<&String> = item.keys().filter(|k| !new.contains_key(*k)).collect();
                json!({ "changed": changed, "removed": removed })
            }
            "projection" => {
                let projection = parse_projection(expression, &mut attrs)?;
                attrs.check_unused_names()?;
                json!({ "item": item_to_json(&projection.apply(item)) })
            }
            _ => {
                let schema = KeySchema {
                    hash_name: "pk",
                    hash_type: "S",
                    range: Some(("sk", "N")),
                    extra_hash: &[],
                    extra_range: &[],
                };
                parse_key_condition(expression, &mut attrs, &schema)?;
                attrs.check_unused()?;
                json!({ "ok": true })
            }
        })
    })();
    result.unwrap_or_else(error)
}

/// Sets compare as sets.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("SS" | "NS" | "BS", Value::Array(items)) => {
                            let mut items = items.clone();
                            items.sort_by_key(|i| i.to_string());
                            Value::Array(items)
                        }
                        _ => canonical(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[test]
fn recorded_answers() {
    let item = base_item();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in include_str!("dynamodb_answers.jsonl").lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        count += 1;
        let mut expected = case.clone();
        let expected = expected.as_object_mut().unwrap();
        for input in ["kind", "expr", "names", "values", "cond"] {
            expected.remove(input);
        }
        let got = answer(&case, &item);
        if canonical(&got) != canonical(&Value::Object(expected.clone())) {
            failures.push(format!(
                "{}: {}\n  expected {}\n  got      {}",
                case["kind"],
                case["expr"],
                Value::Object(expected.clone()),
                got
            ));
        }
    }
    assert!(count > 700, "{count} answers");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Parses `expression` as a condition and evaluates it on the base item.
fn holds(expression: &str, values: Value) -> bool {
    let values = values.as_object().cloned();
    let mut attrs = ExpressionAttributes::from_request(None, values.as_ref()).unwrap();
    parse_condition(expression, &mut attrs)
        .unwrap()
        .evaluate(&base_item())
}

#[test]
fn comparisons_across_types_are_false() {
    assert!(!holds("n = :v", json!({":v": {"S": "5"}})));
    assert!(holds("n <> :v", json!({":v": {"S": "5"}})));
    assert!(!holds("s > :v", json!({":v": {"N": "1"}})));
    assert!(!holds(
        "s BETWEEN :a AND :b",
        json!({":a": {"N": "1"}, ":b": {"N": "9"}})
    ));
    assert!(holds(
        "n BETWEEN :a AND :b",
        json!({":a": {"N": "5"}, ":b": {"N": "5.0"}})
    ));
}

fn update_outcome(expression: &str, values: Value) -> (UpdateOutcome, Item) {
    let values = values.as_object().cloned();
    let mut attrs = ExpressionAttributes::from_request(None, values.as_ref()).unwrap();
    let update = parse_update(expression, &mut attrs).unwrap();
    let old = base_item();
    (update.apply(&old, &["pk"]).unwrap(), old)
}

#[test]
fn updated_values_are_the_updated_paths() {
    let (outcome, old) = update_outcome(
        "SET m.x = :v, l[1] = :v REMOVE s",
        json!({":v": {"N": "7"}}),
    );
    assert_eq!(
        item_to_json(&outcome.updated_attributes(&old)),
        json!({"m": {"M": {"x": {"N": "1"}}}, "l": {"L": [{"N": "2"}]}, "s": {"S": "abc"}})
    );
    assert_eq!(
        item_to_json(&outcome.updated_attributes(&outcome.item)),
        json!({"m": {"M": {"x": {"N": "7"}}}, "l": {"L": [{"N": "7"}]}})
    );
    let (outcome, _) = update_outcome("SET l[10] = :v", json!({":v": {"N": "7"}}));
    assert!(outcome.updated_attributes(&outcome.item).is_empty());
}

#[test]
fn key_condition_structure() {
    let schema = KeySchema {
        hash_name: "pk",
        hash_type: "S",
        range: Some(("sk", "N")),
        extra_hash: &[],
        extra_range: &[],
    };
    let values = json!({":p": {"S": "a"}, ":v": {"N": "1"}});
    let mut attrs = ExpressionAttributes::from_request(None, values.as_object()).unwrap();
    let key = parse_key_condition(":v <= sk AND pk = :p", &mut attrs, &schema).unwrap();
    assert_eq!(key.hash_name, "pk");
    assert_eq!(key.hash_value, AttributeValue::S("a".into()));
    assert_eq!(
        key.range,
        Some((
            "sk".to_string(),
            RangeCondition::Compare(
                Comparator::Ge,
                AttributeValue::N(crate::model::Number::from_i64(1))
            )
        ))
    );
}

#[test]
fn query_filter_may_not_use_keys() {
    let mut attrs = ExpressionAttributes::none();
    let filter = parse_filter("attribute_exists(x) AND attribute_exists(sk)", &mut attrs).unwrap();
    assert_eq!(
        check_query_filter(&filter, &["pk", "sk"])
            .unwrap_err()
            .message,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    );
}

#[test]
fn parameter_mix() {
    let error = |e: Result<(), ApiError>| e.unwrap_err().message;
    assert_eq!(
        error(check_parameter_mix(
            &[("UpdateExpression", true), ("ConditionExpression", true)],
            &[("AttributeUpdates", true), ("Expected", true)],
            &[("UpdateExpression", true), ("ConditionExpression", true)],
            false,
            false
        )),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates, Expected} Expression parameters: {UpdateExpression, ConditionExpression}"
    );
    assert_eq!(
        error(check_parameter_mix(
            &[("ConditionExpression", false)],
            &[],
            &[("ConditionExpression", false)],
            true,
            false
        )),
        "ExpressionAttributeNames can only be specified when using expressions"
    );
    assert_eq!(
        error(check_parameter_mix(
            &[("UpdateExpression", false), ("ConditionExpression", false)],
            &[],
            &[("UpdateExpression", false), ("ConditionExpression", false)],
            false,
            true
        )),
        "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
    );
    assert!(check_parameter_mix(
        &[("ConditionExpression", false)],
        &[],
        &[("ConditionExpression", false)],
        false,
        false
    )
    .is_ok());
}

/// A small deterministic generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound
    }
}

/// Random token soup never panics, in any expression kind, nor does evaluating or applying what
/// happens to parse.
#[test]
fn random_input_never_panics() {
    const PIECES: [&str; 44] = [
        "a",
        "n",
        "s",
        "l",
        "m",
        "pk",
        "sk",
        "name",
        "size",
        "#n",
        "#zz",
        ":v",
        ":s",
        ":l",
        ":ss",
        ":zz",
        "(",
        ")",
        "[",
        "]",
        "0",
        "1",
        "007",
        "2147483648",
        ".",
        ",",
        "=",
        "<>",
        "<",
        ">=",
        "+",
        "-",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "attribute_exists(",
        "list_append(",
        "if_not_exists(",
    ];
    let names = json!({"#n": "n"});
    let values = json!({":v": {"N": "1"}, ":s": {"S": "x"}, ":l": {"L": []}, ":ss": {"SS": ["a"]}});
    let item = base_item();
    let schema = KeySchema {
        hash_name: "pk",
        hash_type: "S",
        range: Some(("sk", "N")),
        extra_hash: &[],
        extra_range: &[],
    };
    let mut rng = Lcg(42);
    for _ in 0..20_000 {
        let length = rng.next(12);
        let mut text = String::new();
        for _ in 0..length {
            text.push_str(PIECES[rng.next(PIECES.len())]);
            if rng.next(3) > 0 {
                text.push(' ');
            }
        }
        if rng.next(10) == 0 {
            text.push(['é', '@', '\u{0}', '\u{10FFFF}', '"'][rng.next(5)]);
        }
        let attrs =
            ExpressionAttributes::from_request(names.as_object(), values.as_object()).unwrap();
        if let Ok(condition) = parse_condition(&text, &mut attrs.clone()) {
            condition.evaluate(&item);
        }
        if let Ok(update) = parse_update(&text, &mut attrs.clone()) {
            let _ = update.apply(&item, &["pk"]);
        }
        if let Ok(projection) = parse_projection(&text, &mut attrs.clone()) {
            projection.apply(&item);
        }
        let _ = parse_key_condition(&text, &mut attrs.clone(), &schema);
        let _ = parse_filter(&text, &mut attrs.clone());
    }
}

/// The longest nestings a 4 KB expression allows parse on a 2 MB stack (a Tokio worker's),
/// with DynamoDB's answers.
#[test]
fn deep_nesting_fits_a_small_stack() {
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let values = json!({":v": {"N": "1"}});
            let run = |text: String| {
                let mut attrs =
                    ExpressionAttributes::from_request(None, values.as_object()).unwrap();
                parse_condition(&text, &mut attrs)
                    .map(|_| ())
                    .map_err(|e| e.message)
            };
            let parens = format!("{}a{} = :v", "(".repeat(2040), ")".repeat(2040));
            let nots = format!("{}a = :v", "NOT ".repeat(1020));
            let calls = format!("{}a{} = :v", "size(".repeat(680), ")".repeat(680));
            let unclosed = format!("{}a = :v", "(".repeat(4000));
            (run(parens), run(nots), run(calls), run(unclosed))
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        result.0,
        Err("Invalid ConditionExpression: The expression has redundant parentheses;".into())
    );
    assert_eq!(
        result.1,
        Err("Invalid ConditionExpression: The expression contains too many operators; operator count: 301".into())
    );
    assert!(result.2.is_err());
    assert!(result
        .3
        .unwrap_err()
        .contains("Syntax error; token: \"<EOF>\""));
}
