//! UpdateTable: billing mode, provisioned throughput, deletion protection, streams and table
//! class. (Online index creation and deletion come with the secondary-index work.)

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::schema::{BillingMode, StreamSpec};
use crate::storage::streams::enabled_stream;

use super::common::{resolve_table_for_control, str_member};
use super::create_table::{now_epoch, parse_stream, parse_throughput};
use super::describe::describe_table;
use super::Ctx;

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Runs UpdateTable.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let has = |m: &str| input.get(m).is_some();
    if ![
        "ProvisionedThroughput",
        "BillingMode",
        "StreamSpecification",
        "GlobalSecondaryIndexUpdates",
        "SSESpecification",
        "ReplicaUpdates",
        "DeletionProtectionEnabled",
        "TableClass",
        "OnDemandThroughput",
        "WarmThroughput",
    ]
    .iter()
    .any(|m| has(m))
    {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    if has("ReplicaUpdates") {
        return Err(ApiError::validation(
            "ReplicaUpdates (global tables) are not supported by dynamo-pg yet",
        ));
    }
    let def =
        resolve_table_for_control(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let mut new = (*def).clone();
    let now = now_epoch();

    // Billing mode and throughput.
    let mode = match str_member(&input, "BillingMode") {
        Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
        Some(_) => BillingMode::Provisioned,
        None => def.billing_mode,
    };
    match (mode, input.get("ProvisionedThroughput")) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
            return Err(invalid("ProvisionedThroughput must be specified when BillingMode is PROVISIONED"))
        }
        (BillingMode::Provisioned, Some(t)) => {
            let requested = parse_throughput(t)?;
            let current = &def.throughput;
            if def.billing_mode == BillingMode::Provisioned
                && requested.read == current.read
                && requested.write == current.write
            {
                return Err(ApiError::validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. \
                     Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {}. \
                     Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {}. \
                     Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    current.read, requested.read, current.write, requested.write
                )));
            }
            let mut t = current.clone();
            if requested.read > current.read || requested.write > current.write {
                t.last_increase = Some(now);
            }
            if requested.read < current.read || requested.write < current.write {
                t.last_decrease = Some(now);
                t.decreases_today += 1;
            }
            t.read = requested.read;
            t.write = requested.write;
            new.throughput = t;
        }
        _ => {}
    }
    if mode != def.billing_mode {
        new.billing_mode = mode;
        match mode {
            BillingMode::PayPerRequest => {
                new.billing_mode_changed_at = Some(now);
                new.throughput = Default::default();
            }
            BillingMode::Provisioned => {}
        }
    }

    if let Some(p) = input
        .get("DeletionProtectionEnabled")
        .and_then(Value::as_bool)
    {
        new.deletion_protection = p;
    }
    if let Some(class) = str_member(&input, "TableClass") {
        new.table_class = Some(class.to_string());
    }
    if let Some(spec) = input.get("StreamSpecification") {
        // Enabling makes a new stream (new label); disabling keeps the old label, which
        // DescribeTable goes on reporting as LatestStreamArn (DynamoDB Local's wording below).
        let requested = parse_stream(Some(spec), now)?;
        match (enabled_stream(&def), requested) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation("Table already has an enabled stream"))
            }
            (None, None) => return Err(ApiError::validation("Table has no stream to disable")),
            (Some(old), None) => {
                new.stream = Some(StreamSpec {
                    enabled: false,
                    ..old.clone()
                })
            }
            (None, Some(stream)) => new.stream = Some(stream),
        }
    }

    let index_work = super::index_updates::apply(&input, &mut new)?;
    ctx.storage.save_table(&new).await?;
    if index_work {
        ctx.storage.wake_index_builder();
    }
    match (enabled_stream(&def), enabled_stream(&new)) {
        (Some(old), None) => ctx.storage.close_stream(&def.name, &old.label).await?,
        (None, Some(_)) => ctx.storage.open_stream(&new).await?,
        _ => {}
    }
    let mut description = describe_table(ctx, &new, None).await?;
    if index_work
        || new.billing_mode != def.billing_mode
        || new.throughput != def.throughput
        || new.stream != def.stream
    {
        description["TableStatus"] = "UPDATING".into();
    }
    Ok(json!({ "TableDescription": description }))
}
