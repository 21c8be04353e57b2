//! Which attributes a read returns (ProjectionExpression, or legacy AttributesToGet).

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::Item;

/// A parsed read projection; `None` inside means "all attributes".
pub struct ReadProjection {
    inner: Option<()>,
}

impl ReadProjection {
    /// Reads the projection members of a GetItem/Query/Scan request.
    pub fn parse(input: &Value) -> ApiResult<ReadProjection> {
        for member in ["ProjectionExpression", "AttributesToGet"] {
            if input.get(member).is_some() {
                return Err(ApiError::validation(format!("{member} is not supported yet")));
            }
        }
        Ok(ReadProjection { inner: None })
    }

    /// The projected item.
    pub fn apply(&self, item: Item) -> Item {
        let _ = &self.inner;
        item
    }
}
