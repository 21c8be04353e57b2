//! BatchGetItem and BatchWriteItem through the Rust AWS SDK (and raw HTTP where the SDK would
//! not send the request).

mod support;

use support::attr;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType, PutRequest,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde_json::json;

type Item = HashMap<String, AV>;

/// The shape of a test table: partition key `pk` (S or N), optional sort key `sk`, and an LSI
/// on `l` / a GSI on `g` (both S) when asked.
#[derive(Clone, Default)]
struct Shape {
    hash: Option<ScalarAttributeType>,
    range: Option<ScalarAttributeType>,
    lsi: bool,
    gsi: bool,
}

fn key_element(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(ty)
        .build()
        .unwrap()
}

async fn create(client: &Client, prefix: &str, shape: Shape) -> String {
    let name = support::table_name(prefix);
    let mut req = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(
            "pk",
            shape.hash.clone().unwrap_or(ScalarAttributeType::S),
        ))
        .key_schema(key_element("pk", KeyType::Hash));
    if let Some(ty) = shape.range.clone() {
        req = req
            .attribute_definitions(attr("sk", ty))
            .key_schema(key_element("sk", KeyType::Range));
    }
    let all = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    if shape.lsi {
        req = req
            .attribute_definitions(attr("l", ScalarAttributeType::S))
            .local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name("by_l")
                    .key_schema(key_element("pk", KeyType::Hash))
                    .key_schema(key_element("l", KeyType::Range))
                    .projection(all.clone())
                    .build()
                    .unwrap(),
            );
    }
    if shape.gsi {
        req = req
            .attribute_definitions(attr("g", ScalarAttributeType::S))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by_g")
                    .key_schema(key_element("g", KeyType::Hash))
                    .projection(all)
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.expect("create table");
    name
}

fn s(v: &str) -> AV {
    AV::S(v.to_string())
}

fn n(v: &str) -> AV {
    AV::N(v.to_string())
}

fn item(attrs: &[(&str, AV)]) -> Item {
    attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn put(attrs: &[(&str, AV)]) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item(attrs)))
                .build()
                .unwrap(),
        )
        .build()
}

fn delete(attrs: &[(&str, AV)]) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(item(attrs)))
                .build()
                .unwrap(),
        )
        .build()
}

fn keys(list: Vec<Item>) -> KeysAndAttributes {
    KeysAndAttributes::builder()
        .set_keys(Some(list))
        .build()
        .unwrap()
}

/// Writes `requests` to one table in one BatchWriteItem, expecting success.
async fn write(client: &Client, table: &str, requests: Vec<WriteRequest>) {
    let out = client
        .batch_write_item()
        .request_items(table, requests)
        .send()
        .await
        .expect("batch write");
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
}

