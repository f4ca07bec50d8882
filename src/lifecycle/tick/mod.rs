//! The tick: a scheduled event (EventBridge `Scheduled Event`) that follows every open import
//! of the `LABELS_BUCKET` ledger to its end and starts waiting uploads when their turn comes.
//!
//! ```text
//!  list open markers ──► visit each (GetMLTaskRun, record the change,  ──► per transform:
//!  (one List; no Glue     resolve abandoned starts)                       reconcile the lane,
//!   call when none open)  ≤ MAX_CONCURRENCY at a time                     close ended markers,
//!                                                                         start the turns
//!                                                                         ≤ MAX_CONCURRENCY
//!                                                                             │
//!   TEACHING_LOOP on: per transform with a loop marker (or imports just ended) ◄┘
//!   the teaching loop's step (crate::teaching::follow)
//! ```
//!
//! S3 or Glue failing leaves each entry, lane and marker as it was for the next tick.

mod follow;
mod report;

use self::follow::{attempted, follow_run};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use tracing::{error, info, warn};

pub use self::report::{Progress, TickReport};
use crate::lifecycle::entry::{Entry, ImportState};
use crate::lifecycle::lane::{self, Lane, OpenImports};
use crate::lifecycle::ledger::{self, Ledger, Marker, Stored};
use crate::lifecycle::start::{self, Attempt, Basis};
use crate::metrics::Metrics;
use crate::teaching::follow as teaching;
use crate::upload::outcome::ImportError;
use crate::State;

/// What visiting one open import found, for the report.
pub(super) enum Finding {
    Nothing,
    Started(Progress),
    Progressed(Progress),
    Finished(Progress, Option<f64>),
    Refused(ImportError),
    Error(String),
}

/// Where an open import stands after its visit, for its lane.
pub(super) enum Standing {
    /// Not ended: the entry as it is now.
    Open(Box<Stored>),
    /// Ended: its place goes, then its marker (after the teaching loop noted it).
    Ended(Box<Entry>),
    /// A marker without an entry, old enough to drop: its place goes, then its marker.
    Gone,
    /// Unknown this time (unreadable, or a marker younger than the lease): left as it is.
    Unknown,
}

/// One open import after its visit.
struct Visited {
    marker: Marker,
    standing: Standing,
    finding: Finding,
}

/// What one transform's lane came to.
#[derive(Default)]
struct LaneResult {
    transform_id: String,
    findings: Vec<Finding>,
    /// Upload times of the uploads still waiting.
    waiting: Vec<DateTime<Utc>>,
    /// An import of the transform is still waiting or running (or could not be read).
    importing: bool,
    /// The teaching loop noted ended imports of it this tick.
    noted: bool,
}

/// Runs one tick: the open markers (one List), every open import visited, then every
/// transform's lane; at most `MAX_CONCURRENCY` of each in flight.
pub async fn run(state: &State, metrics: &mut Metrics) -> TickReport {
    let mut report = TickReport::default();
    let Some(bucket) = state.config.labels_bucket.as_deref() else {
        warn!("tick: LABELS_BUCKET is not set, so there is no ledger to read; set it to the labels bucket");
        return report;
    };
    let ledger = Ledger::new(&state.s3, bucket, &state.config.ledger_prefix);
    let markers = match ledger.open_markers().await {
        Ok(markers) => markers,
        Err(e) => {
            error!("tick: {e}");
            report.errors.push(e.to_string());
            return report;
        }
    };
    let (loop_markers, markers): (Vec<Marker>, Vec<Marker>) = markers
        .into_iter()
        .partition(|m| m.upload_id == ledger::LOOP_MARKER);
    report.open = markers.len();
    let max = state.config.max_concurrency;
    let visited: Vec<Visited> = stream::iter(markers)
        .map(|marker| visit(state, &ledger, marker))
        .buffered(max)
        .collect()
        .await;
    let mut by_transform: BTreeMap<String, Vec<Visited>> = BTreeMap::new();
    for v in visited {
        let transform_id = v.marker.transform_id.clone();
        by_transform.entry(transform_id).or_default().push(v);
    }
    let lanes: Vec<LaneResult> = stream::iter(by_transform)
        .map(|(transform_id, visited)| follow_lane(state, &ledger, transform_id, visited))
        .buffer_unordered(max)
        .collect()
        .await;
    if state.config.teaching_loop.is_on() {
        teach(state, &ledger, &loop_markers, &lanes, &mut report, metrics).await;
    }
    summarize(&mut report, metrics, lanes);
    report
}

