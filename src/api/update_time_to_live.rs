//! UpdateTimeToLive: turn TTL on (naming the attribute that holds each item's expiry, epoch
//! seconds) or off. The TTL sweeper (`workers::ttl`) does the deleting; turning TTL off drops
//! the index the sweeper reads through.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::schema::TtlSpec;
use crate::storage::ttl::enabled_ttl;

use super::common::{resolve_table_for_control, str_member};
use super::Ctx;

/// Runs UpdateTimeToLive.
pub async fn handle(ctx: &Ctx, input: Value) -> ApiResult<Value> {
    let spec = input.get("TimeToLiveSpecification").unwrap_or(&Value::Null);
    let enable = spec
        .get("Enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let attribute = str_member(spec, "AttributeName")
        .unwrap_or_default()
        .to_string();
    let def =
        resolve_table_for_control(ctx, str_member(&input, "TableName").unwrap_or_default()).await?;
    let current = enabled_ttl(&def);
    match (current, enable) {
        (Some(ttl), _) if ttl.attribute != attribute => {
            return Err(ApiError::validation(
                "TimeToLive is active on a different AttributeName",
            ))
        }
        (Some(_), true) => return Err(ApiError::validation("TimeToLive is already enabled")),
        (None, false) => return Err(ApiError::validation("TimeToLive is already disabled")),
        _ => {}
    }
    let mut new = (*def).clone();
    new.ttl = enable.then(|| TtlSpec {
        enabled: true,
        attribute: attribute.clone(),
    });
    ctx.storage.save_table(&new).await?;
    if !enable {
        // The TTL is off whatever happens here; a leftover index only costs space.
        if let Err(e) = ctx.storage.drop_ttl_index(&def, &attribute).await {
            tracing::warn!(table = %def.name, "could not drop the TTL index: {e}");
        }
    }
    Ok(json!({ "TimeToLiveSpecification": { "Enabled": enable, "AttributeName": attribute } }))
}
