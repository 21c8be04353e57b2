//! Conformance: the request sequences under tests/conformance/cases, with the answers recorded from
//! DynamoDB Local (hand-corrected to the AWS service where Local differs), replayed against
//! dynamo-pg over raw HTTP. The format and the comparison rules are in
//! tests/conformance/README.md; tools/record_conformance.py records the cases and can run the same
//! check against any running server (`--check URL`).
//!
//! One test runs every case, one case at a time and one step at a time, and fails once at the end
//! with every mismatch found (case file, step, expected versus received).

mod support;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};

/// Matches any value that is present.
const ANY: &str = "<any>";
/// Matches any value, or the member being absent.
const OPTIONAL: &str = "<optional>";
/// Arrays whose element order DynamoDB does not define: compared as multisets.
const UNORDERED_KEYS: &[&str] = &[
    "SS",
    "NS",
    "BS",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "NonKeyAttributes",
];
const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, \
                             SignedHeaders=host, Signature=abc";
/// How much of a received body a mismatch report shows.
const SHOWN_BODY: usize = 600;

/// A keep-alive HTTP/1.1 client for the server under test.
struct Server {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
}

impl Server {
    fn new(endpoint: String) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Server { client, endpoint }
    }

    /// Sends one step as DynamoDB's JSON protocol frames it; returns the status and the body
    /// (parsed JSON, or the raw text as a JSON string when it is not JSON).
    async fn send(&self, step: &Value) -> Result<(u16, Value), String> {
        let op = step["op"].as_str().unwrap_or_default();
        let body = match step.get("raw_body") {
            Some(raw) => raw.as_str().ok_or("raw_body must be a string")?.to_string(),
            None => step.get("request").unwrap_or(&Value::Null).to_string(),
        };
        let mut builder = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint.trim_end_matches('/')))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Date", "20260101T000000Z")
            .header("Authorization", AUTHORIZATION);
        match step.get("target") {
            None => builder = builder.header("X-Amz-Target", format!("{TARGET_PREFIX}{op}")),
            Some(Value::Null) => {}
            Some(Value::String(target)) => {
                builder = builder.header("X-Amz-Target", target.as_str())
            }
            Some(other) => return Err(format!("target must be a string or null, not {other}")),
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("HTTP request failed: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, body))
    }
}

/// Every case file under `dir`, sorted by path.
fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Reads a case and checks the parts of its shape the replay relies on.
fn load_case(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    if !case["description"].is_string() {
        return Err("no 'description'".into());
    }
    let steps = case["steps"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("no 'steps' list")?;
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        if !step["op"].is_string() {
            return Err(format!("step {n} has no 'op'"));
        }
        if step.get("request").is_none() && step.get("raw_body").is_none() {
            return Err(format!("step {n} has neither 'request' nor 'raw_body'"));
        }
        if step["cleanup"] != Value::Bool(true) && !step["status"].is_u64() {
            return Err(format!(
                "step {n} has no recorded 'status' (record the case first)"
            ));
        }
        if let Some(unordered) = step.get("unordered") {
            let names = unordered
                .as_array()
                .filter(|a| a.iter().all(Value::is_string));
            if names.is_none() {
                return Err(format!(
                    "step {n}: 'unordered' must be a list of member names"
                ));
            }
        }
        if step["source"] == "service" && !step["note"].is_string() {
            return Err(format!(
                "step {n} is marked source=service without a 'note'"
            ));
        }
    }
    Ok(case)
}

