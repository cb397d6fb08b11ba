//! The writer's helper threads (the compactor, the checkpointer): each takes work over a
//! bounded queue and hands back its results over another, so that the writer, which owns the
//! store, never waits for them and only ever commits what they finished.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::ServerError;

/// A helper thread's ends: where the writer hands work, where results come back, the thread.
pub(crate) struct Helper<W, D> {
    pub(crate) work: SyncSender<W>,
    pub(crate) done: Receiver<D>,
    pub(crate) thread: JoinHandle<()>,
}

/// Starts the thread `name`: it runs `start` once, then `run` on each piece of work (at most
/// `work_max` waiting), handing back what `run` returns (at most `done_max` waiting; nothing
/// for `None`). It ends when the writer drops its sender, or stops listening for results.
pub(crate) fn spawn<W, D>(
    name: &str,
    work_max: usize,
    done_max: usize,
    start: impl FnOnce() + Send + 'static,
    mut run: impl FnMut(W) -> Option<D> + Send + 'static,
) -> Result<Helper<W, D>, ServerError>
where
    W: Send + 'static,
    D: Send + 'static,
{
    let (work, work_receiver) = sync_channel::<W>(work_max);
    let (done_sender, done) = sync_channel::<D>(done_max);
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            start();
            for piece in work_receiver {
                if let Some(result) = run(piece)
                    && done_sender.send(result).is_err()
                {
                    break;
                }
            }
        })
        .map_err(ServerError::Runtime)?;
    Ok(Helper { work, done, thread })
}
