//! What Query and Scan share: choosing the table or index read, the Select rules, the start key,
//! and building the response from a page.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::expr::Projection;
use crate::model::{item_from_json, item_to_json, Item};
use crate::schema::{IndexDef, TableDef};
use crate::storage::layout::{AccessPath, SqlValue};

use super::capacity::Consumed;
use super::paging::Page;

/// The table or index a read goes to, and how it may be read.
pub struct Target<'a> {
    pub def: &'a TableDef,
    pub index: Option<&'a IndexDef>,
    /// Whether `index` is a global one.
    pub global: bool,
}

impl<'a> Target<'a> {
    /// Resolves IndexName (if any) on `def`.
    pub fn new(def: &'a TableDef, index_name: Option<&str>) -> ApiResult<Target<'a>> {
        let Some(name) = index_name else { return Ok(Target { def, index: None, global: false }) };
        if let Some(index) = def.local_indexes.iter().find(|i| i.name == name) {
            return Ok(Target { def, index: Some(index), global: false });
        }
        if let Some(index) = def.global_indexes.iter().find(|i| i.name == name) {
            if index.status != "ACTIVE" {
                return Err(ApiError::validation(format!(
                    "Cannot read from backfilling global secondary index: {name}"
                )));
            }
            return Ok(Target { def, index: Some(index), global: true });
        }
        Err(ApiError::validation(format!("The table does not have the specified index: {name}")))
    }

    /// The key of the table or index read (what the key condition is checked against).
    pub fn key(&self) -> &crate::schema::KeySchema {
        self.index.map(|i| &i.key).unwrap_or(&self.def.key)
    }

    /// The attribute names a LastEvaluatedKey (and an ExclusiveStartKey) holds: the table's key
    /// and, for an index, the index's key.
    pub fn start_key_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.def.key.attrs().map(|a| a.name.as_str()).collect();
        if let Some(index) = self.index {
            for a in index.key.attrs() {
                if !names.contains(&a.name.as_str()) {
                    names.push(&a.name);
                }
            }
        }
        names
    }

    /// Whether the index stores `attribute` (key attributes always; others by projection).
    fn projects(&self, attribute: &str) -> bool {
        let Some(index) = self.index else { return true };
        match index.projection.projection_type.as_str() {
            "ALL" => true,
            _ => {
                self.start_key_names().contains(&attribute)
                    || index.projection.non_key_attributes.iter().any(|a| a == attribute)
            }
        }
    }

    /// The ConsumedCapacity of a page that read `bytes`.
    pub fn consumed(&self, bytes: usize, consistent: bool) -> Consumed {
        let units = bytes.div_ceil(4096) as f64 * if consistent { 1.0 } else { 0.5 };
        match self.index {
            None => Consumed::table(units),
            Some(index) if self.global => {
                Consumed { table: 0.0, global: vec![(index.name.clone(), units)], ..Default::default() }
            }
            Some(index) => Consumed { table: 0.0, local: vec![(index.name.clone(), units)], ..Default::default() },
        }
    }
}

/// What the items of a page carry.
pub enum Select {
    /// Every attribute (fetched from the table for a local index).
    All,
    /// What the index projects.
    Projected,
    /// What the projection asks for.
    Specific(Projection),
    /// Nothing: only Count and ScannedCount.
    Count,
}

