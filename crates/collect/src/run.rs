//! Starting and stopping the collectors: one thread per source.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::batch::Sink;
use crate::config::{SourceConfig, validate};
use crate::context::{Clock, Context};
use crate::error::CollectError;
use crate::metrics::{CollectorMetrics, SourceMetrics};
use crate::state::Offsets;
use crate::{file, journal};

/// What the collectors need from their host (`auditrail serve` or `auditrail agent`).
pub struct Setup {
    /// Where positions are committed.
    pub offsets: Arc<Offsets>,
    /// Where batches go.
    pub sink: Arc<dyn Sink>,
    /// Metrics, registered by the host.
    pub metrics: CollectorMetrics,
    /// The wall clock.
    pub clock: Clock,
    /// Set to stop; the sink should also give up waiting when it is set.
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("offsets", &self.offsets)
            .finish_non_exhaustive()
    }
}

/// The running collectors.
#[derive(Debug)]
pub struct Collectors {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Collectors {
    /// Starts one thread per source.
    pub fn start(sources: &[SourceConfig], setup: Setup) -> Result<Collectors, CollectError> {
        validate(sources).map_err(|reason| CollectError::State {
            path: setup.offsets.dir().to_owned(),
            reason,
        })?;
        let mut threads = Vec::new();
        for source in sources {
            let context = Context {
                offsets: Arc::clone(&setup.offsets),
                sink: Arc::clone(&setup.sink),
                metrics: SourceMetrics::new(&setup.metrics, source.name()),
                clock: Arc::clone(&setup.clock),
                stop: Arc::clone(&setup.stop),
                newest: None,
            };
            let source = source.clone();
            let thread = std::thread::Builder::new()
                .name(format!("collect-{}", source.name()))
                .spawn(move || match &source {
                    SourceConfig::File(config) => file::run(config, context),
                    SourceConfig::Journal(config) => journal::run(config, context),
                })
                .map_err(CollectError::io(setup.offsets.dir()))?;
            threads.push(thread);
        }
        Ok(Collectors {
            stop: setup.stop,
            threads,
        })
    }

    /// Stops every source and waits for its thread. What was read but not delivered is read
    /// again at the next start.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
