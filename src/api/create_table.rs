//! CreateTable: validate the definition by DynamoDB's rules, in DynamoDB's order, then create the
//! catalog entry and the PostgreSQL relation in one transaction.

use std::collections::{BTreeSet, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::schema::{
    BillingMode, IndexDef, KeyAttr, KeySchema, Projection, ScalarType, StreamSpec, TableDef,
    Throughput,
};

use super::common::str_member;
use super::describe::{describe_table, stream_label};
use super::Ctx;

/// DynamoDB's limits on indexes per table.
const MAX_LSIS: usize = 5;
const MAX_GSIS: usize = 20;
/// Total NonKeyAttributes across all of a table's indexes.
const MAX_PROJECTED_NON_KEY: usize = 100;
/// Largest provisioned throughput DynamoDB accepts for a table by default.
const MAX_THROUGHPUT: i64 = 40_000;
/// Beyond this a throughput value is out of bounds whatever the account's limits.
const MAX_ANY_THROUGHPUT: i64 = 1_000_000_000_000;

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Seconds since the epoch, with milliseconds, as DynamoDB reports times.
pub fn now_epoch() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// Runs CreateTable.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let def = parse_definition(&input)?;
    ctx.storage.create_table(&def).await?;
    if crate::storage::streams::stream_enabled(&def) {
        ctx.storage.open_stream(&def).await?;
    }
    let mut description = describe_table(ctx, &def, Some((0, 0))).await?;
    // The service answers CreateTable while the table (and each GSI) is still being created.
    description["TableStatus"] = "CREATING".into();
    if let Some(gsis) = description
        .get_mut("GlobalSecondaryIndexes")
        .and_then(Value::as_array_mut)
    {
        for gsi in gsis {
            gsi["IndexStatus"] = "CREATING".into();
        }
    }
    Ok(serde_json::json!({ "TableDescription": description }))
}

/// Builds a table definition from a CreateTable request, applying DynamoDB's rules in the
/// service's order (as dynalite, written against the service, records it); rules the service
/// added since, and limits only DynamoDB Local showed us, follow where they fit.
pub fn parse_definition(input: &Value) -> ApiResult<TableDef> {
    let name = str_member(input, "TableName")
        .unwrap_or_default()
        .to_string();
    let (billing_mode, throughput) = parse_billing(input)?;

    let Some(key_elements) = input
        .get("KeySchema")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty())
    else {
        return Err(ApiError::validation(
            "No defined key schema.  A key schema containing at least a hash key must be defined for all tables",
        ));
    };
    if key_elements.len() > 2 {
        return Err(ApiError::validation(
            "Key Schema too big.  Key Schema must at most consist of the hash and range key of a table",
        ));
    }
    let Some(definition_list) = input
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    else {
        return Err(ApiError::validation("No Attribute Schema Defined"));
    };
    let definitions = parse_attribute_definitions(definition_list)?;
    let key = parse_key_schema(key_elements, &definitions)?;
    let has_indexes = input.get("LocalSecondaryIndexes").is_some()
        || input.get("GlobalSecondaryIndexes").is_some();
    if !has_indexes && key_elements.len() != definitions.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }

    let mut index_names = HashSet::new();
    let lsis = parse_local_indexes(
        input.get("LocalSecondaryIndexes"),
        &key,
        &definitions,
        &mut index_names,
    )?;
    let gsis = parse_global_indexes(
        input.get("GlobalSecondaryIndexes"),
        &definitions,
        billing_mode,
        &mut index_names,
    )?;

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
    let non_key: usize = lsis
        .iter()
        .chain(&gsis)
        .map(|i| i.projection.non_key_attributes.len())
        .sum();
    if non_key > MAX_PROJECTED_NON_KEY {
        return Err(invalid(format!(
            "The sum of NonKeyAttributes across all secondary indexes exceeds {MAX_PROJECTED_NON_KEY}"
        )));
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
        deletion_protection: input
            .get("DeletionProtectionEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        stream,
        ttl: None,
        tags,
        table_class: str_member(input, "TableClass").map(str::to_string),
    })
}

