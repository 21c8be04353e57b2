//! The clients and tools people already use, pointed at dynamo-pg with an endpoint override and
//! nothing else: the same scenario (a table with a GSI and the client's waiter, put, conditional
//! update, a conditional failure as the client's typed error, a GSI query through the client's
//! paginator, batch write and get, a transaction, a filtered scan, delete with the waiter) through
//!
//! - the Rust SDK (here, in Rust),
//! - boto3's client and resource APIs, PynamoDB, the AWS CLI v1 (tests/clients/*.py, *.sh),
//! - the JavaScript SDK v3 and its DocumentClient (tests/clients/*.mjs),
//! - and dynamodb-admin clicked through in headless Chromium (tests/clients/admin_scenario.mjs,
//!   screenshots in target/clients/).
//!
//! Each script prints `SKIP ...` for a step whose operation the server does not serve yet
//! (UnknownOperationException for batch or transaction operations only); those lines are shown
//! here even when the test passes. A client whose tooling is missing fails the test under CI
//! (`CI` set: .ci/run installs everything) and is skipped with a note otherwise.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as AV, BillingMode, ConditionCheck, Delete,
    KeySchemaElement, KeyType, KeysAndAttributes, ProjectionType, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem, Update,
    WriteRequest,
};

// ---------------------------------------------------------------------------------------------
// Running the client scripts.

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Prints past libtest's output capture (it captures `print!`/`eprint!` only), so that skip
/// notes show in a passing run.
fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// True when `program args...` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(clients_dir())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Checks what a client needs: true when all is there. Under CI a missing tool fails the test;
/// elsewhere the client is skipped with a note.
fn require(client: &str, needs: &[(&str, bool)]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(what, _)| *what)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if in_ci() {
        panic!("{client}: missing in CI: {what} (.ci/run installs it)");
    }
    note(&format!(
        "SKIP {client}: not found: {what} (install as .ci/run does: pip install -r tests/clients/requirements.txt, \
         npm ci --prefix tests/clients, apt-get install chromium)"
    ));
    false
}

fn python_has(module: &str) -> bool {
    runs("python3", &["-c", &format!("import {module}")])
}

fn node_has(package: &str) -> bool {
    runs("node", &["--version"])
        && clients_dir()
            .join("node_modules")
            .join(package)
            .join("package.json")
            .exists()
}

/// Runs one client's scenario script against `endpoint` and checks it finished; echoes its
/// SKIP lines.
fn run_scenario(client: &str, program: &str, args: &[&str]) {
    let started = Instant::now();
    let scratch = std::env::temp_dir().join(format!("dynamo-pg-clients-{}", std::process::id()));
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(clients_dir());
    // Only the endpoint override and the keys in the scripts: no AWS settings from this machine.
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("AWS_CONFIG_FILE", scratch.join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-credentials"),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let (status, stdout, stderr) = output_within(cmd, SCENARIO_TIMEOUT)
        .unwrap_or_else(|e| panic!("{client}: could not run {program}: {e}"));
    for line in stdout.lines().filter(|l| l.starts_with("SKIP ")) {
        note(line);
    }
    assert!(
        status.is_some_and(|s| s.success()) && stdout.contains("scenario done:"),
        "{client} scenario failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        status.map_or(format!("killed after {SCENARIO_TIMEOUT:?}"), |s| s
            .to_string())
    );
    println!("{stdout}");
    println!("{client}: {:.1} s", started.elapsed().as_secs_f64());
}

/// A scenario takes seconds; one that hangs (a browser that never answers, say) is killed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cmd` to completion or until `limit`, then kills it: (exit status, or None when killed;
/// stdout; stderr).
fn output_within(
    mut cmd: Command,
    limit: Duration,
) -> std::io::Result<(Option<std::process::ExitStatus>, String, String)> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    // Its own process group, so that a timeout kills what it started too (aws, a browser).
    cmd.process_group(0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: signals the process group we created for the child.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status, out.join().unwrap(), err.join().unwrap()))
}

