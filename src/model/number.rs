//! DynamoDB numbers: exact decimals with up to 38 significant digits, magnitude 1E-130 to
//! 9.9999999999999999999999999999999999999E+125.
//!
//! DynamoDB parses a number the way Java's `BigDecimal(String)` does, strips trailing zeros,
//! checks precision first and range second, and hands the value back in plain notation (never
//! with an exponent): `"1.50"` becomes `"1.5"`, `"1e2"` becomes `"100"`, `"-0"` becomes `"0"`.
//! Arithmetic (`SET a = a + :v`, `ADD`) is exact; a result that needs more than 38 digits is
//! rejected, never rounded.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::ApiError;

/// Most significant digits a number may carry.
pub const MAX_PRECISION: usize = 38;

/// Largest allowed exponent of the leading digit (9.99…E+125).
pub const MAX_ADJUSTED_EXPONENT: i64 = 125;

/// Smallest allowed exponent of the leading digit (1E-130).
pub const MIN_ADJUSTED_EXPONENT: i64 = -130;

/// Text that cannot be read as a number at all.
pub const MSG_NOT_A_NUMBER: &str = "A value provided cannot be converted into a number";

/// More than [`MAX_PRECISION`] significant digits, on input or as the result of arithmetic.
pub const MSG_PRECISION: &str = "DynamoDB only supports precision up to 38 digits";

/// A magnitude of 1E+126 or more.
pub const MSG_OVERFLOW: &str =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";

/// A non-zero magnitude below 1E-130.
pub const MSG_UNDERFLOW: &str =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

/// A validated, normalized DynamoDB number.
///
/// The value is `±mantissa × 10^exponent` with the mantissa free of trailing zeros, so every
/// value has exactly one representation: the derived equality and hash are by numeric value
/// (`1.0 == 1`), and the canonical text is computed once at construction.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    /// True for values below zero (never for zero).
    negative: bool,
    /// The significant digits as an integer, without trailing zeros; 0 only for zero.
    /// At most 38 digits, which fits in a `u128` (10^38 < 2^127).
    mantissa: u128,
    /// Power of ten applied to the mantissa; 0 for zero.
    exponent: i32,
    /// The canonical text form, as DynamoDB hands it back.
    text: Box<str>,
}

impl Number {
    /// Parses DynamoDB's number syntax (that of Java's `BigDecimal`: optional sign, digits with
    /// at most one `.`, optional `e`/`E` exponent) and checks precision and range with
    /// DynamoDB's messages.
    pub fn parse(text: &str) -> Result<Number, ApiError> {
        let decimal = Decimal::parse(text).ok_or_else(|| ApiError::validation(MSG_NOT_A_NUMBER))?;
        if decimal.precision > MAX_PRECISION {
            return Err(ApiError::validation(MSG_PRECISION));
        }
        Number::from_parts(decimal.negative, decimal.mantissa, decimal.exponent)
    }

    /// Zero, the one number without a sign.
    pub fn zero() -> Number {
        Number {
            negative: false,
            mantissa: 0,
            exponent: 0,
            text: "0".into(),
        }
    }

    /// An integer: every `i64` is in range, so this cannot fail (counters, TTL timestamps).
    pub fn from_i64(value: i64) -> Number {
        let (mantissa, exponent) = strip_trailing_zeros(u128::from(value.unsigned_abs()), 0);
        Number::build(value < 0, mantissa, exponent as i32)
    }

    /// The canonical text (plain notation, no exponent, no trailing zeros, no `-0`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Count of significant digits (0 for zero); item sizes depend on it.
    pub fn precision(&self) -> u32 {
        digit_count(self.mantissa)
    }

    /// The exponent of the leading digit in scientific notation (`123.4` → 2, `0.05` → -2;
    /// 0 for zero); DynamoDB's range limits are stated in it.
    pub fn adjusted_exponent(&self) -> i32 {
        if self.mantissa == 0 {
            0
        } else {
            self.exponent + self.precision() as i32 - 1
        }
    }

    /// The value as an `i64` when it is an integer in range (e.g. a TTL timestamp), else `None`.
    pub fn to_i64(&self) -> Option<i64> {
        if self.exponent < 0 {
            return None;
        }
        let magnitude = self
            .mantissa
            .checked_mul(10u128.checked_pow(self.exponent as u32)?)?;
        let magnitude = i128::try_from(magnitude).ok()?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }

