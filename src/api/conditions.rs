//! The condition of a conditional write (ConditionExpression, or legacy Expected), evaluated
//! against the item as it is inside the write's transaction.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::Item;

/// A parsed write condition; `None` inside means "unconditional".
pub struct WriteCondition {
    inner: Option<()>,
}

impl WriteCondition {
    /// Reads the condition members of a PutItem/DeleteItem/UpdateItem request.
    pub fn parse(input: &Value) -> ApiResult<WriteCondition> {
        for member in ["ConditionExpression", "Expected"] {
            if input.get(member).is_some() {
                return Err(ApiError::validation(format!("{member} is not supported yet")));
            }
        }
        Ok(WriteCondition { inner: None })
    }

    /// Whether the write is unconditional.
    pub fn is_none(&self) -> bool {
        self.inner.is_none()
    }

    /// Fails with ConditionalCheckFailedException when the condition does not hold for `old`.
    pub fn check(&self, _old: Option<&Item>, _input: &Value) -> ApiResult<()> {
        Ok(())
    }
}
