//! The tick: a scheduled event (EventBridge `Scheduled Event`) that follows every open import
//! of the `LABELS_BUCKET` ledger to its end. It lists the open markers (one List call when
//! nothing is open, and no Glue call), asks Glue about each started run (GetMLTaskRun),
//! records every change — the end with Glue's `ErrorString` —, and takes forward uploads whose
//! start is still pending. S3 or Glue failing leaves each entry as it was for the next tick.

use futures_util::{stream, StreamExt};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::glue;
use crate::ledger::{self, ImportState, Ledger, LedgerError, Marker, PutMode, Stored};
use crate::metrics::Metrics;
use crate::outcome::ImportError;
use crate::start::{self, Forward};
use crate::{tags, State};

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

/// What visiting one open import came to.
enum Visit {
    Nothing,
    Started(Progress),
    Progressed(Progress),
    Finished(Progress, Option<f64>),
    Refused(ImportError),
    Error(String),
}

/// Runs one tick.
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
    let visits: Vec<Visit> = stream::iter(markers)
        .map(|marker| visit(state, &ledger, marker))
        .buffered(state.config.max_concurrency)
        .collect()
        .await;
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
    info!(
        open = report.open,
        started = report.started.len(),
        finished = report.finished.len(),
        errors = report.errors.len(),
        "tick done"
    );
    report
}

async fn visit(state: &State, ledger: &Ledger<'_>, marker: Marker) -> Visit {
    let key = ledger.entry_key(&marker.transform_id, &marker.upload_id);
    let stored = match ledger.get(&key).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return orphan(state, ledger, &marker).await,
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            return Visit::Error(e.to_string());
        }
    };
    let entry = &stored.entry;
    if entry.state.is_final() {
        return close(ledger, &marker, Visit::Nothing).await;
    }
    if entry.state == ImportState::Queued {
        let mode = PutMode::Update(stored.etag.clone());
        let forward = start::take_forward(state, ledger, &key, stored.entry.clone(), mode, 1).await;
        return forwarded(state, ledger, &marker, &stored, forward).await;
    }
    if entry.start_in_flight() {
        if !entry.mark_expired(state.config.start_lease, ledger::now()) {
            return Visit::Nothing;
        }
        let forward = start::resume(state, ledger, stored.clone(), 1).await;
        return forwarded(state, ledger, &marker, &stored, forward).await;
    }
    settle(state, ledger, &marker, stored).await
}

/// A marker without an entry: its delivery died between the two writes (or the entry was
/// deleted). Old enough, it is removed; the upload's next delivery writes both again.
async fn orphan(state: &State, ledger: &Ledger<'_>, marker: &Marker) -> Visit {
    let lease = chrono::Duration::from_std(state.config.start_lease).unwrap_or_default();
    match marker.last_modified {
        Some(at) if ledger::now() - at < lease => Visit::Nothing,
        _ => {
            warn!(
                marker = marker.key,
                "open marker without a ledger entry: removed"
            );
            close(ledger, marker, Visit::Nothing).await
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
async fn forwarded(
    state: &State,
    ledger: &Ledger<'_>,
    marker: &Marker,
    before: &Stored,
    forward: Result<Forward, ImportError>,
) -> Visit {
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
        Forward::Lost => Visit::Nothing,
        Forward::Queued { error } => {
            warn!(
                bucket = entry.bucket,
                key = entry.key,
                "import still waiting to start: {error}"
            );
            Visit::Nothing
        }
        Forward::Refused { error } => {
            error!(
                bucket = entry.bucket,
                key = entry.key,
                transform_id = entry.transform_id,
                "Glue refused the import: {error}"
            );
            close(ledger, marker, Visit::Refused(error)).await
        }
    }
}

/// Asks Glue about a started run and records what changed.
async fn settle(state: &State, ledger: &Ledger<'_>, marker: &Marker, stored: Stored) -> Visit {
    let Stored {
        key,
        etag,
        mut entry,
    } = stored;
    let task_run_id = entry.task_run_id.clone().unwrap_or_default();
    let run = match glue::task_run(state, &entry.transform_id, &task_run_id).await {
        Ok(run) => run,
        Err(e) => {
            error!(ledger_key = key, task_run_id, "tick: {e}");
            return Visit::Error(e.to_string());
        }
    };
    let glue_status = run.status().map(|s| s.as_str()).unwrap_or_default();
    let Some(now_state) = ImportState::from_glue(glue_status) else {
        warn!(
            task_run_id,
            "Glue reports status {glue_status:?}, unknown to this version: entry left as it is"
        );
        return Visit::Nothing;
    };
    if now_state == entry.state {
        return Visit::Nothing;
    }
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
        Err(LedgerError::Conflict { .. }) => return Visit::Nothing,
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            return Visit::Error(e.to_string());
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
        return Visit::Progressed(Progress::of(entry));
    }
    log_end(entry);
    let seconds = entry.upload_to_end_seconds();
    close(
        ledger,
        marker,
        Visit::Finished(Progress::of(entry), seconds),
    )
    .await
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
