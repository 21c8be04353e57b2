//! dynamo-pg: a DynamoDB-compatible server that keeps its data in PostgreSQL.
//!
//! A request flows one way: [`server`] (HTTP framing, auth, envelopes) → [`validate`] (the API
//! model's shape rules) → [`api`] (one module per operation) → [`storage`] (the only SQL).
//! [`model`] holds DynamoDB's values and [`expr`] its expression language; both are pure.

pub mod api;
pub mod auth;
pub mod config;
pub mod embedded_pg;
pub mod error;
pub mod expr;
pub mod metrics;
pub mod model;
pub mod schema;
pub mod server;
pub mod storage;
pub mod validate;
pub mod workers;
