//! TransactWriteItems and TransactGetItems: isolation under concurrency (a bank of accounts
//! moved between by transactions while others read them), cancellation reasons, idempotency,
//! conflicts, limits, capacity and stream records. Through the Rust AWS SDK where a client's
//! view matters, raw HTTP elsewhere, and PostgreSQL directly to hold locks and look underneath.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue as AV, Get, ReturnValuesOnConditionCheckFailure, TransactGetItem,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde_json::{json, Value};

/// A DynamoDB request over raw HTTP: status and parsed body.
async fn ddb(op: &str, body: Value) -> (u16, Value) {
    let target = format!("DynamoDB_20120810.{op}");
    let (status, _, bytes) = support::raw(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", &target),
            ("X-Amz-Date", "20260101T000000Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A request that must succeed: its answer.
async fn ok(op: &str, body: Value) -> Value {
    let (status, answer) = ddb(op, body).await;
    assert_eq!(status, 200, "{op}: {answer}");
    answer
}

/// A request that must fail: the error's short type, its message, and its body.
async fn fails(op: &str, body: Value) -> (String, String, Value) {
    let (status, answer) = ddb(op, body).await;
    assert_eq!(status, 400, "{op}: {answer}");
    let kind = answer["__type"].as_str().unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or_default().to_string();
    let message = answer["message"]
        .as_str()
        .or(answer["Message"].as_str())
        .unwrap_or_default()
        .to_string();
    (kind, message, answer)
}

/// The codes of a TransactionCanceledException body's CancellationReasons.
fn codes(body: &Value) -> Vec<String> {
    body["CancellationReasons"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| r["Code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Creates an on-demand table with string partition key `pk`, optional sort key `sk` of type
/// `range`, and the extra `CreateTable` members in `extra`.
async fn create(prefix: &str, range: Option<&str>, extra: Value) -> String {
    let name = support::table_name(prefix);
    let mut attrs = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
    let mut keys = vec![json!({"AttributeName": "pk", "KeyType": "HASH"})];
    if let Some(ty) = range {
        attrs.push(json!({"AttributeName": "sk", "AttributeType": ty}));
        keys.push(json!({"AttributeName": "sk", "KeyType": "RANGE"}));
    }
    let mut request = json!({
        "TableName": name, "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST",
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            if k == "AttributeDefinitions" {
                attrs.extend(v.as_array().cloned().unwrap_or_default());
            } else {
                request[k] = v;
            }
        }
    }
    request["AttributeDefinitions"] = Value::Array(attrs);
    ok("CreateTable", request).await;
    name
}

fn s(v: &str) -> Value {
    json!({"S": v})
}

fn n(v: i64) -> Value {
    json!({"N": v.to_string()})
}

/// A connection to the test server's PostgreSQL.
async fn pg() -> tokio_postgres::Client {
    let (client, conn) =
        tokio_postgres::connect(&support::pg_conninfo().await, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    client
}

/// The PostgreSQL relation holding a table's items.
async fn relation(db: &tokio_postgres::Client, table: &str) -> String {
    db.query_one(
        "SELECT definition->>'pg_table' FROM dynamo_tables WHERE name = $1",
        &[&table],
    )
    .await
    .expect("catalog row")
    .get(0)
}

// ---------------------------------------------------------------------------------------------
// Isolation: the bank.

/// Accounts in the bank.
const ACCOUNTS: usize = 100;
/// What each account holds at the start.
const START_BALANCE: i64 = 1000;
/// Clients moving money between accounts with TransactWriteItems.
const TRANSFER_CLIENTS: usize = 16;
/// Clients reading pairs of accounts (and now and then all of them) with TransactGetItems.
const READ_CLIENTS: usize = 4;
/// Clients moving money inside one account (balance to savings and back) with UpdateItem.
const SINGLE_ITEM_CLIENTS: usize = 2;
/// How long the clients run.
const BANK_RUN: Duration = Duration::from_secs(8);

/// A small deterministic generator, one per client, so runs are reproducible in shape.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Two different accounts.
    fn pair(&mut self) -> (usize, usize) {
        let a = self.below(ACCOUNTS);
        let b = (a + 1 + self.below(ACCOUNTS - 1)) % ACCOUNTS;
        (a, b)
    }
}

fn account_id(n: usize) -> String {
    format!("acct{n:03}")
}

fn number(value: Option<&AV>) -> i64 {
    value
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What account `owner` has recorded in its map `field` (`sent` or `recv`) for `peer`.
fn flow(owner: &HashMap<String, AV>, field: &str, peer: &str) -> i64 {
    owner
        .get(field)
        .and_then(|m| m.as_m().ok())
        .map(|m| number(m.get(peer)))
        .unwrap_or(0)
}

/// The invariants a consistent view of two accounts satisfies: what each sent the other is what
/// the other received from it (both sides of every transfer are written by one transaction),
/// and nothing is negative. Returns the problem, if any.
fn pair_problem(a: &HashMap<String, AV>, b: &HashMap<String, AV>) -> Option<String> {
    let id = |item: &HashMap<String, AV>| {
        item.get("id")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let (ia, ib) = (id(a), id(b));
    for (x, y, ix, iy) in [(a, b, &ia, &ib), (b, a, &ib, &ia)] {
        let (sent, received) = (flow(x, "sent", iy), flow(y, "recv", ix));
        if sent != received {
            return Some(format!(
                "{ix} sent {sent} to {iy}, which received {received}"
            ));
        }
        for field in ["balance", "savings"] {
            if number(x.get(field)) < 0 {
                return Some(format!("{ix} has a negative {field}"));
            }
        }
    }
    None
}

/// The problems of a consistent view of every account: the total changed, or a pair is torn.
fn bank_problems(accounts: &[HashMap<String, AV>]) -> Vec<String> {
    let mut problems = Vec::new();
    let total: i64 = accounts
        .iter()
        .map(|a| number(a.get("balance")) + number(a.get("savings")))
        .sum();
    if total != ACCOUNTS as i64 * START_BALANCE {
        problems.push(format!("total is {total}"));
    }
    for (i, a) in accounts.iter().enumerate() {
        for b in &accounts[i + 1..] {
            problems.extend(pair_problem(a, b));
        }
    }
    problems
}

/// Every account, from one TransactGetItems.
async fn read_all(client: &Client, table: &str) -> Vec<HashMap<String, AV>> {
    let gets: Vec<TransactGetItem> = (0..ACCOUNTS)
        .map(|n| {
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name(table)
                        .key("id", AV::S(account_id(n)))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let out = client
        .transact_get_items()
        .set_transact_items(Some(gets))
        .send()
        .await
        .expect("read all accounts");
    out.responses()
        .iter()
        .map(|r| r.item().cloned().unwrap_or_default())
        .collect()
}

/// Counters of one bank run.
#[derive(Default)]
struct BankStats {
    transfers: AtomicU64,
    moved: AtomicU64,
    insufficient: AtomicU64,
    conflicts: AtomicU64,
    pair_reads: AtomicU64,
    full_reads: AtomicU64,
    single_item_writes: AtomicU64,
    problems: std::sync::Mutex<Vec<String>>,
}

impl BankStats {
    fn problem(&self, problem: String) {
        self.problems.lock().unwrap().push(problem);
    }
}

/// One transfer of `amount` from account `a` to account `b`: both sides in one transaction,
/// under the condition that `a` can pay.
async fn transfer(
    client: &Client,
    table: &str,
    a: usize,
    b: usize,
    amount: i64,
    stats: &BankStats,
) {
    let (ia, ib) = (account_id(a), account_id(b));
    let amount_value = AV::N(amount.to_string());
    let side = |id: &str, expression: &str, peer: &str, condition: Option<&str>| {
        let mut update = Update::builder()
            .table_name(table)
            .key("id", AV::S(id.to_string()))
            .update_expression(expression)
            .expression_attribute_names("#peer", peer)
            .expression_attribute_values(":amount", amount_value.clone())
            .expression_attribute_values(":zero", AV::N("0".into()));
        if let Some(condition) = condition {
            update = update.condition_expression(condition);
        }
        TransactWriteItem::builder()
            .update(update.build().unwrap())
            .build()
    };
    let result = client
        .transact_write_items()
        .transact_items(side(
            &ia,
            "SET balance = balance - :amount, sent.#peer = if_not_exists(sent.#peer, :zero) + :amount",
            &ib,
            Some("balance >= :amount"),
        ))
        .transact_items(side(
            &ib,
            "SET balance = balance + :amount, recv.#peer = if_not_exists(recv.#peer, :zero) + :amount",
            &ia,
            None,
        ))
        .send()
        .await;
    match result {
        Ok(_) => {
            stats.transfers.fetch_add(1, Ordering::Relaxed);
            stats.moved.fetch_add(amount as u64, Ordering::Relaxed);
        }
        Err(e) => match e.into_service_error() {
            TransactWriteItemsError::TransactionCanceledException(c) => {
                let codes: Vec<&str> = c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or_default())
                    .collect();
                if codes == ["ConditionalCheckFailed", "None"] {
                    stats.insufficient.fetch_add(1, Ordering::Relaxed);
                } else if codes.contains(&"TransactionConflict") {
                    stats.conflicts.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.problem(format!("unexpected cancellation {codes:?}"));
                }
            }
            other => stats.problem(format!("transfer failed: {other:?}")),
        },
    }
}

/// 16 clients move random amounts between random accounts with TransactWriteItems (each under
/// the condition that the payer can pay), 2 more move money between the balance and the
/// savings of single accounts with UpdateItem, and 4 read random pairs of accounts with
/// TransactGetItems (every tenth read, all 100 accounts). Every read must be a consistent
/// view: both sides of every transfer or neither, and, for full reads, the bank's total. At
/// the end the total is unchanged, nothing is negative, and the money recorded as sent is
/// exactly what the acknowledged transfers moved (no transfer lost or applied twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn bank_transfers_stay_consistent() {
    let endpoint = support::endpoint().await;
    let setup = support::client().await;
    let table = support::table_name("tx_bank");
    ok(
        "CreateTable",
        json!({"TableName": table, "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}),
    )
    .await;
    for n in 0..ACCOUNTS {
        setup
            .put_item()
            .table_name(&table)
            .item("id", AV::S(account_id(n)))
            .item("balance", AV::N(START_BALANCE.to_string()))
            .item("savings", AV::N("0".into()))
            .item("sent", AV::M(HashMap::new()))
            .item("recv", AV::M(HashMap::new()))
            .send()
            .await
            .unwrap();
    }

    let stats = Arc::new(BankStats::default());
    let deadline = Instant::now() + BANK_RUN;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..TRANSFER_CLIENTS {
        // No SDK retries: every answer is counted as it came.
        let client = support::client_for(&endpoint, "AKIDTEST", "secret");
        let (table, stats) = (table.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1));
            while Instant::now() < deadline {
                let (a, b) = rng.pair();
                let amount = 1 + rng.below(300) as i64;
                transfer(&client, &table, a, b, amount, &stats).await;
            }
        }));
    }
    for c in 0..SINGLE_ITEM_CLIENTS {
        let client = support::client_for(&endpoint, "AKIDTEST", "secret");
        let (table, stats) = (table.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (c as u64 + 1));
            while Instant::now() < deadline {
                let (from, to) = if rng.below(2) == 0 {
                    ("balance", "savings")
                } else {
                    ("savings", "balance")
                };
                let result = client
                    .update_item()
                    .table_name(&table)
                    .key("id", AV::S(account_id(rng.below(ACCOUNTS))))
                    .update_expression(format!("SET {from} = {from} - :x, {to} = {to} + :x"))
                    .condition_expression(format!("{from} >= :x"))
                    .expression_attribute_values(":x", AV::N((1 + rng.below(100)).to_string()))
                    .send()
                    .await;
                match result {
                    Ok(_) => {
                        stats.single_item_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.code() == Some("ConditionalCheckFailedException") => {}
                    Err(e) => stats.problem(format!("single-item write failed: {e:?}")),
                }
            }
        }));
    }
    for c in 0..READ_CLIENTS {
        let client = support::client_for(&endpoint, "AKIDTEST", "secret");
        let (table, stats) = (table.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xA076_1D64_78BD_642F ^ (c as u64 + 1));
            let mut reads = 0u64;
            while Instant::now() < deadline {
                reads += 1;
                if reads.is_multiple_of(10) {
                    let accounts = read_all(&client, &table).await;
                    for problem in bank_problems(&accounts) {
                        stats.problem(format!("full read: {problem}"));
                    }
                    stats.full_reads.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let (a, b) = rng.pair();
                let get = |n: usize| {
                    TransactGetItem::builder()
                        .get(
                            Get::builder()
                                .table_name(&table)
                                .key("id", AV::S(account_id(n)))
                                .build()
                                .unwrap(),
                        )
                        .build()
                };
                match client
                    .transact_get_items()
                    .transact_items(get(a))
                    .transact_items(get(b))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let items: Vec<HashMap<String, AV>> = out
                            .responses()
                            .iter()
                            .map(|r| r.item().cloned().unwrap_or_default())
                            .collect();
                        if let Some(problem) = pair_problem(&items[0], &items[1]) {
                            stats.problem(format!("pair read: {problem}"));
                        }
                        stats.pair_reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => stats.problem(format!("read failed: {e:?}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();

    let accounts = read_all(&setup, &table).await;
    let mut problems = stats.problems.lock().unwrap().clone();
    problems.extend(bank_problems(&accounts));
    let sent: i64 = accounts
        .iter()
        .flat_map(|a| {
            a.get("sent")
                .and_then(|m| m.as_m().ok())
                .into_iter()
                .flat_map(|m| m.values())
        })
        .map(|v| number(Some(v)))
        .sum();
    let moved = stats.moved.load(Ordering::Relaxed) as i64;
    if sent != moved {
        problems.push(format!(
            "accounts record {sent} sent, acknowledged transfers moved {moved}"
        ));
    }
    let transfers = stats.transfers.load(Ordering::Relaxed);
    println!(
        "bank: {transfers} transfers ({:.0}/s), {} refused for want of balance, {} conflicts; \
         {} single-item writes; {} pair reads and {} full reads ({:.0} reads/s); {elapsed:.1} s",
        transfers as f64 / elapsed,
        stats.insufficient.load(Ordering::Relaxed),
        stats.conflicts.load(Ordering::Relaxed),
        stats.single_item_writes.load(Ordering::Relaxed),
        stats.pair_reads.load(Ordering::Relaxed),
        stats.full_reads.load(Ordering::Relaxed),
        (stats.pair_reads.load(Ordering::Relaxed) + stats.full_reads.load(Ordering::Relaxed))
            as f64
            / elapsed,
    );
    assert!(
        problems.is_empty(),
        "{} problems, first ones: {:?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
    assert!(transfers > 0 && stats.pair_reads.load(Ordering::Relaxed) > 0);

    // No lock placeholder is left behind.
    let db = pg().await;
    let rel = relation(&db, &table).await;
    let left: i64 = db
        .query_one(&format!("SELECT count(*) FROM {rel} WHERE size < 0"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

// ---------------------------------------------------------------------------------------------
// Isolation: items that do not exist yet.

/// Write skew on absent items: each of two concurrent transactions requires the other's item
/// to be absent and creates its own. Serializable execution lets exactly one of them through,
/// every time; it takes the lock on an item that does not exist yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn absent_items_are_locked_between_transactions() {
    let table = create("tx_skew", None, json!({})).await;
    let attempt = |mine: String, other: String| {
        let table = table.clone();
        async move {
            ddb(
                "TransactWriteItems",
                json!({"TransactItems": [
                    {"ConditionCheck": {"TableName": table, "Key": {"pk": s(&other)}, "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Put": {"TableName": table, "Item": {"pk": s(&mine)}}},
                ]}),
            )
            .await
        }
    };
    for round in 0..40 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let (first, second) =
            tokio::join!(attempt(x.clone(), y.clone()), attempt(y.clone(), x.clone()));
        let wins = [&first, &second]
            .iter()
            .filter(|(status, _)| *status == 200)
            .count();
        assert_eq!(wins, 1, "round {round}: {first:?} {second:?}");
        for (status, body) in [first, second] {
            if status != 200 {
                assert_eq!(codes(&body), ["ConditionalCheckFailed", "None"], "{body}");
            }
        }
    }
}

/// A transaction that saw an item absent is ordered before a single-item write that creates
/// it: a concurrent reader that sees the single-item write also sees the transaction. (Without
/// a lock on the absent item, the PutItem could commit first, and a reader could see it
/// without the transaction that must precede it.) And two creations of one new item, one by a
/// transaction, one by PutItem, both under `attribute_not_exists`, never both succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn absent_items_are_locked_against_single_item_writes() {
    let table = create("tx_absent", None, json!({})).await;
    let client = support::client().await;
    let mut transaction_first = 0;
    for round in 0..30 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (client, table, a, b, done) = (
                client.clone(),
                table.clone(),
                a.clone(),
                b.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    let get = |k: &str| {
                        TransactGetItem::builder()
                            .get(
                                Get::builder()
                                    .table_name(&table)
                                    .key("pk", AV::S(k.to_string()))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    };
                    let out = client
                        .transact_get_items()
                        .transact_items(get(&a))
                        .transact_items(get(&b))
                        .send()
                        .await
                        .unwrap();
                    let present: Vec<bool> =
                        out.responses().iter().map(|r| r.item().is_some()).collect();
                    seen.push((present[0], present[1]));
                }
                seen
            })
        };
        let transaction = ddb(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"ConditionCheck": {"TableName": table, "Key": {"pk": s(&a)}, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table, "Item": {"pk": s(&b)}}},
            ]}),
        );
        let single = ddb(
            "PutItem",
            json!({"TableName": table, "Item": {"pk": s(&a)}}),
        );
        let ((t_status, t_body), (p_status, _)) = tokio::join!(transaction, single);
        assert_eq!(p_status, 200);
        done.store(true, Ordering::Relaxed);
        let seen = reader.await.unwrap();
        if t_status == 200 {
            transaction_first += 1;
            assert!(
                !seen.contains(&(true, false)),
                "round {round}: a reader saw the PutItem without the transaction before it"
            );
        } else {
            assert_eq!(
                codes(&t_body),
                ["ConditionalCheckFailed", "None"],
                "{t_body}"
            );
        }

        // One new item, created twice at once.
        let key = format!("new{round}");
        let by_transaction = ddb(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": table, "Item": {"pk": s(&key), "by": s("transaction")}, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table, "Item": {"pk": s(&format!("other{round}"))}}},
            ]}),
        );
        let by_put = ddb(
            "PutItem",
            json!({"TableName": table, "Item": {"pk": s(&key), "by": s("put")}, "ConditionExpression": "attribute_not_exists(pk)"}),
        );
        let ((t, _), (p, _)) = tokio::join!(by_transaction, by_put);
        assert_eq!(
            [t, p].iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {t} {p}"
        );
    }
    println!("absent items: the transaction came first in {transaction_first} of 30 rounds");
}

// ---------------------------------------------------------------------------------------------
// Cancellation, through the SDK.

/// The SDK reads every cancellation reason, in action order, with the item when asked; nothing
/// of a cancelled transaction is applied.
#[tokio::test]
async fn cancellation_reasons_through_the_sdk() {
    let client = support::client().await;
    let table = create("tx_reasons", None, json!({})).await;
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("a"), "v": n(1)}}),
    )
    .await;
    let update = |key: &str, condition: &str, old: bool| {
        let mut u = Update::builder()
            .table_name(&table)
            .key("pk", AV::S(key.into()))
            .update_expression("SET v = :two")
            .condition_expression(condition)
            .expression_attribute_values(":two", AV::N("2".into()));
        if old {
            u = u.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        TransactWriteItem::builder()
            .update(u.build().unwrap())
            .build()
    };
    let err = client
        .transact_write_items()
        .transact_items(update("new", "attribute_not_exists(pk)", false))
        .transact_items(update("a", "v = :two", true))
        .transact_items(update("b", "attribute_exists(pk)", true))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let TransactWriteItemsError::TransactionCanceledException(canceled) = err else {
        panic!("expected a cancellation, got {err:?}");
    };
    assert_eq!(
        canceled.message(),
        Some("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ConditionalCheckFailed]")
    );
    let reasons = canceled.cancellation_reasons();
    assert_eq!(reasons.len(), 3);
    assert_eq!(reasons[0].code(), Some("None"));
    assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
    assert_eq!(reasons[1].message(), Some("The conditional request failed"));
    let item = reasons[1].item().expect("the item, as asked");
    assert_eq!(item.get("v"), Some(&AV::N("1".into())));
    assert!(reasons[2].item().is_none(), "no item to return");
    let found = ok(
        "GetItem",
        json!({"TableName": table, "Key": {"pk": s("new")}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(found, json!({}), "a cancelled transaction applies nothing");
}

/// Runtime errors of an update (an operand missing from the item, a result over 400 KB) are the
/// action's ValidationError reason, as the service documents them.
#[tokio::test]
async fn update_errors_are_cancellation_reasons() {
    let table = create("tx_update_errors", None, json!({})).await;
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("grow"), "d": s(&"z".repeat(300 * 1024))}}),
    )
    .await;
    let (kind, _, body) = fails(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Update": {"TableName": table, "Key": {"pk": s("grow")}, "UpdateExpression": "SET e = :e",
                        "ExpressionAttributeValues": {":e": s(&"w".repeat(200 * 1024))}}},
            {"Update": {"TableName": table, "Key": {"pk": s("x")}, "UpdateExpression": "SET v = nothere + :one",
                        "ExpressionAttributeValues": {":one": n(1)}}},
        ]}),
    )
    .await;
    assert_eq!(kind, "TransactionCanceledException");
    assert_eq!(
        body["CancellationReasons"],
        json!([
            {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"},
            {"Code": "ValidationError", "Message": "The provided expression refers to an attribute that does not exist in the item"},
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Idempotency.

/// A repeat within the window applies nothing and reports read capacity; another request with
/// the token is refused; a cancelled transaction does not use its token up.
#[tokio::test]
async fn client_request_tokens() {
    let client = support::client().await;
    let table = create("tx_tokens", None, json!({})).await;
    let increment = |by: &str| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&table)
                    .key("pk", AV::S("counter".into()))
                    .update_expression("ADD c :by")
                    .expression_attribute_values(":by", AV::N(by.into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let token = format!("token-{}", std::process::id());
    for _ in 0..3 {
        let out = client
            .transact_write_items()
            .client_request_token(&token)
            .transact_items(increment("1"))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert_eq!(out.consumed_capacity().len(), 1);
    }
    let counter = ok(
        "GetItem",
        json!({"TableName": table, "Key": {"pk": s("counter")}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(counter["Item"]["c"], n(1), "applied once");

    // The first answer reports the write (2 units); a repeat, the read of the item (1 unit).
    let request = |token: &str| {
        json!({"ClientRequestToken": token, "ReturnConsumedCapacity": "TOTAL", "TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": s("p"), "v": n(1)}}},
        ]})
    };
    let other = format!("other-{}", std::process::id());
    let first = ok("TransactWriteItems", request(&other)).await;
    assert_eq!(first["ConsumedCapacity"][0]["CapacityUnits"], json!(2.0));
    let repeat = ok("TransactWriteItems", request(&other)).await;
    assert_eq!(repeat["ConsumedCapacity"][0]["CapacityUnits"], json!(1.0));

    let err = client
        .transact_write_items()
        .client_request_token(&token)
        .transact_items(increment("2"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            TransactWriteItemsError::IdempotentParameterMismatchException(_)
        ),
        "{err:?}"
    );

    // A cancelled transaction leaves its token free.
    let gated = |token: &str| {
        json!({"ClientRequestToken": token, "TransactItems": [
            {"ConditionCheck": {"TableName": table, "Key": {"pk": s("gate")}, "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": table, "Key": {"pk": s("gated")}, "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": n(1)}}},
        ]})
    };
    let gated_token = format!("gated-{}", std::process::id());
    let (kind, _, _) = fails("TransactWriteItems", gated(&gated_token)).await;
    assert_eq!(kind, "TransactionCanceledException");
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("gate")}}),
    )
    .await;
    ok("TransactWriteItems", gated(&gated_token)).await;
    ok("TransactWriteItems", gated(&gated_token)).await;
    let gated_item = ok(
        "GetItem",
        json!({"TableName": table, "Key": {"pk": s("gated")}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(gated_item["Item"]["c"], n(1));

    // A token past its 10 minutes is a new request.
    let db = pg().await;
    db.execute(
        "UPDATE dynamo_transaction_tokens SET created_at = created_at - interval '11 minutes' WHERE token = $1",
        &[&token],
    )
    .await
    .unwrap();
    client
        .transact_write_items()
        .client_request_token(&token)
        .transact_items(increment("2"))
        .send()
        .await
        .unwrap();
    let counter = ok(
        "GetItem",
        json!({"TableName": table, "Key": {"pk": s("counter")}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(counter["Item"]["c"], n(3));
}

/// Eight concurrent sends of one request with one token: every one succeeds, the writes are
/// applied once (the repeats wait for the first to commit, then find its token).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_repeats_of_a_token_apply_once() {
    let table = create("tx_twins", None, json!({})).await;
    for round in 0..5 {
        let request = json!({"ClientRequestToken": format!("twin-{}-{round}", std::process::id()), "TransactItems": [
            {"Update": {"TableName": table, "Key": {"pk": s(&format!("c{round}"))}, "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": n(1)}}},
            {"Update": {"TableName": table, "Key": {"pk": s(&format!("d{round}"))}, "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": n(1)}}},
        ]});
        let sends: Vec<_> = (0..8)
            .map(|_| tokio::spawn(ddb("TransactWriteItems", request.clone())))
            .collect();
        for send in sends {
            let (status, body) = send.await.unwrap();
            assert_eq!(status, 200, "{body}");
        }
        for key in [format!("c{round}"), format!("d{round}")] {
            let item = ok(
                "GetItem",
                json!({"TableName": table, "Key": {"pk": s(&key)}, "ConsistentRead": true}),
            )
            .await;
            assert_eq!(item["Item"]["c"], n(1), "round {round}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conflicts.

/// An item locked for longer than the lock timeout (here by a session holding its row) ends
/// the transaction with a TransactionConflict reason on that item; a token whose first request
/// is still running answers TransactionInProgressException. Both leave nothing behind.
#[tokio::test]
async fn conflicts_and_tokens_in_progress() {
    let table = create("tx_conflict", None, json!({})).await;
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("busy"), "v": n(1)}}),
    )
    .await;
    let mut db = pg().await;
    let rel = relation(&db, &table).await;

    let holder = db.transaction().await.unwrap();
    holder
        .execute(
            &format!("SELECT 1 FROM {rel} WHERE pk = convert_to('busy', 'UTF8') FOR UPDATE"),
            &[],
        )
        .await
        .unwrap();
    let started = Instant::now();
    let (kind, message, body) = fails(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": s("free")}}},
            {"Update": {"TableName": table, "Key": {"pk": s("busy")}, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": n(2)}}},
        ]}),
    )
    .await;
    let waited = started.elapsed();
    holder.rollback().await.unwrap();
    assert_eq!(kind, "TransactionCanceledException");
    assert_eq!(
        message,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]"
    );
    assert_eq!(
        body["CancellationReasons"][1]["Message"],
        "Transaction is ongoing for the item"
    );
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let free = ok(
        "GetItem",
        json!({"TableName": table, "Key": {"pk": s("free")}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(free, json!({}));

    // A token row being written by another session.
    let token = format!("busy-{}", std::process::id());
    let holder = db.transaction().await.unwrap();
    holder
        .execute(
            "INSERT INTO dynamo_transaction_tokens (namespace, token, request_hash, created_at) VALUES ('default', $1, '\\x00', now())",
            &[&token],
        )
        .await
        .unwrap();
    let request = json!({"ClientRequestToken": token, "TransactItems": [
        {"Put": {"TableName": table, "Item": {"pk": s("tokened")}}},
    ]});
    let (kind, _, _) = fails("TransactWriteItems", request.clone()).await;
    holder.rollback().await.unwrap();
    assert_eq!(kind, "TransactionInProgressException");
    ok("TransactWriteItems", request).await;

    let left: i64 = db
        .query_one(&format!("SELECT count(*) FROM {rel} WHERE size < 0"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "no lock placeholder is left behind");
}

// ---------------------------------------------------------------------------------------------
// Limits.

/// 100 actions are accepted and 101 refused; a Put item over 400 KB is refused; the request's
/// payload may reach 4 MB and not a byte more (DynamoDB Local's sizes, to the byte); two
/// actions on one item are refused.
#[tokio::test]
async fn limits() {
    let table = create("tx_limits", None, json!({})).await;
    let puts = |count: usize| -> Vec<Value> {
        (0..count)
            .map(|i| json!({"Put": {"TableName": table, "Item": {"pk": s(&format!("i{i}"))}}}))
            .collect()
    };
    ok("TransactWriteItems", json!({"TransactItems": puts(100)})).await;
    let (kind, message, _) = fails("TransactWriteItems", json!({"TransactItems": puts(101)})).await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.starts_with("1 validation error detected: Value '["),
        "{message}"
    );
    assert!(
        message.ends_with("at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100"),
        "{message}"
    );

    let big = json!({"Put": {"TableName": table, "Item": {"pk": s("big"), "d": s(&"x".repeat(400 * 1024))}}});
    let (_, message, _) = fails("TransactWriteItems", json!({"TransactItems": [big]})).await;
    assert_eq!(message, "Item size has exceeded the maximum allowed size");

    // Eleven items of 390 KB: the running total passes 4 MB at the eleventh.
    let items: Vec<Value> = (0..11)
        .map(|i| json!({"Put": {"TableName": table, "Item": {"pk": s(&format!("agg{i}")), "d": s(&"y".repeat(390 * 1024))}}}))
        .collect();
    let (_, message, _) = fails("TransactWriteItems", json!({"TransactItems": items})).await;
    assert_eq!(
        message,
        "Transaction payload size cannot exceed 4MB. Payload Size: 4393038"
    );
    // Keys, expressions, names and values count too.
    let updates: Vec<Value> = (0..11)
        .map(|i| json!({"Update": {"TableName": table, "Key": {"pk": s(&format!("u{i}"))}, "UpdateExpression": "SET #n = :e",
                                  "ConditionExpression": "attribute_exists(#m)", "ExpressionAttributeNames": {"#n": "eeeee", "#m": "ff"},
                                  "ExpressionAttributeValues": {":e": s(&"w".repeat(390 * 1024))}}}))
        .collect();
    let (_, message, _) = fails("TransactWriteItems", json!({"TransactItems": updates})).await;
    assert_eq!(
        message,
        "Transaction payload size cannot exceed 4MB. Payload Size: 4393423"
    );
    // Exactly 4 MB passes; one byte more does not.
    let limit = 4 * 1024 * 1024;
    let mut items = Vec::new();
    let (mut total, mut last) = (0, 0);
    for i in 0..11 {
        let pk = format!("p{i:02}");
        let fixed = pk.len() + "pk".len() + "d".len();
        last = if i < 10 {
            limit / 11 - fixed
        } else {
            limit - total - fixed
        };
        total += fixed + last;
        items.push(
            json!({"Put": {"TableName": table, "Item": {"pk": s(&pk), "d": s(&"v".repeat(last))}}}),
        );
    }
    assert_eq!(total, limit);
    ok(
        "TransactWriteItems",
        json!({"TransactItems": items.clone()}),
    )
    .await;
    items[10]["Put"]["Item"]["d"]["S"] = json!("v".repeat(last + 1));
    let (_, message, _) = fails("TransactWriteItems", json!({"TransactItems": items})).await;
    assert_eq!(
        message,
        "Transaction payload size cannot exceed 4MB. Payload Size: 4194305"
    );

    // A TransactGetItems answer is limited to 4 MB too (each item counts 4 bytes more).
    let gets: Vec<Value> = (0..11)
        .map(|i| json!({"Get": {"TableName": table, "Key": {"pk": s(&format!("p{i:02}"))}}}))
        .collect();
    let (kind, message, _) = fails("TransactGetItems", json!({"TransactItems": gets})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        (
            "ValidationException",
            "Payload in response is too large.4194348"
        )
    );
    let gets: Vec<Value> = (0..11)
        .map(|i| json!({"Get": {"TableName": table, "Key": {"pk": s(&format!("p{i:02}"))}, "ProjectionExpression": "d"}}))
        .collect();
    ok("TransactGetItems", json!({"TransactItems": gets})).await;

    let (_, message, _) = fails(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Delete": {"TableName": table, "Key": {"pk": s("i1")}}},
            {"Update": {"TableName": table, "Key": {"pk": s("i1")}, "UpdateExpression": "REMOVE x"}},
        ]}),
    )
    .await;
    assert_eq!(
        message,
        "Transaction request cannot include multiple operations on one item"
    );
}

