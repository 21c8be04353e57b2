//! DynamoDB's data model: attribute values, numbers, sizes, keys and capacity units.
//!
//! Everything here is pure (no I/O) and shared by every operation, the expression engine and the
//! storage layer.

pub mod number;
pub mod value;

pub use number::Number;
pub use value::{AttributeValue, Item};
