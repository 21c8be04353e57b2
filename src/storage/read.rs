//! Range reads: the SQL behind Query and Scan, on the table or a secondary index, in DynamoDB's
//! order, one bounded chunk at a time so that a page never holds more than it returns.

use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::model::AttributeValue;
use crate::schema::TableDef;

use super::layout::{AccessPath, SqlValue};
use super::{db_error, Storage, StoredItem};

/// A condition on the sort key of the access path (KeyConditionExpression's second part).
#[derive(Clone, Debug)]
pub enum SortCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

/// One range read: which path, which part of it, in which direction, from where.
pub struct RangeRead<'a> {
    /// The table or index read.
    pub path: AccessPath<'a>,
    /// Query: the partition key value; Scan: `None`.
    pub partition: Option<AttributeValue>,
    /// Query on a multi-attribute key: the values of the order columns after the partition
    /// ones that the query fixes by equality (the other partition key attributes, then the sort
    /// key attributes before the conditioned one).
    pub equal: Vec<AttributeValue>,
    /// Query: the sort key condition (on the first order column not fixed), if any.
    pub sort: Option<SortCondition>,
    /// Ascending (ScanIndexForward, and always for Scan) or descending.
    pub forward: bool,
    /// Resume strictly after this position (ExclusiveStartKey, or the last row of a chunk).
    pub after: Option<Vec<SqlValue>>,
    /// Parallel scan: the inclusive partition-hash range of the segment.
    pub segment: Option<(i32, i32)>,
}

impl Storage {
    /// Reads up to `limit` rows of `read`, in order. An empty result means the range is done.
    pub async fn read_range(
        &self,
        def: &TableDef,
        read: &RangeRead<'_>,
        limit: i64,
    ) -> Result<Vec<StoredItem>, ApiError> {
        let (sql, params) = range_sql(def, read, limit)?;
        let conn = self.conn().await?;
        let stmt = conn.prepare_cached(&sql).await.map_err(db_error)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = conn.query(&stmt, &refs).await.map_err(db_error)?;
        Ok(rows.iter().map(super::items::stored_item).collect())
    }
}

/// The SQL and parameters of a range read: one index range scan on the table's primary key (or
/// a secondary index's expression index) in the order asked, bounded by `limit`. Public so that
/// tests can EXPLAIN exactly what a request runs.
pub fn range_sql(
    def: &TableDef,
    read: &RangeRead<'_>,
    limit: i64,
) -> Result<(String, Vec<SqlValue>), ApiError> {
    {
        let mut params: Vec<SqlValue> = Vec::new();
        let next = |v: SqlValue, params: &mut Vec<SqlValue>| {
            params.push(v);
            params.len()
        };
        let mut conditions: Vec<String> = Vec::new();
        let path = &read.path;
        let mut free = &path.order[..];
        if let Some(value) = &read.partition {
            for column in &path.partition {
                let v = column.param(value).ok_or_else(mismatch)?;
                let n = next(v, &mut params);
                conditions.push(format!("{} = {}", column.sql, column.param_sql(n)));
            }
            free = &path.order[path.partition.len()..];
            for (column, value) in free.iter().zip(&read.equal) {
                let v = column.param(value).ok_or_else(mismatch)?;
                let n = next(v, &mut params);
                conditions.push(format!("{} = {}", column.sql, column.param_sql(n)));
            }
            free = &free[read.equal.len().min(free.len())..];
        }
        let sort_column = path.sort.as_ref().and(free.first());
        if let (Some(condition), Some(column)) = (&read.sort, sort_column) {
            let mut bound = |op: &str, v: &AttributeValue, params: &mut Vec<SqlValue>| {
                let p = column.param(v).ok_or_else(mismatch)?;
                let n = next(p, params);
                conditions.push(format!("{} {op} {}", column.sql, column.param_sql(n)));
                Ok::<(), ApiError>(())
            };
            match condition {
                SortCondition::Eq(v) => bound("=", v, &mut params)?,
                SortCondition::Lt(v) => bound("<", v, &mut params)?,
                SortCondition::Le(v) => bound("<=", v, &mut params)?,
                SortCondition::Gt(v) => bound(">", v, &mut params)?,
                SortCondition::Ge(v) => bound(">=", v, &mut params)?,
                SortCondition::Between(a, b) => {
                    bound(">=", a, &mut params)?;
                    bound("<=", b, &mut params)?;
                }
                SortCondition::BeginsWith(prefix) => {
                    bound(">=", prefix, &mut params)?;
                    if let Some(end) = column.prefix_end(prefix) {
                        let n = next(end, &mut params);
                        conditions.push(format!("{} < {}", column.sql, column.param_sql(n)));
                    }
                }
            }
        }
        if let Some(index) = path.index {
            conditions.push(super::layout::index_predicate(index));
        }
        if let Some((lo, hi)) = read.segment {
            let a = next(SqlValue::Int(lo), &mut params);
            let b = next(SqlValue::Int(hi), &mut params);
            conditions.push(format!("h BETWEEN ${a}::int4 AND ${b}::int4"));
        }
        if let Some(after) = &read.after {
            // The start position names every column of the order; compare the free ones.
            let skip = path.order.len() - free.len();
            let mut lhs = Vec::new();
            let mut rhs = Vec::new();
            for (column, value) in free.iter().zip(after.iter().skip(skip)) {
                let n = next(value.clone(), &mut params);
                lhs.push(column.sql.clone());
                rhs.push(column.param_sql(n));
            }
            if !lhs.is_empty() {
                let op = if read.forward { ">" } else { "<" };
                conditions.push(format!("({}) {op} ({})", lhs.join(", "), rhs.join(", ")));
            }
        }
        let dir = if read.forward { "ASC" } else { "DESC" };
        let order: Vec<String> = free.iter().map(|c| format!("{} {dir}", c.sql)).collect();
        let n = next(
            SqlValue::Int(limit.clamp(0, i32::MAX as i64) as i32),
            &mut params,
        );
        let sql = format!(
            "SELECT item, size FROM {table}{where_}{conds} ORDER BY {order} LIMIT ${n}::int4",
            table = def.pg_table,
            where_ = if conditions.is_empty() { "" } else { " WHERE " },
            conds = conditions.join(" AND "),
            order = if order.is_empty() {
                "1".to_string()
            } else {
                order.join(", ")
            },
        );
        Ok((sql, params))
    }
}

/// A key value of the wrong type for its column; callers validate first, so this is a bug.
fn mismatch() -> ApiError {
    ApiError::validation("The provided key element does not match the schema")
}
