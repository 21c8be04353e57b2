//! Bulk loading with PostgreSQL's COPY, for data sets the HTTP preload would take hours over
//! (the scale mode's 10 million items), and the proof that it stores exactly what the server
//! stores.
//!
//! A row is made by the crate's own functions, the ones PutItem's path calls: the wire JSON
//! becomes an item (`item_from_json`), its key the `h`/`pk`/`sk` columns (`StoredKey`, which
//! computes the partition hash), its DynamoDB size the `size` column (`item_size`) and its stored
//! document (`item_to_storage`, with the U+0000 escape) the `item` column, sent in binary COPY
//! through the same `jsonb` encoding as the server's statement parameters. [`prove_equivalence`]
//! checks the result row for row against items written by PutItem over HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamo_pg::model::storage::item_to_storage;
use dynamo_pg::model::{item_from_json, item_size};
use dynamo_pg::schema::{ScalarType, TableDef};
use dynamo_pg::storage::StoredKey;
use serde_json::{json, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::load::Connection;
use super::server::{sql_error, Server};
use super::workload;

/// The table's definition, as the server keeps it in its catalog.
pub async fn table_def(client: &Client, name: &str) -> Result<TableDef, String> {
    let row = client
        .query_one(
            "SELECT definition FROM dynamo_tables WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(sql_error)?;
    serde_json::from_value(row.get(0)).map_err(|e| format!("the catalog entry of {name}: {e}"))
}

/// COPYs `items` (DynamoDB JSON, as a PutItem's `Item`) into the table's relation, as the rows
/// an unconditional PutItem of each would write. Returns how many were copied.
///
/// Only for what such a PutItem does in one statement: a table without a stream (a stream
/// record would be missing) whose key attributes are strings or binaries (`bytea` columns; a
/// number key needs `numeric`'s binary form, which this does not write). Keys must be new: the
/// primary key rejects duplicates rather than replacing them.
pub async fn copy_items(
    client: &Client,
    def: &TableDef,
    items: impl IntoIterator<Item = Value>,
) -> Result<u64, String> {
    if def.stream.is_some() {
        return Err(format!("{}: COPY cannot write stream records", def.name));
    }
    let mut key_types =
        std::iter::once(def.key.hash.ty).chain(def.key.range.as_ref().map(|r| r.ty));
    if key_types.any(|ty| ty == ScalarType::N) {
        return Err(format!(
            "{}: the COPY loader handles string and binary keys only",
            def.name
        ));
    }
    let ranged = def.key.range.is_some();
    let (columns, types) = if ranged {
        (
            "h, pk, sk, size, item",
            vec![
                Type::INT4,
                Type::BYTEA,
                Type::BYTEA,
                Type::INT4,
                Type::JSONB,
            ],
        )
    } else {
        (
            "h, pk, size, item",
            vec![Type::INT4, Type::BYTEA, Type::INT4, Type::JSONB],
        )
    };
    let sink = client
        .copy_in(&format!(
            "COPY {} ({columns}) FROM STDIN (FORMAT binary)",
            def.pg_table
        ))
        .await
        .map_err(sql_error)?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for json in items {
        let item = item_from_json(&json).map_err(|e| format!("an invalid item: {e:?}"))?;
        let key = StoredKey::from_item(&def.key, &item)
            .ok_or_else(|| format!("an item without the key of {}: {json}", def.name))?;
        let size = item_size(&item) as i32;
        let stored = item_to_storage(&item);
        let mut row: Vec<&(dyn ToSql + Sync)> = vec![&key.h, &key.pk];
        if let Some(sk) = &key.sk {
            row.push(sk);
        }
        row.push(&size);
        row.push(&stored);
        writer.as_mut().write(&row).await.map_err(sql_error)?;
    }
    writer.as_mut().finish().await.map_err(sql_error)
}

/// COPY streams [`bulk_load`] runs at once, each on its own connection and tokio task: making
/// the rows costs this process more CPU than storing them costs PostgreSQL, so one stream
/// would leave a core idle.
const LOADERS: usize = 2;

/// Adds items `range` (the benchmark's items, [`workload::item`]`(i, i)`) to a table that
/// already exists and holds none of them, the fast way: the primary key is dropped, the rows
/// are COPYed in item order (the order the HTTP preload writes them in; [`LOADERS`] streams
/// take consecutive blocks of 100,000), and the primary key is built again, by sorting, under
/// the same name and definition. Progress, with the CPU spent per item by this process
/// (making the rows) and by PostgreSQL (storing them), goes to stderr.
pub async fn bulk_load(
    server: &Server,
    def: &TableDef,
    range: std::ops::Range<u64>,
) -> Result<(), String> {
    const BLOCK: u64 = 100_000;
    let client = server.sql().await?;
    let pkey = client
        .query_one(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = $1::text::regclass AND contype = 'p'",
            &[&def.pg_table],
        )
        .await
        .map_err(sql_error)?;
    let (name, definition): (String, String) = (pkey.get(0), pkey.get(1));
    // This session only: a large sort memory for the index build.
    client
        .batch_execute(&format!(
            "SET maintenance_work_mem = '1GB';\nALTER TABLE {} DROP CONSTRAINT {name}",
            def.pg_table
        ))
        .await
        .map_err(sql_error)?;

    let started = Instant::now();
    let cpu_before = server.cpu();
    let next = Arc::new(AtomicU64::new(range.start));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(LOADERS);
    for _ in 0..LOADERS {
        let (client, def) = (server.sql().await?, def.clone());
        let (next, done, end) = (next.clone(), done.clone(), range.end);
        tasks.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(BLOCK, Ordering::Relaxed);
                if start >= end {
                    return Ok::<_, String>(());
                }
                let stop = (start + BLOCK).min(end);
                copy_items(&client, &def, (start..stop).map(|i| workload::item(i, i))).await?;
                done.fetch_add(stop - start, Ordering::Relaxed);
            }
        }));
    }
    let total = range.end - range.start;
    let progress = || {
        let (done, secs) = (
            done.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64(),
        );
        let cpu = server.cpu().since(&cpu_before);
        let per_item = |us: u64| us as f64 / done.max(1) as f64;
        eprintln!(
            "  COPY: {done} of {total} items in {secs:.0} s ({:.0} items/s; CPU per item: \
             loader {:.1} µs, PostgreSQL {:.1} µs)",
            done as f64 / secs,
            per_item(cpu.generator),
            per_item(cpu.postgres),
        );
    };
    let mut all = std::pin::pin!(futures_util::future::try_join_all(tasks));
    let mut ticks = tokio::time::interval(Duration::from_secs(30));
    ticks.tick().await;
    loop {
        tokio::select! {
            results = &mut all => {
                for result in results.map_err(|e| format!("a COPY task failed: {e}"))? {
                    result?;
                }
                break;
            }
            _ = ticks.tick() => progress(),
        }
    }
    progress();

    let indexing = Instant::now();
    client
        .batch_execute(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {name} {definition}",
            def.pg_table
        ))
        .await
        .map_err(sql_error)?;
    eprintln!(
        "  primary key rebuilt in {:.0} s",
        indexing.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Items that exercise every part of the stored form: the escape of U+0000 and U+0001 in key
/// bytes, attribute names, strings, sets and map keys; numbers in non-canonical spellings; every
/// type; empty strings and binaries; nesting. Plus a few of the benchmark's own items.
fn sample_items() -> Vec<Value> {
    let mut items: Vec<Value> = [0, 1, 9, 10, 12_345, 9_999_999]
        .into_iter()
        .map(|i| workload::item(i, i))
        .collect();
    items.push(json!({
        "pk": {"S": "nul\u{0}key\u{1}é"},
        "sk": {"S": "\u{1}\u{2}\u{0}"},
        "s": {"S": "a\u{0}b\u{1}c\u{2}d \"quoted\" \\ back\nslash 💡"},
        "empty": {"S": ""},
        "name\u{0}with\u{1}nul": {"N": "1.50"},
        "n": {"N": "-0.000"},
        "e": {"N": "1e2"},
        "big": {"N": "12345678901234567890123456789012345678"},
        "tiny": {"N": "-1.2345E-100"},
        "b": {"B": "AAEC/w=="},
        "eb": {"B": ""},
        "ss": {"SS": ["b", "a", "\u{0}", "\u{1}x"]},
        "ns": {"NS": ["10", "2.50", "-3", "1E+3"]},
        "bs": {"BS": ["AAE=", "/w=="]},
        "t": {"BOOL": true},
        "f": {"BOOL": false},
        "z": {"NULL": true},
        "l": {"L": [{"S": "\u{0}"}, {"N": "007"}, {"L": []}, {"M": {}}, {"NULL": true}]},
        "m": {"M": {
            "\u{0}k": {"S": "v\u{1}"},
            "deep": {"M": {"deeper": {"L": [{"M": {"\u{1}": {"SS": ["\u{0}"]}}}]}}}
        }}
    }));
    items.push(json!({"pk": {"S": "\u{0}"}, "sk": {"S": "\u{0}"}}));
    items.push(json!({"pk": {"S": "plain"}, "sk": {"S": "x"}, "n": {"N": "0"}}));
    items
}

/// Proves that [`copy_items`] stores what the server stores: the sample items go into one table
/// by PutItem over HTTP and into another by COPY, and the two relations must hold the same rows
/// (`h`, `pk`, `sk`, `size`, `item`, compared in SQL); GetItem of each item from both tables
/// must answer the same. Both tables are deleted afterwards. Any difference is an error.
pub async fn prove_equivalence(conn: &mut Connection, client: &Client) -> Result<(), String> {
    const HTTP: &str = "bench_check_http";
    const COPY: &str = "bench_check_copy";
    for name in [HTTP, COPY] {
        let mut create = workload::create_table();
        create["TableName"] = json!(name);
        let (status, answer) = conn.call_json("CreateTable", &create).await?;
        if !status.is_success() {
            return Err(format!("CreateTable {name} answered {status}: {answer}"));
        }
        super::wait_active(conn, name).await?;
    }
    let items = sample_items();
    for item in &items {
        let (status, answer) = conn
            .call_json("PutItem", &json!({"TableName": HTTP, "Item": item}))
            .await?;
        if !status.is_success() {
            return Err(format!("PutItem {item} answered {status}: {answer}"));
        }
    }
    let (http_def, copy_def) = (
        table_def(client, HTTP).await?,
        table_def(client, COPY).await?,
    );
    copy_items(client, &copy_def, items.iter().cloned()).await?;

    let columns = "h, pk, sk, size, item";
    let differing = client
        .query(
            &format!(
                "(SELECT 'HTTP only' AS side, {columns} FROM {a} EXCEPT ALL SELECT 'HTTP only', {columns} FROM {b}) \
                 UNION ALL \
                 (SELECT 'COPY only', {columns} FROM {b} EXCEPT ALL SELECT 'COPY only', {columns} FROM {a})",
                a = http_def.pg_table,
                b = copy_def.pg_table,
            ),
            &[],
        )
        .await
        .map_err(sql_error)?;
    if !differing.is_empty() {
        let rows: Vec<String> = differing
            .iter()
            .map(|r| {
                let (side, h, pk, size, item): (&str, i32, Vec<u8>, i32, Value) =
                    (r.get(0), r.get(1), r.get(2), r.get(4), r.get(5));
                format!(
                    "  {side}: h={h} pk={:?} size={size} item={item}",
                    String::from_utf8_lossy(&pk)
                )
            })
            .collect();
        return Err(format!(
            "the COPY loader stores other rows than PutItem:\n{}",
            rows.join("\n")
        ));
    }
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}", copy_def.pg_table), &[])
        .await
        .map_err(sql_error)?
        .get(0);
    if count as usize != items.len() {
        return Err(format!(
            "{count} rows after loading {} sample items",
            items.len()
        ));
    }
    for item in &items {
        let key = json!({"pk": item["pk"], "sk": item["sk"]});
        let mut answers = Vec::new();
        for table in [HTTP, COPY] {
            let (status, answer) = conn
                .call_json("GetItem", &json!({"TableName": table, "Key": key}))
                .await?;
            if !status.is_success() || answer.get("Item").is_none() {
                return Err(format!(
                    "GetItem {key} from {table} answered {status}: {answer}"
                ));
            }
            answers.push(answer);
        }
        if answers[0] != answers[1] {
            return Err(format!(
                "GetItem {key} answers differently: {} (PutItem) vs {} (COPY)",
                answers[0], answers[1]
            ));
        }
    }
    for name in [HTTP, COPY] {
        let (status, answer) = conn
            .call_json("DeleteTable", &json!({"TableName": name}))
            .await?;
        if !status.is_success() {
            return Err(format!("DeleteTable {name} answered {status}: {answer}"));
        }
    }
    Ok(())
}
