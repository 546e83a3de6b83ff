//! In-process signals of committed changes, for the change feed's long-poll and the webhook
//! worker: each is a counter that moves on every signal, so a waiter subscribes, reads the
//! database, and sleeps only until the counter moves again (no wake-up is lost between its
//! read and its wait). Other processes' commits reach them through PostgreSQL `NOTIFY` (the
//! server's listener calls the same functions).

use tokio::sync::watch;

/// The channel other processes' outbox writes are announced on (PostgreSQL `NOTIFY`).
pub const OUTBOX_CHANNEL: &str = "orgiam_outbox";

/// See the module documentation.
#[derive(Debug)]
pub struct Signals {
    revisions: watch::Sender<u64>,
    outbox: watch::Sender<u64>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            revisions: watch::channel(0).0,
            outbox: watch::channel(0).0,
        }
    }
}

impl Signals {
    /// Some organization's revision moved (a commit here or elsewhere).
    pub fn changed(&self) {
        self.revisions.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Deliveries were written or made due (here or elsewhere).
    pub fn outbox_written(&self) {
        self.outbox.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Follows [`Signals::changed`].
    pub fn revisions(&self) -> watch::Receiver<u64> {
        self.revisions.subscribe()
    }

    /// Follows [`Signals::outbox_written`].
    pub fn outbox(&self) -> watch::Receiver<u64> {
        self.outbox.subscribe()
    }
}