    /// The exact sum, or DynamoDB's precision/overflow/underflow error.
    pub fn add(&self, other: &Number) -> Result<Number, ApiError> {
        Number::sum(self, other, other.negative)
    }

    /// The exact difference, or DynamoDB's precision/overflow/underflow error.
    pub fn sub(&self, other: &Number) -> Result<Number, ApiError> {
        Number::sum(self, other, !other.negative && !other.is_zero())
    }

    /// `a + (±b)` where `b_negative` is the sign to give `b`.
    fn sum(a: &Number, b: &Number, b_negative: bool) -> Result<Number, ApiError> {
        if b.is_zero() {
            return Ok(a.clone());
        }
        if a.is_zero() {
            return Ok(Number::build(b_negative, b.mantissa, b.exponent));
        }
        // Align on the smaller exponent: `high` is the operand with the larger one.
        let ((high, high_negative), (low, low_negative)) = if a.exponent >= b.exponent {
            ((a, a.negative), (b, b_negative))
        } else {
            ((b, b_negative), (a, a.negative))
        };
        let shift = (i64::from(high.exponent) - i64::from(low.exponent)) as u32;
        // `low.mantissa` ends in a non-zero digit, so whenever shift > 0 the exact result has
        // its last non-zero digit in the units place of 10^low.exponent. If the shifted
        // `high` or the sum does not fit in a u128 (or shift > 38), the result is at least
        // 10^39 - 10^38 in those units: more than 38 significant digits. DynamoDB reports
        // precision before range, so that is the answer whatever the magnitude.
        let precision_error = || ApiError::validation(MSG_PRECISION);
        let scaled = 10u128
            .checked_pow(shift)
            .filter(|_| shift <= MAX_PRECISION as u32)
            .and_then(|p| high.mantissa.checked_mul(p))
            .ok_or_else(precision_error)?;
        let (negative, magnitude) = if high_negative == low_negative {
            (
                high_negative,
                scaled
                    .checked_add(low.mantissa)
                    .ok_or_else(precision_error)?,
            )
        } else if scaled >= low.mantissa {
            (high_negative, scaled - low.mantissa)
        } else {
            (low_negative, low.mantissa - scaled)
        };
        if magnitude == 0 {
            return Ok(Number::zero());
        }
        let (mantissa, exponent) = strip_trailing_zeros(magnitude, i64::from(low.exponent));
        if digit_count(mantissa) as usize > MAX_PRECISION {
            return Err(precision_error());
        }
        Number::from_parts(negative, mantissa, exponent)
    }

    /// Checks the range of `±mantissa × 10^exponent` (mantissa already without trailing zeros
    /// and within the precision limit) and builds the number.
    fn from_parts(negative: bool, mantissa: u128, exponent: i64) -> Result<Number, ApiError> {
        if mantissa == 0 {
            return Ok(Number::zero());
        }
        let adjusted = exponent + i64::from(digit_count(mantissa)) - 1;
        if adjusted > MAX_ADJUSTED_EXPONENT {
            return Err(ApiError::validation(MSG_OVERFLOW));
        }
        if adjusted < MIN_ADJUSTED_EXPONENT {
            return Err(ApiError::validation(MSG_UNDERFLOW));
        }
        // In range, so the exponent is within -167..=125 and fits an i32.
        Ok(Number::build(negative, mantissa, exponent as i32))
    }

    /// Builds a number from parts known to be normalized and in range.
    fn build(negative: bool, mantissa: u128, exponent: i32) -> Number {
        if mantissa == 0 {
            return Number::zero();
        }
        let text = render(negative, mantissa, exponent).into_boxed_str();
        Number {
            negative,
            mantissa,
            exponent,
            text,
        }
    }

    /// Compares absolute values.
    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        self.adjusted_exponent()
            .cmp(&other.adjusted_exponent())
            .then_with(|| {
                // Same leading exponent: compare the digit strings padded to the same length
                // (at most 38 digits each, so the padded values fit in a u128).
                let (a, b) = (self.precision(), other.precision());
                let width = a.max(b);
                let pad = |m: u128, digits: u32| m * 10u128.pow(width - digits);
                pad(self.mantissa, a).cmp(&pad(other.mantissa, b))
            })
    }
}

impl Ord for Number {
    /// Numeric order, as DynamoDB sorts N sort keys and evaluates `<`, `BETWEEN`, ...
    fn cmp(&self, other: &Number) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({})", self.text)
    }
}

impl FromStr for Number {
    type Err = ApiError;

    fn from_str(text: &str) -> Result<Number, ApiError> {
        Number::parse(text)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number::from_i64(value)
    }
}

