//! Time to live: UpdateTimeToLive / DescribeTimeToLive with DynamoDB's rules, and the sweeper,
//! run by two server instances on one database: expired items are deleted once each (one REMOVE
//! record with the service's identity per item), items expired more than five years ago and
//! non-number TTL values are left alone, and the sweep reads through the TTL index.

mod cluster;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str, stream: bool) {
    let mut create = ddb
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
        .billing_mode(BillingMode::PayPerRequest);
    if stream {
        create = create.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    }
    create.send().await.expect("create table");
}

fn ttl_spec(enabled: bool, attribute: &str) -> TimeToLiveSpecification {
    TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute)
        .build()
        .unwrap()
}

#[tokio::test]
async fn update_and_describe_follow_dynamodb_rules() {
    let ddb = support::client().await;
    let table = support::table_name("ttl_api");
    create_table(&ddb, &table, false).await;
    let describe = || async {
        let out = ddb
            .describe_time_to_live()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let d = out.time_to_live_description().unwrap().clone();
        (
            d.time_to_live_status().cloned(),
            d.attribute_name().map(str::to_string),
        )
    };
    assert_eq!(describe().await, (Some(TimeToLiveStatus::Disabled), None));
    let message = |e: aws_sdk_dynamodb::error::SdkError<_, _>| {
        let e: aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveError =
            e.into_service_error();
        e.meta().message().unwrap_or_default().to_string()
    };
    let update = |enabled: bool, attribute: &str| {
        ddb.update_time_to_live()
            .table_name(&table)
            .time_to_live_specification(ttl_spec(enabled, attribute))
            .send()
    };
    assert_eq!(
        message(update(false, "exp").await.unwrap_err()),
        "TimeToLive is already disabled"
    );
    let out = update(true, "exp").await.unwrap();
    let spec = out.time_to_live_specification().unwrap();
    assert!(spec.enabled());
    assert_eq!(spec.attribute_name(), "exp");
    assert_eq!(
        describe().await,
        (Some(TimeToLiveStatus::Enabled), Some("exp".into()))
    );
    assert_eq!(
        message(update(true, "exp").await.unwrap_err()),
        "TimeToLive is already enabled"
    );
    assert_eq!(
        message(update(true, "other").await.unwrap_err()),
        "TimeToLive is active on a different AttributeName"
    );
    assert_eq!(
        message(update(false, "other").await.unwrap_err()),
        "TimeToLive is active on a different AttributeName"
    );
    let out = update(false, "exp").await.unwrap();
    assert!(!out.time_to_live_specification().unwrap().enabled());
    assert_eq!(describe().await, (Some(TimeToLiveStatus::Disabled), None));

    let err = ddb
        .describe_time_to_live()
        .table_name("no_such_ttl_table")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_resource_not_found_exception());
    assert_eq!(
        err.meta().message(),
        Some("Requested resource not found: Table: no_such_ttl_table not found")
    );
}

