//! The tick: a scheduled event (EventBridge `Scheduled Event`) that follows every open import
//! of the `LABELS_BUCKET` ledger to its end and starts waiting uploads when their turn comes.
//! It lists the open markers (one List call when nothing is open, and no Glue call); then per
//! transform, side by side: asks Glue about each started run (GetMLTaskRun), records every
//! change — the end with Glue's `ErrorString` —, resolves abandoned starts, brings the
//! transform's [`lane`] in line (ended imports leave it, waiting ones get their turn), closes
//! the ended imports' markers and starts the uploads whose turn has come. S3 or Glue failing
//! leaves each entry, lane and marker as it was for the next tick.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::aws::glue;
use crate::aws::tags;
use crate::lifecycle::lane;
use crate::lifecycle::ledger::{self, ImportState, Ledger, LedgerError, Marker, PutMode, Stored};
use crate::lifecycle::start::{self, Forward};
use crate::metrics::Metrics;
use crate::upload::outcome::ImportError;
use crate::State;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    /// Open imports found (markers listed).
    pub open: usize,
    /// Imports whose start this tick sent (or found in Glue's history).
    pub started: Vec<Progress>,
    /// Imports whose state changed without ending.
    pub progressed: Vec<Progress>,
    /// Imports that ended (SUCCEEDED, FAILED, STOPPED, TIMEOUT).
    pub finished: Vec<Progress>,
    /// Uploads still waiting for their turn (QUEUED) after the tick.
    pub queued: usize,
    /// How long the oldest of them has waited since its upload, in seconds (0 when none).
    pub oldest_queued_seconds: f64,
    /// Problems that left an entry as it was (each also logged).
    pub errors: Vec<String>,
}

/// One import's new state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub bucket: String,
    pub key: String,
    pub transform_id: String,
    pub task_run_id: Option<String>,
    pub state: ImportState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_string: Option<String>,
}

impl Progress {
    fn of(entry: &ledger::Entry) -> Progress {
        Progress {
            bucket: entry.bucket.clone(),
            key: entry.key.clone(),
            transform_id: entry.transform_id.clone(),
            task_run_id: entry.task_run_id.clone(),
            state: entry.state,
            error_string: entry.error_string.clone(),
        }
    }
}

/// What visiting one open import came to, for the report.
enum Visit {
    Nothing,
    Started(Progress),
    Progressed(Progress),
    Finished(Progress, Option<f64>),
    Refused(ImportError),
    Error(String),
}

/// Where an open import stands after its visit, for its lane.
enum Seen {
    /// Not ended: the entry as it is now.
    Open(Box<Stored>),
    /// Ended (or a marker without an entry, old enough to drop): its place goes, then its
    /// marker.
    Gone,
    /// Unknown this time (unreadable, or a marker younger than the lease): left as it is.
    Unknown,
}

/// Runs one tick: the open markers (one List), then every transform's open imports and lane,
/// transforms side by side.
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
    report.open = markers.len();
    let mut by_transform: BTreeMap<String, Vec<Marker>> = BTreeMap::new();
    for marker in markers {
        by_transform
            .entry(marker.transform_id.clone())
            .or_default()
            .push(marker);
    }
    let lanes: Vec<(Vec<Visit>, Vec<DateTime<Utc>>)> = stream::iter(by_transform)
        .map(|(transform_id, markers)| follow_lane(state, &ledger, transform_id, markers))
        .buffer_unordered(state.config.max_concurrency)
        .collect()
        .await;
    let now = ledger::now();
    let mut waiting = 0;
    let mut oldest: f64 = 0.0;
    for (visits, queued) in lanes {
        for v in visits {
            match v {
                Visit::Nothing => {}
                Visit::Started(p) => report.started.push(p),
                Visit::Progressed(p) => report.progressed.push(p),
                Visit::Finished(p, seconds) => {
                    metrics.import_ended(p.state, seconds);
                    report.finished.push(p);
                }
                Visit::Refused(e) => {
                    metrics.failure(&e);
                    report.errors.push(e.to_string());
                }
                Visit::Error(e) => report.errors.push(e),
            }
        }
        waiting += queued.len();
        for uploaded_at in queued {
            oldest = oldest.max((now - uploaded_at).num_milliseconds() as f64 / 1000.0);
        }
    }
    report.queued = waiting;
    report.oldest_queued_seconds = oldest;
    metrics.queue(waiting as u64, oldest);
    info!(
        open = report.open,
        started = report.started.len(),
        finished = report.finished.len(),
        queued = report.queued,
        oldest_queued_seconds = report.oldest_queued_seconds,
        errors = report.errors.len(),
        "tick done"
    );
    report
}