pub(super) fn parse_attribute_definitions(list: &[Value]) -> ApiResult<Vec<KeyAttr>> {
    let mut out: Vec<KeyAttr> = Vec::new();
    for d in list {
        let name = str_member(d, "AttributeName")
            .unwrap_or_default()
            .to_string();
        // Shape validation has checked the enum.
        let ty = str_member(d, "AttributeType")
            .and_then(ScalarType::parse)
            .unwrap_or(ScalarType::S);
        if out.iter().any(|a| a.name == name) {
            return Err(ApiError::validation(
                "Cannot have two attributes with the same name",
            ));
        }
        out.push(KeyAttr { name, ty });
    }
    Ok(out)
}

/// Parses a table's or an index's KeySchema list against the attribute definitions, with the
/// service's checks in its order.
pub(super) fn parse_key_schema(
    elements: &[Value],
    definitions: &[KeyAttr],
) -> ApiResult<KeySchema> {
    let names = check_key_attributes_defined(elements, definitions)?;
    if names.len() == 2 && names[0] == names[1] {
        return Err(ApiError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if str_member(&elements[0], "KeyType") != Some("HASH") {
        return Err(ApiError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if elements.len() == 2 && str_member(&elements[1], "KeyType") != Some("RANGE") {
        return Err(ApiError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    let attr = |name: &str| definitions.iter().find(|d| d.name == name).cloned();
    match (attr(names[0]), names.get(1).map(|n| attr(n))) {
        (Some(hash), None) => Ok(KeySchema::simple(hash, None)),
        (Some(hash), Some(Some(range))) => Ok(KeySchema::simple(hash, Some(range))),
        _ => Err(ApiError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        )),
    }
}

/// The KeySchema's attribute names, all of which must be defined.
fn check_key_attributes_defined<'e>(
    elements: &'e [Value],
    definitions: &[KeyAttr],
) -> ApiResult<Vec<&'e str>> {
    let names: Vec<&str> = elements
        .iter()
        .map(|e| str_member(e, "AttributeName").unwrap_or_default())
        .collect();
    let defined: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    if names.iter().any(|n| !defined.contains(n)) {
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            defined.join(", ")
        )));
    }
    Ok(names)
}

/// A global secondary index's KeySchema, which may have several partition and sort key
/// attributes.
pub(super) fn parse_gsi_key_schema(
    elements: &[Value],
    definitions: &[KeyAttr],
) -> ApiResult<KeySchema> {
    let second_hash = elements
        .get(1)
        .is_some_and(|e| str_member(e, "KeyType") == Some("HASH"));
    if elements.len() > 2 || second_hash {
        return parse_multi_key_schema(elements, definitions);
    }
    parse_key_schema(elements, definitions)
}

/// Most partition or sort key attributes of a global secondary index.
const MAX_MULTI_KEYS: usize = 4;

/// A global secondary index's multi-attribute KeySchema: up to four HASH elements, then up to
/// four RANGE elements. Tables and local indexes have single-attribute keys only.
fn parse_multi_key_schema(elements: &[Value], definitions: &[KeyAttr]) -> ApiResult<KeySchema> {
    check_key_attributes_defined(elements, definitions)?;
    let mut hash: Vec<KeyAttr> = Vec::new();
    let mut range: Vec<KeyAttr> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for e in elements {
        let name = str_member(e, "AttributeName").unwrap_or_default();
        if seen.contains(&name) {
            return Err(ApiError::validation("Two keys can not have the same name"));
        }
        seen.push(name);
        let Some(attr) = definitions.iter().find(|d| d.name == name).cloned() else {
            return Err(ApiError::validation(
                "Invalid KeySchema: Some index key attribute have no definition",
            ));
        };
        if str_member(e, "KeyType") == Some("HASH") {
            if !range.is_empty() {
                return Err(ApiError::validation(
                    "Invalid key order. Hash Key must be specified first in key schema, Range Key must be specifed second",
                ));
            }
            hash.push(attr);
        } else {
            if hash.is_empty() {
                return Err(ApiError::validation(
                    "Invalid key order. Hash Key must be specified first in key schema, Range Key must be specifed second",
                ));
            }
            range.push(attr);
        }
    }
    if hash.len() > MAX_MULTI_KEYS {
        return Err(ApiError::validation(
            "Too many partition keys. GSI can have at most 4 partition keys",
        ));
    }
    if range.len() > MAX_MULTI_KEYS {
        return Err(ApiError::validation(
            "Too many sort keys. GSI can have at most 4 sort keys",
        ));
    }
    let mut hash = hash.into_iter();
    let mut range = range.into_iter();
    let first = hash.next().expect("checked: a HASH element comes first");
    Ok(KeySchema {
        hash: first,
        range: range.next(),
        extra_hash: hash.collect(),
        extra_range: range.collect(),
    })
}

