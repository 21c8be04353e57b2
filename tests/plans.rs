//! The query plans underneath Query and Scan: each reads an index range, never the whole
//! table, and a Query's cost does not grow with the table. Checked with EXPLAIN on exactly the
//! SQL the server runs (`storage::read::range_sql`), against the test server's PostgreSQL.

mod support;

use support::{attr, key};

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, KeyType, ProjectionType, ScalarAttributeType,
};
use dynamo_pg::model::{partition_hash, AttributeValue, Number};
use dynamo_pg::schema::TableDef;
use dynamo_pg::storage::layout::AccessPath;
use dynamo_pg::storage::read::{range_sql, RangeRead, SortCondition};
use tokio_postgres::types::ToSql;

async fn pg() -> tokio_postgres::Client {
    connect(&support::pg_conninfo().await).await
}

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// The embedded PostgreSQL's buffer cache in MB, as it reports it.
async fn shared_buffers_mb(db: &tokio_postgres::Client) -> u64 {
    let row = db
        .query_one(
            "SELECT setting::int8 * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'",
            &[],
        )
        .await
        .unwrap();
    row.get::<_, i64>(0) as u64
}

/// Creates the table through the API, then bulk-loads `rows` items straight into its relation
/// (the HTTP path would take minutes for 200,000), and returns its catalog definition.
async fn table_with_rows(db: &tokio_postgres::Client, rows: i64) -> TableDef {
    let client = support::client().await;
    let name = support::table_name("plans");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("lsk", ScalarAttributeType::S))
        .attribute_definitions(attr("gpk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(support::lsi(
            "by_lsk",
            &[("pk", KeyType::Hash), ("lsk", KeyType::Range)],
            ProjectionType::All,
        ))
        .global_secondary_indexes(support::gsi(
            "by_g",
            &[("gpk", KeyType::Hash)],
            ProjectionType::All,
        ))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&name)
        .item("pk", AV::S("probe".into()))
        .item("sk", AV::N("1".into()))
        .send()
        .await
        .unwrap();
    let row = db
        .query_one(
            "SELECT definition FROM dynamo_tables WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap();
    let def: TableDef = serde_json::from_value(row.get(0)).unwrap();
    load(db, &def, 0, rows).await;
    def
}