#[tokio::test]
async fn boto3_client() {
    if require("boto3", &[("python3 with boto3", python_has("boto3"))]) {
        run_scenario(
            "boto3",
            "python3",
            &["boto3_scenario.py", &support::endpoint().await],
        );
    }
}

#[tokio::test]
async fn boto3_resource() {
    if require(
        "boto3-resource",
        &[("python3 with boto3", python_has("boto3"))],
    ) {
        run_scenario(
            "boto3-resource",
            "python3",
            &["boto3_resource_scenario.py", &support::endpoint().await],
        );
    }
}

#[tokio::test]
async fn pynamodb() {
    if require(
        "pynamodb",
        &[("python3 with pynamodb", python_has("pynamodb"))],
    ) {
        run_scenario(
            "pynamodb",
            "python3",
            &["pynamodb_scenario.py", &support::endpoint().await],
        );
    }
}

#[tokio::test]
async fn aws_cli() {
    if require(
        "aws-cli",
        &[
            ("aws (AWS CLI)", runs("aws", &["--version"])),
            ("python3", runs("python3", &["--version"])),
        ],
    ) {
        run_scenario(
            "aws-cli",
            "bash",
            &["cli_scenario.sh", &support::endpoint().await],
        );
    }
}

#[tokio::test]
async fn js_sdk_v3() {
    if require(
        "js-sdk-v3",
        &[(
            "node with tests/clients/node_modules",
            node_has("@aws-sdk/client-dynamodb"),
        )],
    ) {
        run_scenario(
            "js-sdk-v3",
            "node",
            &["js_scenario.mjs", &support::endpoint().await],
        );
    }
}

#[tokio::test]
async fn js_document_client() {
    if require(
        "js-document-client",
        &[(
            "node with tests/clients/node_modules",
            node_has("@aws-sdk/lib-dynamodb"),
        )],
    ) {
        run_scenario(
            "js-document-client",
            "node",
            &["js_document_scenario.mjs", &support::endpoint().await],
        );
    }
}

