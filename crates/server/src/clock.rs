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
