//! PutItem under concurrency: puts to one table that arrive together share a statement and a
//! commit (storage/puts.rs). Every put must still be written and acknowledged only once it is,
//! puts of one item must leave the last of them, and shared statements must queue behind
//! BatchWriteItem and TransactWriteItems on the same items instead of failing.

mod support;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, PutRequest, ScalarAttributeType, TransactWriteItem, Update, WriteRequest,
};
use support::{client, metric, pk_table};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_are_each_written() {
    let client = client().await;
    let table = pk_table(&client, "puts", Some(ScalarAttributeType::N)).await;
    let statements = metric("dynamo_pg_put_statements_total").await;
    let puts = metric("dynamo_pg_put_items_total").await;

    // 48 writers, 30 items each, every put answered before the writer's next.
    support::concurrently(48, |writer| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for i in 0..30usize {
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", s(format!("w{writer}")))
                    .item("sk", n(i))
                    .item("payload", s(format!("{writer}:{i}:{}", "x".repeat(i * 10))))
                    .send()
                    .await
                    .expect("put");
            }
        }
    })
    .await;

    for writer in 0..48usize {
        let items = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("w{writer}")))
            .send()
            .await
            .expect("query")
            .items
            .unwrap_or_default();
        assert_eq!(items.len(), 30, "writer {writer}'s items");
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.get("sk"), Some(&n(i)));
            assert_eq!(
                item.get("payload"),
                Some(&s(format!("{writer}:{i}:{}", "x".repeat(i * 10))))
            );
        }
    }

    // The puts were shared: fewer statements than puts (1,440 puts, at most a statement per
    // request thread at a time).
    let statements = metric("dynamo_pg_put_statements_total").await - statements;
    let puts = metric("dynamo_pg_put_items_total").await - puts;
    // (Other tests of this binary may write at the same time.)
    assert!(puts >= 48.0 * 30.0, "every PutItem is counted");
    assert!(
        statements < puts,
        "concurrent PutItems should share statements: {statements} statements for {puts} puts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn puts_of_one_item_at_once_leave_the_last_of_them() {
    let client = client().await;
    let table = pk_table(&client, "puts_same", None).await;
    support::concurrently(32, |writer| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for seq in 0..20usize {
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", s("same"))
                    .item("writer", n(writer))
                    .item("seq", n(seq))
                    .send()
                    .await
                    .expect("put");
            }
        }
    })
    .await;
    // The last write of all is some writer's last.
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", s("same"))
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
        .expect("the item");
    assert_eq!(item.get("seq"), Some(&n(19)), "{item:?}");
    assert_eq!(item.len(), 3, "{item:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_puts_queue_with_batch_writes_and_transactions() {
    let client = client().await;
    let table = pk_table(&client, "puts_locks", None).await;
    const KEYS: usize = 8;
    const ROUNDS: usize = 25;
    // Puts of the shared keys in every order, batches of them all (highest first), and
    // transactions that put half of them and count themselves on an item of their own.
    let puts = support::concurrently(16, |writer| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for round in 0..ROUNDS {
                let k = (writer + round * 3) % KEYS;
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", s(format!("k{k}")))
                    .item("by", s("put"))
                    .send()
                    .await
                    .expect("put");
            }
        }
    });
    let batches = support::concurrently(3, |_| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for _ in 0..ROUNDS {
                let writes = (0..KEYS)
                    .rev()
                    .map(|k| {
                        let put = PutRequest::builder()
                            .item("pk", s(format!("k{k}")))
                            .item("by", s("batch"))
                            .build()
                            .expect("put request");
                        WriteRequest::builder().put_request(put).build()
                    })
                    .collect::<Vec<_>>();
                let out = client
                    .batch_write_item()
                    .request_items(&table, writes)
                    .send()
                    .await
                    .expect("batch write");
                assert!(out.unprocessed_items.unwrap_or_default().is_empty());
            }
        }
    });
    let transactions = 3 * ROUNDS;
    let transacts = support::concurrently(3, |_| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            for _ in 0..ROUNDS {
                let mut items: Vec<TransactWriteItem> = (0..KEYS / 2)
                    .rev()
                    .map(|k| {
                        let put = Put::builder()
                            .table_name(&table)
                            .item("pk", s(format!("k{k}")))
                            .item("by", s("transaction"))
                            .build()
                            .expect("put");
                        TransactWriteItem::builder().put(put).build()
                    })
                    .collect();
                let count = Update::builder()
                    .table_name(&table)
                    .key("pk", s("count"))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", n(1))
                    .build()
                    .expect("update");
                items.push(TransactWriteItem::builder().update(count).build());
                client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                    .expect("transaction");
            }
        }
    });
    tokio::join!(puts, batches, transacts);
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("count"))
        .send()
        .await
        .expect("get")
        .item
        .unwrap_or_default();
    assert_eq!(got.get("n"), Some(&n(transactions)));
    for k in 0..KEYS {
        let item: HashMap<String, AttributeValue> = client
            .get_item()
            .table_name(&table)
            .key("pk", s(format!("k{k}")))
            .send()
            .await
            .expect("get")
            .item
            .expect("every shared key is written");
        assert!(matches!(item.get("by"), Some(AttributeValue::S(_))));
    }
}
