//! The scale mode (`BENCH_SCALE=1`): does dynamo-pg's read latency hold at 10 million items,
//! and does a full Scan stream instead of holding the table in memory?
//!
//! 1. Proves the COPY loader stores what PutItem stores ([`copy_load::prove_equivalence`]).
//! 2. Creates two tables of the benchmark's items: `bench` with [`BASE_ITEMS`] loaded over HTTP
//!    (BatchWriteItem, as the normal benchmark does), and [`LARGE_TABLE`] with all the items
//!    loaded with COPY ([`copy_load::bulk_load`]; at ~1.2 KB a row, the HTTP preload would take
//!    hours). A sample of the COPY-loaded items is read back through GetItem and Query.
//! 3. Measures GetItem and Query on both tables, alternating between them for [`ROUNDS`]
//!    rounds, so that whatever else the machine does weighs on both alike; each table's figures
//!    pool its rounds.
//! 4. Scans the large table over HTTP, following `LastEvaluatedKey` to the end, checks that the
//!    item count is right, and samples the server's RSS meanwhile.
//!
//! Both tables are vacuumed, analyzed and checkpointed after loading, as in the normal
//! benchmark, so that no measurement pays for hint bits or a checkpoint left over from loading.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Client;

use super::copy_load;
use super::load::{Connection, Plan, RequestSet};
use super::server::{sql_error, Server};
use super::{mib, wait_active, workload, Config, CpuShare, Measurement, RssWatch};

/// The smaller data set the 10 million items are compared with: the normal benchmark's size.
pub const BASE_ITEMS: u64 = 100_000;
/// The table that holds all the items, loaded with COPY.
const LARGE_TABLE: &str = "bench_large";
/// Measurement rounds, each running every operation on both tables.
const ROUNDS: usize = 3;

/// `request` addressed to `table`.
fn on_table(table: &str, mut request: Value) -> Value {
    request["TableName"] = json!(table);
    request
}

