//! End-to-end tests of the engine: expression text in, DynamoDB's answer out.