/// One transform: settle its started imports, bring its lane in line (ended places go, turns
/// are given), close the ended imports' markers, start the uploads whose turn has come. The
/// visits, and the upload times of the uploads still waiting.
async fn follow_lane(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: String,
    markers: Vec<Marker>,
) -> (Vec<Visit>, Vec<DateTime<Utc>>) {
    let seen: Vec<(Marker, Seen, Visit)> = stream::iter(markers)
        .map(|marker| async move {
            let (seen, visit) = visit(state, ledger, &marker).await;
            (marker, seen, visit)
        })
        .buffered(state.config.max_concurrency)
        .collect()
        .await;
    let mut ledgered = lane::Ledgered::default();
    let mut to_close = Vec::new();
    let mut visits = Vec::new();
    for (marker, seen, visit) in seen {
        match seen {
            Seen::Open(stored) => ledgered.open.push((marker.upload_id.clone(), *stored)),
            Seen::Gone => {
                ledgered.gone.insert(marker.upload_id.clone());
                to_close.push(marker);
            }
            Seen::Unknown => {
                ledgered.unknown.insert(marker.upload_id.clone());
            }
        }
        visits.push(visit);
    }
    let queued: Vec<DateTime<Utc>> = ledgered
        .open
        .iter()
        .filter(|(_, s)| s.entry.state == ImportState::Queued)
        .map(|(_, s)| s.entry.uploaded_at)
        .collect();
    if to_close.is_empty() && queued.is_empty() {
        return (visits, queued); // nothing for the lane to do
    }
    let lane = match lane::settle(state, ledger, &transform_id, &ledgered).await {
        Ok(lane) => lane,
        Err(e) => {
            // The markers stay, so the next tick does this again.
            error!(transform_id, "tick: lane not updated: {e}");
            visits.push(Visit::Error(e.to_string()));
            return (visits, queued);
        }
    };
    for marker in &to_close {
        visits.push(close(ledger, marker, Visit::Nothing).await);
    }
    let mut still_waiting = Vec::new();
    let turns = ledgered.open.into_iter().filter_map(|(upload_id, stored)| {
        if stored.entry.state != ImportState::Queued {
            return None;
        }
        match lane.place(&upload_id) {
            Some(place) if place.turn_at.is_some() => Some(stored),
            _ => {
                still_waiting.push(stored.entry.uploaded_at);
                None
            }
        }
    });
    let mut turns: Vec<Stored> = turns.collect();
    // Started in the lane's order (the markers are listed in upload-ID order).
    let place_of = |stored: &Stored| {
        let id = ledger::upload_id(&stored.key);
        lane.imports.iter().position(|p| p.upload_id == id)
    };
    turns.sort_by_key(place_of);
    for stored in turns {
        let mode = PutMode::Update(stored.etag.clone());
        let forward =
            start::take_forward(state, ledger, &stored.key, stored.entry.clone(), mode, 1).await;
        if matches!(forward, Ok(Forward::Queued { .. })) {
            still_waiting.push(stored.entry.uploaded_at);
        }
        visits.push(forwarded(state, &stored, forward).await);
    }
    (visits, still_waiting)
}

async fn visit(state: &State, ledger: &Ledger<'_>, marker: &Marker) -> (Seen, Visit) {
    let key = ledger.entry_key(&marker.transform_id, &marker.upload_id);
    let stored = match ledger.get(&key).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return orphan(state, marker),
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            return (Seen::Unknown, Visit::Error(e.to_string()));
        }
    };
    let entry = &stored.entry;
    if entry.state.is_final() {
        return (Seen::Gone, Visit::Nothing);
    }
    if entry.state == ImportState::Queued {
        return (Seen::Open(Box::new(stored)), Visit::Nothing); // its lane decides
    }
    if entry.start_in_flight() {
        if !entry.mark_expired(state.config.start_lease, ledger::now()) {
            return (Seen::Open(Box::new(stored)), Visit::Nothing);
        }
        let forward = start::resume(state, ledger, stored.clone(), 1).await;
        let visit = forwarded(state, &stored, forward).await;
        // Whatever happened, the lane keeps its place until the entry says it ended.
        return (Seen::Open(Box::new(stored)), visit);
    }
    settle(state, ledger, stored).await
}

/// A marker without an entry: its delivery died between the two writes (or the entry was
/// deleted). Old enough, it is removed; the upload's next delivery writes both again.
fn orphan(state: &State, marker: &Marker) -> (Seen, Visit) {
    let lease = chrono::Duration::from_std(state.config.start_lease).unwrap_or_default();
    match marker.last_modified {
        Some(at) if ledger::now() - at < lease => (Seen::Unknown, Visit::Nothing),
        _ => {
            warn!(
                marker = marker.key,
                "open marker without a ledger entry: removed"
            );
            (Seen::Gone, Visit::Nothing)
        }
    }
}

async fn close(ledger: &Ledger<'_>, marker: &Marker, then: Visit) -> Visit {
    match ledger.close(&marker.key).await {
        Ok(()) => then,
        Err(e) => {
            error!(marker = marker.key, "tick: {e}");
            Visit::Error(e.to_string())
        }
    }
}

