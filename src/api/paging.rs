//! One page of a Query or Scan, by DynamoDB's rules: Limit counts items *read*, the page ends
//! once 1 MB has been read (the item that crosses it is still in the page), the filter runs
//! after the read (so Count and ScannedCount differ), and a page that stopped at a limit ends
//! with a LastEvaluatedKey naming the last item read, even when nothing follows it.

use crate::error::ApiResult;
use crate::model::Item;
use crate::schema::TableDef;
use crate::storage::read::RangeRead;

use super::Ctx;

/// DynamoDB's page size limit.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// Rows fetched from PostgreSQL per round trip when no smaller Limit applies.
const CHUNK: usize = 500;

/// What a page read produced.
pub struct Page {
    /// Items that passed the filter, in order.
    pub items: Vec<Item>,
    /// Items read (before the filter).
    pub scanned: usize,
    /// Bytes read: the sizes of the entries read (whole items, or an index's projected
    /// entries), for capacity and the 1 MB limit.
    pub bytes: usize,
    /// The items read, each rounded up to 4 KB and counted in 4 KB blocks: what fetching them
    /// one by one from the table costs (a local index read of unprojected attributes).
    pub item_blocks: usize,
    /// The last item read, when the page stopped at Limit or at 1 MB.
    pub last: Option<Item>,
}

/// Reads one page of `read`, applying `keep` (the filter) to each item read. `entry_size` gives
/// the size of the entry read for an item and its stored size (an index may hold less).
pub async fn read_page(
    ctx: &Ctx,
    def: &TableDef,
    mut read: RangeRead<'_>,
    limit: Option<usize>,
    entry_size: impl Fn(&Item, usize) -> usize,
    mut keep: impl FnMut(&Item) -> ApiResult<bool>,
) -> ApiResult<Page> {
    let mut page = Page {
        items: Vec::new(),
        scanned: 0,
        bytes: 0,
        item_blocks: 0,
        last: None,
    };
    loop {
        let want = match limit {
            Some(l) => (l - page.scanned).min(CHUNK),
            None => CHUNK,
        };
        let rows = ctx.storage.read_range(def, &read, want as i64).await?;
        let complete = rows.len() < want;
        let mut last_position = None;
        for row in rows {
            page.scanned += 1;
            page.bytes += entry_size(&row.item, row.size);
            page.item_blocks += row.size.div_ceil(4096);
            let kept = keep(&row.item)?;
            let at_limit = limit.is_some_and(|l| page.scanned >= l) || page.bytes >= PAGE_BYTES;
            if at_limit {
                page.last = Some(row.item.clone());
            } else {
                last_position = read.path.position(&row.item);
            }
            if kept {
                page.items.push(row.item);
            }
            if at_limit {
                return Ok(page);
            }
        }
        match (complete, last_position) {
            (false, Some(position)) => read.after = Some(position),
            _ => return Ok(page),
        }
    }
}
