//! CreateTable: validate the definition by DynamoDB's rules, in DynamoDB's order, then create the
//! catalog entry and the PostgreSQL relation in one transaction.

use std::collections::{BTreeSet, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::schema::{
    BillingMode, IndexDef, KeyAttr, KeySchema, Projection, ScalarType, StreamSpec, TableDef, Throughput,
};

use super::common::str_member;
use super::describe::{describe_table, stream_label};
use super::Ctx;

/// DynamoDB's limits on indexes per table.
const MAX_LSIS: usize = 5;
const MAX_GSIS: usize = 20;
/// Total NonKeyAttributes across all of a table's indexes.
const MAX_PROJECTED_NON_KEY: usize = 100;
/// Largest provisioned throughput DynamoDB accepts by default (account limit).
const MAX_THROUGHPUT: i64 = 40_000;

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Seconds since the epoch, with milliseconds, as DynamoDB reports times.
pub fn now_epoch() -> f64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// Runs CreateTable.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let def = parse_definition(&input)?;
    ctx.storage.create_table(&def).await?;
    let mut description = describe_table(ctx, &def, Some((0, 0))).await?;
    // The service answers CreateTable while the table is still being created.
    description["TableStatus"] = "CREATING".into();
    Ok(serde_json::json!({ "TableDescription": description }))
}

/// Builds a table definition from a CreateTable request, applying DynamoDB's rules.
pub fn parse_definition(input: &Value) -> ApiResult<TableDef> {
    let name = str_member(input, "TableName").unwrap_or_default().to_string();
    let definitions = parse_attribute_definitions(input.get("AttributeDefinitions"))?;
    let key = parse_key_schema(input.get("KeySchema"), &definitions, None)?;

    let lsis = parse_local_indexes(input.get("LocalSecondaryIndexes"), &key, &definitions)?;
    let (billing_mode, throughput) = parse_billing(input)?;
    let gsis = parse_global_indexes(input.get("GlobalSecondaryIndexes"), &definitions, billing_mode)?;

    // Every attribute definition must be used by a key of the table or an index.
    let used: HashSet<&str> = key
        .attrs()
        .chain(lsis.iter().flat_map(|i| i.key.attrs()))
        .chain(gsis.iter().flat_map(|i| i.key.attrs()))
        .map(|a| a.name.as_str())
        .collect();
    if definitions.len() != used.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let mut names = HashSet::new();
    for index in lsis.iter().chain(&gsis) {
        if !names.insert(index.name.as_str()) {
            return Err(invalid(format!("Duplicate index name: {}", index.name)));
        }
    }
    let non_key: usize = lsis.iter().chain(&gsis).map(|i| i.projection.non_key_attributes.len()).sum();
    if non_key > MAX_PROJECTED_NON_KEY {
        return Err(invalid(
            "The sum of NonKeyAttributes across all secondary indexes exceeds 100",
        ));
    }

    let created_at = now_epoch();
    let stream = parse_stream(input.get("StreamSpecification"), created_at)?;
    let tags = parse_tags(input.get("Tags"))?;
    let table_id = uuid::Uuid::new_v4();
    Ok(TableDef {
        name,
        table_id: table_id.to_string(),
        pg_table: format!("dt_{}", table_id.simple()),
        created_at,
        status: "ACTIVE".into(),
        key,
        attribute_definitions: definitions,
        billing_mode,
        billing_mode_changed_at: (billing_mode == BillingMode::PayPerRequest).then_some(created_at),
        throughput,
        local_indexes: lsis,
        global_indexes: gsis,
        deletion_protection: input.get("DeletionProtectionEnabled").and_then(Value::as_bool).unwrap_or(false),
        stream,
        ttl: None,
        tags,
        table_class: str_member(input, "TableClass").map(str::to_string),
    })
}

fn parse_attribute_definitions(value: Option<&Value>) -> ApiResult<Vec<KeyAttr>> {
    let mut out: Vec<KeyAttr> = Vec::new();
    for d in value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let name = str_member(d, "AttributeName").unwrap_or_default().to_string();
        let ty = str_member(d, "AttributeType").and_then(ScalarType::parse).ok_or_else(|| {
            invalid("Some AttributeDefinitions have an invalid AttributeType")
        })?;
        if out.iter().any(|a| a.name == name) {
            return Err(invalid("Cannot have two attributes with the same name"));
        }
        out.push(KeyAttr { name, ty });
    }
    Ok(out)
}

