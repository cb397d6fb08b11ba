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

    #[test]
    fn serde_uses_rfc3339() {
        let ts = Timestamp::parse("2025-10-07T16:19:19.5Z").unwrap();
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2025-10-07T16:19:19.5Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }
}