/// Applies DynamoDB's Select rules. `reading` is "Querying" or "Scanning" for messages.
pub fn select(input: &Value, target: &Target<'_>, projection: Option<Projection>, consistent: bool) -> ApiResult<Select> {
    let projection_member = if input.get("ProjectionExpression").is_some() { "ProjectionExpression" } else { "AttributesToGet" };
    let select = match (input.get("Select").and_then(Value::as_str), projection) {
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return Err(ApiError::validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            ))
        }
        (Some("ALL_ATTRIBUTES"), Some(_)) => {
            return Err(ApiError::validation(format!(
                "Cannot specify the {projection_member} when choosing to get ALL_ATTRIBUTES"
            )))
        }
        (Some("COUNT"), Some(_)) => {
            return Err(ApiError::validation(format!(
                "Cannot specify the {projection_member} when choosing to get only the Count"
            )))
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), Some(_)) => {
            return Err(ApiError::validation(format!(
                "Cannot specify the {projection_member} when choosing to get ALL_PROJECTED_ATTRIBUTES"
            )))
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), None) if target.index.is_none() => {
            return Err(ApiError::validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"))
        }
        (Some("COUNT"), None) => Select::Count,
        (Some("ALL_ATTRIBUTES"), None) => Select::All,
        (_, Some(p)) => Select::Specific(p),
        (Some("ALL_PROJECTED_ATTRIBUTES"), None) => Select::Projected,
        (_, None) if target.index.is_some() => Select::Projected,
        (_, None) => Select::All,
    };
    if target.global && consistent {
        return Err(ApiError::validation("Consistent reads are not supported on global secondary indexes"));
    }
    if let (true, Some(index)) = (target.global, target.index) {
        match &select {
            Select::All if index.projection.projection_type != "ALL" => {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    index.name
                )))
            }
            Select::Specific(p) => {
                let missing: Vec<&str> = p.top_level_names().into_iter().filter(|a| !target.projects(a)).collect();
                if !missing.is_empty() {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
                        index.name,
                        missing.join(", ")
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(select)
}

/// Reads and checks an ExclusiveStartKey: exactly the start key attributes of the target, each
/// of its key type. Returns the item and its position in the target's order.
pub fn start_key(input: &Value, target: &Target<'_>, path: &AccessPath<'_>) -> ApiResult<Option<(Item, Vec<SqlValue>)>> {
    let Some(json) = input.get("ExclusiveStartKey") else { return Ok(None) };
    let key = item_from_json(json)?;
    let names = target.start_key_names();
    if key.len() != names.len() {
        return Err(ApiError::validation(match target.index {
            None => "Exclusive Start Key must have same size as table's key schema",
            Some(_) => "The provided starting key is invalid",
        }));
    }
    let invalid = || ApiError::validation("The provided starting key is invalid: The provided key element does not match the schema");
    for name in &names {
        if !key.contains_key(*name) {
            return Err(ApiError::validation("The provided starting key is invalid"));
        }
    }
    let position = path.position(&key).ok_or_else(invalid)?;
    Ok(Some((key, position)))
}

/// The items of a page as the response carries them.
fn shape(item: Item, select: &Select, target: &Target<'_>) -> Item {
    match select {
        Select::All | Select::Count => item,
        Select::Specific(p) => p.apply(&item),
        Select::Projected => match target.index {
            Some(index) if index.projection.projection_type != "ALL" => {
                item.into_iter().filter(|(name, _)| target.projects(name)).collect()
            }
            _ => item,
        },
    }
}

/// The response of a Query or Scan page.
pub fn response(
    page: Page,
    select: &Select,
    target: &Target<'_>,
    consistent: bool,
    return_consumed_capacity: &str,
) -> Value {
    let mut out = Map::new();
    let count = page.items.len();
    if !matches!(select, Select::Count) {
        let items: Vec<Value> = page.items.into_iter().map(|i| item_to_json(&shape(i, select, target))).collect();
        out.insert("Items".into(), Value::Array(items));
    }
    out.insert("Count".into(), count.into());
    out.insert("ScannedCount".into(), page.scanned.into());
    if let Some(last) = page.last {
        let names = target.start_key_names();
        let key: Item = last.into_iter().filter(|(name, _)| names.contains(&name.as_str())).collect();
        out.insert("LastEvaluatedKey".into(), item_to_json(&key));
    }
    if let Some(cc) = target.consumed(page.bytes, consistent).report(target.def, return_consumed_capacity) {
        out.insert("ConsumedCapacity".into(), cc);
    }
    Value::Object(out)
}
