//! DynamoDB Streams through the official Rust SDK (aws-sdk-dynamodbstreams) and boto3: stream
//! lifecycle, records and their images, iterator types, paging, and the never-miss property
//! (concurrent writers, a reader polling as fast as it can: every change seen exactly once, each
//! item's changes in order). Trimming and iterator expiry need the database and use their own
//! server (`tests/cluster`).

mod cluster;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType};

/// A streams client for the shared test server.
async fn streams_client() -> aws_sdk_dynamodbstreams::Client {
    cluster::streams(&support::endpoint().await)
}

/// Creates a table keyed by `pk` (S) with a stream of `view`; returns its stream ARN.
async fn create_streamed_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    view: StreamViewType,
) -> String {
    let out = ddb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
    let description = out.table_description().unwrap();
    description
        .latest_stream_arn()
        .expect("LatestStreamArn")
        .to_string()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The stream's shard ids, in order.
async fn shard_ids(client: &aws_sdk_dynamodbstreams::Client, arn: &str) -> Vec<String> {
    let out = client
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .expect("describe stream");
    out.stream_description()
        .unwrap()
        .shards()
        .iter()
        .map(|s| s.shard_id().unwrap().to_string())
        .collect()
}

/// Every record of every shard from its trim horizon, read until each shard returns an empty
/// page (or ends). Records keep their shard order; shards follow one another.
async fn read_all(client: &aws_sdk_dynamodbstreams::Client, arn: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for shard in shard_ids(client, arn).await {
        let mut iterator = client
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator
            .expect("iterator");
        loop {
            let page = client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .expect("get records");
            let empty = page.records().is_empty();
            out.extend(page.records().iter().cloned());
            match page.next_shard_iterator() {
                Some(next) if !empty => iterator = next.to_string(),
                _ => break,
            }
        }
    }
    out
}

fn image_value(
    image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>,
    attr: &str,
) -> Option<String> {
    match image?.get(attr)? {
        aws_sdk_dynamodbstreams::types::AttributeValue::N(v)
        | aws_sdk_dynamodbstreams::types::AttributeValue::S(v) => Some(v.clone()),
        _ => None,
    }
}

fn record_key(record: &Record) -> String {
    image_value(record.dynamodb().and_then(|d| d.keys()), "pk").expect("record key")
}

#[tokio::test]
async fn records_follow_changes_with_the_images_the_view_type_asks_for() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    let table = support::table_name("streams_records");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::NewAndOldImages).await;

    // The ARN and label are DynamoDB's: the table's ARN, /stream/, the label (ISO 8601, ms).
    let described = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    let label = t.latest_stream_label().unwrap();
    assert_eq!(
        arn,
        format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}/stream/{label}")
    );
    assert_eq!(label.len(), 23, "label {label}");
    assert!(
        label.as_bytes()[10] == b'T' && label.as_bytes()[19] == b'.',
        "label {label}"
    );
    let spec = t.stream_specification().unwrap();
    assert_eq!(
        spec.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );

    let listed = streams
        .list_streams()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.streams().len(), 1);
    assert_eq!(listed.streams()[0].stream_arn(), Some(arn.as_str()));
    let description = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = description.stream_description().unwrap();
    assert_eq!(d.stream_status().map(|s| s.as_str()), Some("ENABLED"));
    assert_eq!(d.table_name(), Some(table.as_str()));
    assert_eq!(d.stream_label(), Some(label));
    assert!(!d.shards().is_empty());
    for shard in d.shards() {
        let range = shard.sequence_number_range().unwrap();
        assert!(range.starting_sequence_number().unwrap().len() >= 21);
        assert!(range.ending_sequence_number().is_none());
    }

    let put = |v: i64| {
        ddb.put_item()
            .table_name(&table)
            .item("pk", s("a"))
            .item("v", n(v))
    };
    put(1).send().await.unwrap(); // INSERT
    put(1).send().await.unwrap(); // identical: no record
    put(2).send().await.unwrap(); // MODIFY
    let failed = ddb
        .put_item()
        .table_name(&table)
        .item("pk", s("a"))
        .item("v", n(3))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(failed.is_err(), "the condition fails: no record");
    ddb.delete_item()
        .table_name(&table)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap(); // REMOVE
    ddb.delete_item()
        .table_name(&table)
        .key("pk", s("missing"))
        .send()
        .await
        .unwrap(); // nothing

    let records = read_all(&streams, &arn).await;
    let names: Vec<_> = records
        .iter()
        .map(|r| r.event_name().cloned().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            OperationType::Insert,
            OperationType::Modify,
            OperationType::Remove
        ]
    );
    let mut last_sequence = 0u128;
    for r in &records {
        assert_eq!(r.event_version(), Some("1.1"));
        assert_eq!(r.event_source(), Some("aws:dynamodb"));
        assert_eq!(r.aws_region(), Some("us-east-1"));
        assert_eq!(r.event_id().map(str::len), Some(32));
        assert!(r.user_identity().is_none());
        let body = r.dynamodb().unwrap();
        assert_eq!(
            body.stream_view_type().map(|v| v.as_str()),
            Some("NEW_AND_OLD_IMAGES")
        );
        assert!(body.approximate_creation_date_time().is_some());
        let sequence = body.sequence_number().unwrap();
        assert_eq!(sequence.len(), 21);
        let number: u128 = sequence.parse().unwrap();
        assert!(
            number > last_sequence,
            "sequence numbers increase: {sequence}"
        );
        last_sequence = number;
        assert_eq!(record_key(r), "a");
    }
    let (insert, modify, remove) = (
        records[0].dynamodb().unwrap(),
        records[1].dynamodb().unwrap(),
        records[2].dynamodb().unwrap(),
    );
    assert_eq!(image_value(insert.new_image(), "v").as_deref(), Some("1"));
    assert!(insert.old_image().is_none());
    assert_eq!(image_value(modify.new_image(), "v").as_deref(), Some("2"));
    assert_eq!(image_value(modify.old_image(), "v").as_deref(), Some("1"));
    assert!(remove.new_image().is_none());
    assert_eq!(image_value(remove.old_image(), "v").as_deref(), Some("2"));
    // SizeBytes: the keys plus the images carried ("pk"+"a" = 3, "v"+1 = 3), as DynamoDB counts.
    assert_eq!(insert.size_bytes(), Some(9));
    assert_eq!(modify.size_bytes(), Some(15));
    assert_eq!(remove.size_bytes(), Some(9));
}

