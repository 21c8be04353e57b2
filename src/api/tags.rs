//! TagResource, UntagResource and ListTagsOfResource: tags on a table, addressed by its ARN.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::schema::TableDef;

use super::common::{str_member, table_arn};
use super::create_table::parse_tags;
use super::Ctx;

/// The table a ResourceArn names. Tags live on tables only.
async fn resolve_arn(ctx: &Ctx, input: &Value) -> ApiResult<Arc<TableDef>> {
    let arn = str_member(input, "ResourceArn").unwrap_or_default();
    let name = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.rsplit_once(":table/"))
        .map(|(_, name)| name)
        .filter(|name| !name.contains('/'))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            ))
        })?;
    let not_found = || {
        ApiError::not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))
    };
    let def = ctx.storage.table(name).await?.ok_or_else(not_found)?;
    if table_arn(ctx, name) != arn {
        return Err(not_found());
    }
    Ok(def)
}

/// Runs TagResource: adds tags, replacing the values of keys already there.
pub async fn tag_resource(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let new_tags = parse_tags(input.get("Tags"))?;
    let def = resolve_arn(ctx, &input).await?;
    let mut def = (*def).clone();
    for (k, v) in new_tags {
        match def.tags.iter_mut().find(|(key, _)| *key == k) {
            Some(existing) => existing.1 = v,
            None => def.tags.push((k, v)),
        }
    }
    if def.tags.len() > 50 {
        return Err(ApiError::validation(
            "The number of tags exceeds the limit of 50",
        ));
    }
    ctx.storage.save_table(&def).await?;
    Ok(json!({}))
}

/// Runs UntagResource: removes the named keys (absent keys are ignored).
pub async fn untag_resource(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let keys: Vec<&str> = input
        .get("TagKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let def = resolve_arn(ctx, &input).await?;
    let mut def = (*def).clone();
    def.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    ctx.storage.save_table(&def).await?;
    Ok(json!({}))
}

/// Runs ListTagsOfResource. All of a table's tags fit in one page (at most 50).
pub async fn list_tags_of_resource(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let def = resolve_arn(ctx, &input).await?;
    let tags: Vec<Value> = def
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": tags }))
}