/// dynamodb-admin in headless Chromium. It gets a server of its own: its table list describes
/// every table, and the other scenarios create and delete tables meanwhile.
#[tokio::test]
async fn dynamodb_admin() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ok = require(
        "dynamodb-admin",
        &[
            (
                "node with tests/clients/node_modules",
                node_has("dynamodb-admin") && node_has("playwright-core"),
            ),
            ("chromium", Path::new(&chromium).exists()),
        ],
    );
    if ok {
        let endpoint = support::start_server_with(&[]);
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("clients");
        run_scenario(
            "dynamodb-admin",
            "node",
            &["admin_scenario.mjs", &endpoint, shots.to_str().unwrap()],
        );
        note(&format!("dynamodb-admin screenshots: {}", shots.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// The Rust SDK.

const MAYBE_MISSING: &[&str] = &[
    "BatchWriteItem",
    "BatchGetItem",
    "TransactWriteItems",
    "TransactGetItems",
];

fn s(v: &str) -> AV {
    AV::S(v.into())
}

fn n(v: i64) -> AV {
    AV::N(v.to_string())
}

fn key(pk: &str) -> std::collections::HashMap<String, AV> {
    [("pk".to_string(), s(pk)), ("sk".to_string(), s("v1"))].into()
}

fn num(item: &std::collections::HashMap<String, AV>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// Ok(true) ran, Ok(false) skipped (the server does not know the operation yet), Err failed.
fn skipped<E: ProvideErrorMetadata + std::fmt::Debug>(step: &str, op: &str, err: E) -> bool {
    if err.code() == Some("UnknownOperationException") && MAYBE_MISSING.contains(&op) {
        note(&format!(
            "SKIP [rust-sdk] step '{step}': the server answered UnknownOperationException ({op} is not implemented yet)"
        ));
        return true;
    }
    panic!("[rust-sdk] step '{step}': {op} failed: {err:?}");
}

#[tokio::test]
async fn rust_sdk() {
    let client = support::client().await;
    let table = support::table_name("clients_rust");
    let attr = |name: &str, ty| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ty)
            .build()
            .unwrap()
    };
    let schema = |name: &str, ty| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(ty)
            .build()
            .unwrap()
    };
    // pk -> (genre, plays): what the table should hold.
    let mut model: BTreeMap<String, (String, i64)> = BTreeMap::new();

    // Create with a GSI; wait with the SDK's waiter.
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::S))
        .attribute_definitions(attr("genre", ScalarAttributeType::S))
        .attribute_definitions(attr("year", ScalarAttributeType::N))
        .key_schema(schema("pk", KeyType::Hash))
        .key_schema(schema("sk", KeyType::Range))
        .global_secondary_indexes(support::gsi(
            "byGenre",
            &[("genre", KeyType::Hash), ("year", KeyType::Range)],
            ProjectionType::All,
        ))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    let waited = client
        .wait_until_table_exists()
        .table_name(&table)
        .wait(Duration::from_secs(60))
        .await
        .expect("table_exists waiter");
    let desc = waited.into_result().expect("waiter result").table.unwrap();
    assert_eq!(desc.table_status.unwrap().as_str(), "ACTIVE");
    assert_eq!(
        desc.global_secondary_indexes.unwrap()[0].index_name(),
        Some("byGenre")
    );

    // Put.
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(
            [
                ("pk", s("rock#1")),
                ("sk", s("v1")),
                ("genre", s("rock")),
                ("year", n(1977)),
                ("plays", n(0)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ))
        .send()
        .await
        .expect("put");
    model.insert("rock#1".into(), ("rock".into(), 0));

    // Conditional update.
    let out = client
        .update_item()
        .table_name(&table)
        .set_key(Some(key("rock#1")))
        .update_expression("SET plays = plays + :one")
        .condition_expression("attribute_exists(pk) AND plays = :zero")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":zero", n(0))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .expect("conditional update");
    assert_eq!(num(out.attributes.as_ref().unwrap(), "plays"), 1);
    model.get_mut("rock#1").unwrap().1 = 1;

    // A failed condition is the typed ConditionalCheckFailedException.
    let err = client
        .update_item()
        .table_name(&table)
        .set_key(Some(key("rock#1")))
        .update_expression("SET plays = plays + :one")
        .condition_expression("plays = :zero")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":zero", n(0))
        .send()
        .await
        .expect_err("condition should fail")
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    assert_eq!(err.message(), Some("The conditional request failed"));
    let err = client
        .put_item()
        .table_name(&table)
        .set_item(Some(key("rock#1")))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("condition should fail")
        .into_service_error();
    match err {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(
                num(
                    e.item.as_ref().expect("ALL_OLD item with the failure"),
                    "plays"
                ),
                1
            );
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }

    // Batch write (30 songs), falling back to puts while BatchWriteItem is missing.
    let songs: Vec<std::collections::HashMap<String, AV>> = (0..30)
        .map(|i| {
            [
                ("pk", s(&format!("song#{i:02}"))),
                ("sk", s("v1")),
                ("genre", s("jazz")),
                ("year", n(1990 + i)),
                ("plays", n(i % 5)),
                ("title", s(&format!("Song {i}"))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        })
        .collect();
    let mut batch_ok = true;
    'batches: for chunk in songs.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        while !requests.is_empty() {
            match client
                .batch_write_item()
                .request_items(&table, requests.clone())
                .send()
                .await
            {
                Ok(out) => {
                    requests = out
                        .unprocessed_items
                        .unwrap_or_default()
                        .remove(&table)
                        .unwrap_or_default()
                }
                Err(e) => {
                    batch_ok = !skipped("batch write", "BatchWriteItem", e);
                    break 'batches;
                }
            }
        }
    }
    if !batch_ok {
        for item in &songs {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item.clone()))
                .send()
                .await
                .expect("put");
        }
    }
    for i in 0..30 {
        model.insert(format!("song#{i:02}"), ("jazz".into(), i % 5));
    }

    // Batch get.
    let keys = KeysAndAttributes::builder()
        .keys(key("song#03"))
        .keys(key("song#04"))
        .keys(key("nope"))
        .projection_expression("title")
        .build()
        .unwrap();
    match client
        .batch_get_item()
        .request_items(&table, keys)
        .send()
        .await
    {
        Ok(out) => {
            let mut titles: Vec<String> = out.responses.unwrap()[&table]
                .iter()
                .map(|i| i["title"].as_s().unwrap().clone())
                .collect();
            titles.sort();
            assert_eq!(titles, ["Song 3", "Song 4"]);
            assert!(out.unprocessed_keys.unwrap_or_default().is_empty());
        }
        Err(e) => {
            skipped("batch get", "BatchGetItem", e);
        }
    }

    // Query the GSI with the SDK's paginator.
    let mut pages = client
        .query()
        .table_name(&table)
        .index_name("byGenre")
        .key_condition_expression("genre = :g AND #y BETWEEN :lo AND :hi")
        .expression_attribute_names("#y", "year")
        .expression_attribute_values(":g", s("jazz"))
        .expression_attribute_values(":lo", n(1995))
        .expression_attribute_values(":hi", n(2014))
        .into_paginator()
        .page_size(6)
        .send();
    let (mut sizes, mut years) = (vec![], vec![]);
    while let Some(page) = pages.next().await {
        let page = page.expect("query page");
        sizes.push(page.count);
        years.extend(page.items().iter().map(|i| num(i, "year")));
    }
    assert_eq!(years, (1995..=2014).collect::<Vec<_>>());
    assert_eq!(sizes, [6, 6, 6, 2]);

    // A transaction, then one that a failed condition cancels.
    let tx = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .set_item(Some(
                            [
                                ("pk", s("txn#1")),
                                ("sk", s("v1")),
                                ("genre", s("jazz")),
                                ("year", n(2020)),
                                ("plays", n(6)),
                            ]
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                        ))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&table)
                        .set_key(Some(key("song#00")))
                        .update_expression("SET plays = plays + :ten")
                        .condition_expression("plays = :zero")
                        .expression_attribute_values(":ten", n(10))
                        .expression_attribute_values(":zero", n(0))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&table)
                        .set_key(Some(key("song#29")))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await;
    match tx {
        Ok(_) => {
            model.insert("txn#1".into(), ("jazz".into(), 6));
            model.get_mut("song#00").unwrap().1 = 10;
            model.remove("song#29");
            let err = client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&table)
                                .set_key(Some(key("song#05")))
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(
                            ConditionCheck::builder()
                                .table_name(&table)
                                .set_key(Some(key("song#01")))
                                .condition_expression("plays = :n")
                                .expression_attribute_values(":n", n(999))
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .send()
                .await
                .expect_err("the transaction should be cancelled")
                .into_service_error();
            match err {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
                    let codes: Vec<_> = e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("").to_string()).collect();
                    assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
                }
                other => panic!("expected TransactionCanceledException, got {other:?}"),
            }
            let kept = client
                .get_item()
                .table_name(&table)
                .set_key(Some(key("song#05")))
                .send()
                .await
                .unwrap();
            assert!(
                kept.item.is_some(),
                "the cancelled transaction deleted nothing"
            );
        }
        Err(e) => {
            skipped("transaction", "TransactWriteItems", e);
        }
    }

    // Scan with a filter, through the paginator.
    let mut pages = client
        .scan()
        .table_name(&table)
        .filter_expression("genre = :g AND plays >= :p")
        .expression_attribute_values(":g", s("jazz"))
        .expression_attribute_values(":p", n(3))
        .into_paginator()
        .page_size(10)
        .send();
    let (mut found, mut scanned) = (vec![], 0);
    while let Some(page) = pages.next().await {
        let page = page.expect("scan page");
        scanned += page.scanned_count;
        found.extend(page.items().iter().map(|i| i["pk"].as_s().unwrap().clone()));
    }
    found.sort();
    let want: Vec<String> = model
        .iter()
        .filter(|(_, (g, p))| g == "jazz" && *p >= 3)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(found, want);
    assert_eq!(scanned as usize, model.len());

    // Delete; wait with the SDK's waiter.
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete table");
    client
        .wait_until_table_not_exists()
        .table_name(&table)
        .wait(Duration::from_secs(60))
        .await
        .expect("table_not_exists waiter");
    let err = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect_err("table is gone")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}