/// Inserts items `from..to`: 100 items per partition `p<i/100>`.
async fn load(db: &tokio_postgres::Client, def: &TableDef, from: i64, to: i64) {
    let mut start = from;
    while start < to {
        let end = (start + 20_000).min(to);
        let (mut hs, mut pks, mut sks, mut items) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in start..end {
            let pk = format!("p{}", i / 100);
            hs.push(partition_hash(&AttributeValue::S(pk.clone())));
            pks.push(pk.clone().into_bytes());
            sks.push((i % 100).to_string());
            items.push(serde_json::json!({
                "pk": {"S": pk}, "sk": {"N": (i % 100).to_string()},
                "lsk": {"S": format!("l{:03}", 99 - i % 100)}, "gpk": {"S": format!("g{i}")},
                "pad": {"S": "x".repeat(200)}
            }));
        }
        db.execute(
            &format!(
                "INSERT INTO {} (h, pk, sk, size, item) SELECT h, pk, sk::numeric, 250, item \
                 FROM unnest($1::int4[], $2::bytea[], $3::text[], $4::jsonb[]) AS t(h, pk, sk, item)",
                def.pg_table
            ),
            &[&hs, &pks, &sks, &items],
        )
        .await
        .unwrap();
        start = end;
    }
    db.batch_execute(&format!("ANALYZE {}", def.pg_table))
        .await
        .unwrap();
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// EXPLAIN (ANALYZE, BUFFERS) of a read: (the plan as text, shared buffers touched).
async fn explain(
    db: &tokio_postgres::Client,
    def: &TableDef,
    read: &RangeRead<'_>,
    limit: i64,
) -> (String, i64) {
    let (sql, params) = range_sql(def, read, limit).unwrap();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let rows = db
        .query(
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"),
            &refs,
        )
        .await
        .unwrap();
    let plan: serde_json::Value = rows[0].get(0);
    let text = plan.to_string();
    let buffers = plan[0]["Plan"]["Shared Hit Blocks"].as_i64().unwrap_or(0)
        + plan[0]["Plan"]["Shared Read Blocks"].as_i64().unwrap_or(0);
    (text, buffers)
}

fn assert_index_range(plan: &str, what: &str) {
    assert!(
        !plan.contains("\"Seq Scan\""),
        "{what} reads the whole table: {plan}"
    );
    assert!(
        plan.contains("Index Scan") || plan.contains("Index Only Scan"),
        "{what} uses no index: {plan}"
    );
    assert!(
        plan.contains("Index Cond"),
        "{what} has no index range condition: {plan}"
    );
}

#[tokio::test]
async fn every_access_path_is_an_index_range_scan_whose_cost_does_not_grow() {
    let db = pg().await;
    let def = table_with_rows(&db, 20_000).await;
    let lsi = &def.local_indexes[0];
    let gsi = &def.global_indexes[0];

    let query_table = || RangeRead {
        path: AccessPath::new(&def, None),
        partition: Some(s("p77")),
        equal: Vec::new(),
        sort: Some(SortCondition::Between(
            AttributeValue::N(Number::from_i64(10)),
            AttributeValue::N(Number::from_i64(19)),
        )),
        forward: true,
        after: None,
        segment: None,
    };
    let query_lsi = || RangeRead {
        path: AccessPath::new(&def, Some(lsi)),
        partition: Some(s("p77")),
        equal: Vec::new(),
        sort: Some(SortCondition::BeginsWith(s("l0"))),
        forward: false,
        after: None,
        segment: None,
    };
    let query_gsi = || RangeRead {
        path: AccessPath::new(&def, Some(gsi)),
        partition: Some(s("g7777")),
        equal: Vec::new(),
        sort: None,
        forward: true,
        after: None,
        segment: None,
    };
    let segment = || RangeRead {
        path: AccessPath::new(&def, None),
        partition: None,
        equal: Vec::new(),
        sort: None,
        forward: true,
        after: None,
        segment: dynamo_pg::model::hash::segment_hash_range(3, 16),
    };

    let mut before = Vec::new();
    for (what, read) in [
        ("table query", query_table()),
        ("LSI query", query_lsi()),
        ("GSI query", query_gsi()),
        ("scan segment", segment()),
    ] {
        let (plan, buffers) = explain(&db, &def, &read, 10).await;
        assert_index_range(&plan, what);
        before.push(buffers);
    }
    // Ten times the items: the same plans touch about the same number of pages.
    load(&db, &def, 20_000, 200_000).await;
    for (i, (what, read)) in [
        ("table query", query_table()),
        ("LSI query", query_lsi()),
        ("GSI query", query_gsi()),
        ("scan segment", segment()),
    ]
    .into_iter()
    .enumerate()
    {
        let (plan, buffers) = explain(&db, &def, &read, 10).await;
        assert_index_range(&plan, what);
        assert!(
            buffers <= before[i] + 6,
            "{what}: {} pages at 20,000 items, {buffers} at 200,000",
            before[i]
        );
    }

    // And the API answers from the big table.
    let client = support::client().await;
    let page = client
        .query()
        .table_name(&def.name)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AV::S("p1999".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.count(), 100);
}

/// The embedded PostgreSQL runs with the buffer cache dynamo-pg sized for it (a quarter of
/// the memory, 128 MB to 8 GB), not its default 128 MB: with the default, a table larger than
/// that is read through the kernel's cache, a system call per page, and GetItem slows as the
/// table grows (README, At scale).
#[tokio::test]
async fn the_embedded_postgresql_caches_a_quarter_of_memory() {
    if std::env::var("DYNAMO_PG_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: the tests run against an external PostgreSQL");
        return;
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let total_mb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("MemTotal")
        / 1024;
    let sized = dynamo_pg::embedded_pg::shared_buffers_mb();
    assert!((128..=8192).contains(&sized), "{sized} MB");
    assert!(
        sized == 128 || sized <= total_mb / 4,
        "{sized} MB of {total_mb} MB"
    );
    assert_eq!(shared_buffers_mb(&pg().await).await, sized);
}

/// `--shared-buffers-mb` sizes the cache instead: the 10-million-item scale run needs most of
/// the memory there, since this machine's kernel drops page cache by itself (README, At scale).
#[tokio::test]
async fn the_buffer_cache_size_can_be_set() {
    if std::env::var("DYNAMO_PG_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: the tests run against an external PostgreSQL");
        return;
    }
    let (endpoint, conninfo) = support::start_embedded_server_with(&["--shared-buffers-mb", "144"]);
    let client = support::client_for(&endpoint, "AKIDTEST", "secret");
    client
        .list_tables()
        .send()
        .await
        .expect("the server answers");
    assert_eq!(shared_buffers_mb(&connect(&conninfo).await).await, 144);
}
