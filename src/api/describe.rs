//! The TableDescription structure, which CreateTable, DescribeTable, UpdateTable and DeleteTable
//! all return.

use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::schema::{BillingMode, IndexDef, Projection, TableDef, Throughput};

use super::common::table_arn;
use super::Ctx;

/// DynamoDB's stream label: the stream's creation time, ISO 8601 with milliseconds.
pub fn stream_label(epoch: f64) -> String {
    let millis = (epoch * 1000.0).round() as i64;
    let secs = millis.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        millis.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn throughput_json(t: &Throughput) -> Value {
    let mut out = Map::new();
    if let Some(at) = t.last_increase {
        out.insert("LastIncreaseDateTime".into(), at.into());
    }
    if let Some(at) = t.last_decrease {
        out.insert("LastDecreaseDateTime".into(), at.into());
    }
    out.insert("NumberOfDecreasesToday".into(), t.decreases_today.into());
    out.insert("ReadCapacityUnits".into(), t.read.into());
    out.insert("WriteCapacityUnits".into(), t.write.into());
    Value::Object(out)
}

fn projection_json(p: &Projection) -> Value {
    let mut out = Map::new();
    out.insert("ProjectionType".into(), p.projection_type.clone().into());
    if !p.non_key_attributes.is_empty() {
        out.insert(
            "NonKeyAttributes".into(),
            p.non_key_attributes.clone().into(),
        );
    }
    Value::Object(out)
}

fn index_json(
    ctx: &Ctx,
    def: &TableDef,
    index: &IndexDef,
    global: bool,
    stats: (i64, i64),
) -> Value {
    let mut out = Map::new();
    out.insert("IndexName".into(), index.name.clone().into());
    out.insert("KeySchema".into(), index.key.to_json());
    out.insert("Projection".into(), projection_json(&index.projection));
    if global {
        out.insert("IndexStatus".into(), index.status.clone().into());
        if index.backfilling {
            out.insert("Backfilling".into(), true.into());
        }
        let t = index.throughput.clone().unwrap_or_default();
        out.insert("ProvisionedThroughput".into(), throughput_json(&t));
    }
    out.insert("IndexSizeBytes".into(), stats.1.into());
    out.insert("ItemCount".into(), stats.0.into());
    out.insert(
        "IndexArn".into(),
        format!("{}/index/{}", table_arn(ctx, &def.name), index.name).into(),
    );
    Value::Object(out)
}

/// Builds the TableDescription. `stats` is (ItemCount, TableSizeBytes) when the caller knows
/// them (a new table has none); otherwise they are read from the table.
pub async fn describe_table(
    ctx: &Ctx,
    def: &TableDef,
    stats: Option<(i64, i64)>,
) -> ApiResult<Value> {
    let (count, size) = match stats {
        Some(s) => s,
        None => ctx.storage.table_stats(def).await?,
    };
    let mut index_stats = Vec::new();
    for index in def.local_indexes.iter().chain(&def.global_indexes) {
        index_stats.push(match stats {
            Some(_) => (0, 0),
            None => ctx.storage.index_stats(def, index).await?,
        });
    }
    let mut out = Map::new();
    let attrs: Vec<Value> = def
        .attribute_definitions
        .iter()
        .map(|a| json!({"AttributeName": a.name, "AttributeType": a.ty.as_str()}))
        .collect();
    out.insert("AttributeDefinitions".into(), attrs.into());
    out.insert("TableName".into(), def.name.clone().into());
    out.insert("KeySchema".into(), def.key.to_json());
    out.insert("TableStatus".into(), def.status.clone().into());
    out.insert("CreationDateTime".into(), def.created_at.into());
    out.insert(
        "ProvisionedThroughput".into(),
        throughput_json(&def.throughput),
    );
    out.insert("TableSizeBytes".into(), size.into());
    out.insert("ItemCount".into(), count.into());
    out.insert("TableArn".into(), table_arn(ctx, &def.name).into());
    out.insert("TableId".into(), def.table_id.clone().into());
    if def.billing_mode == BillingMode::PayPerRequest || def.billing_mode_changed_at.is_some() {
        let mut summary = Map::new();
        summary.insert("BillingMode".into(), def.billing_mode.as_str().into());
        if let Some(at) = def.billing_mode_changed_at {
            summary.insert("LastUpdateToPayPerRequestDateTime".into(), at.into());
        }
        out.insert("BillingModeSummary".into(), Value::Object(summary));
    }
    let n_local = def.local_indexes.len();
    if n_local > 0 {
        let list: Vec<Value> = def
            .local_indexes
            .iter()
            .zip(&index_stats)
            .map(|(i, s)| index_json(ctx, def, i, false, *s))
            .collect();
        out.insert("LocalSecondaryIndexes".into(), list.into());
    }
    if !def.global_indexes.is_empty() {
        let list: Vec<Value> = def
            .global_indexes
            .iter()
            .zip(&index_stats[n_local..])
            .map(|(i, s)| index_json(ctx, def, i, true, *s))
            .collect();
        out.insert("GlobalSecondaryIndexes".into(), list.into());
    }
    if let Some(stream) = &def.stream {
        // A disabled stream leaves no StreamSpecification but stays the latest stream.
        if stream.enabled {
            out.insert(
                "StreamSpecification".into(),
                json!({"StreamEnabled": true, "StreamViewType": stream.view_type}),
            );
        }
        out.insert("LatestStreamLabel".into(), stream.label.clone().into());
        out.insert(
            "LatestStreamArn".into(),
            format!("{}/stream/{}", table_arn(ctx, &def.name), stream.label).into(),
        );
    }
    if let Some(class) = &def.table_class {
        out.insert("TableClassSummary".into(), json!({"TableClass": class}));
    }
    out.insert(
        "DeletionProtectionEnabled".into(),
        def.deletion_protection.into(),
    );
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_labels_are_iso_8601_with_millis() {
        assert_eq!(stream_label(0.0), "1970-01-01T00:00:00.000");
        assert_eq!(stream_label(1_700_000_000.123), "2023-11-14T22:13:20.123");
        assert_eq!(stream_label(951_782_400.0), "2000-02-29T00:00:00.000");
    }
}