/// The outcome of taking an entry forward from the tick.
async fn forwarded(state: &State, before: &Stored, forward: Result<Forward, ImportError>) -> Visit {
    let entry = &before.entry;
    let forward = match forward {
        Ok(forward) => forward,
        Err(e) => {
            error!(ledger_key = before.key, "tick: {e}");
            return Visit::Error(e.to_string());
        }
    };
    if let Some((status, task_run_id)) = forward.shown() {
        let version = entry.version_id.as_deref();
        let (bucket, key) = (&entry.bucket, &entry.key);
        tags::set_status(state, bucket, key, version, status.as_str(), task_run_id).await;
    }
    match forward {
        Forward::Started { task_run_id, .. } => {
            info!(
                bucket = entry.bucket,
                key = entry.key,
                transform_id = entry.transform_id,
                task_run_id,
                "import started by the tick"
            );
            let mut progress = Progress::of(entry);
            progress.task_run_id = Some(task_run_id);
            progress.state = ImportState::Starting;
            Visit::Started(progress)
        }
        // Lost: another writer has the entry. (Waiting is a lane's answer; the tick asks its
        // lane itself before it takes an entry forward.)
        Forward::Lost | Forward::Waiting { .. } => Visit::Nothing,
        Forward::Queued { error, .. } => {
            warn!(
                bucket = entry.bucket,
                key = entry.key,
                "import still waiting to start: {error}"
            );
            Visit::Nothing
        }
        // The entry is FAILED: the next tick takes its place from the lane and its marker.
        Forward::Refused { error } => {
            error!(
                bucket = entry.bucket,
                key = entry.key,
                transform_id = entry.transform_id,
                "Glue refused the import: {error}"
            );
            Visit::Refused(error)
        }
    }
}

/// Asks Glue about a started run and records what changed.
async fn settle(state: &State, ledger: &Ledger<'_>, stored: Stored) -> (Seen, Visit) {
    let task_run_id = stored.entry.task_run_id.clone().unwrap_or_default();
    let transform_id = stored.entry.transform_id.clone();
    let run = match glue::task_run(state, &transform_id, &task_run_id).await {
        Ok(run) => run,
        Err(e) => {
            error!(ledger_key = stored.key, task_run_id, "tick: {e}");
            return (Seen::Open(Box::new(stored)), Visit::Error(e.to_string()));
        }
    };
    let glue_status = run.status().map(|s| s.as_str()).unwrap_or_default();
    let Some(now_state) = ImportState::from_glue(glue_status) else {
        warn!(
            task_run_id,
            "Glue reports status {glue_status:?}, unknown to this version: entry left as it is"
        );
        return (Seen::Open(Box::new(stored)), Visit::Nothing);
    };
    if now_state == stored.entry.state {
        return (Seen::Open(Box::new(stored)), Visit::Nothing);
    }
    let Stored {
        key,
        etag,
        mut entry,
    } = stored;
    let to_utc = |t: &aws_sdk_glue::primitives::DateTime| {
        t.to_millis()
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
    };
    entry.enter(now_state, ledger::now());
    entry.started_on = run.started_on().and_then(to_utc).or(entry.started_on);
    entry.completed_on = run.completed_on().and_then(to_utc);
    entry.error_string = run.error_string().map(str::to_string);
    let stored = match ledger.put(&key, entry, PutMode::Update(etag)).await {
        Ok(stored) => stored,
        Err(LedgerError::Conflict { .. }) => return (Seen::Unknown, Visit::Nothing),
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            return (Seen::Unknown, Visit::Error(e.to_string()));
        }
    };
    let entry = &stored.entry;
    tags::set_status(
        state,
        &entry.bucket,
        &entry.key,
        entry.version_id.as_deref(),
        now_state.as_str(),
        Some(&task_run_id),
    )
    .await;
    if !now_state.is_final() {
        let progress = Progress::of(entry);
        return (Seen::Open(Box::new(stored)), Visit::Progressed(progress));
    }
    log_end(entry);
    let seconds = entry.upload_to_end_seconds();
    (Seen::Gone, Visit::Finished(Progress::of(entry), seconds))
}

/// One line per finished import: TaskRunId, status, durations and Glue's ErrorString verbatim.
fn log_end(entry: &ledger::Entry) {
    let run_seconds = match (entry.started_on, entry.completed_on) {
        (Some(start), Some(end)) => Some((end - start).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };
    let upload_to_end_seconds = entry.upload_to_end_seconds();
    let (bucket, key, transform_id) = (&entry.bucket, &entry.key, &entry.transform_id);
    let task_run_id = entry.task_run_id.as_deref().unwrap_or_default();
    let status = entry.state.as_str();
    let error_string = entry.error_string.as_deref();
    if entry.state == ImportState::Succeeded {
        info!(
            bucket,
            key,
            transform_id,
            task_run_id,
            status,
            run_seconds,
            upload_to_end_seconds,
            "import finished"
        );
    } else {
        error!(
            bucket,
            key,
            transform_id,
            task_run_id,
            status,
            run_seconds,
            upload_to_end_seconds,
            error_string,
            "import finished"
        );
    }
}
