//! The index builder: a background task that carries out online GSI creation and deletion.
//!
//! UpdateTable only records the wish in the catalog (an index CREATING or DELETING). This task
//! finds such indexes, builds them with CREATE INDEX CONCURRENTLY (writes go on meanwhile) or
//! drops them with DROP INDEX CONCURRENTLY, and then updates the catalog. Each index is claimed
//! with a PostgreSQL advisory lock, so several server instances never build the same index
//! twice; a build interrupted by a crash leaves an invalid index that the next attempt drops
//! and rebuilds.

use std::time::Duration;

use crate::error::ApiError;
use crate::schema::TableDef;

use super::layout::{index_ddl, index_relation};
use super::{db_error, Storage, DEFAULT_NAMESPACE};

/// How often pending index work is looked for when nothing wakes the builder.
const POLL: Duration = Duration::from_secs(2);

/// Starts the builder for the life of the process.
pub(super) fn spawn(storage: Storage) {
    let mut stop = storage.stopping.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                result = storage.run_index_work() => {
                    if let Err(e) = result {
                        tracing::warn!("index builder: {e}");
                    }
                }
                _ = stop.wait_for(|s| *s) => return,
            }
            tokio::select! {
                _ = storage.index_wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

impl Storage {
    /// Asks the builder to look for work now (after an UpdateTable that started some).
    pub fn wake_index_builder(&self) {
        self.index_wake.notify_one();
    }

    /// Builds or drops every pending index this instance can claim.
    async fn run_index_work(&self) -> Result<(), ApiError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT name FROM dynamo_tables WHERE namespace = $1 AND jsonb_path_exists(definition, \
                 '$.global_indexes[*] ? (@.status == \"CREATING\" || @.status == \"DELETING\")')",
                &[&DEFAULT_NAMESPACE],
            )
            .await
            .map_err(db_error)?;
        for row in rows {
            let name: String = row.get(0);
            let Some(def) = self.load_table(&name).await? else {
                continue;
            };
            for index in def
                .global_indexes
                .iter()
                .filter(|i| i.status == "CREATING" || i.status == "DELETING")
            {
                let relation = index_relation(&def, index);
                let claimed: bool = conn
                    .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&relation])
                    .await
                    .map_err(db_error)?
                    .get(0);
                if !claimed {
                    continue;
                }
                let result = if index.status == "CREATING" {
                    self.build_index(&conn, &def, index, &relation).await
                } else {
                    self.drop_index(&conn, &def, index, &relation).await
                };
                conn.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&relation])
                    .await
                    .map_err(db_error)?;
                result?;
            }
        }
        Ok(())
    }

    async fn build_index(
        &self,
        conn: &deadpool_postgres::Object,
        def: &TableDef,
        index: &crate::schema::IndexDef,
        relation: &str,
    ) -> Result<(), ApiError> {
        // An interrupted concurrent build leaves an invalid index behind: drop it first.
        let valid: Option<bool> = conn
            .query_opt(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
                &[&relation],
            )
            .await
            .map_err(db_error)?
            .map(|r| r.get(0));
        if valid == Some(false) {
            conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {relation}"))
                .await
                .map_err(db_error)?;
        }
        tracing::info!(table = %def.name, index = %index.name, "building global secondary index");
        conn.batch_execute(&index_ddl(def, index, true))
            .await
            .map_err(db_error)?;
        let name = index.name.clone();
        self.modify_table(&def.name, move |d| {
            if let Some(i) = d
                .global_indexes
                .iter_mut()
                .find(|i| i.name == name && i.status == "CREATING")
            {
                i.status = "ACTIVE".into();
                i.backfilling = false;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn drop_index(
        &self,
        conn: &deadpool_postgres::Object,
        def: &TableDef,
        index: &crate::schema::IndexDef,
        relation: &str,
    ) -> Result<(), ApiError> {
        conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {relation}"))
            .await
            .map_err(db_error)?;
        let name = index.name.clone();
        self.modify_table(&def.name, move |d| {
            d.global_indexes
                .retain(|i| !(i.name == name && i.status == "DELETING"));
            // Attribute definitions no key uses any more go with the index.
            let keys: Vec<String> = d
                .key
                .attrs()
                .chain(
                    d.local_indexes
                        .iter()
                        .chain(&d.global_indexes)
                        .flat_map(|i| i.key.attrs()),
                )
                .map(|a| a.name.clone())
                .collect();
            d.attribute_definitions.retain(|a| keys.contains(&a.name));
            Ok(())
        })
        .await?;
        Ok(())
    }
}
