//! One page of a Query or Scan, by DynamoDB's rules: Limit counts items *read*, the page ends
//! once 1 MB has been read (the item that crosses it is still in the page), the filter runs
//! after the read (so Count and ScannedCount differ), and a page that stopped at a limit ends
//! with a LastEvaluatedKey naming the last item read, even when nothing follows it.

use crate::error::ApiResult;
use crate::expr::Condition;
use crate::model::Item;
use crate::storage::read::RangeRead;
use crate::storage::StoredItem;

use super::read::Target;
use super::Ctx;

/// DynamoDB's page size limit.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// Rows fetched from PostgreSQL per round trip when no smaller Limit applies.
const CHUNK: usize = 500;

/// What a page read produced.
pub struct Page {
    /// Items that passed the filter, in order, as stored (parsed only where needed).
    pub items: Vec<StoredItem>,
    /// Items read (before the filter).
    pub scanned: usize,
    /// Bytes read: the sizes of the entries read (whole items, or an index's projected
    /// entries), for capacity and the 1 MB limit.
    pub bytes: usize,
    /// The items read, each rounded up to 4 KB and counted in 4 KB blocks: what fetching them
    /// one by one from the table costs (a local index read of unprojected attributes).
    pub item_blocks: usize,
    /// The key attributes of the last item read, when the page stopped at Limit or at 1 MB.
    pub last: Option<Item>,
}

/// Reads one page of `read` from `target`, keeping the items that pass `filter` (and are not
/// hidden by TTL). Items are parsed only when the filter, TTL hiding or an index's partial
/// projection (the size of its entries) need their attributes; of the last item of a chunk or
/// page, whose key says where to go on, only the key attributes are read.
pub async fn read_page(
    ctx: &Ctx,
    target: &Target<'_>,
    mut read: RangeRead<'_>,
    limit: Option<usize>,
    filter: Option<&Condition>,
) -> ApiResult<Page> {
    let def = target.def;
    let key_names = target.start_key_names();
    let keep = |stored: &StoredItem| -> ApiResult<bool> {
        if filter.is_none() && !ctx.may_hide(def) {
            return Ok(true);
        }
        let item = stored.item()?;
        Ok(!ctx.hidden(def, item) && filter.is_none_or(|f| f.evaluate(item)))
    };
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
        let count = rows.len();
        let mut last_position = None;
        for (n, row) in rows.into_iter().enumerate() {
            page.scanned += 1;
            page.bytes += target.entry_size(&row)?;
            page.item_blocks += row.size().div_ceil(4096);
            let kept = keep(&row)?;
            let at_limit = limit.is_some_and(|l| page.scanned >= l) || page.bytes >= PAGE_BYTES;
            if at_limit {
                page.last = Some(row.attributes(&key_names)?);
            } else if n + 1 == count && !complete {
                last_position = read.path.position(&row.attributes(&key_names)?);
            }
            if kept {
                page.items.push(row);
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