/// Every record of a stream, read from the trim horizon of each shard until it is drained.
async fn read_stream(
    client: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
    let description = client
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for shard in description.stream_description().unwrap().shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        loop {
            let page = client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .unwrap();
            if page.records().is_empty() {
                break;
            }
            out.extend(page.records().iter().cloned());
            iterator = page.next_shard_iterator().unwrap().to_string();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sweep_expired_items_once() {
    const EXPIRED: usize = 600;
    let cluster = cluster::start(2, &[("DYNAMO_PG_TTL_SWEEP_INTERVAL_MS", "50")]);
    let ddb = cluster::dynamodb(&cluster.endpoints[0]);
    let streams = cluster::streams(&cluster.endpoints[1]);
    let db = cluster.db().await;
    let table = support::table_name("ttl_sweep");
    create_table(&ddb, &table, true).await;

    // Written before TTL is on, so that both instances find them all at once.
    let now = now();
    let mut writes = Vec::new();
    for i in 0..EXPIRED {
        let ddb = ddb.clone();
        let table = table.clone();
        writes.push(tokio::spawn(async move {
            let expiry = now - 10 - (i as i64 % 1000);
            ddb.put_item()
                .table_name(&table)
                .item("pk", s(&format!("expired{i}")))
                .item("exp", n(expiry))
                .send()
                .await
        }));
    }
    for w in writes {
        w.await.unwrap().expect("put");
    }
    let keep: Vec<(&str, AttributeValue)> = vec![
        ("future", n(now + 3600)),
        ("ancient", n(now - 6 * 365 * 24 * 3600)),
        ("string", s(&(now - 10).to_string())),
        (
            "binary",
            AttributeValue::B(aws_smithy_types::Blob::new(b"1".to_vec())),
        ),
        ("list", AttributeValue::L(vec![n(now - 10)])),
    ];
    for (key, value) in &keep {
        ddb.put_item()
            .table_name(&table)
            .item("pk", s(key))
            .item("exp", value.clone())
            .send()
            .await
            .unwrap();
    }
    ddb.put_item()
        .table_name(&table)
        .item("pk", s("no_ttl"))
        .send()
        .await
        .unwrap();
    let arn = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_string();

    ddb.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(ttl_spec(true, "exp"))
        .send()
        .await
        .unwrap();
    let pg_table: String = db
        .query_one(
            "SELECT definition->>'pg_table' FROM dynamo_tables WHERE name = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: i64 = db
            .query_one(&format!("SELECT count(*) FROM {pg_table}"), &[])
            .await
            .unwrap()
            .get(0);
        if left as usize == keep.len() + 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired items were not all deleted: {left} items left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (key, _) in &keep {
        let got = ddb
            .get_item()
            .table_name(&table)
            .key("pk", s(key))
            .send()
            .await
            .unwrap();
        assert!(got.item().is_some(), "{key} must stay");
    }

    // One REMOVE per expired item, each by the service; nothing else removed.
    let records = read_stream(&streams, &arn).await;
    let mut removes: HashMap<String, usize> = HashMap::new();
    for r in &records {
        if r.event_name() != Some(&OperationType::Remove) {
            assert!(r.user_identity().is_none());
            continue;
        }
        let identity = r.user_identity().expect("a TTL delete names the service");
        assert_eq!(identity.r#type(), Some("Service"));
        assert_eq!(identity.principal_id(), Some("dynamodb.amazonaws.com"));
        let body = r.dynamodb().unwrap();
        assert!(body.old_image().unwrap().contains_key("exp"));
        let key = match body.keys().unwrap().get("pk") {
            Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(k)) => k.clone(),
            other => panic!("unexpected key {other:?}"),
        };
        *removes.entry(key).or_default() += 1;
    }
    assert_eq!(removes.len(), EXPIRED, "every expired item removed");
    assert!(removes.keys().all(|k| k.starts_with("expired")));
    assert!(
        removes.values().all(|&count| count == 1),
        "no item removed twice"
    );
}

#[tokio::test]
async fn the_sweep_reads_through_the_ttl_index() {
    let cluster = cluster::start(1, &[("DYNAMO_PG_TTL_SWEEP_INTERVAL_MS", "50")]);
    let ddb = cluster::dynamodb(&cluster.endpoints[0]);
    let db = cluster.db().await;
    let table = support::table_name("ttl_index");
    create_table(&ddb, &table, false).await;
    ddb.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(ttl_spec(true, "exp"))
        .send()
        .await
        .unwrap();
    // Enough live items that reading them all would be a poor plan.
    let later = now() + 86_400;
    let mut writes = Vec::new();
    for i in 0..2000 {
        let ddb = ddb.clone();
        let table = table.clone();
        writes.push(tokio::spawn(async move {
            ddb.put_item()
                .table_name(&table)
                .item("pk", s(&format!("k{i}")))
                .item("exp", n(later + i))
                .send()
                .await
        }));
    }
    for w in writes {
        w.await.unwrap().expect("put");
    }
    let definition: serde_json::Value = db
        .query_one(
            "SELECT definition FROM dynamo_tables WHERE name = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get(0);
    let def: dynamo_pg::schema::TableDef = serde_json::from_value(definition).unwrap();
    // The sweeper builds the index on its next pass.
    let index = dynamo_pg::storage::ttl::ttl_index_name(&def, "exp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while db
        .query_opt("SELECT 1 FROM pg_class WHERE relname = $1", &[&index])
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "the TTL index was not built");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.batch_execute(&format!("ANALYZE {}", def.pg_table))
        .await
        .unwrap();
    let sql = dynamo_pg::storage::ttl::expired_delete_sql(&def).unwrap();
    let now = now();
    let plan = db
        .query(
            &format!("EXPLAIN {sql}"),
            &[&now, &(now - 5 * 365 * 24 * 3600), &100i64],
        )
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|r| r.get(0)).collect();
    assert!(
        plan.iter().any(|line| line.contains(&index)),
        "the sweep must use {index}:\n{}",
        plan.join("\n")
    );
}

/// With `ttl_hide_expired`, reads leave out items whose TTL has passed before the sweeper has
/// deleted them (here the sweeper is set to run only hourly).
#[tokio::test]
async fn hide_expired_leaves_expired_items_out_of_reads() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue as AV, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType, TimeToLiveSpecification,
    };
    let config = std::env::temp_dir().join(format!("dynamo-pg-hide-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        "ttl_hide_expired = true\nttl_sweep_interval_ms = 3600000\n",
    )
    .unwrap();
    let endpoint = support::start_server_with(&["--config", config.to_str().unwrap()]);
    let client = support::client_for(&endpoint, "AKID", "secret");
    let name = support::table_name("ttl_hide");
    client
        .create_table()
        .table_name(&name)
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
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("exp")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client
        .put_item()
        .table_name(&name)
        .item("pk", AV::S("old".into()))
        .item("exp", AV::N((now - 60).to_string()))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&name)
        .item("pk", AV::S("new".into()))
        .item("exp", AV::N((now + 3600).to_string()))
        .send()
        .await
        .unwrap();
    let got = client
        .get_item()
        .table_name(&name)
        .key("pk", AV::S("old".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none(), "an expired item is hidden");
    let got = client
        .get_item()
        .table_name(&name)
        .key("pk", AV::S("new".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some());
    let scan = client.scan().table_name(&name).send().await.unwrap();
    assert_eq!(
        (scan.count(), scan.scanned_count()),
        (1, 2),
        "hidden like a filtered item"
    );
    let _ = std::fs::remove_file(&config);
}
