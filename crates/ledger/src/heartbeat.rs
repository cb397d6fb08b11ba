//! Heartbeat records: leaves that say "the log was alive at this time, at this size", so
//! that a quiet period is provable rather than indistinguishable from lost records.
//!
//! The caller decides the cadence (e.g. once a minute while idle). A heartbeat is an
//! ordinary record whose bytes are one JSON object with a single `auditrail_heartbeat`
//! member, so the query layer can recognise and skip it:
//! `{"auditrail_heartbeat":{"v":1,"time_unix_ns":…,"tree_size":…}}`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Caller's clock, nanoseconds since the Unix epoch (0 for times before it).
    pub time_unix_ns: u128,
    /// Tree size just before the heartbeat leaf.
    pub tree_size: u64,
}

const PREFIX: &str = "{\"auditrail_heartbeat\":{\"v\":1,\"time_unix_ns\":";

impl Heartbeat {
    /// A heartbeat at `now`, appended after `tree_size` records.
    pub fn at(now: SystemTime, tree_size: u64) -> Heartbeat {
        let time_unix_ns = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Heartbeat {
            time_unix_ns,
            tree_size,
        }
    }

    /// The record bytes.
    pub fn to_record(&self) -> Vec<u8> {
        format!(
            "{PREFIX}{},\"tree_size\":{}}}}}",
            self.time_unix_ns, self.tree_size
        )
        .into_bytes()
    }

    /// Recognise a heartbeat record.
    pub fn parse(record: &[u8]) -> Option<Heartbeat> {
        let text = std::str::from_utf8(record).ok()?;
        let rest = text.strip_prefix(PREFIX)?.strip_suffix("}}")?;
        let (time, size) = rest.split_once(",\"tree_size\":")?;
        Some(Heartbeat {
            time_unix_ns: time.parse().ok()?,
            tree_size: size.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trip() {
        let beat = Heartbeat::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000), 42);
        let record = beat.to_record();
        assert_eq!(
            std::str::from_utf8(&record).unwrap(),
            r#"{"auditrail_heartbeat":{"v":1,"time_unix_ns":1700000000000000000,"tree_size":42}}"#
        );
        assert_eq!(Heartbeat::parse(&record), Some(beat));
        assert_eq!(Heartbeat::parse(b"{\"kind\":\"Event\"}"), None);
    }
}
