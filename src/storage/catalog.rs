//! The catalog: table definitions in `dynamo_tables`, item relations created and dropped with
//! them in the same transaction, and an in-memory cache so that requests never query the catalog.

use std::sync::Arc;

use crate::error::{ApiError, ErrorKind};
use crate::schema::{ScalarType, TableDef};

use super::{db_error, Storage, DEFAULT_NAMESPACE};

/// PostgreSQL column type for a key attribute: `bytea` orders like DynamoDB's strings (by UTF-8
/// bytes) and binaries; `numeric` holds DynamoDB's 38-digit numbers exactly and orders them.
fn column_type(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::S | ScalarType::B => "bytea",
        ScalarType::N => "numeric",
    }
}

/// The DDL for a table's item relation. `h` is the stable partition-key hash that leads the
/// primary key: it orders Scan, splits parallel scans into index ranges, and is the Citus
/// distribution column.
fn item_table_ddl(def: &TableDef) -> String {
    let sk = def
        .key
        .range
        .as_ref()
        .map(|r| format!(", sk {} NOT NULL", column_type(r.ty)))
        .unwrap_or_default();
    let pk_cols = if def.key.range.is_some() {
        "h, pk, sk"
    } else {
        "h, pk"
    };
    format!(
        "CREATE TABLE {t} (h integer NOT NULL, pk {pk} NOT NULL{sk}, size integer NOT NULL, \
         item jsonb NOT NULL, PRIMARY KEY ({pk_cols}))",
        t = def.pg_table,
        pk = column_type(def.key.hash.ty),
    )
}

/// Announces a change of `name` to every server instance's cache, on commit.
async fn notify(tx: &tokio_postgres::Transaction<'_>, name: &str) -> Result<(), ApiError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&super::cache::CHANNEL, &name])
        .await
        .map_err(db_error)?;
    Ok(())
}

