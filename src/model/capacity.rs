//! Capacity units, as DynamoDB reports them in `ConsumedCapacity`.
//!
//! A read unit covers 4 KB read with strong consistency (half a unit when eventually
//! consistent); a write unit covers 1 KB written. Sizes are rounded up to the next unit and
//! every request is charged at least one unit (half for an eventually consistent read), even
//! when it finds no item. Query and Scan are charged on the total size of the items they read,
//! not item by item. Transactions charge twice these amounts.

/// Bytes covered by one read unit.
pub const READ_UNIT_BYTES: usize = 4 * 1024;

/// Bytes covered by one write unit.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Read units for reading `item_bytes` (one item, or the sum of a Query/Scan page).
pub fn read_units(item_bytes: usize, consistent: bool) -> f64 {
    let units = item_bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// Write units for writing (or deleting) an item of `item_bytes`; for a write that replaces an
/// item DynamoDB charges the larger of the old and new sizes.
pub fn write_units(item_bytes: usize) -> f64 {
    item_bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Read units for one item read inside TransactGetItems (always strongly consistent, doubled).
pub fn transactional_read_units(item_bytes: usize) -> f64 {
    2.0 * read_units(item_bytes, true)
}

/// Write units for one action inside TransactWriteItems (doubled).
pub fn transactional_write_units(item_bytes: usize) -> f64 {
    2.0 * write_units(item_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_round_up_to_4kb_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(1, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        // Measured against DynamoDB Local: a 5 KB and a 9 KB item, eventually consistent.
        assert_eq!(read_units(5000 + 4, false), 1.0);
        assert_eq!(read_units(9000 + 4, false), 1.5);
    }

    #[test]
    fn writes_round_up_to_1kb() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(400 * 1024), 400.0);
    }

    #[test]
    fn transactions_charge_double() {
        assert_eq!(transactional_read_units(5000), 4.0);
        assert_eq!(transactional_write_units(100), 2.0);
    }
}