#[tokio::test]
async fn view_types_choose_the_images() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    for (view, with_new, with_old) in [
        (StreamViewType::KeysOnly, false, false),
        (StreamViewType::NewImage, true, false),
        (StreamViewType::OldImage, false, true),
    ] {
        let table = support::table_name("streams_view");
        let arn = create_streamed_table(&ddb, &table, view.clone()).await;
        ddb.put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("v", n(1))
            .send()
            .await
            .unwrap();
        ddb.put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("v", n(2))
            .send()
            .await
            .unwrap();
        let records = read_all(&streams, &arn).await;
        assert_eq!(records.len(), 2, "{view:?}");
        let modify = records[1].dynamodb().unwrap();
        assert_eq!(modify.new_image().is_some(), with_new, "{view:?}");
        assert_eq!(modify.old_image().is_some(), with_old, "{view:?}");
        assert_eq!(record_key(&records[1]), "k");
        assert_eq!(modify.stream_view_type(), Some(&view.as_str().into()));
    }
}

#[tokio::test]
async fn iterator_types_start_where_they_say() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    let table = support::table_name("streams_iterators");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::NewImage).await;
    for v in 1..=3 {
        ddb.put_item()
            .table_name(&table)
            .item("pk", s("same"))
            .item("v", n(v))
            .send()
            .await
            .unwrap();
    }
    let records = read_all(&streams, &arn).await;
    assert_eq!(records.len(), 3);
    let second = records[1]
        .dynamodb()
        .unwrap()
        .sequence_number()
        .unwrap()
        .to_string();
    // All of one item's records are in one shard: find it.
    let mut shard = None;
    for id in shard_ids(&streams, &arn).await {
        let it = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&second)
            .send()
            .await;
        if it.is_ok() {
            shard = Some(id);
        }
    }
    let shard = shard.expect("the shard of the item accepts its sequence number");
    let first_value = |kind: ShardIteratorType, seq: Option<&str>| {
        let streams = streams.clone();
        let (arn, shard) = (arn.clone(), shard.clone());
        let seq = seq.map(str::to_string);
        async move {
            let it = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard)
                .shard_iterator_type(kind)
                .set_sequence_number(seq)
                .send()
                .await
                .unwrap()
                .shard_iterator
                .unwrap();
            let page = streams
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            assert!(
                page.next_shard_iterator().is_some(),
                "an open shard always has a next iterator"
            );
            page.records()
                .first()
                .and_then(|r| image_value(r.dynamodb().unwrap().new_image(), "v"))
        }
    };
    assert_eq!(
        first_value(ShardIteratorType::TrimHorizon, None)
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        first_value(ShardIteratorType::AtSequenceNumber, Some(&second))
            .await
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        first_value(ShardIteratorType::AfterSequenceNumber, Some(&second))
            .await
            .as_deref(),
        Some("3")
    );
    assert_eq!(first_value(ShardIteratorType::Latest, None).await, None);

    // LATEST sees what comes after it, and only that; Limit caps a page.
    let latest = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("same"))
        .item("v", n(4))
        .send()
        .await
        .unwrap();
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("same"))
        .item("v", n(5))
        .send()
        .await
        .unwrap();
    let page = streams
        .get_records()
        .shard_iterator(&latest)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(
        image_value(page.records()[0].dynamodb().unwrap().new_image(), "v").as_deref(),
        Some("4")
    );
    let page = streams
        .get_records()
        .shard_iterator(page.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(
        image_value(page.records()[0].dynamodb().unwrap().new_image(), "v").as_deref(),
        Some("5")
    );

    // A sequence number of another shard is refused.
    let other = shard_ids(&streams, &arn)
        .await
        .into_iter()
        .find(|id| *id != shard)
        .unwrap();
    let err = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&other)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&second)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().message(),
        Some("Invalid SequenceNumber for the shard")
    );
}

