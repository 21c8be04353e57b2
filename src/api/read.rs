//! What Query and Scan share: choosing the table or index read, the Select rules, the start key,
//! and building the response from a page.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::expr::{Condition, Path, Projection};
use crate::model::size::item_size;
use crate::model::{item_from_json, item_to_json, AttributeValue, Item};
use crate::schema::{IndexDef, TableDef};
use crate::storage::layout::{AccessPath, SqlValue};
use crate::storage::StoredItem;

use super::capacity::Consumed;
use super::output::{ObjectWriter, Output};
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
        let Some(name) = index_name else {
            return Ok(Target {
                def,
                index: None,
                global: false,
            });
        };
        if let Some(index) = def.local_indexes.iter().find(|i| i.name == name) {
            return Ok(Target {
                def,
                index: Some(index),
                global: false,
            });
        }
        if let Some(index) = def.global_indexes.iter().find(|i| i.name == name) {
            if index.status != "ACTIVE" {
                return Err(ApiError::validation(format!(
                    "Cannot read from backfilling global secondary index: {name}"
                )));
            }
            return Ok(Target {
                def,
                index: Some(index),
                global: true,
            });
        }
        Err(ApiError::validation(format!(
            "The table does not have the specified index: {name}"
        )))
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
                    || index
                        .projection
                        .non_key_attributes
                        .iter()
                        .any(|a| a == attribute)
            }
        }
    }

    /// Whether the target's entries hold only part of the item (an index not projecting ALL).
    fn partial(&self) -> bool {
        self.index
            .is_some_and(|i| i.projection.projection_type != "ALL")
    }

    /// The size of the entry the target holds for an item read: an
    /// index that does not project ALL holds only the keys and its projected attributes.
    pub fn entry_size(&self, stored: &StoredItem) -> ApiResult<usize> {
        if !self.partial() {
            return Ok(stored.size());
        }
        let entry: Item = stored
            .item()?
            .iter()
            .filter(|(name, _)| self.projects(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        Ok(item_size(&entry))
    }

    /// Whether answering `select` from this target reads whole items from the table: a local
    /// index asked for attributes it does not project (a global index refuses such requests).
    pub fn fetches(&self, select: &Select) -> bool {
        if self.global || !self.partial() {
            return false;
        }
        match select {
            Select::All => true,
            Select::Specific(p) => p.top_level_names().into_iter().any(|a| !self.projects(a)),
            Select::Projected | Select::Count => false,
        }
    }

    /// The ConsumedCapacity of `page`: the entries read, summed and rounded up to 4 KB, are
    /// charged to the table or index read; items fetched from the table for a local index are
    /// charged to the table item by item. Halved when eventually consistent.
    pub fn consumed(&self, page: &Page, fetched: bool, consistent: bool) -> Consumed {
        let factor = if consistent { 1.0 } else { 0.5 };
        let units = page.bytes.div_ceil(4096) as f64 * factor;
        let table = if fetched {
            page.item_blocks as f64 * factor
        } else {
            0.0
        };
        match self.index {
            None => Consumed::table(units),
            Some(index) if self.global => Consumed {
                table,
                global: vec![(index.name.clone(), units)],
                ..Default::default()
            },
            Some(index) => Consumed {
                table,
                local: vec![(index.name.clone(), units)],
                ..Default::default()
            },
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

/// Nested paths (`a.b`, `a[0]`) into key attributes are refused wherever a Query or Scan names
/// them: keys are scalars. The filter is checked before the projection; in each, the table's
/// keys before the keys of its indexes.
/// What Query and Scan check after the table and index are known, in DynamoDB's order (key
/// paths, consistency, then the start key), and what they read with: the consistency asked for,
/// the access path, and the start position.
pub struct Prepared<'a> {
    pub consistent: bool,
    pub path: AccessPath<'a>,
    pub start: Option<(Item, Vec<SqlValue>)>,
}

/// Runs the checks Query and Scan share; `query` says which one is asking.
pub fn prepare<'a>(
    input: &Value,
    target: &Target<'a>,
    projection: Option<&Projection>,
    filter: Option<&Condition>,
    query: bool,
) -> ApiResult<Prepared<'a>> {
    check_key_paths(target.def, projection, filter)?;
    let consistent = input
        .get("ConsistentRead")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    check_consistency(target, consistent)?;
    let path = AccessPath::new(target.def, target.index);
    let start = start_key(input, target, &path, query)?;
    Ok(Prepared {
        consistent,
        path,
        start,
    })
}

pub fn check_key_paths(
    def: &TableDef,
    projection: Option<&Projection>,
    filter: Option<&Condition>,
) -> ApiResult<()> {
    let mut filter_paths = Vec::new();
    if let Some(f) = filter {
        crate::expr::key_condition::collect_paths(f, &mut filter_paths);
    }
    let projection_paths: Vec<&Path> = projection
        .map(|p| p.paths.iter().collect())
        .unwrap_or_default();
    for paths in [filter_paths, projection_paths] {
        let nested: Vec<&Path> = paths.into_iter().filter(|p| !p.is_top_level()).collect();
        let named = |name: &str| nested.iter().any(|p| p.top() == name);
        let refused = |kind: &str, name: &str| {
            ApiError::validation(format!(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: {kind}: {name}"
            ))
        };
        if let Some(attr) = def.key.attrs().find(|a| named(&a.name)) {
            return Err(refused("Key", &attr.name));
        }
        let index_keys = def
            .local_indexes
            .iter()
            .chain(&def.global_indexes)
            .flat_map(|i| i.key.attrs());
        if let Some(attr) = index_keys.into_iter().find(|a| named(&a.name)) {
            return Err(refused("IndexKey", &attr.name));
        }
    }
    Ok(())
}

/// Global secondary indexes are eventually consistent only.
pub fn check_consistency(target: &Target<'_>, consistent: bool) -> ApiResult<()> {
    if target.global && consistent {
        return Err(ApiError::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    Ok(())
}

/// Applies DynamoDB's Select rules, and (for Query) refuses a filter on attributes the index
/// queried does not project.
pub fn select(
    input: &Value,
    target: &Target<'_>,
    projection: Option<Projection>,
    filter: Option<&Condition>,
) -> ApiResult<Select> {
    let projection_member = if input.get("ProjectionExpression").is_some() {
        "ProjectionExpression"
    } else {
        "AttributesToGet"
    };
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
    if let (Some(index), Some(filter)) = (target.index, filter) {
        let mut paths = Vec::new();
        crate::expr::key_condition::collect_paths(filter, &mut paths);
        let mut missing: Vec<&str> = paths
            .iter()
            .map(|p| p.top())
            .filter(|a| !target.projects(a))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Secondary index {} does not project one or more filter attributes: [{}]",
                index.name,
                missing.join(", ")
            )));
        }
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
/// of its key type and not empty. Returns the key and its position in the target's order.
///
/// The messages follow DynamoDB: a key of the wrong size is refused against the table's key
/// schema (for a table or a local index; `The provided starting key is invalid` for a global
/// one); a value of the wrong type in the key schema read (a Query's, or an index's) is `The
/// provided key element does not match the schema`, in the rest of the table key the same with
/// the `The provided starting key is invalid: ` prefix (dynalite, written against the service;
/// DynamoDB Local answers `Type mismatch for attribute to update` there).
pub fn start_key(
    input: &Value,
    target: &Target<'_>,
    path: &AccessPath<'_>,
    query: bool,
) -> ApiResult<Option<(Item, Vec<SqlValue>)>> {
    let Some(json) = input.get("ExclusiveStartKey") else {
        return Ok(None);
    };
    let key = item_from_json(json)?;
    let names = target.start_key_names();
    if key.len() != names.len() {
        return Err(ApiError::validation(if target.global {
            "The provided starting key is invalid"
        } else {
            "Exclusive Start Key must have same size as table's key schema"
        }));
    }
    if names.iter().any(|name| !key.contains_key(*name)) {
        return Err(ApiError::validation("The provided starting key is invalid"));
    }
    // The key schema read first (unprefixed messages), then the rest of the table key.
    let read_schema = query || target.index.is_some();
    let mut attrs: Vec<(&crate::schema::KeyAttr, bool)> = Vec::new();
    if read_schema {
        attrs.extend(target.key().attrs().map(|a| (a, true)));
    }
    for a in target.def.key.attrs() {
        if !attrs.iter().any(|(b, _)| b.name == a.name) {
            attrs.push((a, false));
        }
    }
    for (attr, in_read_schema) in attrs {
        let Some(value) = key.get(&attr.name) else {
            continue;
        };
        if value.type_name() != attr.ty.as_str() {
            let message = "The provided key element does not match the schema";
            return Err(ApiError::validation(if in_read_schema {
                message.to_string()
            } else {
                format!("The provided starting key is invalid: {message}")
            }));
        }
        let empty = match value {
            AttributeValue::S(s) => s.is_empty().then_some("string"),
            AttributeValue::B(b) => b.is_empty().then_some("binary"),
            _ => None,
        };
        if let Some(kind) = empty {
            return Err(ApiError::validation(format!(
                "The provided starting key is invalid: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {}",
                attr.name
            )));
        }
    }
    let position = path.position(&key).ok_or_else(|| {
        ApiError::validation("The provided starting key is invalid: The provided key element does not match the schema")
    })?;
    Ok(Some((key, position)))
}

/// The items of a page as the response carries them.
fn shape(item: Item, select: &Select, target: &Target<'_>) -> Item {
    match select {
        Select::All | Select::Count => item,
        Select::Specific(p) => p.apply(&item),
        Select::Projected => match target.index {
            Some(index) if index.projection.projection_type != "ALL" => item
                .into_iter()
                .filter(|(name, _)| target.projects(name))
                .collect(),
            _ => item,
        },
    }
}

/// Whether `select` returns items whole, as stored: then their stored text goes into the
/// response without being parsed.
fn whole_items(select: &Select, target: &Target<'_>) -> bool {
    match select {
        Select::All => true,
        Select::Projected => !target.partial(),
        Select::Specific(_) | Select::Count => false,
    }
}

/// The response of a Query or Scan page.
pub fn response(
    page: Page,
    select: &Select,
    target: &Target<'_>,
    consistent: bool,
    return_consumed_capacity: &str,
) -> ApiResult<Output> {
    let consumed = target.consumed(&page, target.fetches(select), consistent);
    let stored_bytes: usize = page.items.iter().map(|i| i.size() + 64).sum();
    let mut out = ObjectWriter::with_capacity(stored_bytes + 256);
    let count = page.items.len();
    if whole_items(select, target) {
        let texts = page
            .items
            .iter()
            .map(StoredItem::wire_text)
            .collect::<ApiResult<Vec<_>>>()?;
        out.text_array("Items", texts.iter().map(|t| t.as_ref()));
    } else if !matches!(select, Select::Count) {
        let items = page
            .items
            .into_iter()
            .map(|i| Ok(item_to_json(&shape(i.into_item()?, select, target))))
            .collect::<ApiResult<Vec<Value>>>()?;
        out.value("Items", &Value::Array(items));
    }
    out.value("Count", &count.into());
    out.value("ScannedCount", &page.scanned.into());
    if let Some(last) = page.last {
        let names = target.start_key_names();
        let key: Item = last
            .into_iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .collect();
        out.value("LastEvaluatedKey", &item_to_json(&key));
    }
    if let Some(cc) = consumed.report(target.def, return_consumed_capacity) {
        out.value("ConsumedCapacity", &cc);
    }
    Ok(out.finish())
}
