//! GetItem under concurrency: reads that arrive together share a statement (storage/
//! point_reads.rs). Every reader must still get exactly its own item, a missing key must stay
//! missing, a reader that sees a write acknowledged before it began must see it, and readers
//! whose clients hang up mid-request must not leave the others waiting.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use support::{client, endpoint, metric, pk_table};

/// Items in the table; keys `k0`..`k{ITEMS-1}`, plus keys that do not exist.
const ITEMS: usize = 200;

fn key(n: usize) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(format!("k{}", n % 50))),
        ("sk".to_string(), AttributeValue::N(n.to_string())),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_get_items_each_get_their_own_item() {
    let client = client().await;
    let table = pk_table(&client, "point", Some(ScalarAttributeType::N)).await;
    for n in 0..ITEMS {
        let mut item = key(n);
        item.insert("v".into(), AttributeValue::S(format!("value {n}")));
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    let statements = metric("dynamo_pg_point_read_statements_total").await;
    let keys = metric("dynamo_pg_point_read_keys_total").await;

    // 64 readers, 40 reads each, a fifth of them of keys that do not exist, many of the same
    // key at the same time.
    support::concurrently(64, |reader| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for i in 0..40usize {
                let n = (reader * 7 + i * 13) % (ITEMS + ITEMS / 4);
                let got = client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(key(n)))
                    .consistent_read(i % 2 == 0)
                    .send()
                    .await
                    .expect("get");
                match got.item() {
                    Some(item) if n < ITEMS => {
                        assert_eq!(
                            item.get("v"),
                            Some(&AttributeValue::S(format!("value {n}")))
                        );
                        assert_eq!(item.get("sk"), Some(&AttributeValue::N(n.to_string())));
                    }
                    None if n >= ITEMS => {}
                    other => panic!("key {n}: got {other:?}"),
                }
            }
        }
    })
    .await;

    // The reads were shared: fewer statements than keys (2,560 reads, at most two statements
    // at a time on a 2-core machine).
    let statements = metric("dynamo_pg_point_read_statements_total").await - statements;
    let keys = metric("dynamo_pg_point_read_keys_total").await - keys;
    // (Other tests of this binary may read at the same time.)
    assert!(keys >= 64.0 * 40.0, "every GetItem is counted");
    assert!(
        statements < keys,
        "concurrent GetItems should share statements: {statements} statements for {keys} keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_sees_every_write_acknowledged_before_it() {
    let client = client().await;
    let table = pk_table(&client, "point_fresh", None).await;
    // Writers bump their own counter and then read it back among many concurrent readers: the
    // read, batched or not, must never be older than the write it follows.
    support::concurrently(16, |writer| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let pk = AttributeValue::S(format!("w{writer}"));
            for version in 0..30u32 {
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", pk.clone())
                    .item("version", AttributeValue::N(version.to_string()))
                    .send()
                    .await
                    .expect("put");
                let got = client
                    .get_item()
                    .table_name(&table)
                    .key("pk", pk.clone())
                    .send()
                    .await
                    .expect("get");
                assert_eq!(
                    got.item().and_then(|i| i.get("version")),
                    Some(&AttributeValue::N(version.to_string())),
                    "writer {writer} read an older version"
                );
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_that_hang_up_do_not_stall_the_others() {
    use tokio::io::AsyncWriteExt;
    let client = client().await;
    let table = pk_table(&client, "point_hangup", None).await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .expect("put");
    let addr = endpoint().await.trim_start_matches("http://").to_string();
    let body = serde_json::json!({"TableName": table, "Key": {"pk": {"S": "a"}}}).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.GetItem\r\nX-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Rounds of readers that send a GetItem and hang up at once, mixed with readers that wait
    // for their answer; every waiting reader must be answered.
    for _ in 0..10 {
        let mut tasks = Vec::new();
        for n in 0..32 {
            let addr = addr.clone();
            let request = request.clone();
            let client = client.clone();
            let table = table.clone();
            tasks.push(tokio::spawn(async move {
                if n % 2 == 0 {
                    let mut stream = tokio::net::TcpStream::connect(&addr)
                        .await
                        .expect("connect");
                    stream.write_all(request.as_bytes()).await.expect("write");
                    drop(stream);
                } else {
                    let got = tokio::time::timeout(
                        Duration::from_secs(10),
                        client
                            .get_item()
                            .table_name(&table)
                            .key("pk", AttributeValue::S("a".into()))
                            .send(),
                    )
                    .await
                    .expect("a GetItem was left waiting")
                    .expect("get");
                    assert!(got.item().is_some());
                }
            }));
        }
        for task in tasks {
            task.await.expect("reader");
        }
    }
}
