//! Instants in UTC with nanosecond resolution.
//!
//! Every source gives times in some RFC 3339 flavour (Kubernetes MicroTime with exactly six
//! fractional digits, Go's RFC3339Nano with trimmed zeros and a local offset, seconds-only
//! v1beta1 timestamps). [`Timestamp`] keeps the instant as nanoseconds since the Unix epoch,
//! which sorts, compares and stores as one integer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC, nanoseconds since 1970-01-01T00:00:00Z.
///
/// The range (years 1677 to 2262) covers every audit record we will ever read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {text:?}: expected RFC 3339, such as 2025-10-07T16:19:19.643609Z")]
pub struct TimestampError {
    /// The text that was given (cut to 64 bytes).
    pub text: String,
}

impl Timestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// The instant `seconds` after the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded toward negative infinity).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Reads an RFC 3339 time with any offset and 0 to 9 fractional digits.
    ///
    /// A lower-case `t`/`z` and a space instead of `T` are accepted, as RFC 3339 allows.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        match parse_utc(text.as_bytes()) {
            Some(nanos) => Ok(Timestamp(nanos)),
            None => Timestamp::parse_any(text),
        }
    }

    /// [`Timestamp::parse`] for every form, by jiff.
    fn parse_any(text: &str) -> Result<Timestamp, TimestampError> {
        let invalid = || TimestampError {
            text: text.chars().take(64).collect(),
        };
        let parsed = jiff::Timestamp::from_str(text).map_err(|_| invalid())?;
        let nanos = parsed.as_nanosecond();
        i64::try_from(nanos).map(Timestamp).map_err(|_| invalid())
    }

    fn to_jiff(self) -> jiff::Timestamp {
        // Every i64 of nanoseconds lies within jiff's supported range.
        jiff::Timestamp::from_nanosecond(i128::from(self.0)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Kubernetes MicroTime: UTC with exactly six fractional digits.
    pub fn to_micro_string(self) -> String {
        format!("{:.6}", self.to_jiff())
    }

    /// Seconds precision, as v1beta1's `timestamp` and OKD's logs use.
    pub fn to_seconds_string(self) -> String {
        format!("{:.0}", self.to_jiff())
    }

    /// Full precision with trailing zeros trimmed (Go's RFC3339Nano in UTC).
    pub fn to_rfc3339(self) -> String {
        self.to_jiff().to_string()
    }

    /// Writes MicroTime into `out` without allocating.
    pub fn write_micro(self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{:.6}", self.to_jiff())
    }

    /// Writes millisecond precision (what Elasticsearch's `date` type keeps by default).
    pub fn write_millis(self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{:.3}", self.to_jiff())
    }
}

/// Nanoseconds since the epoch of the form every Kubernetes record uses,
/// `YYYY-MM-DDTHH:MM:SS[.F]Z` (upper-case `T` and `Z`, 1 to 9 fractional digits, a valid
/// date and time in years 1678 to 2261), read directly: jiff takes several times as long
/// and an import reads two per event. `None` for anything else, which jiff then reads; the
/// tests compare the two on every form.
fn parse_utc(text: &[u8]) -> Option<i64> {
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if text.len() < 20
        || text.last() != Some(&b'Z')
        || separators
            .iter()
            .any(|&(at, byte)| text.get(at) != Some(&byte))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        text.get(from..to)?.iter().try_fold(0i64, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + i64::from(byte - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let nanos = match text.len() {
        20 => 0,
        // `.` and 1 to 9 digits before the `Z`.
        len @ 22..=30 if text.get(19) == Some(&b'.') => {
            let digits = len - 21;
            number(20, len - 1)? * 10i64.pow(9 - digits as u32)
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1678..=2261).contains(&year)
        || !(1..=days_in_month).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let shifted = if month <= 2 { year - 1 } else { year };
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000_000 + nanos)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_jiff(), f)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.to_jiff())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_round_trips() {
        let text = "2025-10-07T16:19:19.643609Z";
        let ts = Timestamp::parse(text).unwrap();
        assert_eq!(ts.to_micro_string(), text);
        assert_eq!(ts.to_seconds_string(), "2025-10-07T16:19:19Z");
    }

    #[test]
    fn offsets_and_nanos_are_normalised_to_utc() {
        let ts = Timestamp::parse("2017-03-21T03:57:09.106841886-04:00").unwrap();
        assert_eq!(ts.to_rfc3339(), "2017-03-21T07:57:09.106841886Z");
        assert_eq!(ts.to_micro_string(), "2017-03-21T07:57:09.106841Z");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "",
            "null",
            "2025-13-45T99:99:99Z",
            "9999999999-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    /// The direct reading of the common form agrees with jiff on every date of several years
    /// (leap and not, century rules), at the ends of the range and on the rejects.
    #[test]
    fn the_common_form_reads_as_jiff_reads_it() {
        let check = |text: &str| {
            let direct = parse_utc(text.as_bytes());
            let jiff = Timestamp::parse_any(text).ok().map(Timestamp::unix_nanos);
            if direct.is_some() {
                assert_eq!(direct, jiff, "{text}");
            }
            assert_eq!(
                Timestamp::parse(text).ok().map(Timestamp::unix_nanos),
                jiff,
                "{text}"
            );
            direct.is_some()
        };
        let mut direct = 0;
        for year in [1678, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 2261] {
            for month in 0..=13 {
                for day in 0..=32 {
                    direct += usize::from(check(&format!(
                        "{year:04}-{month:02}-{day:02}T23:59:59.999999999Z"
                    )));
                    check(&format!("{year:04}-{month:02}-{day:02}T00:00:00Z"));
                }
            }
        }
        assert_eq!(
            direct,
            9 * 365 + 2,
            "every valid date of the nine years (two leap)"
        );
        for digits in 1..=9 {
            for (time, fraction) in [
                ("00:00:00", 1u64),
                ("12:34:56", 987_654_321),
                ("23:59:59", 5),
            ] {
                let fraction = format!("{fraction:09}");
                assert!(check(&format!(
                    "2025-10-07T{time}.{}Z",
                    &fraction[..digits]
                )));
            }
        }
        for text in [
            "1677-12-31T23:59:59Z",
            "2262-01-01T00:00:00Z",
            "2025-10-07T24:00:00Z",
            "2025-10-07T23:60:00Z",
            "2025-10-07T23:59:60Z",
            "2025-10-07T16:19:19.Z",
            "2025-10-07T16:19:19.1234567890Z",
            "2025-10-07t16:19:19Z",
            "2025-10-07 16:19:19Z",
            "2025-10-07T16:19:19z",
            "2025-10-07T16:19:19+00:00",
            "2025-10-07T16:19:19.5+02:00",
            "+2025-10-07T16:19:19Z",
            "2025-1-07T16:19:19Z",
            "2025-10-07T16:19:1aZ",
            "2025-10-07T16:19:19.1a3Z",
            "2025-10-07T16:19:19.-1Z",
            "2025-10-07T16:19:19.123Z",
            "2025-10-07T16:19:19.1Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
        ] {
            check(text);
        }
    }

    #[test]
    fn serde_uses_rfc3339() {
        let ts = Timestamp::parse("2025-10-07T16:19:19.5Z").unwrap();
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2025-10-07T16:19:19.5Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }
}