impl Storage {
    /// Looks a table up by name, from the cache when possible.
    pub async fn table(&self, name: &str) -> Result<Option<Arc<TableDef>>, ApiError> {
        if let Some(def) = self.cache.get(name) {
            return Ok(Some(def));
        }
        let generation = self.cache.generation();
        let conn = self.conn().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT definition FROM dynamo_tables WHERE namespace = $1 AND name = $2",
            )
            .await
            .map_err(db_error)?;
        let row = conn
            .query_opt(&stmt, &[&DEFAULT_NAMESPACE, &name])
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let def: TableDef = serde_json::from_value(row.get(0))
            .map_err(|e| ApiError::internal(format!("corrupt catalog entry for {name}: {e}")))?;
        let def = Arc::new(def);
        self.cache.insert(generation, def.clone());
        Ok(Some(def))
    }

    /// Creates the catalog row and the item relation atomically; a name already taken is
    /// DynamoDB's ResourceInUseException.
    pub async fn create_table(&self, def: &TableDef) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let json = serde_json::to_value(def).map_err(|e| ApiError::internal(e.to_string()))?;
        let inserted = tx
            .execute(
                "INSERT INTO dynamo_tables (namespace, name, definition) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&DEFAULT_NAMESPACE, &def.name, &json],
            )
            .await
            .map_err(db_error)?;
        if inserted == 0 {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!("Table already exists: {}", def.name),
            ));
        }
        tx.batch_execute(&item_table_ddl(def))
            .await
            .map_err(db_error)?;
        for index in def.local_indexes.iter().chain(&def.global_indexes) {
            tx.batch_execute(&super::layout::index_ddl(def, index, false))
                .await
                .map_err(db_error)?;
        }
        notify(&tx, &def.name).await?;
        tx.commit().await.map_err(db_error)?;
        self.forget(&def.name);
        Ok(())
    }

    /// Replaces a table's definition (UpdateTable, tagging, TTL, streams).
    pub async fn save_table(&self, def: &TableDef) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let json = serde_json::to_value(def).map_err(|e| ApiError::internal(e.to_string()))?;
        tx.execute(
            "UPDATE dynamo_tables SET definition = $3, version = version + 1 \
             WHERE namespace = $1 AND name = $2",
            &[&DEFAULT_NAMESPACE, &def.name, &json],
        )
        .await
        .map_err(db_error)?;
        notify(&tx, &def.name).await?;
        tx.commit().await.map_err(db_error)?;
        self.forget(&def.name);
        Ok(())
    }

    /// Drops the catalog row and the item relation atomically. Returns false when the table
    /// was already gone (a concurrent DeleteTable won).
    pub async fn drop_table(&self, def: &TableDef) -> Result<bool, ApiError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let deleted = tx
            .execute(
                "DELETE FROM dynamo_tables WHERE namespace = $1 AND name = $2 \
                 AND definition->>'table_id' = $3",
                &[&DEFAULT_NAMESPACE, &def.name, &def.table_id],
            )
            .await
            .map_err(db_error)?;
        if deleted == 1 {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", def.pg_table))
                .await
                .map_err(db_error)?;
            notify(&tx, &def.name).await?;
        }
        tx.commit().await.map_err(db_error)?;
        self.forget(&def.name);
        Ok(deleted == 1)
    }

    /// Table names in DynamoDB's order (by UTF-8 bytes), starting after `start`, at most `limit`.
    pub async fn list_tables(
        &self,
        start: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, ApiError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT name FROM dynamo_tables WHERE namespace = $1 \
                 AND ($2::text IS NULL OR name COLLATE \"C\" > $2) \
                 ORDER BY name COLLATE \"C\" LIMIT $3",
                &[&DEFAULT_NAMESPACE, &start, &limit],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Item count and total item size (DynamoDB bytes) of a table, for DescribeTable.
    pub async fn table_stats(&self, def: &TableDef) -> Result<(i64, i64), ApiError> {
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(sum(size), 0)::bigint FROM {}",
                    def.pg_table
                ),
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok((row.get(0), row.get(1)))
    }

    /// The definition as stored now, bypassing the cache.
    pub async fn load_table(&self, name: &str) -> Result<Option<TableDef>, ApiError> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT definition FROM dynamo_tables WHERE namespace = $1 AND name = $2",
                &[&DEFAULT_NAMESPACE, &name],
            )
            .await
            .map_err(db_error)?;
        row.map(|r| {
            serde_json::from_value(r.get(0))
                .map_err(|e| ApiError::internal(format!("corrupt catalog entry for {name}: {e}")))
        })
        .transpose()
    }

    /// Changes a table's definition under the catalog row's lock, so that concurrent changes
    /// (from other requests or other server instances) are never lost. Returns the new
    /// definition, or `None` when the table is gone.
    pub async fn modify_table<F>(&self, name: &str, change: F) -> Result<Option<TableDef>, ApiError>
    where
        F: FnOnce(&mut TableDef) -> Result<(), ApiError>,
    {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let row = tx
            .query_opt(
                "SELECT definition FROM dynamo_tables WHERE namespace = $1 AND name = $2 FOR UPDATE",
                &[&DEFAULT_NAMESPACE, &name],
            )
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let mut def: TableDef = serde_json::from_value(row.get(0))
            .map_err(|e| ApiError::internal(format!("corrupt catalog entry for {name}: {e}")))?;
        change(&mut def)?;
        let json = serde_json::to_value(&def).map_err(|e| ApiError::internal(e.to_string()))?;
        tx.execute(
            "UPDATE dynamo_tables SET definition = $3, version = version + 1 WHERE namespace = $1 AND name = $2",
            &[&DEFAULT_NAMESPACE, &name, &json],
        )
        .await
        .map_err(db_error)?;
        notify(&tx, name).await?;
        tx.commit().await.map_err(db_error)?;
        self.forget(name);
        Ok(Some(def))
    }

    /// Drops a cached definition after a change.
    fn forget(&self, name: &str) {
        self.cache.forget(name);
    }
}

impl Storage {
    /// Item count and size of a secondary index: the items that carry all its key attributes
    /// (indexes are sparse).
    pub async fn index_stats(
        &self,
        def: &TableDef,
        index: &crate::schema::IndexDef,
    ) -> Result<(i64, i64), ApiError> {
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(sum(size), 0)::bigint FROM {} WHERE {}",
                    def.pg_table,
                    super::layout::index_predicate(index)
                ),
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok((row.get(0), row.get(1)))
    }
}
