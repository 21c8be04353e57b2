//! DynamoDB's data model: attribute values, numbers, sizes, keys and capacity units.
//!
//! Everything here is pure (no I/O) and shared by every operation, the expression engine and the
//! storage layer.

pub mod capacity;
pub mod hash;
pub mod number;
pub mod size;
pub mod storage;
pub mod storage_parse;
pub mod value;
pub mod wire;

pub use capacity::{read_units, write_units};
pub use hash::partition_hash;
pub use number::Number;
pub use size::item_size;
pub use storage::{item_to_storage, storage_text_to_wire};
pub use value::{item_to_json, AttributeValue, Item};
pub use wire::item_from_json;