#[tokio::test]
async fn tampered_iterators_are_refused() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    let table = support::table_name("streams_forged");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::KeysOnly).await;
    let shard = shard_ids(&streams, &arn).await.remove(0);
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    // Change one character of the signed part.
    let mut forged: Vec<char> = it.chars().collect();
    let at = forged.len() - 30;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for bad in [forged, format!("{it}x"), "not an iterator".to_string()] {
        let err = streams
            .get_records()
            .shard_iterator(bad)
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert_eq!(err.meta().code(), Some("ValidationException"));
        assert_eq!(err.meta().message(), Some("Invalid ShardIterator"));
    }
}

#[tokio::test]
async fn disabling_keeps_the_old_stream_and_enabling_makes_a_new_one() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    let table = support::table_name("streams_lifecycle");
    let first = create_streamed_table(&ddb, &table, StreamViewType::NewImage).await;
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("x"))
        .item("v", n(1))
        .send()
        .await
        .unwrap();

    ddb.update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // DescribeTable keeps naming the latest stream, without a StreamSpecification.
    let t = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = t.table().unwrap();
    assert_eq!(t.latest_stream_arn(), Some(first.as_str()));
    assert!(t.stream_specification().is_none());
    // Writes now go unrecorded; the old stream is closed and still readable.
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("x"))
        .item("v", n(2))
        .send()
        .await
        .unwrap();
    let d = streams
        .describe_stream()
        .stream_arn(&first)
        .send()
        .await
        .unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.stream_status().map(|s| s.as_str()), Some("DISABLED"));
    for shard in d.shards() {
        assert!(shard
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_some());
    }
    let records = read_all(&streams, &first).await;
    assert_eq!(records.len(), 1);
    // A closed shard read to its end hands out no next iterator.
    for shard in d.shards() {
        let it = streams
            .get_shard_iterator()
            .stream_arn(&first)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let mut page = streams
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .unwrap();
        while let Some(next) = page.next_shard_iterator().map(str::to_string) {
            assert!(
                !page.records().is_empty(),
                "a closed shard's next iterator leads to records"
            );
            page = streams
                .get_records()
                .shard_iterator(next)
                .send()
                .await
                .unwrap();
        }
    }

    // Disabling again is refused; enabling makes a new stream with a new label.
    let err = ddb
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().message(),
        Some("Table has no stream to disable")
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let out = ddb
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let second = out
        .table_description()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    let err = ddb
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().message(),
        Some("Table already has an enabled stream")
    );
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("x"))
        .item("v", n(3))
        .send()
        .await
        .unwrap();
    let records = read_all(&streams, &second).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name(), Some(&OperationType::Modify));

    // ListStreams lists both, in ARN order, a page at a time.
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = streams
            .list_streams()
            .table_name(&table)
            .limit(1)
            .set_exclusive_start_stream_arn(start.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.streams()
                .iter()
                .map(|s| s.stream_arn().unwrap().to_string()),
        );
        match page.last_evaluated_stream_arn() {
            Some(last) => start = Some(last.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec![first.clone(), second.clone()]);

    // Deleting the table closes the latest stream too; both stay listed.
    ddb.delete_table().table_name(&table).send().await.unwrap();
    let d = streams
        .describe_stream()
        .stream_arn(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.stream_description()
            .unwrap()
            .stream_status()
            .map(|s| s.as_str()),
        Some("DISABLED")
    );
    let listed = streams
        .list_streams()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.streams().len(), 2);
}