/// The KeySchema list of an index, which must not be empty.
pub(super) fn index_key_elements(spec: &Value) -> ApiResult<&[Value]> {
    match spec.get("KeySchema").and_then(Value::as_array) {
        Some(list) if !list.is_empty() && list.len() <= 2 * MAX_MULTI_KEYS => Ok(list),
        Some(list) if list.len() > 2 * MAX_MULTI_KEYS => Err(ApiError::validation(
            "Key Schema too big.  Key Schema must at most consist of the hash and range key of a table",
        )),
        _ => Err(ApiError::validation(
            "No defined key schema.  A key schema containing at least a hash key must be defined for all tables",
        )),
    }
}

pub(super) fn parse_projection(value: Option<&Value>) -> ApiResult<Projection> {
    let Some(projection_type) = value.and_then(|p| str_member(p, "ProjectionType")) else {
        return Err(invalid("Unknown ProjectionType: null"));
    };
    let non_key = value
        .and_then(|p| p.get("NonKeyAttributes"))
        .and_then(Value::as_array);
    if non_key.is_some() && projection_type != "INCLUDE" {
        return Err(invalid(format!(
            "ProjectionType is {projection_type}, but NonKeyAttributes is specified"
        )));
    }
    let non_key: Vec<String> = non_key
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if projection_type == "INCLUDE" && non_key.is_empty() {
        return Err(ApiError::validation(
            "If Projection type INCLUDE is specified, some non-key attributes to include in the projection must be specified as well",
        ));
    }
    let unique: BTreeSet<&String> = non_key.iter().collect();
    if unique.len() != non_key.len() {
        return Err(ApiError::validation(
            "Cannot have two attributes with the same name",
        ));
    }
    Ok(Projection {
        projection_type: projection_type.to_string(),
        non_key_attributes: non_key,
    })
}

fn parse_local_indexes(
    value: Option<&Value>,
    table_key: &KeySchema,
    definitions: &[KeyAttr],
    index_names: &mut HashSet<String>,
) -> ApiResult<Vec<IndexDef>> {
    let Some(list) = value.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(invalid("List of LocalSecondaryIndexes is empty"));
    }
    if table_key.range.is_none() {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ));
    }
    let mut out = Vec::new();
    for spec in list {
        let name = str_member(spec, "IndexName")
            .unwrap_or_default()
            .to_string();
        let elements = index_key_elements(spec)?;
        if elements.len() > 2 {
            return Err(ApiError::validation(
                "Key Schema too big.  Key Schema must at most consist of the hash and range key of a table",
            ));
        }
        let key = parse_key_schema(elements, definitions)?;
        if key.range.is_none() {
            return Err(invalid(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        }
        if key.hash.name != table_key.hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key.hash.name, table_key.hash.name
            )));
        }
        let projection = parse_projection(spec.get("Projection"))?;
        if !index_names.insert(name.clone()) {
            return Err(invalid(format!("Duplicate index name: {name}")));
        }
        out.push(IndexDef {
            name,
            key,
            projection,
            status: "ACTIVE".into(),
            throughput: None,
            backfilling: false,
        });
    }
    if list.len() > MAX_LSIS {
        return Err(invalid(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}"
        )));
    }
    Ok(out)
}

