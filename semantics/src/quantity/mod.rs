//! Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource`).
//!
//! Mirrors `ParseQuantity` (every suffix: `n u m "" k M G T P E`, `Ki..Ei`,
//! exponent form `1e3`, decimals like `0.5` and `1.5Gi`, rounding up to the
//! nearest nano-unit) and `Quantity.String()` (the canonical form kubectl
//! prints, e.g. `1850m`, `1130Mi`, `2`, `14Gi`). Like Go's `Quantity.Add`, a
//! sum keeps the format (binary or decimal) of the left operand, which is why
//! `kubectl describe node` prints memory totals as `1130Mi` when the first pod
//! asked for `Mi` and as `1184890880` when it asked for plain bytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nano-units per unit: Kubernetes keeps at most nine fractional digits.
const NANO: i128 = 1_000_000_000;

/// Why a quantity string was rejected, naming the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The empty string is not a quantity (`ErrFormatWrong` in Go).
    #[error("empty quantity")]
    Empty,
    /// The string does not match `<signedNumber><suffix>`.
    #[error("quantity {0:?}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format(String),
    /// The number is followed by an unknown suffix, e.g. `5Mb`.
    #[error("quantity {0:?}: unable to parse quantity's suffix")]
    Suffix(String),
    /// The value does not fit kpm's exact representation (about 1.7e29).
    #[error("quantity {0:?}: value out of range")]
    OutOfRange(String),
}

/// How a quantity prints, kept from the string it was parsed from (Go's
/// `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Powers of ten with SI suffixes (`m`, `k`, `M`, ...) or no suffix.
    DecimalSI,
    /// Powers of 1024 (`Ki`, `Mi`, ...).
    BinarySI,
    /// Scientific notation (`1e3`).
    DecimalExponent,
}

/// An exact Kubernetes quantity: an integer count of nano-units plus the
/// print format. Equality and ordering compare the value only, like Go's
/// `Quantity.Cmp`, so `1Gi == 1073741824`.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
    /// The parsed string, when Go's `ParseQuantity` keeps it as the printed
    /// form (`3.999`, `+3`, `0100m` print as written, not canonicalized);
    /// cleared by arithmetic, as Go clears its cached string.
    verbatim: Option<Verbatim>,
}

/// A short string stored inline so that `Quantity` stays `Copy`.
#[derive(Debug, Clone, Copy)]
struct Verbatim {
    len: u8,
    buf: [u8; 30],
}

impl Verbatim {
    fn new(s: &str) -> Option<Verbatim> {
        let bytes = s.as_bytes();
        let mut buf = [0u8; 30];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Verbatim {
            len: u8::try_from(bytes.len()).ok()?,
            buf,
        })
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// Parses a quantity string as the API server does (`resource.ParseQuantity`).
pub fn parse(q: &str) -> Result<Quantity, QuantityError> {
    Quantity::parse(q)
}

/// `int64(float64(part)/float64(whole)*100)`, the percentage kubectl describe
/// node prints next to each request and limit. A zero `whole` gives 0 (kubectl
/// guards the node totals the same way).
pub fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    // `as` truncates toward zero like Go's int64() conversion.
    (part as f64 / whole as f64 * 100.0) as i64
}

/// The percentage of `part` in `whole` for resource `name` the way
/// `describeNodeResource` computes it: CPU in milli-units (`MilliValue`),
/// everything else in whole units (`Value`).
pub fn resource_percent(name: &str, part: &Quantity, whole: &Quantity) -> i64 {
    if name == "cpu" {
        percent(part.millis(), whole.millis())
    } else {
        percent(part.value(), whole.value())
    }
}

