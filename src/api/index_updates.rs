//! UpdateTable's GlobalSecondaryIndexUpdates: online creation and deletion of global secondary
//! indexes, and their throughput.
//!
//! A Create adds the index to the catalog as CREATING (Backfilling); a Delete marks it
//! DELETING. The index builder (`storage::index_builder`) then builds the PostgreSQL index with
//! CREATE INDEX CONCURRENTLY, without blocking writes, and flips the status to ACTIVE (or drops
//! it and removes it from the catalog).

use serde_json::Value;

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::schema::{BillingMode, IndexDef, KeyAttr, TableDef};

use super::common::str_member;
use super::create_table::{
    index_key_elements, parse_attribute_definitions, parse_gsi_key_schema, parse_projection,
    parse_throughput,
};

/// DynamoDB's limit on GSIs per table.
const MAX_GSIS: usize = 20;

fn in_use(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceInUse,
        format!("Attempt to change a resource which is still in use: {what}"),
    )
}

fn one_at_a_time() -> ApiError {
    ApiError::new(
        ErrorKind::LimitExceeded,
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
    )
}

/// Applies the index updates of an UpdateTable request to `def`. Returns whether an index build
/// or drop was started (so the caller wakes the builder).
pub fn apply(input: &Value, def: &mut TableDef) -> ApiResult<bool> {
    let Some(updates) = input
        .get("GlobalSecondaryIndexUpdates")
        .and_then(Value::as_array)
    else {
        return Ok(false);
    };
    let structural = updates
        .iter()
        .filter(|u| u.get("Create").is_some() || u.get("Delete").is_some())
        .count();
    if structural > 1 {
        return Err(one_at_a_time());
    }
    let busy = def
        .global_indexes
        .iter()
        .any(|i| i.status == "CREATING" || i.status == "DELETING");
    let mut started = false;
    for update in updates {
        let actions = ["Create", "Update", "Delete"]
            .iter()
            .filter(|a| update.get(**a).is_some())
            .count();
        if actions != 1 {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
            ));
        }
        if let Some(create) = update.get("Create") {
            create_index(input, def, create, busy)?;
            started = true;
        } else if let Some(delete) = update.get("Delete") {
            let name = str_member(delete, "IndexName").unwrap_or_default();
            let index = existing(def, name)?;
            if index.status == "CREATING" {
                return Err(in_use("Index is being created."));
            }
            if busy {
                return Err(one_at_a_time());
            }
            index.status = "DELETING".into();
            started = true;
        } else if let Some(change) = update.get("Update") {
            let name = str_member(change, "IndexName").unwrap_or_default();
            let billing = def.billing_mode;
            let index = existing(def, name)?;
            if index.status == "CREATING" {
                return Err(in_use("Index is being created."));
            }
            if let Some(t) = change.get("ProvisionedThroughput") {
                if billing == BillingMode::PayPerRequest {
                    return Err(ApiError::validation(
                        "One or more parameter values were invalid: ProvisionedThroughput cannot be specified for index when BillingMode is PAY_PER_REQUEST",
                    ));
                }
                let requested = parse_throughput(t)?;
                let mut current = index.throughput.clone().unwrap_or_default();
                current.read = requested.read;
                current.write = requested.write;
                index.throughput = Some(current);
            }
        }
    }
    Ok(started)
}

fn existing<'d>(def: &'d mut TableDef, name: &str) -> ApiResult<&'d mut IndexDef> {
    def.global_indexes
        .iter_mut()
        .find(|i| i.name == name)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Requested resource not found: Index: {name} not found"
            ))
        })
}

fn create_index(input: &Value, def: &mut TableDef, create: &Value, busy: bool) -> ApiResult<()> {
    let name = str_member(create, "IndexName")
        .unwrap_or_default()
        .to_string();
    if let Some(existing) = def.global_indexes.iter().find(|i| i.name == name) {
        return Err(if existing.status == "CREATING" {
            in_use("Index is being created.")
        } else {
            ApiError::validation(format!(
                "One or more parameter values were invalid: Index already exists: {name}"
            ))
        });
    }
    if def.local_indexes.iter().any(|i| i.name == name) {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Duplicate index name: {name}"
        )));
    }
    if busy {
        return Err(one_at_a_time());
    }
    if def.global_indexes.len() >= MAX_GSIS {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}"
        )));
    }
    // The new key attributes come with the request's AttributeDefinitions.
    let Some(given) = input.get("AttributeDefinitions").and_then(Value::as_array) else {
        return Err(ApiError::validation("No Attribute Schema Defined"));
    };
    let given = parse_attribute_definitions(given)?;
    let mut definitions: Vec<KeyAttr> = def.attribute_definitions.clone();
    for attr in given {
        match definitions.iter().find(|d| d.name == attr.name) {
            Some(d) if d.ty != attr.ty => {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Attribute {} is already defined with type {}",
                    attr.name,
                    d.ty.as_str()
                )))
            }
            Some(_) => {}
            None => definitions.push(attr),
        }
    }
    let key = parse_gsi_key_schema(index_key_elements(create)?, &definitions)?;
    let projection = parse_projection(create.get("Projection"))?;
    let throughput = match (def.billing_mode, create.get("ProvisionedThroughput")) {
        (BillingMode::Provisioned, Some(t)) => Some(parse_throughput(t)?),
        (BillingMode::Provisioned, None) => {
            return Err(ApiError::validation("No provisioned throughput specified for the global secondary index"))
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
        }
        (BillingMode::PayPerRequest, None) => None,
    };
    // Keep only the definitions some key uses.
    let used = |d: &KeyAttr| {
        def.key.contains(&d.name)
            || key.contains(&d.name)
            || def
                .local_indexes
                .iter()
                .chain(&def.global_indexes)
                .any(|i| i.key.contains(&d.name))
    };
    def.attribute_definitions = definitions.into_iter().filter(used).collect();
    def.global_indexes.push(IndexDef {
        name,
        key,
        projection,
        status: "CREATING".into(),
        throughput,
        backfilling: true,
    });
    Ok(())
}
