//! The scale mode (`BENCH_SCALE=1`): does dynamo-pg's read latency hold at 10 million items,
//! and does a full Scan stream instead of holding the table in memory?
//!
//! 1. Proves the COPY loader stores what PutItem stores ([`copy_load::prove_equivalence`]).
//! 2. Loads the first [`BASE_ITEMS`] items over HTTP (BatchWriteItem, as the normal benchmark
//!    does) and measures GetItem and Query.
//! 3. Adds the rest of the items with COPY ([`copy_load::bulk_load`]): at ~1.2 KB a row, the
//!    HTTP preload would take hours. Checks a sample of them through GetItem and Query over
//!    HTTP, then measures GetItem and Query again, over the whole key range.
//! 4. Scans the whole table over HTTP, following `LastEvaluatedKey` to the end, checks that the
//!    item count is right, and samples the server's RSS meanwhile.
//!
//! The table is vacuumed, analyzed and checkpointed after each load, as in the normal
//! benchmark, so that neither measurement pays for hint bits or a checkpoint left over from
//! loading.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Client;

use super::copy_load;
use super::load::{Connection, Plan, RequestSet, RunResult};
use super::server::{sql_error, Server};
use super::{mib, wait_active, workload, Config, CpuShare, RssWatch};

/// The smaller data set the 10 million items are compared with: the normal benchmark's size.
pub const BASE_ITEMS: u64 = 100_000;

/// Read throughput and latency at one table size.
struct Measured {
    label: &'static str,
    connections: usize,
    result: RunResult,
    cpu: CpuShare,
}

/// Runs the scale mode with `config.items` items in all.
pub async fn run(config: &Config, root: &Path, bin: &Path) -> Result<(), String> {
    let items = config.items;
    let base = BASE_ITEMS.min(items);
    let run_started = Instant::now();
    let server = Server::start(
        bin,
        &root.join("data"),
        &root.join("server.log"),
        &config.server_args,
    )?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = server.sql().await?;
    let mut conn = Connection::open(server.addr).await?;

    copy_load::prove_equivalence(&mut conn, &client).await?;
    println!(
        "COPY loader checked: sample items stored by PutItem and by COPY give the same rows \
         (h, pk, sk, size, item) and the same GetItem answers"
    );

    let (status, answer) = conn
        .call_json("CreateTable", &workload::create_table())
        .await?;
    if !status.is_success() {
        return Err(format!("CreateTable answered {status}: {answer}"));
    }
    wait_active(&mut conn, workload::TABLE).await?;
    drop(conn);
    let def = copy_load::table_def(&client, workload::TABLE).await?;

    let started = Instant::now();
    let method = super::preload(server.addr, base).await?;
    let http_secs = started.elapsed().as_secs_f64();
    settle(&client, &def.pg_table).await?;
    println!("loaded {base} items with {method} in {http_secs:.1} s");
    let small = measure_reads(config, &server, base).await?;

    let started = Instant::now();
    copy_load::bulk_load(&server, &def, base..items).await?;
    let copy_secs = started.elapsed().as_secs_f64();
    let settling = Instant::now();
    settle(&client, &def.pg_table).await?;
    let settle_secs = settling.elapsed().as_secs_f64();
    let bytes: i64 = client
        .query_one(
            "SELECT pg_total_relation_size($1::text::regclass)",
            &[&def.pg_table],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    println!(
        "loaded {} more items with COPY in {copy_secs:.0} s ({:.0} items/s), then VACUUM ANALYZE and \
         CHECKPOINT in {settle_secs:.0} s; the table and its index take {:.1} GB",
        items - base,
        (items - base) as f64 / copy_secs,
        bytes as f64 / 1e9
    );
    let mut conn = Connection::open(server.addr).await?;
    let (gets, queries) = check_sample(&mut conn, base, items).await?;
    drop(conn);
    println!(
        "checked {gets} COPY-loaded items by GetItem and {queries} partitions by Query over HTTP"
    );
    let large = measure_reads(config, &server, items).await?;

    let scan = full_scan(&server, items).await?;
    drop(client);
    drop(server);

    println!();
    println!(
        "| operation | connections | {base} items: req/s | p50 ms | p99 ms | server µs/req \
         | {items} items: req/s | p50 ms | p99 ms | server µs/req |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (s, l) in small.iter().zip(&large) {
        let cells = |m: &Measured| {
            format!(
                "{:.0} | {:.2} | {:.2} | {:.0}",
                m.result.rate(),
                m.result.quantile_ms(0.50),
                m.result.quantile_ms(0.99),
                m.cpu.server
            )
        };
        println!(
            "| {} | {} | {} | {} |",
            s.label,
            s.connections,
            cells(s),
            cells(l)
        );
    }
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

/// GetItem and Query over items `0..items`, at each connection count.
async fn measure_reads(
    config: &Config,
    server: &Server,
    items: u64,
) -> Result<Vec<Measured>, String> {
    let sets = [
        (
            "GetItem",
            RequestSet::new("GetItem", workload::bodies(items, workload::get)),
        ),
        (
            "Query (1 partition, 10 items)",
            RequestSet::new(
                "Query",
                workload::bodies(items / workload::PER_PARTITION, |p| {
                    workload::query(p * workload::PER_PARTITION)
                }),
            ),
        ),
    ];
    let mut measured = Vec::new();
    for (label, set) in sets {
        for &connections in &config.connections {
            let plan = Plan {
                sets: vec![(set.clone(), 1)],
            };
            let super::Measurement { result, cpu, .. } =
                super::measure(server, &plan, connections, Duration::from_secs(config.secs))
                    .await
                    .map_err(|e| {
                        format!("{label} at {items} items, {connections} connections: {e}")
                    })?;
            eprintln!(
                "  {label:<40} {connections:>3} conns  {items:>9} items  {:>9.0} req/s",
                result.rate()
            );
            measured.push(Measured {
                label,
                connections,
                result,
                cpu,
            });
        }
    }
    Ok(measured)
}

/// Reads a sample of the COPY-loaded items `from..to` back over HTTP: GetItem of the first, the
/// last and 1,000 random ones, Query of 100 random partitions (and the last), each answer
/// compared with the item as the benchmark defines it. Returns (items, partitions) checked.
async fn check_sample(conn: &mut Connection, from: u64, to: u64) -> Result<(usize, usize), String> {
    if from >= to {
        return Ok((0, 0));
    }
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
        let (status, answer) = conn.call_json("GetItem", &workload::get(i)).await?;
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
            let (status, answer) = conn.call_json("Query", &workload::query(first)).await?;
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

/// Scans the whole benchmark table, one page after the other, and checks that it saw
/// `expected` items.
async fn full_scan(server: &Server, expected: u64) -> Result<ScanStats, String> {
    let mut conn = Connection::open(server.addr).await?;
    let hwm_reset = server.reset_peak_rss();
    let rss_before = server.rss_kib();
    let watch = RssWatch::start(server.pid());
    let before = server.cpu();
    let started = Instant::now();
    let (mut items, mut pages, mut bytes) = (0u64, 0u64, 0u64);
    let mut request = json!({"TableName": workload::TABLE});
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
