//! Record order within one event: the records of one transform take their places in their
//! lane in record order (the rest of their work runs side by side). Each record waits until the
//! record before it has joined its lane and started (or been queued), so Glue sees their
//! starts in record order and a queued record can name the task run ahead of it.

use tokio::sync::oneshot;

/// One record's place in its event's order.
#[derive(Debug, Default)]
pub struct RecordOrder {
    predecessor: Option<oneshot::Receiver<()>>,
    release: Option<oneshot::Sender<()>>,
}

/// What the next record of a lane waits for: the record before it being released.
#[derive(Debug)]
pub struct Predecessor(oneshot::Receiver<()>);

impl RecordOrder {
    /// The order of a record that comes after `predecessor` (the previous record of its lane
    /// in the event, if any), and what the record after it waits for.
    pub fn after(predecessor: Option<Predecessor>) -> (RecordOrder, Predecessor) {
        let (release, next) = oneshot::channel();
        let order = RecordOrder {
            predecessor: predecessor.map(|p| p.0),
            release: Some(release),
        };
        (order, Predecessor(next))
    }

    /// Whether a record of the same lane comes before this one in the event.
    pub fn has_predecessor(&self) -> bool {
        self.predecessor.is_some()
    }

    /// Waits until the record before is released (or stopped early).
    pub async fn wait(&mut self) {
        if let Some(predecessor) = self.predecessor.take() {
            let _ = predecessor.await;
        }
    }

    /// This record is through: the next may go. (Dropping the order does the same.)
    pub fn release(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}