impl serde::Serialize for Number {
    /// Numbers travel as JSON strings in DynamoDB JSON.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A number as read from text, before the precision and range checks.
struct Decimal {
    negative: bool,
    /// Count of significant digits (from the first to the last non-zero digit); 0 for zero.
    precision: usize,
    /// The significant digits as an integer; only meaningful when `precision` is at most
    /// [`MAX_PRECISION`].
    mantissa: u128,
    /// Power of ten applied to `mantissa`.
    exponent: i64,
}

impl Decimal {
    /// Reads the syntax `java.math.BigDecimal(String)` accepts (ASCII digits only), with its
    /// limits: an exponent of at most 10 digits (after leading zeros) that fits an `int`, and a
    /// resulting scale that fits an `int`. `None` for anything else.
    fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.first()? {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let mantissa_end = rest
            .iter()
            .position(|&b| b == b'e' || b == b'E')
            .unwrap_or(rest.len());
        let (mantissa, exponent_part) = rest.split_at(mantissa_end);

        let (integer, fraction) = match mantissa.iter().position(|&b| b == b'.') {
            Some(dot) => (&mantissa[..dot], &mantissa[dot + 1..]),
            None => (mantissa, &mantissa[mantissa.len()..]),
        };
        let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        if integer.len() + fraction.len() == 0 || !all_digits(integer) || !all_digits(fraction) {
            return None;
        }
        let written_exponent = match exponent_part.split_first() {
            None => 0,
            Some((_, exponent)) => parse_exponent(exponent)?,
        };
        // BigDecimal keeps a 32-bit scale: digits after the point minus the exponent.
        let scale = i64::try_from(fraction.len()).ok()? - written_exponent;
        i32::try_from(scale).ok()?;

        // The significant digits run from the first to the last non-zero digit, possibly
        // across the point.
        let nonzero = |b: &u8| (b'1'..=b'9').contains(b);
        let Some(first) = mantissa.iter().position(nonzero) else {
            return Some(Decimal {
                negative,
                precision: 0,
                mantissa: 0,
                exponent: 0,
            });
        };
        let last = mantissa.iter().rposition(nonzero).unwrap_or(first);
        let mut precision = 0;
        let mut value = 0u128;
        for digit in mantissa[first..=last].iter().filter(|&&b| b != b'.') {
            precision += 1;
            if precision <= MAX_PRECISION {
                value = value * 10 + u128::from(digit - b'0');
            }
        }
        // Power of ten of the last significant digit in the written mantissa.
        let dot = integer.len();
        let last_power = if last < dot {
            (dot - 1 - last) as i64
        } else {
            -((last - dot) as i64)
        };
        Some(Decimal {
            negative,
            precision,
            mantissa: value,
            exponent: last_power + written_exponent,
        })
    }
}

/// Reads the exponent after `e`/`E` as BigDecimal does: optional sign, at least one digit, at
/// most 10 digits after leading zeros, and a value that fits an `int`.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let significant = &digits[digits
        .iter()
        .position(|&b| b != b'0')
        .unwrap_or(digits.len())..];
    if significant.len() > 10 {
        return None;
    }
    let magnitude = significant
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let value = if negative { -magnitude } else { magnitude };
    i32::try_from(value).ok().map(i64::from)
}

/// Removes trailing zeros from `mantissa`, raising `exponent` to match.
fn strip_trailing_zeros(mut mantissa: u128, mut exponent: i64) -> (u128, i64) {
    if mantissa == 0 {
        return (0, 0);
    }
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exponent += 1;
    }
    (mantissa, exponent)
}

/// Number of decimal digits in `value` (0 for 0).
fn digit_count(value: u128) -> u32 {
    if value == 0 {
        0
    } else {
        value.ilog10() + 1
    }
}