/// The items stored under `keys` in `table` (strongly consistent), in key order.
async fn read(client: &Client, table: &str, list: Vec<Item>) -> Vec<Item> {
    let out = client
        .batch_get_item()
        .request_items(
            table,
            KeysAndAttributes::builder()
                .set_keys(Some(list))
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("batch get");
    assert!(out.unprocessed_keys.unwrap_or_default().is_empty());
    out.responses
        .unwrap_or_default()
        .remove(table)
        .unwrap_or_default()
}

/// The ValidationException message of a failed request.
fn validation<E: ProvideErrorMetadata>(err: E) -> String {
    assert_eq!(
        err.code(),
        Some("ValidationException"),
        "{:?}",
        err.message()
    );
    err.message().unwrap_or_default().to_string()
}

#[tokio::test]
async fn gets_across_two_tables_in_request_order() {
    let client = support::client().await;
    let plain = create(&client, "batch_two_a", Shape::default()).await;
    let ranged = create(
        &client,
        "batch_two_b",
        Shape {
            range: Some(ScalarAttributeType::N),
            ..Default::default()
        },
    )
    .await;
    client
        .batch_write_item()
        .request_items(
            &plain,
            vec![
                put(&[("pk", s("a")), ("v", n("1"))]),
                put(&[("pk", s("b"))]),
                put(&[("pk", s("c"))]),
            ],
        )
        .request_items(
            &ranged,
            vec![
                put(&[("pk", s("p")), ("sk", n("1"))]),
                put(&[("pk", s("p")), ("sk", n("2.50"))]),
            ],
        )
        .send()
        .await
        .unwrap();

    let out = client
        .batch_get_item()
        .request_items(
            &plain,
            keys(vec![
                item(&[("pk", s("c"))]),
                item(&[("pk", s("missing"))]),
                item(&[("pk", s("a"))]),
            ]),
        )
        .request_items(
            &ranged,
            KeysAndAttributes::builder()
                .keys(item(&[("pk", s("p")), ("sk", n("2.5"))]))
                .keys(item(&[("pk", s("p")), ("sk", n("1"))]))
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_keys.unwrap().is_empty());
    let responses = out.responses.unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!(
        responses[&plain],
        vec![
            item(&[("pk", s("c"))]),
            item(&[("pk", s("a")), ("v", n("1"))])
        ]
    );
    assert_eq!(
        responses[&ranged],
        vec![
            item(&[("pk", s("p")), ("sk", n("2.5"))]),
            item(&[("pk", s("p")), ("sk", n("1"))])
        ]
    );

    // A table whose keys find nothing still has its (empty) entry.
    let out = client
        .batch_get_item()
        .request_items(&plain, keys(vec![item(&[("pk", s("none"))])]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses.unwrap()[&plain], Vec::<Item>::new());
}

#[tokio::test]
async fn projections_apply_per_table() {
    let client = support::client().await;
    let name = create(&client, "batch_projection", Shape::default()).await;
    write(
        &client,
        &name,
        vec![put(&[
            ("pk", s("a")),
            ("v", n("1")),
            ("w", s("x")),
            ("name", s("n")),
        ])],
    )
    .await;
    let out = client
        .batch_get_item()
        .request_items(
            &name,
            KeysAndAttributes::builder()
                .keys(item(&[("pk", s("a"))]))
                .projection_expression("v, #n")
                .expression_attribute_names("#n", "name")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.responses.unwrap()[&name],
        vec![item(&[("v", n("1")), ("name", s("n"))])]
    );
}

#[tokio::test]
async fn duplicate_keys_are_refused() {
    let client = support::client().await;
    let strings = create(&client, "batch_dup_s", Shape::default()).await;
    let numbers = create(
        &client,
        "batch_dup_n",
        Shape {
            hash: Some(ScalarAttributeType::N),
            ..Default::default()
        },
    )
    .await;
    const DUPLICATES: &str = "Provided list of item keys contains duplicates";

    let err = client
        .batch_get_item()
        .request_items(
            &strings,
            keys(vec![item(&[("pk", s("a"))]), item(&[("pk", s("a"))])]),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(validation(err.into_service_error()), DUPLICATES);
    // Numbers compare by value.
    let err = client
        .batch_get_item()
        .request_items(
            &numbers,
            keys(vec![item(&[("pk", n("1"))]), item(&[("pk", n("1.0"))])]),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(validation(err.into_service_error()), DUPLICATES);

    for requests in [
        vec![
            put(&[("pk", s("a")), ("v", n("1"))]),
            delete(&[("pk", s("a"))]),
        ],
        vec![
            put(&[("pk", s("a"))]),
            put(&[("pk", s("b"))]),
            put(&[("pk", s("a")), ("v", n("2"))]),
        ],
    ] {
        let err = client
            .batch_write_item()
            .request_items(&strings, requests)
            .send()
            .await
            .unwrap_err();
        assert_eq!(validation(err.into_service_error()), DUPLICATES);
    }
    let err = client
        .batch_write_item()
        .request_items(
            &numbers,
            vec![put(&[("pk", n("10"))]), delete(&[("pk", n("1E1"))])],
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(validation(err.into_service_error()), DUPLICATES);
    assert!(read(
        &client,
        &strings,
        vec![item(&[("pk", s("a"))]), item(&[("pk", s("b"))])]
    )
    .await
    .is_empty());
}

#[tokio::test]
async fn limits_on_the_number_of_requests() {
    let client = support::client().await;
    let a = create(&client, "batch_limit_a", Shape::default()).await;
    let b = create(&client, "batch_limit_b", Shape::default()).await;
    let key_list = |count: usize| {
        (0..count)
            .map(|i| item(&[("pk", s(&format!("k{i}")))]))
            .collect::<Vec<_>>()
    };

    let err = client
        .batch_get_item()
        .request_items(&a, keys(key_list(51)))
        .request_items(&b, keys(key_list(50)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        validation(err.into_service_error()),
        "Too many items requested for the BatchGetItem call"
    );
    client
        .batch_get_item()
        .request_items(&a, keys(key_list(50)))
        .request_items(&b, keys(key_list(50)))
        .send()
        .await
        .unwrap();

    let puts = |count: usize| {
        (0..count)
            .map(|i| put(&[("pk", s(&format!("k{i}")))]))
            .collect::<Vec<_>>()
    };
    let err = client
        .batch_write_item()
        .request_items(&a, puts(13))
        .request_items(&b, puts(13))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        validation(err.into_service_error()),
        "Too many items requested for the BatchWriteItem call"
    );
    assert!(read(&client, &a, key_list(13)).await.is_empty());
    client
        .batch_write_item()
        .request_items(&a, puts(12))
        .request_items(&b, puts(13))
        .send()
        .await
        .unwrap();
    assert_eq!(read(&client, &b, key_list(13)).await.len(), 13);

    // What the SDK would not send: empty maps and lists, and a request with both actions.
    let (status, body) = support::call("BatchWriteItem", json!({"RequestItems": {}})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let both = json!({"PutRequest": {"Item": {"pk": {"S": "x"}}}, "DeleteRequest": {"Key": {"pk": {"S": "x"}}}});
    let (status, body) = support::call(
        "BatchWriteItem",
        json!({"RequestItems": {a.clone(): [both]}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    );
    let (status, body) = support::call(
        "BatchGetItem",
        json!({"RequestItems": {a.clone(): {"Keys": [{}]}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        format!("The list of keys in RequestItems for BatchGetItem may not contain null or empty values: {a} has one or more empty keys")
    );
}

#[tokio::test]
async fn writes_are_all_or_nothing() {
    let client = support::client().await;
    let name = create(
        &client,
        "batch_atomic",
        Shape {
            range: Some(ScalarAttributeType::S),
            lsi: true,
            ..Default::default()
        },
    )
    .await;
    let other = create(&client, "batch_atomic_other", Shape::default()).await;
    let kept = item(&[("pk", s("keep")), ("sk", s("1")), ("v", n("1"))]);
    write(
        &client,
        &name,
        vec![put(&[("pk", s("keep")), ("sk", s("1")), ("v", n("1"))])],
    )
    .await;
    let good = || {
        vec![
            put(&[("pk", s("new")), ("sk", s("1"))]),
            delete(&[("pk", s("keep")), ("sk", s("1"))]),
        ]
    };
    let big = "x".repeat(400 * 1024);
    let cases: Vec<(&str, Vec<WriteRequest>, &str)> = vec![
        (
            "invalid value",
            vec![put(&[("pk", s("new")), ("sk", s("2")), ("e", AV::Ss(vec![]))])],
            "One or more parameter values were invalid: An string set  may not be empty",
        ),
        (
            "key of the wrong type",
            vec![put(&[("pk", n("1")), ("sk", s("2"))])],
            "The provided key element does not match the schema",
        ),
        (
            "delete key without its sort key",
            vec![delete(&[("pk", s("new"))])],
            "The provided key element does not match the schema",
        ),
        (
            "index key of the wrong type",
            vec![put(&[("pk", s("new")), ("sk", s("3")), ("l", n("1"))])],
            "One or more parameter values were invalid: Type mismatch for Index Key l Expected: S Actual: N IndexName: by_l",
        ),
        ("item too large", vec![put(&[("pk", s("new")), ("sk", s("4")), ("d", s(&big))])], "Item size has exceeded the maximum allowed size"),
        ("duplicate", vec![put(&[("pk", s("new")), ("sk", s("1"))])], "Provided list of item keys contains duplicates"),
    ];
    for (what, bad, message) in cases {
        let mut requests = good();
        requests.extend(bad);
        let err = client
            .batch_write_item()
            .request_items(&name, requests)
            .request_items(&other, vec![put(&[("pk", s("other"))])])
            .send()
            .await
            .unwrap_err();
        assert_eq!(validation(err.into_service_error()), message, "{what}");
    }
    // A missing table fails the batch too.
    let err = client
        .batch_write_item()
        .request_items(&name, good())
        .request_items(format!("{other}_missing"), vec![put(&[("pk", s("other"))])])
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());

    let state = read(
        &client,
        &name,
        vec![
            item(&[("pk", s("new")), ("sk", s("1"))]),
            item(&[("pk", s("keep")), ("sk", s("1"))]),
        ],
    )
    .await;
    assert_eq!(state, vec![kept]);
    assert!(read(&client, &other, vec![item(&[("pk", s("other"))])])
        .await
        .is_empty());
}

#[tokio::test]
async fn unprocessed_keys_past_16_mb() {
    let client = support::client().await;
    let name = create(&client, "batch_16mb", Shape::default()).await;
    // 50 items of 380,006 bytes each (pk "k00".."k49", d of 380,000 bytes): 19 MB in all.
    let data = "d".repeat(380_000);
    let key = |i: usize| item(&[("pk", s(&format!("k{i:02}")))]);
    for chunk in [0..25, 25..50] {
        write(
            &client,
            &name,
            chunk
                .map(|i| put(&[("pk", s(&format!("k{i:02}"))), ("d", s(&data))]))
                .collect(),
        )
        .await;
    }
    let request = |list: Vec<Item>| {
        KeysAndAttributes::builder()
            .set_keys(Some(list))
            .consistent_read(true)
            .projection_expression("pk, #d")
            .expression_attribute_names("#d", "d")
            .build()
            .unwrap()
    };
    let out = client
        .batch_get_item()
        .request_items(&name, request((0..50).map(key).collect()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    // 44 items fit in 16 MB (44 x 380,006 = 16,720,264 bytes); the rest is left for later.
    let returned = out.responses.unwrap().remove(&name).unwrap();
    assert_eq!(returned.len(), 44);
    assert_eq!(returned[0]["pk"], s("k00"));
    // Only what was read is charged: 93 units per 380 KB item.
    assert_eq!(
        out.consumed_capacity.unwrap()[0].capacity_units,
        Some(44.0 * 93.0)
    );
    let mut unprocessed = out.unprocessed_keys.unwrap();
    let left = unprocessed.remove(&name).expect("unprocessed keys");
    assert_eq!(left.keys, (44..50).map(key).collect::<Vec<_>>());
    assert_eq!(left.consistent_read, Some(true));
    assert_eq!(left.projection_expression.as_deref(), Some("pk, #d"));
    assert_eq!(left.expression_attribute_names.unwrap()["#d"], "d");

    // Sending the unprocessed entry back as it is reads the rest.
    let rest = client
        .batch_get_item()
        .request_items(&name, request(left.keys))
        .send()
        .await
        .unwrap();
    assert!(rest.unprocessed_keys.unwrap().is_empty());
    let rest = rest.responses.unwrap().remove(&name).unwrap();
    assert_eq!(rest.len(), 6);
    assert_eq!(rest[5]["pk"], s("k49"));
    assert_eq!(rest[5]["d"], s(&data));
}

#[tokio::test]
async fn capacity_is_reported_per_table() {
    let client = support::client().await;
    let plain = create(&client, "batch_cap_a", Shape::default()).await;
    let indexed = create(
        &client,
        "batch_cap_b",
        Shape {
            range: Some(ScalarAttributeType::S),
            lsi: true,
            gsi: true,
            ..Default::default()
        },
    )
    .await;
    write(
        &client,
        &plain,
        vec![
            put(&[("pk", s("big")), ("d", s(&"x".repeat(5000)))]),
            put(&[("pk", s("small"))]),
        ],
    )
    .await;

    // Reads: per item, 4 KB units, halved when eventually consistent; missing keys are free.
    let out = client
        .batch_get_item()
        .request_items(
            &plain,
            keys(vec![
                item(&[("pk", s("big"))]),
                item(&[("pk", s("small"))]),
                item(&[("pk", s("none"))]),
            ]),
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let consumed = out.consumed_capacity.unwrap();
    assert_eq!(consumed.len(), 1);
    assert_eq!(consumed[0].table_name.as_deref(), Some(plain.as_str()));
    assert_eq!(consumed[0].capacity_units, Some(1.5));
    assert_eq!(
        consumed[0].table.as_ref().unwrap().capacity_units,
        Some(1.5)
    );

    // Writes: each request as PutItem / DeleteItem would be charged, indexes included.
    let out = client
        .batch_write_item()
        .request_items(
            &plain,
            vec![
                put(&[("pk", s("big"))]),
                delete(&[("pk", s("small"))]),
                delete(&[("pk", s("absent"))]),
            ],
        )
        .request_items(
            &indexed,
            vec![
                put(&[("pk", s("p")), ("sk", s("1")), ("l", s("x")), ("g", s("y"))]),
                put(&[("pk", s("p")), ("sk", s("2")), ("g", s("y"))]),
                put(&[("pk", s("p")), ("sk", s("3"))]),
            ],
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let consumed: HashMap<String, _> = out
        .consumed_capacity
        .unwrap()
        .into_iter()
        .map(|c| (c.table_name.clone().unwrap(), c))
        .collect();
    // 5 (the 5 KB item replaced) + 1 + 1.
    assert_eq!(consumed[&plain].capacity_units, Some(7.0));
    let c = &consumed[&indexed];
    assert_eq!(c.capacity_units, Some(6.0));
    assert_eq!(c.table.as_ref().unwrap().capacity_units, Some(3.0));
    assert_eq!(
        c.local_secondary_indexes.as_ref().unwrap()["by_l"].capacity_units,
        Some(1.0)
    );
    assert_eq!(
        c.global_secondary_indexes.as_ref().unwrap()["by_g"].capacity_units,
        Some(2.0)
    );

    // Nothing asked, nothing reported.
    let out = client
        .batch_write_item()
        .request_items(&plain, vec![put(&[("pk", s("q"))])])
        .send()
        .await
        .unwrap();
    assert!(out.consumed_capacity.is_none());
}

#[tokio::test]
async fn item_collection_metrics_for_tables_with_local_indexes() {
    let client = support::client().await;
    let plain = create(&client, "batch_icm_a", Shape::default()).await;
    let indexed = create(
        &client,
        "batch_icm_b",
        Shape {
            range: Some(ScalarAttributeType::S),
            lsi: true,
            ..Default::default()
        },
    )
    .await;
    let out = client
        .batch_write_item()
        .request_items(&plain, vec![put(&[("pk", s("x"))])])
        .request_items(
            &indexed,
            vec![
                put(&[("pk", s("p")), ("sk", s("1")), ("l", s("a"))]),
                put(&[("pk", s("p")), ("sk", s("2"))]),
                delete(&[("pk", s("q")), ("sk", s("1"))]),
            ],
        )
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let metrics = out.item_collection_metrics.unwrap();
    assert_eq!(
        metrics.len(),
        1,
        "only the table with a local index: {metrics:?}"
    );
    let list = &metrics[&indexed];
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].item_collection_key.as_ref().unwrap()["pk"], s("p"));
    assert_eq!(list[1].item_collection_key.as_ref().unwrap()["pk"], s("q"));
    for m in list {
        assert_eq!(m.size_estimate_range_gb.as_deref(), Some(&[0.0, 1.0][..]));
    }
    // Not asked: not reported.
    let out = client
        .batch_write_item()
        .request_items(&indexed, vec![put(&[("pk", s("p")), ("sk", s("3"))])])
        .send()
        .await
        .unwrap();
    assert!(out.item_collection_metrics.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn tables_named_by_arn() {
    let client = support::client().await;
    let name = create(&client, "batch_arn", Shape::default()).await;
    let arn = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .table_arn
        .unwrap();
    write(&client, &arn, vec![put(&[("pk", s("a"))])]).await;
    let out = client
        .batch_get_item()
        .request_items(&arn, keys(vec![item(&[("pk", s("a"))])]))
        .send()
        .await
        .unwrap();
    // Answers name the table by its name.
    assert_eq!(out.responses.unwrap()[&name], vec![item(&[("pk", s("a"))])]);
}

/// Many clients write overlapping keys of two tables at once; every batch puts (or deletes)
/// the same key in both tables with the same value. Batches are atomic and isolated per item,
/// so at the end the two tables hold exactly the same items, and nothing failed on the way.
#[tokio::test]
async fn concurrent_batches_keep_tables_in_step() {
    const CLIENTS: usize = 8;
    const BATCHES: usize = 25;
    const KEYS: usize = 30;
    let client = support::client().await;
    let a = create(&client, "batch_conc_a", Shape::default()).await;
    let b = create(&client, "batch_conc_b", Shape::default()).await;

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (a, b) = (a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let client = support::client().await;
            // A small linear congruential generator: each client its own reproducible sequence.
            let mut state = 0x9E37_79B9_u64.wrapping_mul(c as u64 + 1);
            let mut next = move |bound: usize| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) as usize) % bound
            };
            for batch in 0..BATCHES {
                let mut chosen: Vec<usize> = Vec::new();
                while chosen.len() < 12 {
                    let k = next(KEYS);
                    if !chosen.contains(&k) {
                        chosen.push(k);
                    }
                }
                let (mut for_a, mut for_b) = (Vec::new(), Vec::new());
                for k in chosen {
                    let key = format!("k{k}");
                    if next(3) == 0 {
                        for_a.push(delete(&[("pk", s(&key))]));
                        for_b.push(delete(&[("pk", s(&key))]));
                    } else {
                        let value = format!("client {c} batch {batch}");
                        for_a.push(put(&[("pk", s(&key)), ("v", s(&value))]));
                        for_b.push(put(&[("pk", s(&key)), ("v", s(&value))]));
                    }
                }
                // Every other batch also reads the old items (for ConsumedCapacity).
                let rcc = if batch % 2 == 0 {
                    ReturnConsumedCapacity::Total
                } else {
                    ReturnConsumedCapacity::None
                };
                let out = client
                    .batch_write_item()
                    .request_items(&a, for_a)
                    .request_items(&b, for_b)
                    .return_consumed_capacity(rcc)
                    .send()
                    .await;
                let out = out.unwrap_or_else(|e| {
                    panic!("client {c} batch {batch}: {:?}", e.into_service_error())
                });
                assert!(out.unprocessed_items.unwrap_or_default().is_empty());
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }

    let all: Vec<Item> = (0..KEYS)
        .map(|k| item(&[("pk", s(&format!("k{k}")))]))
        .collect();
    let out = client
        .batch_get_item()
        .request_items(
            &a,
            KeysAndAttributes::builder()
                .set_keys(Some(all.clone()))
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .request_items(
            &b,
            KeysAndAttributes::builder()
                .set_keys(Some(all))
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut responses = out.responses.unwrap();
    let (in_a, in_b) = (responses.remove(&a).unwrap(), responses.remove(&b).unwrap());
    assert!(!in_a.is_empty());
    assert_eq!(in_a, in_b);
}

/// A DynamoDB Streams request over raw HTTP: the parsed answer of a successful call.
async fn streams_call(op: &str, body: serde_json::Value) -> serde_json::Value {
    let target = format!("DynamoDBStreams_20120810.{op}");
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
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(status, 200, "{op}: {body}");
    body
}

/// Every record of the stream, per item key in order: (event name, old `v`, new `v`).
async fn stream_events(
    arn: &str,
) -> HashMap<String, Vec<(String, Option<String>, Option<String>)>> {
    let mut events: HashMap<String, Vec<_>> = HashMap::new();
    let description = streams_call("DescribeStream", json!({"StreamArn": arn})).await;
    for shard in description["StreamDescription"]["Shards"]
        .as_array()
        .unwrap()
    {
        let mut iterator = streams_call(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await["ShardIterator"]
            .clone();
        loop {
            let page = streams_call("GetRecords", json!({"ShardIterator": iterator})).await;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for record in &records {
                let data = &record["dynamodb"];
                let v = |image: &str| data[image]["v"]["S"].as_str().map(str::to_string);
                let key = data["Keys"]["pk"]["S"].as_str().unwrap().to_string();
                events.entry(key).or_default().push((
                    record["eventName"].as_str().unwrap().to_string(),
                    v("OldImage"),
                    v("NewImage"),
                ));
            }
            match page.get("NextShardIterator") {
                Some(next) if !records.is_empty() => iterator = next.clone(),
                _ => break,
            }
        }
    }
    events
}

/// A batch on a table with a stream leaves one record per change, with the old item it
/// replaced, as single-item writes do; writes that change nothing leave none.
#[tokio::test]
async fn batches_write_stream_records() {
    let client = support::client().await;
    let name = support::table_name("batch_stream");
    let arn = client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key_element("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap()
        .latest_stream_arn
        .unwrap();
    write(
        &client,
        &name,
        vec![
            put(&[("pk", s("a")), ("v", s("1"))]),
            put(&[("pk", s("b")), ("v", s("1"))]),
        ],
    )
    .await;
    write(
        &client,
        &name,
        vec![
            put(&[("pk", s("a")), ("v", s("2"))]),
            delete(&[("pk", s("b"))]),
            delete(&[("pk", s("absent"))]),
        ],
    )
    .await;
    // The same item again: no change, no record.
    write(&client, &name, vec![put(&[("pk", s("a")), ("v", s("2"))])]).await;

    let events = stream_events(&arn).await;
    let e = |name: &str, old: Option<&str>, new: Option<&str>| {
        (
            name.to_string(),
            old.map(str::to_string),
            new.map(str::to_string),
        )
    };
    assert_eq!(
        events["a"],
        vec![
            e("INSERT", None, Some("1")),
            e("MODIFY", Some("1"), Some("2"))
        ]
    );
    assert_eq!(
        events["b"],
        vec![e("INSERT", None, Some("1")), e("REMOVE", Some("1"), None)]
    );
    assert_eq!(events.len(), 2);
}

/// Batch writers (reading the old items for their stream records) and single-item writers
/// change the same keys at once: every key's stream records still form one unbroken chain
/// (each record's old image is the previous record's new image; INSERT exactly after nothing or
/// a REMOVE), which fails if a batch ever records an item as absent that a PutItem had just
/// created.
#[tokio::test]
async fn stream_records_chain_under_mixed_writers() {
    const KEYS: usize = 6;
    let client = support::client().await;
    let name = support::table_name("batch_chain");
    let arn = client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key_element("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap()
        .latest_stream_arn
        .unwrap();

    let mut tasks = Vec::new();
    for c in 0..8usize {
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let client = support::client().await;
            for round in 0..30usize {
                let value = format!("{c}/{round}");
                let k = (c * 7 + round * 5) % KEYS;
                let key = format!("k{k}");
                let remove = (c + round) % 4 == 0;
                if c % 2 == 0 {
                    // A batch over three neighbouring keys.
                    let requests = (0..3)
                        .map(|d| {
                            let key = format!("k{}", (k + d) % KEYS);
                            if remove {
                                delete(&[("pk", s(&key))])
                            } else {
                                put(&[("pk", s(&key)), ("v", s(&value))])
                            }
                        })
                        .collect();
                    write(&client, &name, requests).await;
                } else if remove {
                    client
                        .delete_item()
                        .table_name(&name)
                        .key("pk", s(&key))
                        .send()
                        .await
                        .unwrap();
                } else {
                    client
                        .put_item()
                        .table_name(&name)
                        .item("pk", s(&key))
                        .item("v", s(&value))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }

    let events = stream_events(&arn).await;
    let finals = read(
        &client,
        &name,
        (0..KEYS)
            .map(|k| item(&[("pk", s(&format!("k{k}")))]))
            .collect(),
    )
    .await;
    for k in 0..KEYS {
        let key = format!("k{k}");
        let mut current: Option<String> = None;
        for (event, old, new) in events.get(&key).into_iter().flatten() {
            let expected = match current {
                None => "INSERT",
                Some(_) if new.is_none() => "REMOVE",
                Some(_) => "MODIFY",
            };
            assert_eq!(event, expected, "{key}: {events:?}");
            assert_eq!(*old, current, "{key}: {events:?}");
            current = new.clone();
        }
        let stored = finals
            .iter()
            .find(|i| i["pk"] == s(&key))
            .map(|i| match &i["v"] {
                AV::S(v) => v.clone(),
                other => panic!("{other:?}"),
            });
        assert_eq!(stored, current, "{key}: the last record is the item");
    }
}
