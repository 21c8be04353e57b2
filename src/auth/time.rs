//! The few date computations SigV4 needs, on plain Unix seconds.
//!
//! Signatures carry their time as ISO-8601 basic format (`20260101T000000Z`) in `X-Amz-Date`, or
//! as an HTTP date (`Thu, 01 Jan 2026 00:00:00 GMT`) in `Date`. Both are parsed into seconds since
//! the Unix epoch (UTC, no leap seconds) and formatted back to the basic format, which is what the
//! string to sign and the error messages use. Hand-written civil-date arithmetic (Howard
//! Hinnant's algorithms) keeps the module free of a calendar dependency; every function is total.

use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;

/// Seconds since the Unix epoch for `now`; times before the epoch are negative.
pub(crate) fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date (year, month, day) `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    // Both casts are in range by construction: day in 1..=31, month in 1..=12.
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Seconds since the epoch for a validated calendar date and time of day, `None` if any field
/// is out of range.
fn to_unix(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds_of_day = i64::from(hour * 3600 + minute * 60 + second);
    Some(days_from_civil(year, month, day) * SECS_PER_DAY + seconds_of_day)
}

/// Parses a run of ASCII digits (and nothing else) as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses ISO-8601 basic format, exactly `YYYYMMDD'T'HHMMSS'Z'` as the SDKs write it.
pub(crate) fn parse_iso_basic(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    // Byte checks above make these ASCII slices, so slicing cannot split a character.
    let field = |from: usize, to: usize| s.get(from..to).and_then(digits);
    to_unix(
        i64::from(field(0, 4)?),
        field(4, 6)?,
        field(6, 8)?,
        field(9, 11)?,
        field(11, 13)?,
        field(13, 15)?,
    )
}

/// Formats seconds since the epoch as ISO-8601 basic format, `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn format_iso_basic(secs: i64) -> String {
    let days = secs.div_euclid(SECS_PER_DAY);
    let of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn month_from_name(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| *m == lower)?;
    Some(index as u32 + 1)
}

/// The offset from UTC, in seconds, of an RFC 5322 zone: `GMT`, `UT`, `UTC`, `Z`, `+hhmm`, `-hhmm`.
fn zone_offset(zone: &str) -> Option<i64> {
    if ["GMT", "UT", "UTC", "Z"]
        .iter()
        .any(|z| zone.eq_ignore_ascii_case(z))
    {
        return Some(0);
    }
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if rest.len() != 4 {
        return None;
    }
    let hours = i64::from(digits(rest.get(0..2)?)?);
    let minutes = i64::from(digits(rest.get(2..4)?)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Parses an HTTP `Date` header: RFC 7231's IMF-fixdate (`Thu, 01 Jan 2026 00:00:00 GMT`) and the
/// RFC 5322 form Python's `email.utils.formatdate` writes (`... 00:00:00 -0000`), which is what
/// botocore sends when a request already had a `Date` header. The weekday is optional and not
/// checked, as in RFC 5322.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let mut parts: Vec<&str> = s.split_ascii_whitespace().collect();
    if parts.first().is_some_and(|p| p.ends_with(',')) {
        parts.remove(0);
    }
    let [day, month, year, clock, zone] = parts.as_slice() else {
        return None;
    };
    let day = digits(day).filter(|_| day.len() <= 2)?;
    let month = month_from_name(month)?;
    let year = digits(year).filter(|_| year.len() == 4)?;
    let mut clock_parts = clock.split(':');
    let mut next_clock = || clock_parts.next().filter(|p| p.len() == 2).and_then(digits);
    let (hour, minute, second) = (next_clock()?, next_clock()?, next_clock()?);
    if clock.len() != 8 {
        return None;
    }
    let local = to_unix(i64::from(year), month, day, hour, minute, second)?;
    Some(local - zone_offset(zone)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_round_trip() {
        for s in [
            "19700101T000000Z",
            "20260101T000000Z",
            "20240229T235959Z",
            "99991231T235959Z",
        ] {
            let secs = parse_iso_basic(s).unwrap();
            assert_eq!(format_iso_basic(secs), s);
        }
        assert_eq!(parse_iso_basic("20130609T100015Z"), Some(1_370_772_015));
        assert_eq!(parse_iso_basic("19691231T235959Z"), Some(-1));
    }

    #[test]
    fn iso_rejects_malformed() {
        for s in [
            "",
            "201",
            "20130609T100015",
            "20130609 100015Z",
            "2013-06-09T10:00:15Z",
            "20131309T100015Z",
            "20130230T100015Z",
            "20230229T100015Z",
            "20130609T240000Z",
            "20130609T106000Z",
            "20130609T100060Z",
            "2013060+T100015Z",
            "20130609t100015z",
            "2013060€T1015Z",
        ] {
            assert_eq!(parse_iso_basic(s), None, "{s}");
        }
    }

    #[test]
    fn civil_conversion_matches_day_by_day() {
        let mut days = days_from_civil(1899, 12, 31);
        for year in 1900..=2100 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    days += 1;
                    assert_eq!(days_from_civil(year, month, day), days);
                    assert_eq!(civil_from_days(days), (year, month, day));
                }
            }
        }
    }

    #[test]
    fn http_dates() {
        let expected = parse_iso_basic("20130609T100015Z");
        for s in [
            "Sun, 09 Jun 2013 10:00:15 GMT",
            "Sun, 09 Jun 2013 10:00:15 -0000",
            "Sun, 09 Jun 2013 10:00:15 +0000",
            "09 Jun 2013 10:00:15 UTC",
            "Sun, 9 jun 2013 10:00:15 GMT",
            "Sun, 09 Jun 2013 12:00:15 +0200",
            "Sun, 09 Jun 2013 05:30:15 -0430",
        ] {
            assert_eq!(parse_http_date(s), expected, "{s}");
        }
        for s in [
            "",
            "Sun, 09 Jun 2013 10:00:15",
            "Sun, 09 Jun 2013 10:00 GMT",
            "Sun, 09 Jun 2013 10:00:15:00 GMT",
            "Sun, 09 Foo 2013 10:00:15 GMT",
            "Sun, 31 Jun 2013 10:00:15 GMT",
            "Sun, 09 Jun 13 10:00:15 GMT",
            "Sun, 09 Jun 2013 10:00:15 +2400",
            "Sun, 09 Jun 2013 10:00:15 +02",
            "Sun, 09 Jun 2013 1:0:15 GMT",
            "Sun, 09 Jun 2013 10:00:15 GMT extra",
        ] {
            assert_eq!(parse_http_date(s), None, "{s}");
        }
    }

    #[test]
    fn unix_seconds_of_system_time() {
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(90)), 90);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(90)), -90);
    }

    #[test]
    fn formatting_extreme_values_does_not_panic() {
        for secs in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            let _ = format_iso_basic(secs);
        }
    }
}