/// The teaching loop's step for every transform with a loop marker or imports noted this tick.
async fn teach(
    state: &State,
    ledger: &Ledger<'_>,
    loop_markers: &[Marker],
    lanes: &[LaneResult],
    report: &mut TickReport,
    metrics: &mut Metrics,
) {
    let mut transforms: BTreeMap<&str, bool> = loop_markers
        .iter()
        .map(|m| (m.transform_id.as_str(), false))
        .collect();
    for lane in lanes {
        if lane.noted || transforms.contains_key(lane.transform_id.as_str()) {
            transforms.insert(&lane.transform_id, lane.importing);
        }
    }
    let steps: Vec<teaching::LoopResult> = stream::iter(transforms)
        .map(|(transform_id, importing)| teaching::step(state, ledger, transform_id, importing))
        .buffer_unordered(state.config.max_concurrency)
        .collect()
        .await;
    for step in steps {
        for figures in step.figures {
            metrics.round_evaluated(figures);
        }
        report.rounds.extend(step.rounds);
        report.labeling_sets.extend(step.labeling_sets);
        report.errors.extend(step.errors);
    }
}

fn summarize(report: &mut TickReport, metrics: &mut Metrics, lanes: Vec<LaneResult>) {
    let now = crate::now();
    let mut oldest: f64 = 0.0;
    for lane in lanes {
        for finding in lane.findings {
            match finding {
                Finding::Nothing => {}
                Finding::Started(p) => report.started.push(p),
                Finding::Progressed(p) => report.progressed.push(p),
                Finding::Finished(p, seconds) => {
                    metrics.import_ended(p.state, seconds);
                    report.finished.push(p);
                }
                Finding::Refused(e) => {
                    metrics.failure(&e);
                    report.errors.push(e.to_string());
                }
                Finding::Error(e) => report.errors.push(e),
            }
        }
        report.queued += lane.waiting.len();
        for uploaded_at in lane.waiting {
            oldest = oldest.max((now - uploaded_at).num_milliseconds() as f64 / 1000.0);
        }
    }
    report.oldest_queued_seconds = oldest;
    metrics.queue(report.queued as u64, oldest);
    info!(
        open = report.open,
        started = report.started.len(),
        finished = report.finished.len(),
        queued = report.queued,
        oldest_queued_seconds = report.oldest_queued_seconds,
        errors = report.errors.len(),
        "tick done"
    );
}

/// One transform after its imports' visits: reconcile its lane (ended places go, turns are
/// given), close the ended imports' markers, start the uploads whose turn has come.
async fn follow_lane(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: String,
    visited: Vec<Visited>,
) -> LaneResult {
    let mut imports = OpenImports::default();
    let mut to_close = Vec::new();
    let mut ended: Vec<Entry> = Vec::new();
    let mut result = LaneResult {
        transform_id: transform_id.clone(),
        ..LaneResult::default()
    };
    for Visited {
        marker,
        standing,
        finding,
    } in visited
    {
        match standing {
            Standing::Open(stored) => {
                result.importing = true;
                imports.open.push((marker.upload_id.clone(), *stored));
            }
            Standing::Ended(entry) => {
                imports.gone.insert(marker.upload_id.clone());
                ended.push(*entry);
                to_close.push(marker);
            }
            Standing::Gone => {
                imports.gone.insert(marker.upload_id.clone());
                to_close.push(marker);
            }
            Standing::Unknown => {
                result.importing = true;
                imports.unknown.insert(marker.upload_id.clone());
            }
        }
        result.findings.push(finding);
    }
    let queued: Vec<Stored> = imports
        .open
        .iter()
        .filter(|(_, s)| s.value.state == ImportState::Queued)
        .map(|(_, s)| s.clone())
        .collect();
    if to_close.is_empty() && queued.is_empty() {
        return result; // nothing for the lane to do
    }
    let lane = match lane::reconcile(state, ledger, &transform_id, &imports).await {
        Ok(lane) => lane,
        Err(e) => {
            // The markers stay, so the next tick does this again.
            error!(transform_id, "tick: lane not updated: {e}");
            result.findings.push(Finding::Error(e.to_string()));
            result.waiting = queued.iter().map(|s| s.value.uploaded_at).collect();
            return result;
        }
    };
    if state.config.teaching_loop.is_on() && !ended.is_empty() {
        match teaching::note_ended(ledger, &transform_id, &ended).await {
            Ok(()) => result.noted = true,
            Err(e) if e.is_retryable() => {
                // The ended imports' markers stay, so the next tick notes them again.
                error!(
                    transform_id,
                    "tick: the teaching loop did not note the ended imports: {e}"
                );
                result.findings.push(Finding::Error(e.to_string()));
                to_close.clear();
            }
            // A rounds document this build cannot use (invalid, or a newer format) stays as it
            // is, and the imports' markers go: keeping them would not make it usable.
            Err(e) => {
                error!(
                    transform_id,
                    "tick: the teaching loop cannot note the ended imports: {e}"
                );
                result.findings.push(Finding::Error(e.to_string()));
            }
        }
    }
    for marker in &to_close {
        result.findings.push(close(ledger, marker).await);
    }
    start_turns(state, ledger, &lane, queued, &mut result).await;
    result
}