/// What the never-miss readers report per record: (item key, event, value of `v` or None).
type Seen = (String, String, Option<i64>);

/// Checks what readers saw against the writers' log: every committed change exactly once, each
/// item's changes in order (v = 1, 2, ..., then REMOVE).
fn check_never_missed(seen: &[Seen], finals: &BTreeMap<String, i64>) {
    let mut per_item: BTreeMap<&str, Vec<(&str, Option<i64>)>> = BTreeMap::new();
    for (key, event, v) in seen {
        per_item.entry(key).or_default().push((event, *v));
    }
    assert_eq!(per_item.len(), finals.len(), "every item has records");
    for (key, last) in finals {
        let got = per_item
            .get(key.as_str())
            .unwrap_or_else(|| panic!("no records for {key}"));
        let mut expected: Vec<(&str, Option<i64>)> = vec![("INSERT", Some(1))];
        expected.extend((2..=*last).map(|v| ("MODIFY", Some(v))));
        expected.push(("REMOVE", None));
        assert_eq!(got, &expected, "records of {key}");
    }
}

/// The never-miss workload: 16 writers on 32 shared items, each change a conditional put that
/// increments `v` (so concurrent writers fail conditions, which must leave no record), then a
/// delete of every item. Returns each item's final `v`.
async fn write_concurrently(ddb: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<String, i64> {
    const WRITERS: usize = 16;
    const ITEMS: usize = 32;
    const CHANGES_PER_WRITER: usize = 40;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let ddb = ddb.clone();
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut attempt = 0usize;
            while done < CHANGES_PER_WRITER {
                attempt += 1;
                let key = format!("item{}", (w * 7 + attempt) % ITEMS);
                let current = ddb
                    .get_item()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("get item");
                let v = current
                    .item()
                    .and_then(|i| i.get("v"))
                    .and_then(|v| v.as_n().ok())
                    .map(|v| v.parse::<i64>().unwrap());
                let put = ddb
                    .put_item()
                    .table_name(&table)
                    .item("pk", s(&key))
                    .item("v", n(v.unwrap_or(0) + 1));
                let put = match v {
                    None => put.condition_expression("attribute_not_exists(pk)"),
                    Some(v) => put
                        .condition_expression("v = :old")
                        .expression_attribute_values(":old", n(v)),
                };
                match put.send().await {
                    Ok(_) => done += 1,
                    Err(e) => {
                        let e = e.into_service_error();
                        assert!(
                            e.is_conditional_check_failed_exception(),
                            "unexpected error: {e:?}"
                        );
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let mut finals = BTreeMap::new();
    for i in 0..ITEMS {
        let key = format!("item{i}");
        let got = ddb
            .get_item()
            .table_name(table)
            .key("pk", s(&key))
            .send()
            .await
            .unwrap();
        if let Some(v) = got.item().and_then(|i| i.get("v")) {
            finals.insert(key.clone(), v.as_n().unwrap().parse().unwrap());
            ddb.delete_item()
                .table_name(table)
                .key("pk", s(&key))
                .send()
                .await
                .unwrap();
        }
    }
    finals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_never_misses_a_change_under_concurrent_writers() {
    let ddb = support::client().await;
    let streams = streams_client().await;
    let table = support::table_name("streams_never_miss");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::NewImage).await;
    let shards = shard_ids(&streams, &arn).await;

    // One reader task per shard, polling as fast as it can from the start of the stream until
    // told to stop and the shard is drained.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for shard in shards {
        let (streams, arn, stop) = (streams.clone(), arn.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<Seen> = Vec::new();
            let mut polls = 0usize;
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator
                .unwrap();
            let mut last_sequence = 0u128;
            loop {
                let stopping = stop.load(std::sync::atomic::Ordering::Acquire);
                let page = streams
                    .get_records()
                    .shard_iterator(&iterator)
                    .send()
                    .await
                    .unwrap();
                polls += 1;
                for r in page.records() {
                    let body = r.dynamodb().unwrap();
                    let sequence: u128 = body.sequence_number().unwrap().parse().unwrap();
                    assert!(
                        sequence > last_sequence,
                        "sequence numbers increase within a shard"
                    );
                    last_sequence = sequence;
                    let v = image_value(body.new_image(), "v").map(|v| v.parse().unwrap());
                    seen.push((
                        record_key(r),
                        r.event_name().unwrap().as_str().to_string(),
                        v,
                    ));
                }
                if stopping && page.records().is_empty() {
                    break;
                }
                iterator = page.next_shard_iterator().expect("open shard").to_string();
            }
            (seen, polls)
        }));
    }
    let started = Instant::now();
    let finals = write_concurrently(&ddb, &table).await;
    let writing = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Release);
    let mut seen = Vec::new();
    let mut polls = 0;
    for r in readers {
        let (s, p) = r.await.expect("reader");
        seen.extend(s);
        polls += p;
    }
    eprintln!(
        "never-miss: {} records for {} items in {writing:?}, {polls} GetRecords polls",
        seen.len(),
        finals.len()
    );
    check_never_missed(&seen, &finals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_boto3_reader_never_misses_a_change_either() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("skipping the boto3 reader: python3 with boto3 is not available");
        return;
    }
    let endpoint = support::endpoint().await;
    let ddb = support::client().await;
    let table = support::table_name("streams_boto3");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::NewImage).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/streams_reader.py");
    let stop_file = std::env::temp_dir().join(format!("{table}.stop"));
    let _ = std::fs::remove_file(&stop_file);
    let mut reader = tokio::process::Command::new("python3")
        .arg(script)
        .args([&endpoint, &arn, &stop_file.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the boto3 reader");
    let finals = write_concurrently(&ddb, &table).await;
    std::fs::write(&stop_file, b"stop").unwrap();
    let output = tokio::time::timeout(Duration::from_secs(120), async {
        let mut out = Vec::new();
        use tokio::io::AsyncReadExt;
        reader
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        let status = reader.wait().await.unwrap();
        (status, out)
    })
    .await
    .expect("the boto3 reader finishes");
    let _ = std::fs::remove_file(&stop_file);
    assert!(output.0.success(), "boto3 reader failed");
    let mut seen: Vec<Seen> = Vec::new();
    for line in String::from_utf8_lossy(&output.1).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("reader output line");
        seen.push((
            v["key"].as_str().unwrap().to_string(),
            v["event"].as_str().unwrap().to_string(),
            v["v"].as_str().map(|x| x.parse().unwrap()),
        ));
    }
    check_never_missed(&seen, &finals);
}