/// Parses a KeySchema list against the attribute definitions. `index` names the index being
/// parsed (for messages), `None` for the table's own key.
fn parse_key_schema(value: Option<&Value>, definitions: &[KeyAttr], index: Option<&str>) -> ApiResult<KeySchema> {
    let elements = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut hash = None;
    let mut range = None;
    let missing: Vec<&str> = elements
        .iter()
        .filter_map(|e| str_member(e, "AttributeName"))
        .filter(|n| !definitions.iter().any(|d| d.name == *n))
        .collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            defined.join(", ")
        )));
    }
    for (i, e) in elements.iter().enumerate() {
        let name = str_member(e, "AttributeName").unwrap_or_default();
        let attr = definitions.iter().find(|d| d.name == name).cloned().expect("checked above");
        match (i, str_member(e, "KeyType")) {
            (0, Some("HASH")) => hash = Some(attr),
            (0, _) => {
                return Err(ApiError::validation(match index {
                    None => "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".to_string(),
                    Some(_) => "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".to_string(),
                }))
            }
            (1, Some("RANGE")) => {
                if hash.as_ref().is_some_and(|h: &KeyAttr| h.name == attr.name) {
                    return Err(ApiError::validation(
                        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                    ));
                }
                range = Some(attr)
            }
            _ => {
                return Err(ApiError::validation(
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                ))
            }
        }
    }
    let hash = hash.ok_or_else(|| ApiError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"))?;
    Ok(KeySchema { hash, range })
}

fn parse_projection(value: Option<&Value>, index: &str) -> ApiResult<Projection> {
    let projection_type = value
        .and_then(|p| str_member(p, "ProjectionType"))
        .unwrap_or("")
        .to_string();
    let non_key: Vec<String> = value
        .and_then(|p| p.get("NonKeyAttributes"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    match projection_type.as_str() {
        "" => Err(invalid(format!("Unknown ProjectionType: null for index: {index}"))),
        "INCLUDE" if non_key.is_empty() => Err(invalid(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        )),
        "ALL" | "KEYS_ONLY" if value.and_then(|p| p.get("NonKeyAttributes")).is_some() => Err(invalid(format!(
            "ProjectionType is {projection_type}, but NonKeyAttributes is specified"
        ))),
        _ => {
            let unique: BTreeSet<&String> = non_key.iter().collect();
            if unique.len() != non_key.len() {
                return Err(invalid("Duplicate attribute name in NonKeyAttributes"));
            }
            Ok(Projection { projection_type, non_key_attributes: non_key })
        }
    }
}

fn parse_local_indexes(value: Option<&Value>, table_key: &KeySchema, definitions: &[KeyAttr]) -> ApiResult<Vec<IndexDef>> {
    let Some(list) = value.and_then(Value::as_array) else { return Ok(Vec::new()) };
    if list.is_empty() {
        return Err(invalid("List of LocalSecondaryIndexes is empty"));
    }
    if table_key.range.is_none() {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ));
    }
    if list.len() > MAX_LSIS {
        return Err(invalid("Number of LocalSecondaryIndexes exceeds per-table limit of 5"));
    }
    let mut out = Vec::new();
    for spec in list {
        let name = str_member(spec, "IndexName").unwrap_or_default().to_string();
        let key = parse_key_schema(spec.get("KeySchema"), definitions, Some(&name))?;
        if key.range.is_none() {
            return Err(invalid(format!("Index KeySchema does not have a range key for index: {name}")));
        }
        if key.hash.name != table_key.hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key.hash.name, table_key.hash.name
            )));
        }
        let projection = parse_projection(spec.get("Projection"), &name)?;
        out.push(IndexDef { name, key, projection, status: "ACTIVE".into(), throughput: None, backfilling: false });
    }
    Ok(out)
}