/// Names of the tables the case's CreateTable steps create.
fn created_tables(case: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for step in case["steps"].as_array().into_iter().flatten() {
        if step["op"] == "CreateTable" {
            if let Some(name) = step["request"]["TableName"].as_str() {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

/// Removes leftovers of an earlier run (the answers do not matter).
async fn preclean(server: &Server, case: &Value) {
    for name in created_tables(case) {
        let unprotect = serde_json::json!({"op": "UpdateTable",
            "request": {"TableName": name, "DeletionProtectionEnabled": false}});
        let delete = serde_json::json!({"op": "DeleteTable", "request": {"TableName": name}});
        let _ = server.send(&unprotect).await;
        let _ = server.send(&delete).await;
    }
}

/// A short JSON rendering for reports.
fn short(value: &Value, limit: usize) -> String {
    let text = value.to_string();
    if text.chars().count() <= limit {
        text
    } else {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}...")
    }
}

fn is_marker(value: &Value) -> bool {
    value == ANY || value == OPTIONAL
}

/// Compares a recorded value with a received one, appending each difference to `out`.
///
/// Objects are compared by key (an `<optional>` member may be absent, no other member may be
/// missing or extra), arrays in order except under UNORDERED_KEYS, numbers by value, and `<any>`
/// matches any present value.
fn compare(expected: &Value, got: &Value, path: &str, unordered: bool, out: &mut Vec<String>) {
    if is_marker(expected) {
        return;
    }
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => compare_objects(e, g, path, out),
        (Value::Object(_), _) => out.push(format!(
            "{path}: expected an object, got {}",
            short(got, 200)
        )),
        (Value::Array(e), Value::Array(g)) => {
            if e.len() != g.len() {
                out.push(format!(
                    "{path}: expected {} elements {}, got {} {}",
                    e.len(),
                    short(expected, 200),
                    g.len(),
                    short(got, 200)
                ));
            } else if unordered {
                let mut remaining: Vec<&Value> = g.iter().collect();
                for item in e {
                    match remaining
                        .iter()
                        .position(|candidate| matches(item, candidate))
                    {
                        Some(i) => {
                            remaining.remove(i);
                        }
                        None => {
                            out.push(format!(
                                "{path}: expected the elements {} in any order, got {}",
                                short(expected, 200),
                                short(got, 200)
                            ));
                            return;
                        }
                    }
                }
            } else {
                for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                    compare(ev, gv, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        (Value::Array(_), _) => out.push(format!(
            "{path}: expected an array, got {}",
            short(got, 200)
        )),
        (Value::Number(e), Value::Number(g)) => {
            if e.as_f64() != g.as_f64() {
                out.push(format!("{path}: expected {e}, got {g}"));
            }
        }
        _ => {
            if expected != got {
                out.push(format!(
                    "{path}: expected {}, got {}",
                    short(expected, 200),
                    short(got, 200)
                ));
            }
        }
    }
}

fn compare_objects(
    expected: &Map<String, Value>,
    got: &Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    for (key, value) in expected {
        match got.get(key) {
            None if value == OPTIONAL => {}
            None => out.push(format!(
                "{path}.{key}: missing (expected {})",
                short(value, 200)
            )),
            Some(g) => compare(
                value,
                g,
                &format!("{path}.{key}"),
                UNORDERED_KEYS.contains(&key.as_str()),
                out,
            ),
        }
    }
    for (key, value) in got {
        if !expected.contains_key(key) {
            out.push(format!(
                "{path}.{key}: unexpected member ({})",
                short(value, 200)
            ));
        }
    }
}

fn matches(expected: &Value, got: &Value) -> bool {
    let mut out = Vec::new();
    compare(expected, got, "$", false, &mut out);
    out.is_empty()
}

/// Differences between a recorded step and the answer received. An error's message may come
/// as `message` or `Message` (SDKs read both); the recorded files spell it `message`.
fn compare_step(step: &Value, status: u16, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if step["status"].as_u64() != Some(u64::from(status)) {
        out.push(format!("status: expected {}, got {status}", step["status"]));
    }
    let mut body = body.clone();
    if let Value::Object(map) = &mut body {
        if !map.contains_key("message") {
            if let Some(message) = map.remove("Message") {
                map.insert("message".into(), message);
            }
        }
    }
    let mut expected = step.get("response").cloned().unwrap_or(Value::Null);
    // A step's `unordered` members (e.g. a multi-partition Scan's Items, whose order is
    // DynamoDB's hash order) are compared as multisets, apart from the rest of the body.
    for key in step["unordered"].as_array().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        if let (Value::Object(e), Value::Object(g)) = (&mut expected, &mut body) {
            if let (Some(ev), Some(gv)) = (e.get(key), g.get(key)) {
                compare(ev, gv, &format!("$.{key}"), true, &mut out);
                e.remove(key);
                g.remove(key);
            }
        }
    }
    compare(&expected, &body, "$", false, &mut out);
    out
}

/// Replays one case; returns one report line per mismatching step.
async fn run_case(server: &Server, case: &Value) -> Vec<String> {
    preclean(server, case).await;
    let mut problems = Vec::new();
    for (i, step) in case["steps"].as_array().into_iter().flatten().enumerate() {
        let op = step["op"].as_str().unwrap_or_default();
        let answer = server.send(step).await;
        if step["cleanup"] == Value::Bool(true) {
            continue;
        }
        match answer {
            Err(e) => problems.push(format!("step {} ({op}): {e}", i + 1)),
            Ok((status, body)) => {
                let diffs = compare_step(step, status, &body);
                if !diffs.is_empty() {
                    problems.push(format!(
                        "step {} ({op}): {}\n      got: {status} {}",
                        i + 1,
                        diffs.join("; "),
                        short(&body, SHOWN_BODY)
                    ));
                }
            }
        }
    }
    problems
}

#[tokio::test]
async fn conformance_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/cases");
    let files = case_files(&root);
    assert!(
        !files.is_empty(),
        "no conformance cases under {}",
        root.display()
    );
    let server = Server::new(support::endpoint().await);

    let (mut passed, mut pending) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let case = match load_case(path) {
            Ok(case) => case,
            Err(e) => {
                failures.push(format!("{name}: malformed case: {e}"));
                continue;
            }
        };
        if let Some(reason) = case["pending"].as_str() {
            eprintln!("conformance: skipping {name}: pending: {reason}");
            pending += 1;
            continue;
        }
        let problems = run_case(&server, &case).await;
        if problems.is_empty() {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}: {}\n    {}",
                case["description"].as_str().unwrap_or(""),
                problems.join("\n    ")
            ));
        }
    }
    eprintln!(
        "conformance: {passed} cases passed, {} failed, {pending} pending",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases do not match DynamoDB:\n\n{}",
        failures.len(),
        files.len() - pending,
        failures.join("\n\n")
    );
}