/// Signs an iterator as the server does (HMAC-SHA256 over the ARN and the payload, 16 bytes
/// kept), so the test can make one with a chosen issue time.
fn sign_iterator(
    secret: &[u8],
    arn: &str,
    stream_id: i64,
    shard: i16,
    position: i64,
    issued_ms: i64,
) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut payload = vec![1u8];
    payload.extend_from_slice(&stream_id.to_be_bytes());
    payload.extend_from_slice(&shard.to_be_bytes());
    payload.extend_from_slice(&position.to_be_bytes());
    payload.extend_from_slice(&issued_ms.to_be_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(arn.as_bytes());
    mac.update(&payload);
    payload.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    format!(
        "{arn}|1|{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    )
}

#[tokio::test]
async fn old_records_are_trimmed_and_old_iterators_expire() {
    let cluster = cluster::start(1, &[("DYNAMO_PG_STREAM_TRIM_INTERVAL_MS", "100")]);
    let ddb = cluster::dynamodb(&cluster.endpoints[0]);
    let streams = cluster::streams(&cluster.endpoints[0]);
    let db = cluster.db().await;
    let table = support::table_name("streams_trim");
    let arn = create_streamed_table(&ddb, &table, StreamViewType::NewImage).await;
    for v in 1..=3 {
        ddb.put_item()
            .table_name(&table)
            .item("pk", s("t"))
            .item("v", n(v))
            .send()
            .await
            .unwrap();
    }
    let records = read_all(&streams, &arn).await;
    assert_eq!(records.len(), 3);
    let first_sequence = records[0]
        .dynamodb()
        .unwrap()
        .sequence_number()
        .unwrap()
        .to_string();
    let mut shard = None;
    for id in shard_ids(&streams, &arn).await {
        let it = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let page = streams
            .get_records()
            .shard_iterator(&it)
            .send()
            .await
            .unwrap();
        if !page.records().is_empty() {
            shard = Some((id, it));
        }
    }
    let (shard, old_horizon) = shard.expect("the item's shard");

    // Make the records 25 hours old; the trimmer removes them.
    let stream_id: i64 = db
        .query_one(
            "SELECT stream_id FROM dynamo_streams WHERE table_name = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get(0);
    db.execute(
        "UPDATE dynamo_stream_records SET created_at = created_at - 25 * 3600 * 1000 WHERE stream_id = $1",
        &[&stream_id],
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = db
            .query_one(
                "SELECT count(*) FROM dynamo_stream_records WHERE stream_id = $1",
                &[&stream_id],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "records were not trimmed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An iterator behind the trim horizon, and a trimmed sequence number, are refused.
    let err = streams
        .get_records()
        .shard_iterator(&old_horizon)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_trimmed_data_access_exception(), "{err:?}");
    let err = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&first_sequence)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_trimmed_data_access_exception(), "{err:?}");
    // A new TRIM_HORIZON starts after them and sees new records.
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("t"))
        .item("v", n(4))
        .send()
        .await
        .unwrap();
    let page = streams
        .get_records()
        .shard_iterator(&it)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(
        image_value(page.records()[0].dynamodb().unwrap().new_image(), "v").as_deref(),
        Some("4")
    );

    // An iterator issued more than 15 minutes ago has expired.
    let secret: Vec<u8> = db
        .query_one(
            "SELECT value FROM dynamo_secrets WHERE name = 'shard_iterator'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let shard_no: i16 = db
        .query_one(
            "SELECT shard FROM dynamo_stream_shards WHERE stream_id = $1 AND shard_id = $2",
            &[&stream_id, &shard],
        )
        .await
        .unwrap()
        .get(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let fresh = sign_iterator(&secret, &arn, stream_id, shard_no, 4, now - 14 * 60 * 1000);
    streams
        .get_records()
        .shard_iterator(fresh)
        .send()
        .await
        .expect("a 14-minute-old iterator still works");
    let stale = sign_iterator(&secret, &arn, stream_id, shard_no, 4, now - 16 * 60 * 1000);
    let err = streams
        .get_records()
        .shard_iterator(stale)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_expired_iterator_exception(), "{err:?}");
    assert!(err
        .meta()
        .message()
        .unwrap()
        .starts_with("Iterator expired. The iterator was created at time "));
}

#[tokio::test]
async fn stream_errors_name_the_missing_resource() {
    let streams = streams_client().await;
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/no_such_table/stream/2026-01-01T00:00:00.000";
    let err = streams
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
    assert_eq!(
        err.meta().message(),
        Some(format!("Requested resource not found: Stream: {arn} not found").as_str())
    );
    let err = streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id("shardId-00000001795304887110-60a29d49")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
    let listed = streams
        .list_streams()
        .table_name("no_such_table")
        .send()
        .await
        .unwrap();
    assert!(listed.streams().is_empty());
}

/// Measures PutItem throughput with 16 concurrent clients on a table without a stream and on
/// one with a NEW_AND_OLD_IMAGES stream. Not a test: run it with
/// `cargo test --release --test streams -- --ignored --nocapture put_throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn put_throughput_with_and_without_a_stream() {
    const CLIENTS: usize = 16;
    const PUTS: usize = 4000;
    let ddb = support::client().await;
    for streamed in [false, true, false, true] {
        let table = support::table_name("streams_bench");
        if streamed {
            create_streamed_table(&ddb, &table, StreamViewType::NewAndOldImages).await;
        } else {
            ddb.create_table()
                .table_name(&table)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("pk")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("pk")
                        .key_type(KeyType::Hash)
                        .build()
                        .unwrap(),
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .unwrap();
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (ddb, table) = (ddb.clone(), table.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..PUTS / CLIENTS {
                    ddb.put_item()
                        .table_name(&table)
                        .item("pk", s(&format!("k{c}-{i}")))
                        .item("payload", s(&"x".repeat(200)))
                        .send()
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = started.elapsed();
        eprintln!(
            "{PUTS} PutItems, {CLIENTS} clients, stream: {streamed}: {elapsed:?}, {:.0}/s",
            PUTS as f64 / elapsed.as_secs_f64()
        );
    }
}