fn parse_global_indexes(value: Option<&Value>, definitions: &[KeyAttr], billing: BillingMode) -> ApiResult<Vec<IndexDef>> {
    let Some(list) = value.and_then(Value::as_array) else { return Ok(Vec::new()) };
    if list.is_empty() {
        return Err(invalid("List of GlobalSecondaryIndexes is empty"));
    }
    if list.len() > MAX_GSIS {
        return Err(ApiError::new(
            crate::error::ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: The number of global secondary indexes for a table cannot exceed 20",
        ));
    }
    let mut out = Vec::new();
    for spec in list {
        let name = str_member(spec, "IndexName").unwrap_or_default().to_string();
        let key = parse_key_schema(spec.get("KeySchema"), definitions, Some(&name))?;
        let projection = parse_projection(spec.get("Projection"), &name)?;
        let throughput = match (billing, spec.get("ProvisionedThroughput")) {
            (BillingMode::Provisioned, Some(t)) => Some(parse_throughput(t)?),
            (BillingMode::Provisioned, None) => {
                return Err(invalid(format!("ProvisionedThroughput is not specified for index: {name}")))
            }
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                )))
            }
            (BillingMode::PayPerRequest, None) => None,
        };
        out.push(IndexDef { name, key, projection, status: "ACTIVE".into(), throughput, backfilling: false });
    }
    Ok(out)
}

/// Reads ReadCapacityUnits/WriteCapacityUnits, checking DynamoDB's bounds.
pub fn parse_throughput(value: &Value) -> ApiResult<Throughput> {
    let read = value.get("ReadCapacityUnits").and_then(Value::as_i64).unwrap_or(0);
    let write = value.get("WriteCapacityUnits").and_then(Value::as_i64).unwrap_or(0);
    if read > MAX_THROUGHPUT || write > MAX_THROUGHPUT {
        return Err(ApiError::new(
            crate::error::ErrorKind::LimitExceeded,
            format!(
                "Subscriber limit exceeded: Provisioned throughput for the table cannot exceed {MAX_THROUGHPUT} read and {MAX_THROUGHPUT} write capacity units"
            ),
        ));
    }
    Ok(Throughput { read, write, ..Default::default() })
}

fn parse_billing(input: &Value) -> ApiResult<(BillingMode, Throughput)> {
    let mode = match str_member(input, "BillingMode") {
        Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
        _ => BillingMode::Provisioned,
    };
    match (mode, input.get("ProvisionedThroughput")) {
        (BillingMode::Provisioned, Some(t)) => Ok((mode, parse_throughput(t)?)),
        (BillingMode::Provisioned, None) => Err(ApiError::validation("No provisioned throughput specified for the table")),
        (BillingMode::PayPerRequest, Some(_)) => Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )),
        (BillingMode::PayPerRequest, None) => Ok((mode, Throughput::default())),
    }
}

/// Reads a StreamSpecification (used by UpdateTable too).
pub fn parse_stream(value: Option<&Value>, now: f64) -> ApiResult<Option<StreamSpec>> {
    let Some(spec) = value else { return Ok(None) };
    let enabled = spec.get("StreamEnabled").and_then(Value::as_bool).unwrap_or(false);
    let view_type = str_member(spec, "StreamViewType");
    match (enabled, view_type) {
        (true, None) => Err(invalid("You must specify a StreamViewType when enabling a stream")),
        (false, Some(_)) => Err(invalid("The StreamViewType cannot be specified when StreamEnabled is false")),
        (false, None) => Ok(None),
        (true, Some(v)) => Ok(Some(StreamSpec { enabled: true, view_type: v.to_string(), label: stream_label(now) })),
    }
}

/// Reads a Tags list (used by TagResource too).
pub fn parse_tags(value: Option<&Value>) -> ApiResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let key = str_member(t, "Key").unwrap_or_default().to_string();
        let value = str_member(t, "Value").unwrap_or_default().to_string();
        if key.starts_with("aws:") {
            return Err(ApiError::validation("The tag key cannot start with the reserved prefix aws:"));
        }
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => out.push((key, value)),
        }
    }
    if out.len() > 50 {
        return Err(ApiError::validation("The number of tags exceeds the limit of 50"));
    }
    Ok(out)
}
