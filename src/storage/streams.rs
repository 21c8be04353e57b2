//! DynamoDB Streams as a change log in PostgreSQL (tables in `migrations/0002_streams.sql`).
//!
//! # Writing: [`append_change`] / [`append_changes`]
//!
//! Every change to an item of a table with an enabled stream appends its stream record **in the
//! same transaction as the change**, so a record exists exactly when its change committed: none
//! is lost, none is recorded twice, and a failed or rolled-back write leaves none. Any write path
//! (single-item writes in `items.rs`, batch and transactional writes, the TTL sweeper) calls
//! [`append_change`] (one change) or [`append_changes`] (several; one call for the whole
//! transaction, across tables, so that shard locks are taken in one global order) on its open
//! transaction, after its item writes and as the last thing before COMMIT:
//!
//! ```ignore
//! let tx = conn.transaction().await?;
//! // ... lock and write the item(s) ...
//! streams::append_change(&tx, def, old.as_ref(), new.as_ref(), ChangeIdentity::Client).await?;
//! tx.commit().await?;
//! ```
//!
//! Callers pass the item as it was (`old`) and as it is now (`new`, `None` when deleted). The
//! function decides the record: nothing when the table has no enabled stream or when nothing
//! changed (a put of an identical item, a delete of a missing item: DynamoDB records none),
//! else INSERT, MODIFY or REMOVE with the images the stream's view type asks for. Tables without
//! a stream pay nothing, not even a statement; callers may skip the call with
//! [`stream_enabled`].
//!
//! # Ordering without gaps
//!
//! Readers page through a shard by sequence number, so a record must never become visible after
//! a reader has moved past its number. Sequence numbers from a PostgreSQL sequence are assigned
//! in start order, not commit order, and would let exactly that happen. Instead each shard has a
//! counter row (`dynamo_stream_shards.last_seq`); the append increments it and inserts the
//! records in one statement, the last of the writer's transaction. The row lock it takes is held
//! until COMMIT, so the next writer of the shard gets its number only after this one is visible:
//! numbers follow commit order and have no gaps. An item always goes to the shard its partition
//! key hashes to, and its own row lock is held across the append, so the records of one item are
//! in change order. The counter lock is held only for the final statement and the commit.
//!
//! # Streams and shards
//!
//! A stream is created with its table (or when UpdateTable enables one) with [`SHARD_COUNT`]
//! shards; writes find it by (namespace, table name, stream label). Disabling the stream or
//! deleting the table closes it: the shards get their ending sequence number, writes stop
//! appending, and it stays readable for [`RETENTION_MS`]. Records older than that are trimmed by
//! the stream worker ([`Storage::trim_streams`]), which also reconciles streams with the catalog
//! ([`Storage::reconcile_streams`]).

use deadpool_postgres::GenericClient;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::model::hash::partition_hash;
use crate::model::size::item_size;
use crate::model::{item_to_json, Item};
use crate::schema::{StreamSpec, TableDef};

use super::{db_error, Storage, DEFAULT_NAMESPACE};

/// Shards per stream. Each shard serializes the commits of its writers (see the module
/// documentation), so more shards allow more concurrent writers; readers poll every shard.
/// Measured with 16 clients putting small items: with 4 shards a streamed table took 35-45% of
/// the write throughput of one without a stream, with 16 shards 55-75%.
pub const SHARD_COUNT: i16 = 16;

/// How long records (and closed streams) are kept: DynamoDB's 24 hours.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Largest GetRecords answer DynamoDB returns, in bytes of records.
pub const MAX_READ_BYTES: i64 = 1024 * 1024;

/// Records trimmed per transaction.
const TRIM_BATCH: i64 = 10_000;

/// The shard part of a sequence number: shard `k` numbers its records `(k + 1) * 10^19 + n`,
/// written with 21 digits, so sequence numbers are unique across the stream's shards and compare
/// as numbers and as strings alike (room for 99 shards and 10^19 records per shard).
const SHARD_BASE: u128 = 10_000_000_000_000_000_000;

/// Who made a change, as the stream record reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeIdentity {
    /// A client request: the record carries no userIdentity.
    Client,
    /// The TTL sweeper: `userIdentity` {type Service, principalId dynamodb.amazonaws.com}.
    TimeToLive,
}

