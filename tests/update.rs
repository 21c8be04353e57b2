//! UpdateItem and conditional writes through the Rust SDK, including the concurrency proofs:
//! conditional increments never lose an update, and only one `attribute_not_exists` creator
//! wins.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

fn s(v: &str) -> AV {
    AV::S(v.into())
}

/// The item stored under `pk`, read strongly consistently.
async fn stored(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: AV,
) -> Option<std::collections::HashMap<String, AV>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", pk)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn n(v: &str) -> AV {
    AV::N(v.into())
}

#[tokio::test]
async fn update_creates_sets_adds_removes_and_returns_values() {
    let client = support::client().await;
    let name = support::pk_table(&client, "update_basic", None).await;
    let created = client
        .update_item()
        .table_name(&name)
        .key("pk", s("a"))
        .update_expression("SET #n = :one, tags = :tags, doc = :doc ADD hits :one")
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":tags", AV::Ss(vec!["x".into()]))
        .expression_attribute_values(
            ":doc",
            AV::M([("xs".to_string(), AV::L(vec![n("1")]))].into()),
        )
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let item = created.attributes.unwrap();
    assert_eq!(item["count"], n("1"));
    assert_eq!(item["hits"], n("1"));
    assert_eq!(item["pk"], s("a"));

    let updated = client
        .update_item()
        .table_name(&name)
        .key("pk", s("a"))
        .update_expression("SET #n = #n + :two, doc.xs[5] = :two REMOVE hits ADD tags :more")
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":two", n("2"))
        .expression_attribute_values(":more", AV::Ss(vec!["y".into()]))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    let old = updated.attributes.unwrap();
    assert_eq!(old["count"], n("1"));
    assert_eq!(old["hits"], n("1"));

    let item = stored(&client, &name, s("a")).await.unwrap();
    assert_eq!(item["count"], n("3"));
    assert!(!item.contains_key("hits"));
    // An index past the end of a list appends.
    assert_eq!(
        item["doc"].as_m().unwrap()["xs"],
        AV::L(vec![n("1"), n("2")])
    );
    let mut tags = item["tags"].as_ss().unwrap().clone();
    tags.sort();
    assert_eq!(tags, vec!["x".to_string(), "y".to_string()]);

    let projected = client
        .get_item()
        .table_name(&name)
        .key("pk", s("a"))
        .projection_expression("doc.xs[1], #n")
        .expression_attribute_names("#n", "count")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(projected.len(), 2);
    assert_eq!(projected["doc"].as_m().unwrap()["xs"], AV::L(vec![n("2")]));
}

#[tokio::test]
async fn failed_conditions_change_nothing_and_can_return_the_item() {
    let client = support::client().await;
    let name = support::pk_table(&client, "update_condition", None).await;
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("k"))
        .item("v", n("1"))
        .send()
        .await
        .unwrap();
    let err = client
        .update_item()
        .table_name(&name)
        .key("pk", s("k"))
        .update_expression("SET v = :two")
        .condition_expression("v = :zero")
        .expression_attribute_values(":two", n("2"))
        .expression_attribute_values(":zero", n("0"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    let aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
        e,
    ) = err
    else {
        unreachable!()
    };
    assert_eq!(e.item.unwrap()["v"], n("1"));
    let item = stored(&client, &name, s("k")).await.unwrap();
    assert_eq!(item["v"], n("1"));

    // PutItem and DeleteItem take conditions too.
    let err = client
        .put_item()
        .table_name(&name)
        .item("pk", s("k"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_conditional_check_failed_exception());
    let err = client
        .delete_item()
        .table_name(&name)
        .key("pk", s("k"))
        .condition_expression("v > :ten")
        .expression_attribute_values(":ten", n("10"))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_conditional_check_failed_exception());
    assert!(stored(&client, &name, s("k")).await.is_some());
}

/// 32 clients, 200 increments each, every one a conditional UpdateItem whose condition reads
/// the old value: the total is exact only if each read-check-write is atomic.
#[tokio::test]
async fn conditional_increments_never_lose_an_update() {
    const CLIENTS: usize = 32;
    const INCREMENTS: usize = 200;
    let client = support::client().await;
    let name = support::pk_table(&client, "update_counter", None).await;
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("counter"))
        .item("n", n("0"))
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = client.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                client
                    .update_item()
                    .table_name(&name)
                    .key("pk", s("counter"))
                    .update_expression("SET n = n + :one")
                    .condition_expression("attribute_exists(pk) AND n < :limit")
                    .expression_attribute_values(":one", n("1"))
                    .expression_attribute_values(":limit", n(&(CLIENTS * INCREMENTS).to_string()))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let item = stored(&client, &name, s("counter")).await;
    assert_eq!(item.unwrap()["n"], n(&(CLIENTS * INCREMENTS).to_string()));
    // The limit is reached exactly: one more increment fails its condition.
    let err = client
        .update_item()
        .table_name(&name)
        .key("pk", s("counter"))
        .update_expression("SET n = n + :one")
        .condition_expression("n < :limit")
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":limit", n(&(CLIENTS * INCREMENTS).to_string()))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_conditional_check_failed_exception());
}

/// Compare-and-set increments: each client reads the value (from the failure's ALL_OLD item
/// when it loses), and retries until its write of `seen + 1` under `n = :seen` succeeds.
#[tokio::test]
async fn compare_and_set_retries_converge_on_the_exact_count() {
    const CLIENTS: usize = 8;
    const INCREMENTS: usize = 25;
    let client = support::client().await;
    let name = support::pk_table(&client, "update_cas", None).await;
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("cas"))
        .item("n", n("0"))
        .send()
        .await
        .unwrap();
    let retries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = client.clone();
        let name = name.clone();
        let retries = retries.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen: u64 = 0;
            let mut done = 0;
            while done < INCREMENTS {
                let result = client
                    .update_item()
                    .table_name(&name)
                    .key("pk", s("cas"))
                    .update_expression("SET n = :next")
                    .condition_expression("n = :seen")
                    .expression_attribute_values(":next", n(&(seen + 1).to_string()))
                    .expression_attribute_values(":seen", n(&seen.to_string()))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send()
                    .await;
                match result {
                    Ok(_) => {
                        done += 1;
                        seen += 1;
                    }
                    Err(e) => match e.into_service_error() {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                            failure,
                        ) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            seen = failure.item.unwrap()["n"].as_n().unwrap().parse().unwrap();
                        }
                        other => panic!("unexpected error: {other:?}"),
                    },
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let item = stored(&client, &name, s("cas")).await;
    assert_eq!(item.unwrap()["n"], n(&(CLIENTS * INCREMENTS).to_string()));
    assert!(
        retries.load(Ordering::Relaxed) > 0,
        "the race never happened; the test proves nothing"
    );
}

#[tokio::test]
async fn only_one_creator_wins_a_race_on_a_new_key() {
    let client = support::client().await;
    let name = support::pk_table(&client, "update_race", None).await;
    for round in 0..10 {
        let key = format!("fresh-{round}");
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let client = client.clone();
            let name = name.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .put_item()
                    .table_name(&name)
                    .item("pk", s(&key))
                    .item("writer", n(&writer.to_string()))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await
                    .map(|_| writer)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(w) => winners.push(w),
                Err(e) => assert!(e
                    .into_service_error()
                    .is_conditional_check_failed_exception()),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let item = stored(&client, &name, s(&key)).await.unwrap();
        assert_eq!(item["writer"], n(&winners[0].to_string()));
    }
}
