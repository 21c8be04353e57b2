-- TransactWriteItems idempotency (see src/storage/transact.rs).
--
-- A transaction that carries a ClientRequestToken inserts its token here in the same PostgreSQL
-- transaction as its writes, so the token exists exactly when the writes committed. A repeat of
-- the token within ten minutes finds the row: the same request (same `request_hash`, a SHA-256
-- of the canonical TransactItems) is answered as a success without applying anything again; a
-- different one is an IdempotentParameterMismatchException. A repeat that arrives while the first
-- is still running waits on the row's uniqueness until that one commits or rolls back. Rows older
-- than ten minutes are taken over by the next request with their token and deleted in the
-- background by later transactions.
CREATE TABLE dynamo_transaction_tokens (
    namespace     text        NOT NULL,
    token         text        NOT NULL,
    request_hash  bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (namespace, token)
);
CREATE INDEX dynamo_transaction_tokens_created_at ON dynamo_transaction_tokens (created_at);
