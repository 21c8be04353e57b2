//! Query and Scan through the Rust SDK: sort order, key conditions, paging to the end with and
//! without filters, local and global secondary indexes (sparse, projected), parallel scan, and
//! the query plans underneath.

mod support;

use support::{attr, key};

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
    ScalarAttributeType, Select,
};
use aws_sdk_dynamodb::Client;

fn s(v: &str) -> AV {
    AV::S(v.into())
}

fn n(v: i64) -> AV {
    AV::N(v.to_string())
}

/// A table keyed (pk S, sk N) with an LSI on `lsk` (S, KEYS_ONLY) and a GSI on (`gpk` S,
/// `gsk` N) projecting `a`; filled with `parts` partitions of `per_part` items. Every third item
/// has no `gpk`, so the GSI is sparse.
async fn fill(client: &Client, prefix: &str, parts: i64, per_part: i64) -> String {
    let name = support::table_name(prefix);
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("lsk", ScalarAttributeType::S))
        .attribute_definitions(attr("gpk", ScalarAttributeType::S))
        .attribute_definitions(attr("gsk", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(support::lsi(
            "by_lsk",
            &[("pk", KeyType::Hash), ("lsk", KeyType::Range)],
            ProjectionType::KeysOnly,
        ))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(key("gpk", KeyType::Hash))
                .key_schema(key("gsk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("a")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for p in 0..parts {
        let client = client.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_part {
                let mut req = client
                    .put_item()
                    .table_name(&name)
                    .item("pk", s(&format!("p{p}")))
                    .item("sk", n(i))
                    .item("lsk", s(&format!("l{:04}", per_part - i)))
                    .item("a", n(i % 10))
                    .item("b", s("not projected"));
                if i % 3 != 0 {
                    req = req
                        .item("gpk", s(&format!("g{}", i % 2)))
                        .item("gsk", n(i * 100 + p));
                }
                req.send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    name
}

fn num(item: &HashMap<String, AV>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

#[tokio::test]
async fn queries_page_in_sort_order_with_key_conditions_and_filters() {
    let client = support::client().await;
    let name = fill(&client, "query_pages", 3, 120).await;

    // The whole partition, in pages of 7, through the SDK's paginator.
    let items: Vec<HashMap<String, AV>> = client
        .query()
        .table_name(&name)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p1"))
        .limit(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let sks: Vec<i64> = items.iter().map(|i| num(i, "sk")).collect();
    assert_eq!(sks, (0..120).collect::<Vec<_>>());

    // Backwards, with a sort key range.
    let page = client
        .query()
        .table_name(&name)
        .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
        .expression_attribute_values(":p", s("p2"))
        .expression_attribute_values(":lo", n(10))
        .expression_attribute_values(":hi", n(20))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let sks: Vec<i64> = page.items().iter().map(|i| num(i, "sk")).collect();
    assert_eq!(sks, (10..=20).rev().collect::<Vec<_>>());

    // A filter runs after the read: Limit counts items read, Count those kept.
    let page = client
        .query()
        .table_name(&name)
        .key_condition_expression("pk = :p")
        .filter_expression("a = :zero")
        .expression_attribute_values(":p", s("p0"))
        .expression_attribute_values(":zero", n(0))
        .limit(25)
        .send()
        .await
        .unwrap();
    assert_eq!(page.scanned_count(), 25);
    assert_eq!(page.count(), 3);
    assert!(page.last_evaluated_key().is_some());
    // Paging to the end with the filter finds every match once.
    let mut start = None;
    let mut kept = Vec::new();
    loop {
        let page = client
            .query()
            .table_name(&name)
            .key_condition_expression("pk = :p")
            .filter_expression("a = :zero")
            .expression_attribute_values(":p", s("p0"))
            .expression_attribute_values(":zero", n(0))
            .limit(25)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        kept.extend(page.items().iter().map(|i| num(i, "sk")));
        match page.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    assert_eq!(kept, (0..120).filter(|i| i % 10 == 0).collect::<Vec<_>>());

    // Select COUNT returns no items.
    let counted = client
        .query()
        .table_name(&name)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p1"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.count(), 120);
    assert!(counted.items.is_none());
}

#[tokio::test]
async fn secondary_indexes_are_sparse_projected_and_ordered() {
    let client = support::client().await;
    let name = fill(&client, "query_indexes", 2, 60).await;

    // LSI: ordered by lsk (which runs opposite to sk), KEYS_ONLY projection.
    let page = client
        .query()
        .table_name(&name)
        .index_name("by_lsk")
        .key_condition_expression("pk = :p AND begins_with(lsk, :l)")
        .expression_attribute_values(":p", s("p0"))
        .expression_attribute_values(":l", s("l00"))
        .send()
        .await
        .unwrap();
    let sks: Vec<i64> = page.items().iter().map(|i| num(i, "sk")).collect();
    assert_eq!(sks, (0..60).rev().collect::<Vec<_>>());
    let keys: HashSet<&str> = page.items()[0].keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["pk", "sk", "lsk"]));
    // An LSI can still return every attribute (fetched from the table).
    let all = client
        .query()
        .table_name(&name)
        .index_name("by_lsk")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p0"))
        .select(Select::AllAttributes)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert!(all.items()[0].contains_key("b"));
    assert_eq!(all.last_evaluated_key().unwrap().len(), 3);

    // GSI: only items that have gpk; ordered by gsk; INCLUDE projection.
    let items: Vec<HashMap<String, AV>> = client
        .query()
        .table_name(&name)
        .index_name("by_g")
        .key_condition_expression("gpk = :g AND gsk > :min")
        .expression_attribute_values(":g", s("g1"))
        .expression_attribute_values(":min", n(0))
        .limit(4)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let expected: Vec<i64> = {
        let mut v: Vec<i64> = (0..60)
            .filter(|i| i % 3 != 0 && i % 2 == 1)
            .flat_map(|i| [i * 100, i * 100 + 1])
            .collect();
        v.sort();
        v
    };
    let gsks: Vec<i64> = items.iter().map(|i| num(i, "gsk")).collect();
    assert_eq!(gsks, expected);
    let keys: HashSet<&str> = items[0].keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["pk", "sk", "gpk", "gsk", "a"]));

    // A consistent read of a GSI is DynamoDB's error.
    let err = client
        .query()
        .table_name(&name)
        .index_name("by_g")
        .key_condition_expression("gpk = :g")
        .expression_attribute_values(":g", s("g1"))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.meta().message(),
        Some("Consistent reads are not supported on global secondary indexes")
    );

    // Scanning the GSI sees exactly the indexed items.
    let scanned: Vec<HashMap<String, AV>> = client
        .scan()
        .table_name(&name)
        .index_name("by_g")
        .limit(9)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(scanned.len(), 2 * (0..60).filter(|i| i % 3 != 0).count());
}

#[tokio::test]
async fn parallel_scan_segments_are_disjoint_and_complete() {
    let client = support::client().await;
    let name = fill(&client, "scan_segments", 20, 10).await;
    let total = 4;
    let mut seen = HashSet::new();
    let mut count = 0;
    for segment in 0..total {
        let items: Vec<HashMap<String, AV>> = client
            .scan()
            .table_name(&name)
            .segment(segment)
            .total_segments(total)
            .limit(13)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        for item in items {
            count += 1;
            seen.insert((item["pk"].as_s().unwrap().clone(), num(&item, "sk")));
        }
    }
    assert_eq!(count, 200, "every item exactly once");
    assert_eq!(seen.len(), 200);
    // A filtered scan pages to the end too.
    let matched: Vec<HashMap<String, AV>> = client
        .scan()
        .table_name(&name)
        .filter_expression("a = :one")
        .expression_attribute_values(":one", n(1))
        .limit(17)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(matched.len(), 20);
}

#[tokio::test]
async fn a_page_stops_after_one_megabyte() {
    let client = support::client().await;
    let name = support::table_name("scan_megabyte");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let blob = "x".repeat(100 * 1024);
    for i in 0..15 {
        client
            .put_item()
            .table_name(&name)
            .item("pk", s(&format!("k{i}")))
            .item("v", s(&blob))
            .send()
            .await
            .unwrap();
    }
    let page = client.scan().table_name(&name).send().await.unwrap();
    // 100 KB items: the 11th crosses 1 MB and ends the page.
    assert_eq!(page.count(), 11);
    assert!(page.last_evaluated_key().is_some());
    let rest = client
        .scan()
        .table_name(&name)
        .set_exclusive_start_key(page.last_evaluated_key)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.count(), 4);
    assert!(rest.last_evaluated_key().is_none());
}
