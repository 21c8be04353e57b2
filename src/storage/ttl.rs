//! Time to live: the SQL behind the TTL sweeper (`workers::ttl`).
//!
//! DynamoDB deletes an item some time after the number (epoch seconds) in its TTL attribute has
//! passed, never an item whose TTL attribute is not a number, and never one whose expiry is more
//! than five years in the past (such values are taken to be something other than an expiry).
//! Deletions appear in the table's stream as REMOVE records made by the service.
//!
//! Finding expired items must not read the whole table: a partial expression index over the
//! attribute's number, only for items where the attribute is a number, is built when TTL is
//! enabled (by the sweeper, `CREATE INDEX CONCURRENTLY`, so a large table stays writable), and
//! the sweep's range condition uses exactly the indexed expression and predicate so that the
//! planner picks it.
//!
//! Several server instances sweep the same tables: expired rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so each row is deleted, and its REMOVE recorded, by exactly one of
//! them; a row a client is writing at that moment is skipped and picked up by a later sweep,
//! after its condition has been re-checked against the new version.

use crate::error::ApiError;
use crate::model::{AttributeValue, Item, Number};
use crate::schema::{KeyAttr, ScalarType, TableDef, TtlSpec};

use super::layout::attr_expr;
use super::streams::{append_changes, Change, ChangeIdentity};
use super::{db_error, Storage, DEFAULT_NAMESPACE};

/// Items whose expiry is further in the past than this are never deleted (DynamoDB's rule).
pub const MAX_EXPIRED_AGE_SECS: i64 = 5 * 365 * 24 * 3600;

/// The table's enabled TTL setting, if any.
pub fn enabled_ttl(def: &TableDef) -> Option<&TtlSpec> {
    def.ttl.as_ref().filter(|t| t.enabled)
}

/// Seconds since the epoch now, as TTL values count them.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether DynamoDB would consider `item` expired at `now` (epoch seconds) under the table's
/// TTL setting: its TTL attribute is a number not after `now` and at most five years before it.
/// For readers that hide expired items that the sweeper has not deleted yet.
pub fn is_expired(def: &TableDef, item: &Item, now: i64) -> bool {
    let Some(ttl) = enabled_ttl(def) else {
        return false;
    };
    let Some(AttributeValue::N(expiry)) = item.get(&ttl.attribute) else {
        return false;
    };
    *expiry <= Number::from_i64(now) && *expiry >= Number::from_i64(now - MAX_EXPIRED_AGE_SECS)
}

/// The PostgreSQL name of the TTL index of `attribute` on a table: stable, unique per table.
pub fn ttl_index_name(def: &TableDef, attribute: &str) -> String {
    let digest =
        crate::model::hash::partition_hash(&AttributeValue::S(attribute.to_string())) as u32;
    format!("{}_ttl_{digest:08x}", def.pg_table)
}

/// The indexed expression (the attribute's number) and the index predicate (the attribute is a
/// number), in exactly the form the sweep repeats.
fn ttl_sql(attribute: &str) -> (String, String) {
    let attr = KeyAttr {
        name: attribute.to_string(),
        ty: ScalarType::N,
    };
    let expr = attr_expr(&attr);
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let name = crate::model::storage::escape_str(attribute);
    (expr, format!("(item->{} ? 'N')", literal(&name)))
}

/// The statement that deletes a batch of expired items (`$1`: now, `$2`: five years before,
/// both epoch seconds; `$3`: the batch size) and returns them; `None` without TTL. Public so that
/// a test can check with EXPLAIN that it reads through the TTL index.
pub fn expired_delete_sql(def: &TableDef) -> Option<String> {
    let ttl = enabled_ttl(def)?;
    let (expr, predicate) = ttl_sql(&ttl.attribute);
    let key_cols = if def.key.range.is_some() {
        "h, pk, sk"
    } else {
        "h, pk"
    };
    let join = if def.key.range.is_some() {
        "t.h = d.h AND t.pk = d.pk AND t.sk = d.sk"
    } else {
        "t.h = d.h AND t.pk = d.pk"
    };
    Some(format!(
        "WITH d AS (SELECT {key_cols} FROM {table} \
           WHERE {predicate} AND {expr} <= $1::int8::numeric AND {expr} >= $2::int8::numeric \
           LIMIT $3 FOR UPDATE SKIP LOCKED) \
         DELETE FROM {table} t USING d WHERE {join} RETURNING t.item",
        table = def.pg_table,
    ))
}