/// One change for [`append_changes`].
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// The table changed (its definition says whether and how it streams).
    pub def: &'a TableDef,
    /// The item before the change.
    pub old: Option<&'a Item>,
    /// The item after the change (`None`: deleted).
    pub new: Option<&'a Item>,
    /// Who changed it.
    pub identity: ChangeIdentity,
}

/// The table's enabled stream, if any.
pub fn enabled_stream(def: &TableDef) -> Option<&StreamSpec> {
    def.stream.as_ref().filter(|s| s.enabled)
}

/// Whether writes to the table must append stream records (and so need the old item).
pub fn stream_enabled(def: &TableDef) -> bool {
    enabled_stream(def).is_some()
}

/// The shard of a stream that records changes to items with this partition hash.
pub fn shard_of_hash(h: i32) -> i16 {
    (h as u32 % SHARD_COUNT as u32) as i16
}

/// The sequence number clients see for record `seq` of shard `shard`.
pub fn sequence_number(shard: i16, seq: i64) -> String {
    let value = (shard.max(0) as u128 + 1) * SHARD_BASE + seq.max(0) as u128;
    format!("{value:021}")
}

/// The (shard, per-shard number) a client's sequence number names; `None` when it is not one of
/// ours.
pub fn parse_sequence_number(text: &str) -> Option<(i16, i64)> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u128 = text.parse().ok()?;
    let shard = (value / SHARD_BASE).checked_sub(1)?;
    let seq = i64::try_from(value % SHARD_BASE).ok()?;
    Some((i16::try_from(shard).ok().filter(|s| *s < SHARD_COUNT)?, seq))
}

/// Epoch seconds of a stream label (`YYYY-MM-DDTHH:MM:SS.mmm`, UTC), the inverse of
/// `api::describe::stream_label`.
pub fn label_epoch(label: &str) -> Option<f64> {
    let b = label.as_bytes();
    if b.len() != 23
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| label.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some((secs * 1000 + ms) as f64 / 1000.0)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The ShardId of shard `shard` of a stream: `shardId-<creation ms, 20 digits>-<8 hex>`, the
/// service's form.
fn shard_id(def: &TableDef, label: &str, shard: i16) -> String {
    let millis = label_epoch(label)
        .map(|s| (s * 1000.0).round() as i64)
        .unwrap_or(0);
    let tag = format!("{}/{label}/{shard}", def.table_id);
    let digest = partition_hash(&crate::model::AttributeValue::S(tag)) as u32;
    format!("shardId-{millis:020}-{digest:08x}")
}

/// Milliseconds since the epoch by this server's clock.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The stream record of one change, without SequenceNumber and awsRegion (filled in when read),
/// and the shard it goes to; `None` when the change changed nothing.
fn build_record(def: &TableDef, spec: &StreamSpec, change: &Change<'_>) -> Option<(i16, String)> {
    let (event, item) = match (change.old, change.new) {
        (None, None) => return None,
        (Some(old), Some(new)) if old == new => return None,
        (None, Some(new)) => ("INSERT", new),
        (Some(_), Some(new)) => ("MODIFY", new),
        (Some(old), None) => ("REMOVE", old),
    };
    let hash_value = item.get(&def.key.hash.name)?;
    let shard = shard_of_hash(partition_hash(hash_value));
    let keys: Item = def
        .key
        .attrs()
        .filter_map(|a| item.get(&a.name).map(|v| (a.name.clone(), v.clone())))
        .collect();
    let (with_new, with_old) = match spec.view_type.as_str() {
        "NEW_IMAGE" => (true, false),
        "OLD_IMAGE" => (false, true),
        "NEW_AND_OLD_IMAGES" => (true, true),
        _ => (false, false),
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "ApproximateCreationDateTime".into(),
        (now_millis() / 1000).into(),
    );
    body.insert("Keys".into(), item_to_json(&keys));
    let mut size = item_size(&keys);
    if let (true, Some(new)) = (with_new, change.new) {
        body.insert("NewImage".into(), item_to_json(new));
        size += item_size(new);
    }
    if let (true, Some(old)) = (with_old, change.old) {
        body.insert("OldImage".into(), item_to_json(old));
        size += item_size(old);
    }
    body.insert("SizeBytes".into(), size.into());
    body.insert("StreamViewType".into(), spec.view_type.clone().into());
    let mut record = json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": Value::Object(body),
    });
    if change.identity == ChangeIdentity::TimeToLive {
        // The API model's member names; Lambda's event format spells them in lower case.
        record["userIdentity"] =
            json!({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"});
    }
    Some((shard, record.to_string()))
}

/// Appends the stream record of one change to `tx` (see the module documentation): call it
/// after writing the item, as the last statement before COMMIT.
pub async fn append_change(
    tx: &impl GenericClient,
    def: &TableDef,
    old: Option<&Item>,
    new: Option<&Item>,
    identity: ChangeIdentity,
) -> Result<(), ApiError> {
    if !stream_enabled(def) {
        return Ok(());
    }
    append_changes(
        tx,
        &[Change {
            def,
            old,
            new,
            identity,
        }],
    )
    .await
}

/// The records one transaction appends to one shard, in change order.
struct ShardGroup<'a> {
    /// (table name, stream label, shard): the order shard locks are taken in.
    key: (&'a str, &'a str, i16),
    /// The table, to register its stream if that never happened.
    def: &'a TableDef,
    records: Vec<String>,
}

