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
        Number { negative: false, mantissa: 0, exponent: 0, text: "0".into() }
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
        let magnitude = self.mantissa.checked_mul(10u128.checked_pow(self.exponent as u32)?)?;
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
            (high_negative, scaled.checked_add(low.mantissa).ok_or_else(precision_error)?)
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
        Number { negative, mantissa, exponent, text }
    }

    /// Compares absolute values.
    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        self.adjusted_exponent().cmp(&other.adjusted_exponent()).then_with(|| {
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
        let mantissa_end = rest.iter().position(|&b| b == b'e' || b == b'E').unwrap_or(rest.len());
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
            return Some(Decimal { negative, precision: 0, mantissa: 0, exponent: 0 });
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
        let last_power = if last < dot { (dot - 1 - last) as i64 } else { -((last - dot) as i64) };
        Some(Decimal { negative, precision, mantissa: value, exponent: last_power + written_exponent })
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
    let significant = &digits[digits.iter().position(|&b| b != b'0').unwrap_or(digits.len())..];
    if significant.len() > 10 {
        return None;
    }
    let magnitude = significant.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let value = if negative { -magnitude } else { magnitude };
    i32::try_from(value).ok().map(i64::from)
}

/// Removes trailing zeros from `mantissa`, raising `exponent` to match.
fn strip_trailing_zeros(mut mantissa: u128, mut exponent: i64) -> (u128, i64) {
    if mantissa == 0 {
        return (0, 0);
    }
    while mantissa % 10 == 0 {
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
            text.extend(std::iter::repeat_n('0', before_point.unsigned_abs() as usize));
            text.push_str(&digits);
        }
    }
    text
}