impl Storage {
    /// Tables with TTL enabled, read from the catalog (not the cache: the sweeper runs apart
    /// from requests and must see tables other instances created).
    pub async fn ttl_tables(&self) -> Result<Vec<TableDef>, ApiError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT definition FROM dynamo_tables \
                 WHERE namespace = $1 AND (definition->'ttl'->>'enabled')::boolean",
                &[&DEFAULT_NAMESPACE],
            )
            .await
            .map_err(db_error)?;
        let mut out = Vec::new();
        for row in rows {
            match serde_json::from_value::<TableDef>(row.get(0)) {
                Ok(def) => out.push(def),
                Err(e) => tracing::warn!("ttl: unreadable catalog entry: {e}"),
            }
        }
        Ok(out)
    }

    /// Makes sure the table's TTL index exists and is valid, building it concurrently if not.
    /// Returns whether it is ready. An advisory lock keeps two instances from building it at once
    /// (the loser reports not ready and tries again on its next sweep).
    pub async fn ensure_ttl_index(&self, def: &TableDef) -> Result<bool, ApiError> {
        let Some(ttl) = enabled_ttl(def) else {
            return Ok(false);
        };
        let index = ttl_index_name(def, &ttl.attribute);
        let conn = self.conn().await?;
        let valid: Option<bool> = conn
            .query_opt(
                "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                &[&index],
            )
            .await
            .map_err(db_error)?
            .map(|r| r.get(0));
        if valid == Some(true) {
            return Ok(true);
        }
        let key = crate::model::hash::partition_hash(&AttributeValue::S(index.clone()));
        let locked: bool = conn
            .query_one("SELECT pg_try_advisory_lock(1953790316, $1)", &[&key])
            .await
            .map_err(db_error)?
            .get(0);
        if !locked {
            return Ok(false);
        }
        let (expr, predicate) = ttl_sql(&ttl.attribute);
        let result = async {
            if valid == Some(false) {
                // A build that failed half-way leaves an invalid index behind.
                conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}")).await?;
            }
            conn.batch_execute(&format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {table} ({expr}) WHERE {predicate}",
                table = def.pg_table,
            ))
            .await
        }
        .await;
        let _ = conn
            .query("SELECT pg_advisory_unlock(1953790316, $1)", &[&key])
            .await;
        match result {
            Ok(()) => Ok(true),
            // The table was dropped meanwhile.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                Ok(false)
            }
            Err(e) => Err(db_error(e)),
        }
    }

    /// Drops the TTL index of `attribute` (TTL disabled).
    pub async fn drop_ttl_index(&self, def: &TableDef, attribute: &str) -> Result<(), ApiError> {
        let conn = self.conn().await?;
        conn.batch_execute(&format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            ttl_index_name(def, attribute)
        ))
        .await
        .map_err(db_error)
    }

    /// Deletes up to `batch` items of the table that expired at `now` (epoch seconds), in one
    /// transaction that also writes their REMOVE stream records (service identity). Returns how
    /// many it deleted; fewer than `batch` means none are left (except rows locked by others).
    pub async fn delete_expired(
        &self,
        def: &TableDef,
        now: i64,
        batch: i64,
    ) -> Result<usize, ApiError> {
        let Some(sql) = expired_delete_sql(def) else {
            return Ok(0);
        };
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let stmt = match tx.prepare_cached(&sql).await {
            Ok(stmt) => stmt,
            // The table was dropped since the catalog was read.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                return Ok(0)
            }
            Err(e) => return Err(db_error(e)),
        };
        let oldest = now - MAX_EXPIRED_AGE_SECS;
        let rows = tx
            .query(&stmt, &[&now, &oldest, &batch])
            .await
            .map_err(db_error)?;
        let items: Vec<Item> = rows
            .iter()
            .map(|r| super::items::decode(r.get(0)))
            .collect::<Result<_, _>>()?;
        let changes: Vec<Change<'_>> = items
            .iter()
            .map(|old| Change {
                def,
                old: Some(old),
                new: None,
                identity: ChangeIdentity::TimeToLive,
            })
            .collect();
        append_changes(&tx, &changes).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def_with_ttl(attr: &str) -> TableDef {
        let json = serde_json::json!({
            "name": "t", "table_id": "id", "pg_table": "dt_x", "created_at": 0.0, "status": "ACTIVE",
            "key": {"hash": {"name": "pk", "type": "S"}, "range": null},
            "attribute_definitions": [], "billing_mode": "PAY_PER_REQUEST", "billing_mode_changed_at": null,
            "throughput": {"read": 0, "write": 0, "last_increase": null, "last_decrease": null, "decreases_today": 0},
            "local_indexes": [], "global_indexes": [], "deletion_protection": false, "stream": null,
            "ttl": {"enabled": true, "attribute": attr}, "tags": [], "table_class": null
        });
        serde_json::from_value(json).expect("table definition")
    }

    fn item(attr: &str, value: AttributeValue) -> Item {
        [(attr.to_string(), value)].into_iter().collect()
    }

    #[test]
    fn expiry_follows_dynamodb_rules() {
        let def = def_with_ttl("exp");
        let now = 1_800_000_000;
        let n = |v: i64| AttributeValue::N(Number::from_i64(v));
        assert!(is_expired(&def, &item("exp", n(now - 1)), now));
        assert!(is_expired(&def, &item("exp", n(now)), now));
        assert!(!is_expired(&def, &item("exp", n(now + 1)), now));
        assert!(is_expired(
            &def,
            &item("exp", n(now - MAX_EXPIRED_AGE_SECS)),
            now
        ));
        assert!(!is_expired(
            &def,
            &item("exp", n(now - MAX_EXPIRED_AGE_SECS - 1)),
            now
        ));
        assert!(!is_expired(
            &def,
            &item("exp", AttributeValue::S("1".into())),
            now
        ));
        assert!(!is_expired(&def, &item("other", n(now - 1)), now));
    }

    #[test]
    fn index_sql_names_the_attribute_safely() {
        let (expr, predicate) = ttl_sql("it's");
        assert_eq!(expr, "((item->'it''s'->>'N')::numeric)");
        assert_eq!(predicate, "(item->'it''s' ? 'N')");
    }
}
