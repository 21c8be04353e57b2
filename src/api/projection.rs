//! Which attributes a read returns (ProjectionExpression, or legacy AttributesToGet).

use crate::expr::Projection;
use crate::model::Item;

/// The projected item: all of it without a projection.
pub fn apply(projection: Option<&Projection>, item: Item) -> Item {
    match projection {
        Some(p) => p.apply(&item),
        None => item,
    }
}

/// A read projection parsed from one request object (a GetItem request, or one table's entry
/// of a BatchGetItem): ProjectionExpression with ExpressionAttributeNames, or AttributesToGet.
pub struct ReadProjection {
    projection: Option<Projection>,
}

impl ReadProjection {
    /// Reads the projection members of `request`, with DynamoDB's rules and messages.
    pub fn parse(request: &serde_json::Value) -> crate::error::ApiResult<ReadProjection> {
        use super::expressions::{check_mix, Expressions, GET};
        check_mix(request, &GET)?;
        Ok(ReadProjection {
            projection: Expressions::parse(request, &GET, None)?.projection,
        })
    }

    /// The projected item.
    pub fn apply(&self, item: Item) -> Item {
        apply(self.projection.as_ref(), item)
    }
}