/// Appends the records of several changes made in one transaction, in their order per item (see
/// the module documentation). Shard counters are locked in one global order (table name,
/// stream label, shard), so concurrent multi-item transactions cannot deadlock on them.
pub async fn append_changes(
    tx: &impl GenericClient,
    changes: &[Change<'_>],
) -> Result<(), ApiError> {
    let mut groups: Vec<ShardGroup<'_>> = Vec::new();
    for change in changes {
        let Some(spec) = enabled_stream(change.def) else {
            continue;
        };
        let Some((shard, record)) = build_record(change.def, spec, change) else {
            continue;
        };
        let key = (change.def.name.as_str(), spec.label.as_str(), shard);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(group) => group.records.push(record),
            None => groups.push(ShardGroup {
                key,
                def: change.def,
                records: vec![record],
            }),
        }
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    for ShardGroup {
        key: (table, label, shard),
        def,
        records,
    } in &groups
    {
        if append_group(tx, table, label, *shard, records).await? {
            continue;
        }
        // No open shard: the stream was never registered (a crash between creating the table
        // and its stream) or is closed (disabled while this write was in flight).
        if stream_exists(tx, table, label).await? {
            continue;
        }
        ensure_stream(tx, def).await?;
        append_group(tx, table, label, *shard, records).await?;
    }
    Ok(())
}

/// Increments the shard's counter and inserts the records, numbered after it, in one
/// statement. False when the shard is missing or closed.
async fn append_group(
    tx: &impl GenericClient,
    table: &str,
    label: &str,
    shard: i16,
    records: &[String],
) -> Result<bool, ApiError> {
    let stmt = tx
        .prepare_cached(
            "WITH s AS (\
               UPDATE dynamo_stream_shards AS sh SET last_seq = sh.last_seq + cardinality($4::text[]) \
               FROM dynamo_streams AS st \
               WHERE st.namespace = $1 AND st.table_name = $2 AND st.label = $3 \
                 AND sh.stream_id = st.stream_id AND sh.shard = $5::int2 AND sh.ending_seq IS NULL \
               RETURNING sh.stream_id, sh.last_seq) \
             INSERT INTO dynamo_stream_records (stream_id, shard, seq, created_at, record) \
             SELECT s.stream_id, $5::int2, s.last_seq - cardinality($4::text[]) + r.ord, \
                    (extract(epoch FROM clock_timestamp()) * 1000)::bigint, r.rec \
             FROM s, unnest($4::text[]) WITH ORDINALITY AS r(rec, ord)",
        )
        .await
        .map_err(db_error)?;
    let n = tx
        .execute(
            &stmt,
            &[&DEFAULT_NAMESPACE, &table, &label, &records, &shard],
        )
        .await
        .map_err(db_error)?;
    Ok(n > 0)
}

async fn stream_exists(
    tx: &impl GenericClient,
    table: &str,
    label: &str,
) -> Result<bool, ApiError> {
    let stmt = tx
        .prepare_cached(
            "SELECT 1 FROM dynamo_streams WHERE namespace = $1 AND table_name = $2 AND label = $3",
        )
        .await
        .map_err(db_error)?;
    Ok(tx
        .query_opt(&stmt, &[&DEFAULT_NAMESPACE, &table, &label])
        .await
        .map_err(db_error)?
        .is_some())
}

/// Registers the table's enabled stream and its shards, if they are not there yet.
async fn ensure_stream(client: &impl GenericClient, def: &TableDef) -> Result<(), ApiError> {
    let Some(spec) = enabled_stream(def) else {
        return Ok(());
    };
    let created = label_epoch(&spec.label).unwrap_or(def.created_at);
    let shard_ids: Vec<String> = (0..SHARD_COUNT)
        .map(|k| shard_id(def, &spec.label, k))
        .collect();
    client
        .execute(
            "INSERT INTO dynamo_streams (namespace, table_name, table_id, label, view_type, key_schema, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (namespace, table_name, label) DO NOTHING",
            &[
                &DEFAULT_NAMESPACE,
                &def.name,
                &def.table_id,
                &spec.label,
                &spec.view_type,
                &def.key.to_json(),
                &created,
            ],
        )
        .await
        .map_err(db_error)?;
    client
        .execute(
            "INSERT INTO dynamo_stream_shards (stream_id, shard, shard_id) \
             SELECT st.stream_id, (s.ord - 1)::int2, s.id \
             FROM dynamo_streams st, unnest($4::text[]) WITH ORDINALITY AS s(id, ord) \
             WHERE st.namespace = $1 AND st.table_name = $2 AND st.label = $3 AND st.closed_at IS NULL \
             ON CONFLICT DO NOTHING",
            &[&DEFAULT_NAMESPACE, &def.name, &spec.label, &shard_ids],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

/// A stream as ListStreams and DescribeStream report it.
#[derive(Clone, Debug)]
pub struct StreamInfo {
    /// Internal id: what shard iterators and records refer to.
    pub stream_id: i64,
    /// The table's name (it may have been deleted since).
    pub table_name: String,
    /// The TableId of the table the stream belongs to, which tells a re-created table apart.
    pub table_id: String,
    /// StreamLabel: the stream's creation time, part of its ARN.
    pub label: String,
    /// StreamViewType.
    pub view_type: String,
    /// DynamoDB's KeySchema list of the table.
    pub key_schema: Value,
    /// Epoch seconds.
    pub created_at: f64,
    /// Epoch seconds; `None` while the stream is enabled.
    pub closed_at: Option<f64>,
}

/// A shard as DescribeStream and the iterators need it.
#[derive(Clone, Debug)]
pub struct ShardInfo {
    /// The shard's number in its stream (0..[`SHARD_COUNT`]).
    pub shard: i16,
    /// ShardId, as clients name it.
    pub shard_id: String,
    /// The counter: the last sequence number assigned (0: none yet).
    pub last_seq: i64,
    /// Set when the shard is closed: its last sequence number.
    pub ending_seq: Option<i64>,
    /// Records up to this number have been trimmed.
    pub trimmed_seq: i64,
}

/// What one GetRecords read of a shard found: the shard's state and the records, all from one
/// snapshot.
#[derive(Clone, Debug)]
pub struct ShardRead {
    /// Set when the shard is closed: its last sequence number.
    pub ending_seq: Option<i64>,
    /// Records up to this number have been trimmed.
    pub trimmed_seq: i64,
    /// (per-shard number, record JSON without SequenceNumber and awsRegion), in order.
    pub records: Vec<(i64, String)>,
}

const STREAM_COLUMNS: &str =
    "stream_id, table_name, table_id, label, view_type, key_schema, created_at, closed_at";

fn stream_from_row(row: &tokio_postgres::Row) -> StreamInfo {
    StreamInfo {
        stream_id: row.get(0),
        table_name: row.get(1),
        table_id: row.get(2),
        label: row.get(3),
        view_type: row.get(4),
        key_schema: row.get(5),
        created_at: row.get(6),
        closed_at: row.get(7),
    }
}

impl Storage {
    /// Registers the table's enabled stream (CreateTable, UpdateTable). Idempotent; writes
    /// register it themselves if this never ran.
    pub async fn open_stream(&self, def: &TableDef) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        ensure_stream(&tx, def).await?;
        tx.commit().await.map_err(db_error)
    }

    /// Closes a stream (disabled, or its table deleted): each shard's ending sequence number is
    /// its last, and writes stop appending to it. Idempotent.
    pub async fn close_stream(&self, table_name: &str, label: &str) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let row = tx
            .query_opt(
                "UPDATE dynamo_streams SET closed_at = extract(epoch FROM clock_timestamp()) \
                 WHERE namespace = $1 AND table_name = $2 AND label = $3 AND closed_at IS NULL \
                 RETURNING stream_id",
                &[&DEFAULT_NAMESPACE, &table_name, &label],
            )
            .await
            .map_err(db_error)?;
        if let Some(row) = row {
            let stream_id: i64 = row.get(0);
            // Shard order, as writers lock them.
            tx.execute(
                "UPDATE dynamo_stream_shards SET ending_seq = last_seq \
                 WHERE (stream_id, shard) IN (SELECT stream_id, shard FROM dynamo_stream_shards \
                   WHERE stream_id = $1 AND ending_seq IS NULL ORDER BY shard FOR UPDATE)",
                &[&stream_id],
            )
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    /// Streams in ARN order (table name by bytes, then label), optionally of one table, after
    /// (table name, label), at most `limit`.
    pub async fn list_streams(
        &self,
        table: Option<&str>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<StreamInfo>, ApiError> {
        let conn = self.conn().await?;
        let (after_table, after_label) = after.unzip();
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {STREAM_COLUMNS} FROM dynamo_streams WHERE namespace = $1 \
                 AND ($2::text IS NULL OR table_name = $2) \
                 AND ($3::text IS NULL OR table_name COLLATE \"C\" > $3 \
                      OR (table_name = $3 AND label COLLATE \"C\" > $4)) \
                 ORDER BY table_name COLLATE \"C\", label COLLATE \"C\" LIMIT $5"
            ))
            .await
            .map_err(db_error)?;
        let rows = conn
            .query(
                &stmt,
                &[
                    &DEFAULT_NAMESPACE,
                    &table,
                    &after_table,
                    &after_label,
                    &limit,
                ],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(stream_from_row).collect())
    }

    /// The stream of `table_name` with `label`, if it exists (and has not been dropped).
    pub async fn stream(
        &self,
        table_name: &str,
        label: &str,
    ) -> Result<Option<StreamInfo>, ApiError> {
        let conn = self.conn().await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {STREAM_COLUMNS} FROM dynamo_streams \
                 WHERE namespace = $1 AND table_name = $2 AND label = $3"
            ))
            .await
            .map_err(db_error)?;
        let row = conn
            .query_opt(&stmt, &[&DEFAULT_NAMESPACE, &table_name, &label])
            .await
            .map_err(db_error)?;
        Ok(row.as_ref().map(stream_from_row))
    }

    /// The shards of a stream, in shard order.
    pub async fn stream_shards(&self, stream_id: i64) -> Result<Vec<ShardInfo>, ApiError> {
        let conn = self.conn().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT shard, shard_id, last_seq, ending_seq, trimmed_seq FROM dynamo_stream_shards \
                 WHERE stream_id = $1 ORDER BY shard",
            )
            .await
            .map_err(db_error)?;
        let rows = conn.query(&stmt, &[&stream_id]).await.map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|r| ShardInfo {
                shard: r.get(0),
                shard_id: r.get(1),
                last_seq: r.get(2),
                ending_seq: r.get(3),
                trimmed_seq: r.get(4),
            })
            .collect())
    }

    /// Reads up to `limit` records of a shard from number `from` on, stopping once
    /// [`MAX_READ_BYTES`] are reached (always at least one record). The shard's state comes
    /// from the same snapshot, so a reader can tell trimmed records from absent ones. `None`:
    /// the shard no longer exists.
    pub async fn read_shard(
        &self,
        stream_id: i64,
        shard: i16,
        from: i64,
        limit: i64,
    ) -> Result<Option<ShardRead>, ApiError> {
        let conn = self.conn().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT sh.trimmed_seq, sh.ending_seq, r.seq, r.record \
                 FROM dynamo_stream_shards sh \
                 LEFT JOIN LATERAL ( \
                   SELECT seq, record FROM ( \
                     SELECT seq, record, octet_length(record) AS len, \
                            sum(octet_length(record)) OVER (ORDER BY seq) AS running \
                     FROM (SELECT seq, record FROM dynamo_stream_records \
                           WHERE stream_id = sh.stream_id AND shard = sh.shard AND seq >= $3 \
                           ORDER BY seq LIMIT $4) page) sized \
                   WHERE running <= $5 OR running = len) r ON true \
                 WHERE sh.stream_id = $1 AND sh.shard = $2::int2 \
                 ORDER BY r.seq",
            )
            .await
            .map_err(db_error)?;
        let rows = conn
            .query(&stmt, &[&stream_id, &shard, &from, &limit, &MAX_READ_BYTES])
            .await
            .map_err(db_error)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut read = ShardRead {
            trimmed_seq: first.get(0),
            ending_seq: first.get(1),
            records: Vec::new(),
        };
        for row in &rows {
            if let (Some(seq), Some(record)) = (
                row.get::<_, Option<i64>>(2),
                row.get::<_, Option<String>>(3),
            ) {
                read.records.push((seq, record));
            }
        }
        Ok(Some(read))
    }

    /// The key that signs shard iterators, shared by every instance on this database (read once).
    pub async fn iterator_secret(&self) -> Result<&[u8], ApiError> {
        self.stream_secret
            .get_or_try_init(|| async {
                let conn = self.conn().await?;
                let row = conn
                    .query_opt(
                        "SELECT value FROM dynamo_secrets WHERE name = 'shard_iterator'",
                        &[],
                    )
                    .await
                    .map_err(db_error)?;
                row.map(|r| r.get::<_, Vec<u8>>(0))
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| ApiError::internal("the shard iterator secret is missing"))
            })
            .await
            .map(Vec::as_slice)
    }

    /// Brings the change log in line with the catalog: registers enabled streams that have no
    /// stream yet, and closes open streams whose table no longer has them enabled (disabled
    /// while a server was down, or the table deleted). Returns how many streams it changed.
    pub async fn reconcile_streams(&self) -> Result<usize, ApiError> {
        let conn = self.conn().await?;
        let missing = conn
            .query(
                "SELECT t.definition FROM dynamo_tables t \
                 WHERE t.namespace = $1 AND (t.definition->'stream'->>'enabled')::boolean \
                   AND NOT EXISTS (SELECT 1 FROM dynamo_streams st WHERE st.namespace = t.namespace \
                     AND st.table_name = t.name AND st.label = t.definition->'stream'->>'label')",
                &[&DEFAULT_NAMESPACE],
            )
            .await
            .map_err(db_error)?;
        let orphaned = conn
            .query(
                "SELECT st.table_name, st.label FROM dynamo_streams st \
                 WHERE st.namespace = $1 AND st.closed_at IS NULL AND NOT EXISTS ( \
                   SELECT 1 FROM dynamo_tables t WHERE t.namespace = st.namespace AND t.name = st.table_name \
                     AND t.definition->>'table_id' = st.table_id \
                     AND t.definition->'stream'->>'label' = st.label \
                     AND (t.definition->'stream'->>'enabled')::boolean)",
                &[&DEFAULT_NAMESPACE],
            )
            .await
            .map_err(db_error)?;
        drop(conn);
        for row in &missing {
            match serde_json::from_value::<TableDef>(row.get(0)) {
                Ok(def) => self.open_stream(&def).await?,
                Err(e) => tracing::warn!("stream reconcile: unreadable catalog entry: {e}"),
            }
        }
        for row in &orphaned {
            let (table, label): (String, String) = (row.get(0), row.get(1));
            self.close_stream(&table, &label).await?;
        }
        Ok(missing.len() + orphaned.len())
    }

    /// Removes records older than `retention_ms`, advancing each shard's trim horizon, and
    /// drops streams closed longer ago than that. Several instances may run it at once: each
    /// shard is trimmed under a transaction-level advisory lock, and the others skip it.
    /// Returns the number of records removed.
    pub async fn trim_streams(&self, retention_ms: i64) -> Result<u64, ApiError> {
        let mut conn = self.conn().await?;
        let shards = conn
            .query(
                // Only shards whose oldest record is due (one primary-key probe per shard).
                "SELECT sh.stream_id, sh.shard FROM dynamo_stream_shards sh \
                 WHERE EXISTS (SELECT 1 FROM dynamo_stream_records r \
                   WHERE r.stream_id = sh.stream_id AND r.shard = sh.shard AND r.seq = sh.trimmed_seq + 1 \
                     AND r.created_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1) \
                 ORDER BY sh.stream_id, sh.shard",
                &[&retention_ms],
            )
            .await
            .map_err(db_error)?;
        let mut removed = 0u64;
        for row in &shards {
            let (stream_id, shard): (i64, i16) = (row.get(0), row.get(1));
            loop {
                let tx = conn.transaction().await.map_err(db_error)?;
                let locked: bool = tx
                    .query_one(
                        "SELECT pg_try_advisory_xact_lock(1953655149, (($1::bigint * 64 + $2::int2) % 2147483647)::int4)",
                        &[&stream_id, &shard],
                    )
                    .await
                    .map_err(db_error)?
                    .get(0);
                if !locked {
                    break;
                }
                let horizon = tx
                    .query_opt(
                        "SELECT sh.trimmed_seq, (SELECT max(seq) FROM ( \
                             SELECT seq, created_at FROM dynamo_stream_records \
                             WHERE stream_id = $1 AND shard = $2 AND seq > sh.trimmed_seq \
                             ORDER BY seq LIMIT $3) page \
                           WHERE created_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $4) \
                         FROM dynamo_stream_shards sh WHERE sh.stream_id = $1 AND sh.shard = $2",
                        &[&stream_id, &shard, &TRIM_BATCH, &retention_ms],
                    )
                    .await
                    .map_err(db_error)?;
                // No row: the shard was dropped meanwhile.
                let Some(horizon) = horizon else { break };
                let (trimmed, upto): (i64, Option<i64>) = (horizon.get(0), horizon.get(1));
                let Some(upto) = upto else { break };
                let n = tx
                    .execute(
                        "DELETE FROM dynamo_stream_records WHERE stream_id = $1 AND shard = $2 AND seq > $3 AND seq <= $4",
                        &[&stream_id, &shard, &trimmed, &upto],
                    )
                    .await
                    .map_err(db_error)?;
                // Last: the shard row is the writers' counter, so hold its lock only briefly.
                tx.execute(
                    "UPDATE dynamo_stream_shards SET trimmed_seq = greatest(trimmed_seq, $3) \
                     WHERE stream_id = $1 AND shard = $2",
                    &[&stream_id, &shard, &upto],
                )
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                removed += n;
                if (n as i64) < TRIM_BATCH {
                    break;
                }
            }
        }
        // Streams closed for longer than the retention period: gone, with what is left of them.
        let tx = conn.transaction().await.map_err(db_error)?;
        let expired = tx
            .query(
                "DELETE FROM dynamo_streams WHERE closed_at IS NOT NULL \
                 AND closed_at < extract(epoch FROM clock_timestamp()) - $1::bigint / 1000.0 \
                 RETURNING stream_id",
                &[&retention_ms],
            )
            .await
            .map_err(db_error)?;
        let ids: Vec<i64> = expired.iter().map(|r| r.get(0)).collect();
        if !ids.is_empty() {
            tx.execute(
                "DELETE FROM dynamo_stream_shards WHERE stream_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(db_error)?;
            removed += tx
                .execute(
                    "DELETE FROM dynamo_stream_records WHERE stream_id = ANY($1)",
                    &[&ids],
                )
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip_and_order_as_numbers() {
        assert_eq!(sequence_number(0, 1), "010000000000000000001");
        assert_eq!(sequence_number(15, 42), "160000000000000000042");
        assert_eq!(parse_sequence_number("010000000000000000001"), Some((0, 1)));
        assert_eq!(
            parse_sequence_number("160000000000000000042"),
            Some((15, 42))
        );
        assert_eq!(parse_sequence_number("000000000000000000001"), None);
        assert_eq!(parse_sequence_number("990000000000000000001"), None);
        assert_eq!(parse_sequence_number("01000000000000000000x"), None);
        let last = SHARD_COUNT - 1;
        assert_eq!(
            parse_sequence_number(&sequence_number(last, i64::MAX)),
            Some((last, i64::MAX))
        );
        let a = sequence_number(1, 9);
        let b = sequence_number(1, 10);
        assert!(a < b && a.len() == b.len());
        assert!(a.parse::<u128>().unwrap() < b.parse::<u128>().unwrap());
        assert!(sequence_number(0, i64::MAX) < sequence_number(1, 1));
    }

    #[test]
    fn labels_parse_back_to_their_time() {
        assert_eq!(label_epoch("1970-01-01T00:00:00.000"), Some(0.0));
        assert_eq!(
            label_epoch("2023-11-14T22:13:20.123"),
            Some(1_700_000_000.123)
        );
        assert_eq!(label_epoch("2000-02-29T00:00:00.000"), Some(951_782_400.0));
        assert_eq!(label_epoch("garbage"), None);
    }
}