/// Plain-notation text of `±mantissa × 10^exponent` (non-zero mantissa).
fn render(negative: bool, mantissa: u128, exponent: i32) -> String {
    let digits = mantissa.to_string();
    let mut text = String::with_capacity(digits.len() + exponent.unsigned_abs() as usize + 3);
    if negative {
        text.push('-');
    }
    if exponent >= 0 {
        text.push_str(&digits);
        text.extend(std::iter::repeat_n('0', exponent as usize));
    } else {
        let before_point = digits.len() as i64 + i64::from(exponent);
        if before_point > 0 {
            let (whole, fraction) = digits.split_at(before_point as usize);
            text.push_str(whole);
            text.push('.');
            text.push_str(fraction);
        } else {
            text.push_str("0.");
            text.extend(std::iter::repeat_n(
                '0',
                before_point.unsigned_abs() as usize,
            ));
            text.push_str(&digits);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn parse_error(text: &str) -> String {
        match Number::parse(text) {
            Ok(number) => panic!("{text} parsed as {number}"),
            Err(error) => {
                assert_eq!(error.kind, crate::error::ErrorKind::Validation);
                error.message
            }
        }
    }

    /// Canonical forms, as DynamoDB Local 3.3.0 hands them back after a PutItem.
    #[test]
    fn normalizes_like_dynamodb() {
        let tiny = format!("0.{}1", "0".repeat(129));
        let huge = format!("99999999999999999999999999999999999999{}", "0".repeat(88));
        let cases: &[(&str, &str)] = &[
            ("1.50", "1.5"),
            ("0001", "1"),
            ("1e2", "100"),
            ("-0", "0"),
            ("0.0", "0"),
            ("-0.0e-5", "0"),
            ("000", "0"),
            ("0e999999", "0"),
            ("0e-999", "0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+5", "5"),
            ("+.5", "0.5"),
            ("-.5e-3", "-0.0005"),
            ("1.e5", "100000"),
            ("1e+5", "100000"),
            ("1E+3", "1000"),
            ("1e05", "100000"),
            ("1e-05", "0.00001"),
            ("1E-0", "1"),
            ("1e0", "1"),
            ("-1.0", "-1"),
            ("00.00100", "0.001"),
            ("1.0e-5", "0.00001"),
            ("123e-2", "1.23"),
            ("0.000001", "0.000001"),
            ("1e21", "1000000000000000000000"),
            ("1e-7", "0.0000001"),
            ("1.000000000000000000000000000000000000000000", "1"),
            ("1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000"),
            ("1E-130", &tiny),
            ("9.9999999999999999999999999999999999999E+125", &huge),
            ("99999999999999999999999999999999999999e88", &huge),
            ("-1e-130", &format!("-{tiny}")),
            (
                "0.00000000000000000000000000000000000000000001234567890123456789012345678901234567800",
                "0.000000000000000000000000000000000000000000012345678901234567890123456789012345678",
            ),
        ];
        for (input, canonical) in cases {
            assert_eq!(n(input).as_str(), *canonical, "{input}");
            assert_eq!(n(input).to_string(), *canonical, "{input}");
            // The canonical form is a fixed point.
            assert_eq!(n(canonical).as_str(), *canonical, "{input}");
        }
    }

    #[test]
    fn rejects_what_dynamodb_rejects() {
        let not_numbers = [
            "",
            " 5",
            "5 ",
            "0x10",
            "1e",
            "1e+",
            "-",
            "+",
            ".",
            "abc",
            "NaN",
            "Infinity",
            "-Infinity",
            ".e5",
            "e5",
            "1..2",
            "--1",
            "+-1",
            "-+1",
            "1_000",
            "1e5.5",
            "1 e5",
            "1e 5",
            "1.2.3",
            "١",
            "1e+-5",
            "1,5",
            // Exponents BigDecimal cannot hold.
            "1e999999999999",
            "1e-999999999999",
            "1e2147483648",
            "0e99999999999999",
            // Scales BigDecimal cannot hold.
            "1e-2147483648",
            "1e-2147483649",
            "1.5e-2147483647",
        ];
        for text in not_numbers {
            assert_eq!(parse_error(text), MSG_NOT_A_NUMBER, "{text:?}");
        }
        let precision = [
            "123456789012345678901234567890123456789",
            "10000000000000000000000000000000000000001",
            "123456789012345678901234567890123456789e200",
            "123456789012345678901234567890123456789e-200",
            "9.99999999999999999999999999999999999999E+125",
            "1.00000000000000000000000000000000000001",
        ];
        for text in precision {
            assert_eq!(parse_error(text), MSG_PRECISION, "{text}");
        }
        for text in ["1e126", "-1e126", "1e2147483647", "10e125", "1E+0126"] {
            assert_eq!(parse_error(text), MSG_OVERFLOW, "{text}");
        }
        for text in ["1e-131", "-1e-131", "0.9e-130", "1e-2147483647"] {
            assert_eq!(parse_error(text), MSG_UNDERFLOW, "{text}");
        }
    }

    #[test]
    fn exponent_leading_zeros_do_not_count_towards_the_digit_limit() {
        assert_eq!(n("1e0000000000000000002").as_str(), "100");
        assert_eq!(n("1e-0000000000000000002").as_str(), "0.01");
        // Ten significant exponent digits are read, then the value must fit an int.
        assert_eq!(parse_error("1e1000000000"), MSG_OVERFLOW);
        assert_eq!(parse_error("1e10000000000"), MSG_NOT_A_NUMBER);
    }

    #[test]
    fn orders_by_value() {
        let ascending = [
            "-9.9999999999999999999999999999999999999E+125",
            "-1e100",
            "-100",
            "-99.5",
            "-1",
            "-0.5",
            "-1e-130",
            "0",
            "1e-130",
            "0.000123",
            "0.5",
            "0.51",
            "1",
            "1.0000000000000000000000000000000000001",
            "1.5",
            "2",
            "10",
            "12",
            "12.5",
            "13",
            "99",
            "100",
            "1e100",
            "9.9999999999999999999999999999999999999E+125",
        ];
        let numbers: Vec<Number> = ascending.iter().map(|t| n(t)).collect();
        for (i, a) in numbers.iter().enumerate() {
            for (j, b) in numbers.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
                assert_eq!(a == b, i == j, "{a} vs {b}");
            }
        }
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("-0"), n("0"));
        assert_eq!(n("100").cmp(&n("1e2")), Ordering::Equal);
    }

    #[test]
    fn equal_values_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Number> = ["1", "1.0", "1e0", "10e-1", "+1"]
            .iter()
            .map(|t| n(t))
            .collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn from_i64_covers_the_whole_range() {
        for value in [0, 1, -1, 10, 100, -1200, 1_700_000_000, i64::MAX, i64::MIN] {
            let number = Number::from_i64(value);
            assert_eq!(number.as_str(), value.to_string());
            assert_eq!(number, n(&value.to_string()));
            assert_eq!(number.to_i64(), Some(value));
        }
        assert_eq!(n("1.5").to_i64(), None);
        assert_eq!(n("1e30").to_i64(), None);
        assert_eq!(n("-1e18").to_i64(), Some(-1_000_000_000_000_000_000));
    }

    #[test]
    fn predicates_and_parts() {
        assert!(n("-0").is_zero());
        assert!(!n("-0").is_negative());
        assert!(n("-0.1").is_negative());
        assert_eq!(n("123.4").adjusted_exponent(), 2);
        assert_eq!(n("0.05").adjusted_exponent(), -2);
        assert_eq!(n("123.4").precision(), 4);
        assert_eq!(n("1200").precision(), 2);
        assert_eq!(n("0").precision(), 0);
        assert_eq!(format!("{:?}", n("1.50")), "Number(1.5)");
        assert_eq!(
            "2.50".parse::<Number>().map(|x| x.to_string()),
            Ok("2.5".to_string())
        );
        assert_eq!(
            serde_json::to_string(&n("1e3")).ok(),
            Some("\"1000\"".to_string())
        );
    }

    /// Results measured with DynamoDB Local (UpdateItem with `SET n = n + :v` and `ADD`).
    #[test]
    fn arithmetic_matches_dynamodb() {
        let add = |a: &str, b: &str| {
            n(a).add(&n(b))
                .map(|x| x.to_string())
                .map_err(|e| e.message)
        };
        let sub = |a: &str, b: &str| {
            n(a).sub(&n(b))
                .map(|x| x.to_string())
                .map_err(|e| e.message)
        };
        let ok = |s: &str| Ok::<String, String>(s.to_string());
        let err = |s: &str| Err::<String, String>(s.to_string());

        assert_eq!(add("0.1", "0.2"), ok("0.3"));
        assert_eq!(sub("5", "5"), ok("0"));
        assert_eq!(sub("0", "0"), ok("0"));
        assert_eq!(
            add("12345678901234567890123456789012345678", "1"),
            ok("12345678901234567890123456789012345679")
        );
        assert_eq!(
            add("99999999999999999999999999999999999999", "1"),
            ok("100000000000000000000000000000000000000")
        );
        assert_eq!(
            add("1", "1e-37"),
            ok("1.0000000000000000000000000000000000001")
        );
        assert_eq!(sub("2e-130", "1e-130"), Ok(n("1e-130").to_string()));
        assert_eq!(sub("1e-130", "1e-130"), ok("0"));

        assert_eq!(add("1e30", "1e-10"), err(MSG_PRECISION));
        assert_eq!(sub("1e30", "1e-10"), err(MSG_PRECISION));
        assert_eq!(add("1", "1e-38"), err(MSG_PRECISION));
        assert_eq!(add("1e125", "1e-130"), err(MSG_PRECISION));
        let max = "9.9999999999999999999999999999999999999E+125";
        assert_eq!(add(max, max), err(MSG_PRECISION));
        assert_eq!(add(max, "1E+89"), err(MSG_PRECISION));
        assert_eq!(sub(&format!("-{max}"), max), err(MSG_PRECISION));

        assert_eq!(add("9e125", "9e125"), err(MSG_OVERFLOW));
        assert_eq!(sub("-9e125", "9e125"), err(MSG_OVERFLOW));
        assert_eq!(sub("1.5e-130", "1.4e-130"), err(MSG_UNDERFLOW));
        assert_eq!(add("1.5e-130", "-1.4e-130"), err(MSG_UNDERFLOW));
    }

    #[test]
    fn arithmetic_signs_and_cancellation() {
        let add = |a: &str, b: &str| {
            n(a).add(&n(b))
                .map(|x| x.to_string())
                .map_err(|e| e.message)
        };
        let sub = |a: &str, b: &str| {
            n(a).sub(&n(b))
                .map(|x| x.to_string())
                .map_err(|e| e.message)
        };
        assert_eq!(add("-1.5", "1.5"), Ok("0".into()));
        assert_eq!(add("-1.5", "0.25"), Ok("-1.25".into()));
        assert_eq!(add("0.25", "-1.5"), Ok("-1.25".into()));
        assert_eq!(sub("0", "3"), Ok("-3".into()));
        assert_eq!(sub("0", "-3"), Ok("3".into()));
        assert_eq!(sub("3", "0"), Ok("3".into()));
        assert_eq!(add("-0", "-0"), Ok("0".into()));
        assert_eq!(sub("1e100", "1e100"), Ok("0".into()));
        // A large shift that cancels down to few digits is still exact.
        assert_eq!(
            sub(
                "10000000000000000000000000000000000000",
                "9999999999999999999999999999999999999.9"
            ),
            Ok("0.1".into())
        );
        assert_eq!(
            sub("1e38", "1"),
            Ok("99999999999999999999999999999999999999".into())
        );
        assert_eq!(sub("1e39", "1"), Err(MSG_PRECISION.into()));
    }

    /// Random inputs over the number alphabet: parsing never panics, the canonical text is a
    /// fixed point, and whenever a + b succeeds, (a + b) - b gives a back.
    #[test]
    fn random_inputs_are_consistent() {
        let alphabet = b"0123456789.eE+-9";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = Vec::new();
        for _ in 0..50_000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            if let Ok(number) = Number::parse(&text) {
                let again = n(number.as_str());
                assert_eq!(again, number, "{text}");
                assert_eq!(again.as_str(), number.as_str(), "{text}");
                parsed.push(number);
            }
        }
        assert!(parsed.len() > 1000);
        for pair in parsed.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if let Ok(sum) = a.add(b) {
                assert_eq!(sum.sub(b).as_ref(), Ok(a), "{a} + {b}");
                assert_eq!(b.add(a).as_ref(), Ok(&sum), "{a} + {b}");
            }
            if let Ok(difference) = a.sub(b) {
                assert_eq!(difference.add(b).as_ref(), Ok(a), "{a} - {b}");
            }
        }
    }

    /// Cross-checks add/sub against i128 arithmetic on values with small exponents.
    #[test]
    fn arithmetic_agrees_with_integer_reference() {
        let values: Vec<i128> = vec![
            0,
            1,
            -1,
            7,
            -7,
            10,
            25,
            -250,
            999,
            1000,
            -1001,
            123_456_789,
            -987_654_321_000,
            99_999_999_999_999_999,
        ];
        for &a in &values {
            for &b in &values {
                for scale in 0..4u32 {
                    // a and b are read as a / 10^scale and b / 10^scale.
                    let text = |v: i128| format!("{v}e-{scale}");
                    let (x, y) = (n(&text(a)), n(&text(b)));
                    assert_eq!(
                        x.add(&y).ok(),
                        Some(n(&text(a + b))),
                        "{a} + {b} scale {scale}"
                    );
                    assert_eq!(
                        x.sub(&y).ok(),
                        Some(n(&text(a - b))),
                        "{a} - {b} scale {scale}"
                    );
                    assert_eq!(x.cmp(&y), a.cmp(&b));
                }
            }
        }
    }
}