/// Starts the queued uploads that have their turn, in the lane's order (the markers are
/// listed in upload-ID order); the rest keep waiting.
async fn start_turns(
    state: &State,
    ledger: &Ledger<'_>,
    lane: &Lane,
    queued: Vec<Stored>,
    result: &mut LaneResult,
) {
    let place_of = |stored: &Stored| {
        let id = ledger::upload_id(&stored.key);
        lane.imports.iter().position(|p| p.upload_id == id)
    };
    let (mut turns, waiting): (Vec<Stored>, Vec<Stored>) = queued.into_iter().partition(|s| {
        lane.place(ledger::upload_id(&s.key))
            .is_some_and(|p| p.has_turn())
    });
    result
        .waiting
        .extend(waiting.iter().map(|s| s.value.uploaded_at));
    turns.sort_by_key(place_of);
    for stored in turns {
        let attempt = start::attempt(state, ledger, Basis::Held(stored.clone()), 1).await;
        if matches!(attempt, Ok(Attempt::Deferred { .. })) {
            result.waiting.push(stored.value.uploaded_at);
        }
        result
            .findings
            .push(attempted(state, ledger, &stored, attempt).await);
    }
}

async fn visit(state: &State, ledger: &Ledger<'_>, marker: Marker) -> Visited {
    let (standing, finding) = visit_entry(state, ledger, &marker).await;
    Visited {
        marker,
        standing,
        finding,
    }
}

async fn visit_entry(state: &State, ledger: &Ledger<'_>, marker: &Marker) -> (Standing, Finding) {
    let key = ledger.entry_key(&marker.transform_id, &marker.upload_id);
    let stored = match ledger.get(&key).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return orphan(state, marker),
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            return (Standing::Unknown, Finding::Error(e.to_string()));
        }
    };
    let entry = &stored.value;
    if entry.state.is_final() {
        // Its marker is left from a tick that stopped short: the loop notes it again (once).
        return (Standing::Ended(Box::new(stored.value)), Finding::Nothing);
    }
    if entry.state == ImportState::Queued {
        return (Standing::Open(Box::new(stored)), Finding::Nothing); // its lane decides
    }
    if entry.start_in_flight() {
        if !entry.mark_expired(state.config.start_lease, crate::now()) {
            return (Standing::Open(Box::new(stored)), Finding::Nothing);
        }
        let attempt = start::resume(state, ledger, stored.clone(), 1).await;
        let finding = attempted(state, ledger, &stored, attempt).await;
        // Whatever happened, the lane keeps its place until the entry says it ended.
        return (Standing::Open(Box::new(stored)), finding);
    }
    follow_run(state, ledger, stored).await
}

/// A marker without an entry: its delivery died between the two writes (or the entry was
/// deleted). Old enough, it is removed; the upload's next delivery writes both again.
fn orphan(state: &State, marker: &Marker) -> (Standing, Finding) {
    let lease = chrono::Duration::from_std(state.config.start_lease).unwrap_or_default();
    match marker.last_modified {
        Some(at) if crate::now() - at < lease => (Standing::Unknown, Finding::Nothing),
        _ => {
            warn!(
                marker = marker.key,
                "open marker without a ledger entry: removed"
            );
            (Standing::Gone, Finding::Nothing)
        }
    }
}

async fn close(ledger: &Ledger<'_>, marker: &Marker) -> Finding {
    match ledger.close(&marker.key).await {
        Ok(()) => Finding::Nothing,
        Err(e) => {
            error!(marker = marker.key, "tick: {e}");
            Finding::Error(e.to_string())
        }
    }
}
