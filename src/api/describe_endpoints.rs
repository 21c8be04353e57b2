//! DescribeEndpoints: SDKs with endpoint discovery ask where to send requests. We answer with
//! this server's own address, so they keep talking to us and never to AWS.

use serde_json::{json, Value};

use crate::error::ApiResult;

use super::Ctx;

/// Runs DescribeEndpoints.
pub async fn handle(ctx: &Ctx, _input: Value) -> ApiResult<Value> {
    Ok(json!({
        "Endpoints": [{ "Address": ctx.endpoint_address, "CachePeriodInMinutes": 1440 }]
    }))
}
