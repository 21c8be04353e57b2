//! The DynamoDB Streams API (`DynamoDBStreams_20120810.*`), served on the same endpoint as
//! DynamoDB, one module per operation. The change log itself is `storage::streams`; this layer
//! names streams by ARN, hands out shard iterators, and shapes records as the service does.
//!
//! Shard iterators are opaque to clients. Ours carry the stream, the shard, the position (the
//! next per-shard sequence number to read) and the time they were issued, signed with an HMAC
//! whose key is kept in the database (shared by every server instance), so a client can neither
//! forge a position nor extend an iterator's 15-minute life. The text starts with the stream ARN,
//! as the service's does.

pub mod describe_stream;
pub mod get_records;
pub mod get_shard_iterator;
pub mod list_streams;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{ApiError, ApiResult};
use crate::storage::streams::{enabled_stream, StreamInfo};

use super::common::table_arn;
use super::Ctx;

/// How long a shard iterator may be used after it was issued (DynamoDB: 15 minutes).
pub const ITERATOR_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// Iterator payload format version.
const ITERATOR_VERSION: u8 = 1;
/// Bytes of the HMAC-SHA256 tag kept in an iterator.
const TAG_BYTES: usize = 16;
/// version, stream id, shard, position, issued-at.
const PAYLOAD_BYTES: usize = 1 + 8 + 2 + 8 + 8;

type HmacSha256 = hmac::Hmac<Sha256>;

/// A stream's ARN: the table's ARN, `/stream/`, and the stream label.
pub fn stream_arn(ctx: &Ctx, table_name: &str, label: &str) -> String {
    format!("{}/stream/{label}", table_arn(ctx, table_name))
}

/// The (table name, stream label) an ARN of this server's region and account names; `None` for
/// anything else.
pub fn parse_stream_arn<'a>(ctx: &Ctx, arn: &'a str) -> Option<(&'a str, &'a str)> {
    let prefix = table_arn(ctx, "");
    let rest = arn.strip_prefix(prefix.as_str())?;
    let (table, label) = rest.split_once("/stream/")?;
    (!table.is_empty() && !label.is_empty()).then_some((table, label))
}

/// The stream an ARN names, with its status brought up to date: a stream whose table no longer
/// has it enabled (disabled or deleted meanwhile, possibly by another instance) is closed here,
/// so that it reports DISABLED and its shards their ending sequence numbers at once.
pub async fn find_stream(ctx: &Ctx, arn: &str) -> ApiResult<Option<StreamInfo>> {
    let Some((table, label)) = parse_stream_arn(ctx, arn) else {
        return Ok(None);
    };
    let Some(stream) = ctx.storage.stream(table, label).await? else {
        return Ok(None);
    };
    if stream.closed_at.is_some() {
        return Ok(Some(stream));
    }
    let def = ctx.storage.table(table).await?;
    let current = def.as_deref().is_some_and(|d| {
        d.table_id == stream.table_id && enabled_stream(d).is_some_and(|s| s.label == stream.label)
    });
    if current {
        return Ok(Some(stream));
    }
    ctx.storage.close_stream(table, label).await?;
    ctx.storage.stream(table, label).await
}

/// A decoded, authentic shard iterator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iterator {
    /// The stream (`storage::streams::StreamInfo::stream_id`).
    pub stream_id: i64,
    /// The shard's number in the stream.
    pub shard: i16,
    /// The next per-shard sequence number to read.
    pub position: i64,
    /// Epoch milliseconds when it was issued.
    pub issued_ms: i64,
}

fn mac(secret: &[u8]) -> ApiResult<HmacSha256> {
    HmacSha256::new_from_slice(secret).map_err(|_| ApiError::internal("invalid shard iterator key"))
}

impl Iterator {
    /// The iterator's text: `<stream ARN>|1|<signed payload, base64url>`.
    pub fn encode(&self, secret: &[u8], arn: &str) -> ApiResult<String> {
        let mut payload = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
        payload.push(ITERATOR_VERSION);
        payload.extend_from_slice(&self.stream_id.to_be_bytes());
        payload.extend_from_slice(&self.shard.to_be_bytes());
        payload.extend_from_slice(&self.position.to_be_bytes());
        payload.extend_from_slice(&self.issued_ms.to_be_bytes());
        let mut m = mac(secret)?;
        m.update(arn.as_bytes());
        m.update(&payload);
        let tag = m.finalize().into_bytes();
        payload.extend_from_slice(&tag[..TAG_BYTES]);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        Ok(format!("{arn}|{ITERATOR_VERSION}|{token}"))
    }

    /// Reads an iterator's text: the iterator and the stream ARN it starts with; `None` when it
    /// is malformed or its signature (which covers the ARN too) does not verify.
    pub fn decode<'a>(secret: &[u8], text: &'a str) -> Option<(Iterator, &'a str)> {
        let (prefix, token) = text.rsplit_once('|')?;
        let arn = prefix.strip_suffix(&format!("|{ITERATOR_VERSION}"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        if bytes.len() != PAYLOAD_BYTES + TAG_BYTES || bytes[0] != ITERATOR_VERSION {
            return None;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_BYTES);
        let mut m = mac(secret).ok()?;
        m.update(arn.as_bytes());
        m.update(payload);
        m.verify_truncated_left(tag).ok()?;
        let i64_at = |at: usize| {
            payload
                .get(at..at + 8)?
                .try_into()
                .ok()
                .map(i64::from_be_bytes)
        };
        let shard = i16::from_be_bytes(payload.get(9..11)?.try_into().ok()?);
        let iterator = Iterator {
            stream_id: i64_at(1)?,
            shard,
            position: i64_at(11)?,
            issued_ms: i64_at(19)?,
        };
        Some((iterator, arn))
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A time as Java's `Date.toString()` writes it (`Sat Nov 21 23:46:14 UTC 2026`), which the
/// service's ExpiredIteratorException message uses.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {d:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn iterators_round_trip_and_reject_tampering() {
        let it = Iterator {
            stream_id: 7,
            shard: 3,
            position: 123_456,
            issued_ms: 1_700_000_000_000,
        };
        let text = it
            .encode(
                KEY,
                "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
            )
            .unwrap();
        assert!(text.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x|1|"));
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x";
        assert_eq!(Iterator::decode(KEY, &text), Some((it, arn)));
        assert_eq!(Iterator::decode(b"another key", &text), None);
        // The ARN is signed too.
        assert_eq!(
            Iterator::decode(KEY, &text.replace("table/t/", "table/u/")),
            None
        );
        // Flip one bit of the payload: the signature no longer matches.
        let token = text.rsplit('|').next().unwrap();
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap();
        bytes[12] ^= 1;
        let forged = format!(
            "{arn}|1|{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        assert_eq!(Iterator::decode(KEY, &forged), None);
        assert_eq!(Iterator::decode(KEY, "garbage"), None);
        assert_eq!(Iterator::decode(KEY, ""), None);
    }

    #[test]
    fn java_dates() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_304_774_657), "Sat Nov 21 23:46:14 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
