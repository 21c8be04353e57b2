//! How a table's keys and indexes map onto PostgreSQL: the ordered columns (or expressions over
//! the item) that each access path sorts by, and how a DynamoDB value becomes a parameter
//! compared against each.
//!
//! The table's own key lives in typed columns `h` (partition hash), `pk`, `sk`. Secondary
//! index keys are expressions over the `item` jsonb, indexed by partial expression indexes (an
//! item without the index key attributes, of the declared types, is not in the index: indexes
//! are sparse). Strings in expressions are the stored (escaped) text compared in the "C"
//! collation, i.e. by UTF-8 bytes, which is DynamoDB's order; the escape preserves that order.

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::model::hash::partition_hash;
use crate::model::storage::escape_str;
use crate::model::{AttributeValue, Item};
use crate::schema::{IndexDef, KeyAttr, ScalarType, TableDef};

/// What a sort column holds, which decides how a value is passed to compare against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// `h`: the partition hash of the table's partition key value.
    Hash,
    /// `pk` or `sk`: a typed key column (`bytea` for S and B, `numeric` for N).
    Key(ScalarType),
    /// An expression over the item (secondary index keys).
    Expr(ScalarType),
}

/// One column of an access path's sort order.
#[derive(Clone, Debug)]
pub struct Column {
    /// SQL for the column or expression.
    pub sql: String,
    /// How values compare against it.
    pub kind: ColumnKind,
    /// The DynamoDB attribute it holds (the table's partition key for `h`).
    pub attr: String,
}

impl Column {
    /// The SQL for parameter `$n` of this column's kind, cast so that it compares as the column
    /// does.
    pub fn param_sql(&self, n: usize) -> String {
        match self.kind {
            ColumnKind::Hash => format!("${n}::int4"),
            ColumnKind::Key(ScalarType::N) | ColumnKind::Expr(ScalarType::N) => {
                format!("${n}::text::numeric")
            }
            ColumnKind::Key(_) | ColumnKind::Expr(ScalarType::B) => format!("${n}::bytea"),
            ColumnKind::Expr(ScalarType::S) => format!("${n}::text"),
        }
    }

    /// `value` as a parameter for this column; `None` when it has the wrong type.
    pub fn param(&self, value: &AttributeValue) -> Option<SqlValue> {
        Some(match (self.kind, value) {
            (ColumnKind::Hash, v) => SqlValue::Int(partition_hash(v)),
            (ColumnKind::Key(ScalarType::S), AttributeValue::S(s)) => {
                SqlValue::Bytes(s.as_bytes().to_vec())
            }
            (ColumnKind::Expr(ScalarType::S), AttributeValue::S(s)) => {
                SqlValue::Text(escape_str(s).into_owned())
            }
            (
                ColumnKind::Key(ScalarType::N) | ColumnKind::Expr(ScalarType::N),
                AttributeValue::N(n),
            ) => SqlValue::Text(n.as_str().to_string()),
            (
                ColumnKind::Key(ScalarType::B) | ColumnKind::Expr(ScalarType::B),
                AttributeValue::B(b),
            ) => SqlValue::Bytes(b.clone()),
            _ => return None,
        })
    }

    /// The parameter for the smallest value greater than every value starting with `prefix`
    /// (for begins_with ranges); `None` when there is none (all bytes 0xFF, say).
    pub fn prefix_end(&self, prefix: &AttributeValue) -> Option<SqlValue> {
        match self.param(prefix)? {
            SqlValue::Bytes(mut b) => {
                while b.last() == Some(&0xFF) {
                    b.pop();
                }
                let last = b.last_mut()?;
                *last += 1;
                Some(SqlValue::Bytes(b))
            }
            SqlValue::Text(t) => {
                let mut chars: Vec<char> = t.chars().collect();
                while chars.last() == Some(&char::MAX) {
                    chars.pop();
                }
                let last = chars.pop()?;
                let next = match last as u32 + 1 {
                    0xD800 => '\u{E000}',
                    n => char::from_u32(n)?,
                };
                chars.push(next);
                Some(SqlValue::Text(chars.into_iter().collect()))
            }
            SqlValue::Int(_) => None,
        }
    }
}

/// A parameter value of one of the column kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Int(i32),
    Bytes(Vec<u8>),
    Text(String),
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Int(i) => i.to_sql(ty, out),
            SqlValue::Bytes(b) => b.as_slice().to_sql(ty, out),
            SqlValue::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INT4 || *ty == Type::BYTEA || *ty == Type::TEXT
    }

    to_sql_checked!();
}

/// SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL expression reading attribute `attr` of type `ty` from the item, in the index's
/// comparable form.
pub fn attr_expr(attr: &KeyAttr) -> String {
    let name = literal(&escape_str(&attr.name));
    match attr.ty {
        ScalarType::S => format!("((item->{name}->>'S') COLLATE \"C\")"),
        ScalarType::N => format!("((item->{name}->>'N')::numeric)"),
        ScalarType::B => format!("decode(item->{name}->>'B', 'base64')"),
    }
}