// ---------------------------------------------------------------------------------------------
// Capacity, item collections, streams.

/// ConsumedCapacity: writes cost twice what the single-item operation costs, on the table and
/// each index; a ConditionCheck costs a transactional read; a TransactGetItems costs two read
/// units per 4 KB of each item, found or not. ItemCollectionMetrics covers the written item
/// collections of tables with local secondary indexes.
#[tokio::test]
async fn capacity_and_item_collections() {
    let indexed = create(
        "tx_cap_idx",
        Some("S"),
        json!({
            "AttributeDefinitions": [{"AttributeName": "g", "AttributeType": "S"}, {"AttributeName": "l", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}],
            "LocalSecondaryIndexes": [{"IndexName": "by_l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}],
        }),
    )
    .await;
    let plain = create("tx_cap_plain", None, json!({})).await;
    ok(
        "PutItem",
        json!({"TableName": plain, "Item": {"pk": s("c"), "d": s(&"x".repeat(5000))}}),
    )
    .await;
    let out = ok(
        "TransactWriteItems",
        json!({"ReturnConsumedCapacity": "INDEXES", "ReturnItemCollectionMetrics": "SIZE", "TransactItems": [
            {"Put": {"TableName": indexed, "Item": {"pk": s("p"), "sk": s("1"), "g": s("g1"), "l": s("l1")}}},
            {"Update": {"TableName": indexed, "Key": {"pk": s("p"), "sk": s("2")}, "UpdateExpression": "SET g = :g", "ExpressionAttributeValues": {":g": s("g2")}}},
            {"Put": {"TableName": plain, "Item": {"pk": s("a"), "d": s(&"x".repeat(1500))}}},
            {"ConditionCheck": {"TableName": plain, "Key": {"pk": s("c")}, "ConditionExpression": "attribute_exists(pk)"}},
        ]}),
    )
    .await;
    assert_eq!(
        out["ConsumedCapacity"],
        json!([
            {"TableName": indexed, "CapacityUnits": 10.0, "Table": {"CapacityUnits": 4.0},
             "LocalSecondaryIndexes": {"by_l": {"CapacityUnits": 2.0}}, "GlobalSecondaryIndexes": {"by_g": {"CapacityUnits": 4.0}}},
            // A 1.5 KB put (2 units, doubled) and a check of a 5 KB item (2 read units, doubled).
            {"TableName": plain, "CapacityUnits": 8.0, "Table": {"CapacityUnits": 8.0}},
        ])
    );
    let metrics = &out["ItemCollectionMetrics"];
    assert_eq!(
        metrics,
        &json!({indexed.clone(): [{"ItemCollectionKey": {"pk": s("p")}, "SizeEstimateRangeGB": [0.0, 1.0]}]})
    );

    let out = ok(
        "TransactGetItems",
        json!({"ReturnConsumedCapacity": "TOTAL", "TransactItems": [
            {"Get": {"TableName": plain, "Key": {"pk": s("c")}, "ProjectionExpression": "pk"}},
            {"Get": {"TableName": plain, "Key": {"pk": s("missing")}}},
            {"Get": {"TableName": indexed, "Key": {"pk": s("p"), "sk": s("1")}}},
        ]}),
    )
    .await;
    assert_eq!(
        out["ConsumedCapacity"],
        json!([{"TableName": plain, "CapacityUnits": 6.0}, {"TableName": indexed, "CapacityUnits": 2.0}])
    );
    assert_eq!(out["Responses"][0], json!({"Item": {"pk": s("c")}}));
    assert_eq!(out["Responses"][1], json!({}));
}

/// A transaction on a table with a stream leaves one record per item it changed, in the same
/// PostgreSQL transaction; a ConditionCheck, a delete of a missing item and a cancelled
/// transaction leave none. DescribeTable counts exactly the items that exist.
#[tokio::test]
async fn stream_records_and_item_counts() {
    let table = create(
        "tx_stream",
        None,
        json!({"StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
    )
    .await;
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("old"), "v": n(1)}}),
    )
    .await;
    ok(
        "PutItem",
        json!({"TableName": table, "Item": {"pk": s("gone"), "v": n(1)}}),
    )
    .await;
    ok(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": s("new"), "v": n(1)}}},
            {"Update": {"TableName": table, "Key": {"pk": s("old")}, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": n(2)}}},
            {"Delete": {"TableName": table, "Key": {"pk": s("gone")}}},
            {"Delete": {"TableName": table, "Key": {"pk": s("never")}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": s("absent")}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]}),
    )
    .await;
    fails(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": s("no")}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": s("absent")}, "ConditionExpression": "attribute_exists(pk)"}},
        ]}),
    )
    .await;
    let db = pg().await;
    let rows = db
        .query(
            "SELECT r.record FROM dynamo_stream_records r JOIN dynamo_streams s USING (stream_id) \
             WHERE s.table_name = $1 ORDER BY r.shard, r.seq",
            &[&table],
        )
        .await
        .unwrap();
    let mut events: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            let record: Value = serde_json::from_str(row.get::<_, &str>(0)).unwrap();
            let key = record["dynamodb"]["Keys"]["pk"]["S"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (
                key,
                record["eventName"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("gone", "INSERT"),
            ("gone", "REMOVE"),
            ("new", "INSERT"),
            ("old", "INSERT"),
            ("old", "MODIFY")
        ]
        .map(|(k, e)| (k.to_string(), e.to_string()))
    );
    let description = ok("DescribeTable", json!({"TableName": table})).await;
    assert_eq!(description["Table"]["ItemCount"], json!(2));
}
