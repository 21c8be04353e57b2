//! The DynamoDB operations, one module each, read top to bottom in the order DynamoDB applies
//! its rules. Each takes the request body (already checked against the API model's shapes by
//! `validate`) and returns the response body.

mod batch_get_item;
mod batch_write_item;
mod capacity;
mod common;
mod conditions;
mod create_table;
mod delete_item;
mod delete_table;
mod describe;
mod describe_endpoints;
mod describe_limits;
mod describe_table;
mod describe_time_to_live;
mod expressions;
mod get_item;
mod index_updates;
mod list_tables;
pub mod output;
mod paging;
mod projection;
mod put_item;
mod query;
mod read;
mod scan;
mod streams;
mod tags;
mod transact_get_items;
mod transact_write_items;
mod update_item;
mod update_table;
mod update_time_to_live;

use serde_json::Value;

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::storage::Storage;
use crate::validate::Service;
use output::Output;

/// What every operation needs: the storage and the identity the server reports in ARNs.
pub struct Ctx {
    pub storage: Storage,
    /// Region named in ARNs and the health check.
    pub region: String,
    /// Account id named in ARNs.
    pub account_id: String,
    /// The address clients reach this server at, for DescribeEndpoints.
    pub endpoint_address: String,
    /// Keys requests must be signed with; swapped whole when the configuration is reloaded.
    /// Empty: any well-formed signature is accepted, as DynamoDB Local does.
    pub credentials: std::sync::RwLock<std::sync::Arc<crate::auth::CredentialStore>>,
    /// Reads leave out items whose TTL has passed but that the sweeper has not deleted yet
    /// (`ttl_hide_expired`; DynamoDB itself returns them until they are deleted).
    pub hide_expired: bool,
}

impl Ctx {
    /// Whether a read should leave `item` out: only with `ttl_hide_expired`, and only for an
    /// item expired by the table's TTL setting.
    pub fn hidden(&self, def: &crate::schema::TableDef, item: &crate::model::Item) -> bool {
        self.may_hide(def)
            && crate::storage::ttl::is_expired(def, item, crate::storage::ttl::now_secs())
    }

    /// Whether reads of `def` may have to leave items out (see [`Ctx::hidden`]): when not, an
    /// item can be returned without looking at its attributes.
    pub fn may_hide(&self, def: &crate::schema::TableDef) -> bool {
        self.hide_expired && crate::storage::ttl::enabled_ttl(def).is_some()
    }
}

/// Runs one operation.
pub async fn dispatch(
    ctx: &Ctx,
    service: Service,
    operation: &str,
    input: Value,
) -> ApiResult<Output> {
    if service == Service::Streams {
        return Ok(match operation {
            "ListStreams" => streams::list_streams::handle(ctx, input).await?.into(),
            "DescribeStream" => streams::describe_stream::handle(ctx, input).await?.into(),
            "GetShardIterator" => streams::get_shard_iterator::handle(ctx, input)
                .await?
                .into(),
            "GetRecords" => streams::get_records::handle(ctx, input).await?.into(),
            other => return Err(not_implemented(other)),
        });
    }
    Ok(match operation {
        "CreateTable" => create_table::handle(ctx, input).await?.into(),
        "DescribeTable" => describe_table::handle(ctx, input).await?.into(),
        "ListTables" => list_tables::handle(ctx, input).await?.into(),
        "UpdateTable" => update_table::handle(ctx, input).await?.into(),
        "DeleteTable" => delete_table::handle(ctx, input).await?.into(),
        "DescribeLimits" => describe_limits::handle(ctx, input).await?.into(),
        "DescribeEndpoints" => describe_endpoints::handle(ctx, input).await?.into(),
        "TagResource" => tags::tag_resource(ctx, input).await?.into(),
        "UntagResource" => tags::untag_resource(ctx, input).await?.into(),
        "ListTagsOfResource" => tags::list_tags_of_resource(ctx, input).await?.into(),
        "PutItem" => put_item::handle(ctx, input).await?.into(),
        "GetItem" => get_item::handle(ctx, input).await?,
        "DeleteItem" => delete_item::handle(ctx, input).await?.into(),
        "UpdateTimeToLive" => update_time_to_live::handle(ctx, input).await?.into(),
        "DescribeTimeToLive" => describe_time_to_live::handle(ctx, input).await?.into(),
        "UpdateItem" => update_item::handle(ctx, input).await?.into(),
        "Query" => query::handle(ctx, input).await?,
        "Scan" => scan::handle(ctx, input).await?,
        "BatchGetItem" => batch_get_item::handle(ctx, input).await?.into(),
        "BatchWriteItem" => batch_write_item::handle(ctx, input).await?.into(),
        "TransactWriteItems" => transact_write_items::handle(ctx, input).await?.into(),
        "TransactGetItems" => transact_get_items::handle(ctx, input).await?.into(),
        other => return Err(not_implemented(other)),
    })
}

/// Operations in DynamoDB's API that dynamo-pg does not serve yet. DynamoDB Local answers
/// these with UnknownOperationException too; the README's table lists them.
fn not_implemented(operation: &str) -> ApiError {
    ApiError::new(
        ErrorKind::UnknownOperation,
        format!("The operation {operation} is not supported by dynamo-pg yet"),
    )
}
