//! ConsumedCapacity in responses: what the request would have cost on DynamoDB, reported when
//! ReturnConsumedCapacity asks (TOTAL: the sum; INDEXES: broken down by table and index).

use serde_json::{json, Map, Value};

use crate::schema::TableDef;

/// Capacity one request consumed on a table and its indexes.
#[derive(Debug, Default, Clone)]
pub struct Consumed {
    /// Units charged to the table itself.
    pub table: f64,
    /// Units charged to each local secondary index.
    pub local: Vec<(String, f64)>,
    /// Units charged to each global secondary index.
    pub global: Vec<(String, f64)>,
}

impl Consumed {
    /// Only the table is charged (reads, and writes to tables without indexes).
    pub fn table(units: f64) -> Consumed {
        Consumed {
            table: units,
            ..Default::default()
        }
    }

    /// The `ConsumedCapacity` member for `return_consumed_capacity` (`NONE` gives nothing).
    pub fn report(&self, def: &TableDef, return_consumed_capacity: &str) -> Option<Value> {
        let total = self.table
            + self.local.iter().map(|(_, u)| u).sum::<f64>()
            + self.global.iter().map(|(_, u)| u).sum::<f64>();
        match return_consumed_capacity {
            "TOTAL" => Some(json!({"TableName": def.name, "CapacityUnits": total})),
            "INDEXES" => {
                let mut out = Map::new();
                out.insert("TableName".into(), def.name.clone().into());
                out.insert("CapacityUnits".into(), total.into());
                out.insert("Table".into(), json!({"CapacityUnits": self.table}));
                let indexes = |list: &[(String, f64)]| -> Value {
                    list.iter()
                        .map(|(name, units)| (name.clone(), json!({"CapacityUnits": units})))
                        .collect::<Map<String, Value>>()
                        .into()
                };
                if !self.local.is_empty() {
                    out.insert("LocalSecondaryIndexes".into(), indexes(&self.local));
                }
                if !self.global.is_empty() {
                    out.insert("GlobalSecondaryIndexes".into(), indexes(&self.global));
                }
                Some(Value::Object(out))
            }
            _ => None,
        }
    }
}

/// Write capacity of replacing `old` with `new` on a table with indexes: the table pays for the
/// larger of the two items; each index the item is (or was) in pays for its write too, twice
/// when the index key changes (a delete and a put in the index).
pub fn write_consumed(
    def: &TableDef,
    old: Option<&crate::model::Item>,
    new: Option<&crate::model::Item>,
) -> Consumed {
    use crate::model::capacity::write_units;
    use crate::model::size::item_size;
    let size = |i: Option<&crate::model::Item>| i.map(item_size).unwrap_or(0);
    let table = write_units(size(old).max(size(new)));
    let index_cost = |index: &crate::schema::IndexDef| -> f64 {
        let key_of = |item: Option<&crate::model::Item>| {
            item.and_then(|i| {
                index
                    .key
                    .attrs()
                    .map(|a| i.get(&a.name).cloned())
                    .collect::<Option<Vec<_>>>()
            })
        };
        let (old_key, new_key) = (key_of(old), key_of(new));
        match (&old_key, &new_key) {
            (None, None) => 0.0,
            (Some(a), Some(b)) if a != b => write_units(size(old)) + write_units(size(new)),
            (Some(_), Some(_)) | (None, Some(_)) => write_units(size(new)),
            (Some(_), None) => write_units(size(old)),
        }
    };
    Consumed {
        table,
        local: def
            .local_indexes
            .iter()
            .map(|i| (i.name.clone(), index_cost(i)))
            .filter(|(_, u)| *u > 0.0)
            .collect(),
        global: def
            .global_indexes
            .iter()
            .map(|i| (i.name.clone(), index_cost(i)))
            .filter(|(_, u)| *u > 0.0)
            .collect(),
    }
}