impl Quantity {
    /// Zero, printed `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSI,
        verbatim: None,
    };

    /// Parses a quantity string (see [`parse`]).
    pub fn parse(q: &str) -> Result<Quantity, QuantityError> {
        parse_quantity(q)
    }

    /// Parses the string inside a k8s-openapi `Quantity`, trimming spaces the
    /// way `Quantity.UnmarshalJSON` does.
    pub fn from_k8s(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Quantity, QuantityError> {
        parse_quantity(q.0.trim())
    }

    /// Builds a quantity from an exact nano-unit count.
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity {
            nanos,
            format,
            verbatim: None,
        }
    }

    /// Builds a quantity of `millis` milli-units (CPU), printed in decimal SI.
    pub fn from_millis(millis: i64) -> Quantity {
        Quantity {
            nanos: i128::from(millis) * 1_000_000,
            format: Format::DecimalSI,
            verbatim: None,
        }
    }

    /// Builds a quantity of `value` whole units in the given format.
    pub fn from_value(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANO,
            format,
            verbatim: None,
        }
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The print format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// True for any zero value, whatever its format.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `Quantity.MilliValue()`: the value in milli-units, rounded away from
    /// zero (so `1n` of CPU counts as `1m`), saturating at the i64 range.
    pub fn millis(&self) -> i64 {
        saturate(div_round_away(self.nanos, 1_000_000))
    }

    /// `Quantity.Value()`: the value in whole units, rounded away from zero
    /// (so `500m` counts as 1), saturating at the i64 range.
    pub fn value(&self) -> i64 {
        saturate(div_round_away(self.nanos, NANO))
    }

    /// `Quantity.Add`: adds `other` in place, keeping this quantity's format,
    /// except that a zero receiver adopts `other`'s format as Go does.
    /// Saturates instead of overflowing.
    pub fn add(&mut self, other: &Quantity) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.verbatim = None;
        self.nanos = self.nanos.saturating_add(other.nanos);
    }

    /// `Quantity.Sub`: subtracts `other` in place, keeping this quantity's
    /// format, except that a zero receiver adopts `other`'s format.
    pub fn sub(&mut self, other: &Quantity) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.verbatim = None;
        self.nanos = self.nanos.saturating_sub(other.nanos);
    }

    /// The canonical string, as `Quantity.String()` prints it.
    pub fn to_canonical(&self) -> String {
        self.to_string()
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Integer division that rounds any remainder away from zero.
fn div_round_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    match (n % d).cmp(&0) {
        Ordering::Greater => q + 1,
        Ordering::Less => q - 1,
        Ordering::Equal => q,
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity::ZERO
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_quantity(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_quantity(s.trim()).map_err(serde::de::Error::custom)
    }
}

/// The pieces of `<sign><num>.<denom><suffix>` (Go's `parseQuantityString`).
struct Parts<'a> {
    negative: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn split_parts(s: &str) -> Result<Parts<'_>, QuantityError> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match bytes.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let digits_end = |from: usize| {
        bytes.get(from..).map_or(from, |rest| {
            from + rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let num_end = digits_end(pos);
    let num = s.get(pos..num_end).unwrap_or("");
    pos = num_end;
    let mut denom = "";
    if bytes.get(pos) == Some(&b'.') {
        let denom_end = digits_end(pos + 1);
        denom = s.get(pos + 1..denom_end).unwrap_or("");
        pos = denom_end;
    }
    let suffix = s.get(pos..).unwrap_or("");
    // Suffix grammar: letters from "eEinumkKMGTP", optional sign, digits.
    let sb = suffix.as_bytes();
    let mut i = sb
        .iter()
        .take_while(|b| b"eEinumkKMGTP".contains(b))
        .count();
    if matches!(sb.get(i), Some(b'-') | Some(b'+')) {
        i += 1;
    }
    i += sb
        .get(i..)
        .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
    if i != sb.len() {
        return Err(QuantityError::Format(s.to_owned()));
    }
    Ok(Parts {
        negative,
        num,
        denom,
        suffix,
    })
}

/// (base, exponent, format) of a suffix, as Go's `suffixHandler.interpret`.
fn interpret_suffix(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let exp: i32 = rest.parse().ok()?;
            Some((10, exp, Format::DecimalExponent))
        }
    }
}

fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let parts = split_parts(s)?;
    let (base, exponent, mut format) =
        interpret_suffix(parts.suffix).ok_or_else(|| QuantityError::Suffix(s.to_owned()))?;
    let out_of_range = || QuantityError::OutOfRange(s.to_owned());

    // Drop digits that cannot change the value so long inputs stay in range.
    let num = parts.num.trim_start_matches('0');
    let denom = parts.denom.trim_end_matches('0');
    let digits = format!("{num}{denom}");
    let denom_len = i32::try_from(denom.len()).map_err(|_| out_of_range())?;

    let magnitude = if base == 10 {
        // value = digits * 10^(exponent - denom_len); in nanos add 9.
        let shift = exponent
            .checked_add(9)
            .and_then(|e| e.checked_sub(denom_len))
            .ok_or_else(out_of_range)?;
        if shift >= 0 {
            let int = parse_digits(&digits).ok_or_else(out_of_range)?;
            let factor = pow10(shift).ok_or_else(out_of_range)?;
            int.checked_mul(factor).ok_or_else(out_of_range)?
        } else {
            // Truncate digits below one nano-unit and round up if any was set.
            let cut = usize::try_from(-i64::from(shift)).map_err(|_| out_of_range())?;
            let keep = digits.len().saturating_sub(cut);
            let (kept, dropped) = digits.split_at(keep);
            let int = parse_digits(kept).ok_or_else(out_of_range)?;
            if dropped.bytes().any(|b| b != b'0') {
                int + 1
            } else {
                int
            }
        }
    } else {
        // value = digits * 2^exponent / 10^denom_len.
        let int = parse_digits(&digits).ok_or_else(out_of_range)?;
        let pow2 = 1i128
            .checked_shl(u32::try_from(exponent).map_err(|_| out_of_range())?)
            .ok_or_else(out_of_range)?;
        let scaled = int.checked_mul(pow2).ok_or_else(out_of_range)?;
        let shift = 9 - denom_len;
        if shift >= 0 {
            scaled
                .checked_mul(pow10(shift).ok_or_else(out_of_range)?)
                .ok_or_else(out_of_range)?
        } else {
            let d = pow10(-shift).ok_or_else(out_of_range)?;
            div_round_away(scaled, d)
        }
    };

    let verbatim = if keeps_input(&parts, exponent, format) {
        Verbatim::new(s)
    } else {
        None
    };
    // ParseQuantity caps binary quantities at the int64 maximum...
    let mut magnitude = magnitude;
    if format == Format::BinarySI && magnitude > MAX_BINARY_NANOS {
        magnitude = MAX_BINARY_NANOS;
    }
    // ...and prints a binary quantity strictly between 0 and 1 as decimal,
    // since no binary suffix can express it.
    if format == Format::BinarySI && magnitude > 0 && magnitude < NANO {
        format = Format::DecimalSI;
    }
    let nanos = if parts.negative {
        -magnitude
    } else {
        magnitude
    };
    Ok(Quantity {
        nanos,
        format,
        verbatim,
    })
}