/// Runs the scale mode with `config.items` items in the large table.
pub async fn run(config: &Config, root: &Path, bin: &Path) -> Result<(), String> {
    let items = config.items;
    let base = BASE_ITEMS.min(items);
    let run_started = Instant::now();
    let server = Server::start_in(root, bin, &config.server_args).await?;
    let client = server.sql().await?;
    let mut conn = Connection::open(server.addr).await?;

    copy_load::prove_equivalence(&mut conn, &client).await?;
    println!(
        "COPY loader checked: sample items stored by PutItem and by COPY give the same rows \
         (h, pk, sk, size, item) and the same GetItem answers"
    );

    for table in [workload::TABLE, LARGE_TABLE] {
        let (status, answer) = conn
            .call_json("CreateTable", &on_table(table, workload::create_table()))
            .await?;
        if !status.is_success() {
            return Err(format!("CreateTable {table} answered {status}: {answer}"));
        }
        wait_active(&mut conn, table).await?;
    }
    // The server closes keep-alive connections left idle (30 s by default): a fresh one later.
    drop(conn);
    let small_def = copy_load::table_def(&client, workload::TABLE).await?;
    let large_def = copy_load::table_def(&client, LARGE_TABLE).await?;

    let started = Instant::now();
    let method = super::preload(server.addr, base).await?;
    let http_secs = started.elapsed().as_secs_f64();
    settle(&client, &small_def.pg_table).await?;
    println!(
        "loaded {base} items into {} with {method} in {http_secs:.1} s",
        workload::TABLE
    );

    let started = Instant::now();
    copy_load::bulk_load(&server, &large_def, 0..items).await?;
    let copy_secs = started.elapsed().as_secs_f64();
    let settling = Instant::now();
    settle(&client, &large_def.pg_table).await?;
    let settle_secs = settling.elapsed().as_secs_f64();
    let bytes: i64 = client
        .query_one(
            "SELECT pg_total_relation_size($1::text::regclass)",
            &[&large_def.pg_table],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    println!(
        "loaded {items} items into {LARGE_TABLE} with COPY in {copy_secs:.0} s ({:.0} items/s, \
         primary key included), then VACUUM ANALYZE and CHECKPOINT in {settle_secs:.0} s; the \
         table and its index take {:.1} GB",
        items as f64 / copy_secs,
        bytes as f64 / 1e9
    );
    println!("{}", prewarm(&client, &large_def.pg_table, bytes).await?);
    let mut conn = Connection::open(server.addr).await?;
    let (gets, queries) = check_sample(&mut conn, LARGE_TABLE, items).await?;
    drop(conn);
    println!(
        "checked {gets} COPY-loaded items by GetItem and {queries} partitions by Query over HTTP"
    );

    let results = measure_reads(
        config,
        &server,
        &[(workload::TABLE, base), (LARGE_TABLE, items)],
    )
    .await?;
    let scan = full_scan(&server, LARGE_TABLE, items).await?;
    drop(client);
    drop(server);

    print_table(
        &format!(
            "| operation | connections | {base} items: req/s | p50 ms | p99 ms \
             | {items} items: req/s | p50 ms | p99 ms |"
        ),
        &results,
        |m| {
            format!(
                "{:.0} | {:.2} | {:.2}",
                m.result.rate(),
                m.result.quantile_ms(0.50),
                m.result.quantile_ms(0.99),
            )
        },
    );
    println!();
    println!(
        "CPU per request in µs (server, its PostgreSQL, load generator) and the share of the cores \
         busy with anything else or idle:"
    );
    print_table(
        &format!(
            "| operation | connections | {base} items: server | PostgreSQL | client | other % | idle % \
             | {items} items: server | PostgreSQL | client | other % | idle % |"
        ),
        &results,
        |m| {
            let c = &m.cpu;
            format!(
                "{:.0} | {:.0} | {:.0} | {:.0} | {:.0}",
                c.server, c.postgres, c.client, c.other_pct, c.idle_pct
            )
        },
    );
    println!();
    println!("{scan}");
    println!(
        "the whole scale run took {:.0} s",
        run_started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// VACUUM ANALYZE of the item relation, then a CHECKPOINT.
async fn settle(client: &Client, table: &str) -> Result<(), String> {
    // One statement per call: VACUUM refuses to run in the implicit transaction of a batch.
    for sql in [format!("VACUUM ANALYZE {table}"), "CHECKPOINT".into()] {
        client.batch_execute(&sql).await.map_err(sql_error)?;
    }
    Ok(())
}

/// Reads the large table and its primary key once, in file order, so that the rounds measure
/// a server that has run for a while instead of one warming up: random GetItems would take
/// many minutes to pull 17 GB in a page at a time. They go into PostgreSQL's buffer cache when
/// they fit in it (pg_prewarm's `buffer` mode), else into the operating system's cache (`read`
/// mode), where they stay only as long as the kernel keeps them (README, At scale). Without the
/// pg_prewarm extension the rounds start cold, and the line printed says so. `relation_bytes`:
/// the table's size with its index.
async fn prewarm(client: &Client, table: &str, relation_bytes: i64) -> Result<String, String> {
    if let Err(e) = client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .await
    {
        return Ok(format!(
            "not prewarmed (pg_prewarm: {e}): the rounds start from a cold cache"
        ));
    }
    let cache_bytes: i64 = client
        .query_one(
            "SELECT setting::int8 * 8192 FROM pg_settings WHERE name = 'shared_buffers'",
            &[],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    // Leave a tenth of the buffer cache for everything else it holds.
    let (mode, cache) = if relation_bytes < cache_bytes / 10 * 9 {
        ("buffer", "PostgreSQL's buffer cache")
    } else {
        ("read", "the operating system's cache")
    };
    let started = Instant::now();
    let blocks: i64 = client
        .query_one(
            "SELECT pg_prewarm($1::text::regclass, $2) + (SELECT sum(pg_prewarm(indexrelid, $2)) \
             FROM pg_index WHERE indrelid = $1::text::regclass)::int8",
            &[&table, &mode],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    let secs = started.elapsed().as_secs_f64();
    Ok(format!(
        "read the large table and its primary key into {cache} ({:.1} GB of shared_buffers): \
         {:.1} GB in {secs:.0} s",
        cache_bytes as f64 / 1e9,
        blocks as f64 * 8192.0 / 1e9
    ))
}

/// One operation at one connection count, on the small and on the large table.
struct Row {
    label: &'static str,
    connections: usize,
    tables: [Measurement; 2],
}

/// GetItem and Query at each connection count on each of `tables` (name, items), in
/// [`ROUNDS`] rounds that each run everything once; a table's rounds are pooled.
async fn measure_reads(
    config: &Config,
    server: &Server,
    tables: &[(&str, u64); 2],
) -> Result<Vec<Row>, String> {
    let sets = |table: &str, items: u64| {
        [
            (
                "GetItem",
                RequestSet::new(
                    "GetItem",
                    workload::bodies(items, |i| on_table(table, workload::get(i))),
                ),
            ),
            (
                "Query (1 partition, 10 items)",
                RequestSet::new(
                    "Query",
                    workload::bodies(items / workload::PER_PARTITION, |p| {
                        on_table(table, workload::query(p * workload::PER_PARTITION))
                    }),
                ),
            ),
        ]
    };
    let sets = tables.map(|(table, items)| sets(table, items));
    // rounds[r][op][connections][table]
    let mut pooled: Vec<Vec<[Vec<Measurement>; 2]>> = Vec::new();
    for round in 1..=ROUNDS {
        for (op, _) in sets[0].iter().enumerate() {
            for (c, &connections) in config.connections.iter().enumerate() {
                for (t, (table, items)) in tables.iter().enumerate() {
                    let (label, set) = &sets[t][op];
                    let plan = Plan {
                        sets: vec![(set.clone(), 1)],
                    };
                    let m = super::measure(
                        server,
                        &plan,
                        connections,
                        Duration::from_secs(config.secs),
                    )
                    .await
                    .map_err(|e| format!("{label} on {table}, {connections} connections: {e}"))?;
                    eprintln!(
                        "  round {round}: {label:<30} {connections:>3} conns {items:>9} items {:>9.0} req/s",
                        m.result.rate()
                    );
                    if pooled.len() <= op {
                        pooled.push(Vec::new());
                    }
                    if pooled[op].len() <= c {
                        pooled[op].push([Vec::new(), Vec::new()]);
                    }
                    pooled[op][c][t].push(m);
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (op, per_connections) in pooled.into_iter().enumerate() {
        for (c, [small, large]) in per_connections.into_iter().enumerate() {
            rows.push(Row {
                label: sets[0][op].0,
                connections: config.connections[c],
                tables: [Measurement::pool(small), Measurement::pool(large)],
            });
        }
    }
    Ok(rows)
}

/// Reads a sample of the COPY-loaded items `0..items` of `table` back over HTTP: GetItem of
/// the first, the last and 1,000 random ones, Query of 100 random partitions (and the last),
/// each answer compared with the item as the benchmark defines it. Returns (items, partitions)
/// checked.
async fn check_sample(
    conn: &mut Connection,
    table: &str,
    items: u64,
) -> Result<(usize, usize), String> {
    let (from, to) = (0, items);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut random = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut ids: Vec<u64> = vec![from, to - 1];
    ids.extend((0..1000).map(|_| from + random(to - from)));
    for &i in &ids {
        let (status, answer) = conn
            .call_json("GetItem", &on_table(table, workload::get(i)))
            .await?;
        if !status.is_success() || answer["Item"] != workload::item(i, i) {
            return Err(format!(
                "GetItem of COPY-loaded item {i} answered {status}: {answer}"
            ));
        }
    }
    let first_partition = from.div_ceil(workload::PER_PARTITION);
    let partitions = to / workload::PER_PARTITION - first_partition;
    let mut checked = 0;
    if partitions > 0 {
        let mut starts: Vec<u64> = vec![first_partition + partitions - 1];
        starts.extend((0..100).map(|_| first_partition + random(partitions)));
        for p in &starts {
            let first = p * workload::PER_PARTITION;
            let (status, answer) = conn
                .call_json("Query", &on_table(table, workload::query(first)))
                .await?;
            let expected: Vec<Value> = (first..first + workload::PER_PARTITION)
                .map(|i| workload::item(i, i))
                .collect();
            if !status.is_success() || answer["Items"] != json!(expected) {
                return Err(format!(
                    "Query of COPY-loaded partition {p} answered {status}: {answer}"
                ));
            }
        }
        checked = starts.len();
    }
    Ok((ids.len(), checked))
}

/// One page of a Scan answer, without keeping its items.
#[derive(Deserialize)]
struct ScanPage {
    #[serde(rename = "Count")]
    count: u64,
    #[serde(rename = "Items")]
    items: Vec<IgnoredAny>,
    #[serde(rename = "LastEvaluatedKey")]
    last_evaluated_key: Option<Value>,
}

/// What the full Scan measured.
struct ScanStats {
    items: u64,
    pages: u64,
    bytes: u64,
    elapsed: Duration,
    rss_before: u64,
    rss_peak: u64,
    /// `VmHWM` after the Scan, reset before it when the kernel allows.
    hwm: u64,
    hwm_reset: bool,
    cpu: CpuShare,
}

impl std::fmt::Display for ScanStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "Scan of the whole table over HTTP: {} items in {} pages of up to 1 MB, {secs:.0} s \
             ({:.0} items/s, {:.0} MB/s of answers; CPU per item: server {:.1} µs, PostgreSQL {:.1} µs, client {:.1} µs). \
             dynamo-pg RSS {:.1} MiB before, {:.1} MiB at most while scanning (sampled every 50 ms), \
             VmHWM {:.1} MiB{}",
            self.items,
            self.pages,
            self.items as f64 / secs,
            self.bytes as f64 / 1e6 / secs,
            self.cpu.server,
            self.cpu.postgres,
            self.cpu.client,
            mib(self.rss_before),
            mib(self.rss_peak),
            mib(self.hwm),
            if self.hwm_reset {
                " (reset before the Scan)"
            } else {
                " (since the server started: could not reset it)"
            },
        )
    }
}

/// Scans the whole of `table`, one page after the other, and checks that it saw `expected`
/// items.
async fn full_scan(server: &Server, table: &str, expected: u64) -> Result<ScanStats, String> {
    let mut conn = Connection::open(server.addr).await?;
    let hwm_reset = server.reset_peak_rss();
    let rss_before = server.rss_kib();
    let watch = RssWatch::start(server.pid());
    let before = server.cpu();
    let started = Instant::now();
    let (mut items, mut pages, mut bytes) = (0u64, 0u64, 0u64);
    let mut request = json!({ "TableName": table });
    let mut reported = 0;
    loop {
        let (status, answer) = conn
            .call("DynamoDB_20120810.Scan", request.to_string().as_bytes())
            .await?;
        if !status.is_success() {
            return Err(format!(
                "Scan page {} answered {status}: {}",
                pages + 1,
                String::from_utf8_lossy(&answer)
            ));
        }
        let page: ScanPage =
            serde_json::from_slice(&answer).map_err(|e| format!("Scan page {}: {e}", pages + 1))?;
        if page.items.len() as u64 != page.count {
            return Err(format!(
                "Scan page {} has {} items but Count {}",
                pages + 1,
                page.items.len(),
                page.count
            ));
        }
        items += page.count;
        pages += 1;
        bytes += answer.len() as u64;
        if items >= reported + 1_000_000 {
            reported = items - items % 1_000_000;
            eprintln!(
                "  Scan: {items} items, {pages} pages, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        match page.last_evaluated_key {
            Some(key) => request["ExclusiveStartKey"] = key,
            None => break,
        }
    }
    let elapsed = started.elapsed();
    let cpu = server.cpu().since(&before);
    let rss_peak = watch.finish();
    if items != expected {
        return Err(format!(
            "the Scan returned {items} items, the table holds {expected}"
        ));
    }
    Ok(ScanStats {
        items,
        pages,
        bytes,
        elapsed,
        rss_before,
        rss_peak,
        hwm: server.peak_rss_kib(),
        hwm_reset,
        cpu: CpuShare::of(&cpu, cpu.server, cpu.generator, items as f64),
    })
}

/// Prints a Markdown table under `header`: per row, its label and connection count, then
/// `cells` of the small table's measurement and of the large one's.
fn print_table(header: &str, results: &[Row], cells: impl Fn(&Measurement) -> String) {
    let columns = header.matches('|').count().saturating_sub(1);
    println!();
    println!("{header}");
    println!("|---|{}", "---:|".repeat(columns.saturating_sub(1)));
    for row in results {
        let [small, large] = &row.tables;
        println!(
            "| {} | {} | {} | {} |",
            row.label,
            row.connections,
            cells(small),
            cells(large)
        );
    }
}