fn parse_global_indexes(
    value: Option<&Value>,
    definitions: &[KeyAttr],
    billing: BillingMode,
    index_names: &mut HashSet<String>,
) -> ApiResult<Vec<IndexDef>> {
    let Some(list) = value.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(invalid("List of GlobalSecondaryIndexes is empty"));
    }
    let mut out = Vec::new();
    for spec in list {
        let name = str_member(spec, "IndexName")
            .unwrap_or_default()
            .to_string();
        let elements = index_key_elements(spec)?;
        let key = parse_gsi_key_schema(elements, definitions)?;
        let projection = parse_projection(spec.get("Projection"))?;
        let throughput = match (billing, spec.get("ProvisionedThroughput")) {
            (BillingMode::PayPerRequest, Some(_)) => return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            ))),
            (BillingMode::Provisioned, Some(t)) => Some(parse_throughput(t)?),
            (BillingMode::Provisioned, None) => {
                return Err(ApiError::validation("No provisioned throughput specified for the global secondary index"))
            }
            (BillingMode::PayPerRequest, None) => None,
        };
        if !index_names.insert(name.clone()) {
            return Err(invalid(format!("Duplicate index name: {name}")));
        }
        out.push(IndexDef {
            name,
            key,
            projection,
            status: "ACTIVE".into(),
            throughput,
            backfilling: false,
        });
    }
    if list.len() > MAX_GSIS {
        return Err(invalid(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}"
        )));
    }
    Ok(out)
}

/// Reads ReadCapacityUnits/WriteCapacityUnits (both present: callers check), within the
/// per-table maximum.
pub fn parse_throughput(value: &Value) -> ApiResult<Throughput> {
    let read = value
        .get("ReadCapacityUnits")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let write = value
        .get("WriteCapacityUnits")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    for (units, member) in [(read, "ReadCapacityUnits"), (write, "WriteCapacityUnits")] {
        if units > MAX_ANY_THROUGHPUT {
            return Err(ApiError::validation(format!(
                "Given value {units} for {member} is out of bounds"
            )));
        }
    }
    if read > MAX_THROUGHPUT || write > MAX_THROUGHPUT {
        return Err(ApiError::validation(
            "Cannot increase provisioned throughput to more than 40,000 units per table",
        ));
    }
    Ok(Throughput {
        read,
        write,
        ..Default::default()
    })
}

/// Whether a ProvisionedThroughput member has both units.
pub fn throughput_complete(value: Option<&Value>) -> bool {
    value.is_some_and(|t| {
        t.get("ReadCapacityUnits").is_some() && t.get("WriteCapacityUnits").is_some()
    })
}

fn parse_billing(input: &Value) -> ApiResult<(BillingMode, Throughput)> {
    let throughput = input.get("ProvisionedThroughput");
    if str_member(input, "BillingMode") == Some("PAY_PER_REQUEST") {
        if throughput.is_some() {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        return Ok((BillingMode::PayPerRequest, Throughput::default()));
    }
    match throughput {
        Some(t) if throughput_complete(Some(t)) => Ok((BillingMode::Provisioned, parse_throughput(t)?)),
        _ => Err(invalid(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        )),
    }
}

/// Reads a StreamSpecification (used by UpdateTable too).
pub fn parse_stream(value: Option<&Value>, now: f64) -> ApiResult<Option<StreamSpec>> {
    let Some(spec) = value else { return Ok(None) };
    let enabled = spec
        .get("StreamEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let view_type = str_member(spec, "StreamViewType");
    match (enabled, view_type) {
        (true, None) => Err(invalid(
            "You must specify a StreamViewType when enabling a stream",
        )),
        (false, Some(_)) => Err(invalid(
            "The StreamViewType cannot be specified when StreamEnabled is false",
        )),
        (false, None) => Ok(None),
        (true, Some(v)) => Ok(Some(StreamSpec {
            enabled: true,
            view_type: v.to_string(),
            label: stream_label(now),
        })),
    }
}

/// Reads a Tags list (used by TagResource too).
pub fn parse_tags(value: Option<&Value>) -> ApiResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let key = str_member(t, "Key").unwrap_or_default().to_string();
        let value = str_member(t, "Value").unwrap_or_default().to_string();
        if key.starts_with("aws:") {
            return Err(ApiError::validation(
                "The tag key cannot start with the reserved prefix aws:",
            ));
        }
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => out.push((key, value)),
        }
    }
    if out.len() > 50 {
        return Err(ApiError::validation(
            "The number of tags exceeds the limit of 50",
        ));
    }
    Ok(out)
}