/// `math.MaxInt64` units, in nanos: the cap ParseQuantity applies to BinarySI.
const MAX_BINARY_NANOS: i128 = i64::MAX as i128 * NANO;

/// Whether Go's `ParseQuantity` takes its int64 fast path *and* keeps the
/// input string as the quantity's printed form. It does so when the input
/// already looks canonical by a cheap test, which lets through forms that
/// are not (`3.999`, `+3`, `007`, `1.500k`, `12e-3`); the API server then
/// returns them as written, and kubectl prints them so.
fn keeps_input(parts: &Parts<'_>, exponent: i32, format: Format) -> bool {
    let stripped = parts.num.trim_start_matches('0');
    let num = if stripped.is_empty() { "0" } else { stripped };
    let denom = parts.denom;
    let digits = num.len() + denom.len();
    match format {
        Format::DecimalSI | Format::DecimalExponent => {
            // precision = maxInt64Factors (18) - digits must be >= 0.
            if digits > 18 {
                return false;
            }
            let Ok(denom_len) = i32::try_from(denom.len()) else {
                return false;
            };
            let scale = exponent - denom_len;
            let shifted = format!("{num}{denom}");
            scale >= -9 && scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
        }
        Format::BinarySI => {
            if exponent < 0 || !denom.is_empty() {
                return false;
            }
            // precision = 15 - len(num) - int(float32(exponent)*3/10) - 1.
            let precision = 15
                - i64::try_from(num.len()).unwrap_or(i64::MAX)
                - i64::from(exponent * 3 / 10)
                - 1;
            if precision < 0 {
                return false;
            }
            let Ok(value) = num.parse::<i64>() else {
                return false;
            };
            let fits = 1i64
                .checked_shl(exponent.unsigned_abs())
                .and_then(|m| value.checked_mul(m))
                .is_some();
            fits && exponent % 10 == 0 && value & 0x07 != 0
        }
    }
}

fn parse_digits(d: &str) -> Option<i128> {
    if d.is_empty() {
        return Some(0);
    }
    d.parse::<i128>().ok()
}

fn pow10(e: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(e).ok()?)
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// Writes `mantissa * 10^exponent` the way `AsCanonicalBytes` + the suffixer do.
fn write_decimal(f: &mut fmt::Formatter<'_>, nanos: i128, format: Format) -> fmt::Result {
    let mut amount = nanos;
    let mut exponent: i32 = -9;
    while amount != 0 && amount % 10 == 0 {
        amount /= 10;
        exponent += 1;
    }
    // Lower the exponent to a multiple of three (Go: exponent % 3 cases).
    let r = exponent.rem_euclid(3);
    if r != 0 {
        amount *= 10i128.pow(r.unsigned_abs());
        exponent -= r;
    }
    match format {
        Format::DecimalExponent => {
            if exponent == 0 {
                write!(f, "{amount}")
            } else {
                write!(f, "{amount}e{exponent}")
            }
        }
        _ => match decimal_suffix(exponent) {
            Some(suffix) => write!(f, "{amount}{suffix}"),
            // Beyond exa (>= 1e21): Go has no suffix; scientific notation
            // at least keeps the value readable and parseable.
            None => write!(f, "{amount}e{exponent}"),
        },
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = &self.verbatim {
            return f.write_str(v.as_str());
        }
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySI {
            // CanonicalizeBytes: small values and fractions print as decimal
            // rather than being rounded into a binary suffix.
            let small = self.nanos > -1024 * NANO && self.nanos < 1024 * NANO;
            if small || self.nanos % NANO != 0 {
                format = Format::DecimalSI;
            }
        }
        if format != Format::BinarySI {
            return write_decimal(f, self.nanos, format);
        }
        let mut amount = self.nanos / NANO;
        let mut times = 0;
        while times < BINARY_SUFFIXES.len() - 1 && amount % 1024 == 0 {
            amount /= 1024;
            times += 1;
        }
        let suffix = BINARY_SUFFIXES.get(times).copied().unwrap_or("");
        write!(f, "{amount}{suffix}")
    }
}

#[cfg(test)]
mod tests;
