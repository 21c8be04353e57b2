-- The catalog: one row per DynamoDB table. Item data lives in one PostgreSQL table per DynamoDB
-- table (created at run time, named in definition->>'pg_table').
-- `namespace` separates accounts/regions; it is in the key from day one so that ARNs and
-- per-account isolation never need a data migration.
CREATE TABLE dynamo_tables (
    namespace   text   NOT NULL,
    name        text   NOT NULL,
    definition  jsonb  NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (namespace, name)
);