/// The comparison rules themselves, without a server.
#[test]
fn comparison_rules() {
    use serde_json::json;
    let check = |expected: Value, got: Value| {
        let mut out = Vec::new();
        compare(&expected, &got, "$", false, &mut out);
        out
    };
    // Wildcards: <any> needs the member, <optional> does not.
    assert!(check(
        json!({"TableArn": ANY}),
        json!({"TableArn": "arn:aws:dynamodb:x"})
    )
    .is_empty());
    assert_eq!(check(json!({"TableArn": ANY}), json!({})).len(), 1);
    assert!(check(json!({"LastIncreaseDateTime": OPTIONAL}), json!({})).is_empty());
    // Objects: missing and extra members are both differences.
    assert_eq!(check(json!({"a": 1}), json!({"a": 1, "b": 2})).len(), 1);
    assert_eq!(check(json!({"a": 1, "b": 2}), json!({"a": 1})).len(), 1);
    // Numbers by value; strings are not numbers.
    assert!(check(json!({"CapacityUnits": 1.0}), json!({"CapacityUnits": 1})).is_empty());
    assert_eq!(check(json!({"N": "1.0"}), json!({"N": "1"})).len(), 1);
    // Arrays in order, except sets and the other unordered members.
    assert!(!check(
        json!({"TableNames": ["a", "b"]}),
        json!({"TableNames": ["b", "a"]})
    )
    .is_empty());
    assert!(check(json!({"SS": ["a", "b"]}), json!({"SS": ["b", "a"]})).is_empty());
    assert_eq!(
        check(json!({"SS": ["a", "a"]}), json!({"SS": ["a", "b"]})).len(),
        1
    );
    // An error's message may be spelled Message; status and type must match.
    let step =
        json!({"status": 400, "response": {"__type": "x#ValidationException", "message": "m"}});
    assert!(compare_step(
        &step,
        400,
        &json!({"__type": "x#ValidationException", "Message": "m"})
    )
    .is_empty());
    assert_eq!(
        compare_step(
            &step,
            500,
            &json!({"__type": "x#ValidationException", "message": "m"})
        )
        .len(),
        1
    );
    assert_eq!(
        compare_step(
            &step,
            400,
            &json!({"__type": "y#ValidationException", "message": "m"})
        )
        .len(),
        1
    );
    // A step's `unordered` members compare as multisets; other arrays keep their order.
    let step = json!({"status": 200, "unordered": ["Items"],
        "response": {"Items": [{"k": 1}, {"k": 2}], "Count": 2, "L": [1, 2]}});
    let got = json!({"Items": [{"k": 2}, {"k": 1}], "Count": 2, "L": [1, 2]});
    assert!(compare_step(&step, 200, &got).is_empty());
    let got = json!({"Items": [{"k": 2}, {"k": 2}], "Count": 2, "L": [1, 2]});
    assert_eq!(compare_step(&step, 200, &got).len(), 1);
    let got = json!({"Items": [{"k": 2}, {"k": 1}], "Count": 2, "L": [2, 1]});
    assert!(!compare_step(&step, 200, &got).is_empty());
    let got = json!({"Count": 2, "L": [1, 2]});
    assert_eq!(compare_step(&step, 200, &got).len(), 1);
}