/// The condition under which an item is in an index: it has every key attribute, each of the
/// declared type.
pub fn index_predicate(index: &IndexDef) -> String {
    index
        .key
        .attrs()
        .map(|a| {
            format!(
                "(item->{} ? {})",
                literal(&escape_str(&a.name)),
                literal(a.ty.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// An access path: the table itself, or one of its indexes.
pub struct AccessPath<'a> {
    /// The index, or `None` for the table.
    pub index: Option<&'a IndexDef>,
    /// Columns fixed by a Query's partition key equality.
    pub partition: Vec<Column>,
    /// The column the sort-key condition applies to, if the path has a sort key. (For a
    /// multi-attribute key, the condition applies to the first column after those a Query
    /// fixes by equality; see `RangeRead::equal`.)
    pub sort: Option<Column>,
    /// The whole order, partition columns first: what Scan sorts by and what a start key names.
    pub order: Vec<Column>,
}

fn table_columns(def: &TableDef) -> (Column, Column, Option<Column>) {
    let h = Column {
        sql: "h".into(),
        kind: ColumnKind::Hash,
        attr: def.key.hash.name.clone(),
    };
    let pk = Column {
        sql: "pk".into(),
        kind: ColumnKind::Key(def.key.hash.ty),
        attr: def.key.hash.name.clone(),
    };
    let sk = def.key.range.as_ref().map(|r| Column {
        sql: "sk".into(),
        kind: ColumnKind::Key(r.ty),
        attr: r.name.clone(),
    });
    (h, pk, sk)
}

fn expr_column(attr: &KeyAttr) -> Column {
    Column {
        sql: attr_expr(attr),
        kind: ColumnKind::Expr(attr.ty),
        attr: attr.name.clone(),
    }
}

impl<'a> AccessPath<'a> {
    /// The access path for `index` (or the table, for `None`).
    pub fn new(def: &TableDef, index: Option<&'a IndexDef>) -> AccessPath<'a> {
        let (h, pk, sk) = table_columns(def);
        match index {
            None => {
                let mut order = vec![h.clone(), pk.clone()];
                order.extend(sk.clone());
                AccessPath {
                    index,
                    partition: vec![h, pk],
                    sort: sk,
                    order,
                }
            }
            Some(i) if def.local_indexes.iter().any(|l| l.name == i.name) => {
                let lsk = i.key.range.as_ref().map(expr_column);
                let mut order = vec![h.clone(), pk.clone()];
                order.extend(lsk.clone());
                order.extend(sk);
                AccessPath {
                    index,
                    partition: vec![h, pk],
                    sort: lsk,
                    order,
                }
            }
            Some(i) => {
                let gpk = expr_column(&i.key.hash);
                let gsk = i.key.range.as_ref().map(expr_column);
                let mut order = vec![gpk.clone()];
                order.extend(i.key.extra_hash.iter().map(expr_column));
                order.extend(gsk.clone());
                order.extend(i.key.extra_range.iter().map(expr_column));
                order.extend([h, pk]);
                order.extend(sk);
                AccessPath {
                    index,
                    partition: vec![gpk],
                    sort: gsk,
                    order,
                }
            }
        }
    }

    /// The position of `item` (or a start key holding the path's key attributes) in this
    /// path's order; `None` when an attribute is missing or of the wrong type.
    pub fn position(&self, item: &Item) -> Option<Vec<SqlValue>> {
        self.order
            .iter()
            .map(|c| c.param(item.get(&c.attr)?))
            .collect()
    }
}

/// DDL for a secondary index of a table. Local indexes sort within the table's partition
/// (`h, pk`); global ones by their own keys, with the table key making entries unique and the
/// order total.
pub fn index_ddl(def: &TableDef, index: &IndexDef, concurrently: bool) -> String {
    let path = AccessPath::new(def, Some(index));
    let cols: Vec<&str> = path.order.iter().map(|c| c.sql.as_str()).collect();
    format!(
        "CREATE INDEX {conc}IF NOT EXISTS {name} ON {table} ({cols}) WHERE {pred}",
        conc = if concurrently { "CONCURRENTLY " } else { "" },
        name = index_relation(def, index),
        table = def.pg_table,
        cols = cols.join(", "),
        pred = index_predicate(index),
    )
}

/// The PostgreSQL name of a secondary index: stable for the index's life, unique per table.
pub fn index_relation(def: &TableDef, index: &IndexDef) -> String {
    let digest = crate::model::hash::partition_hash(&AttributeValue::S(index.name.clone())) as u32;
    format!("{}_i{digest:08x}", def.pg_table)
}
