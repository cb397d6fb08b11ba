//! The one place of the server that reads the clock; everything else is given the time.

use std::time::{Instant, SystemTime};

/// Now, by the system clock.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}

/// A monotonic instant for measuring durations and rates.
pub(crate) fn instant() -> Instant {
    Instant::now()
}

/// `time` as an event timestamp.
pub(crate) fn timestamp(time: SystemTime) -> event::Timestamp {
    let nanos = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| duration.as_nanos());
    event::Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}
