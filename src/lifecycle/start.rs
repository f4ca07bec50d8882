//! Starting an upload's import exactly once.
//!
//! StartImportLabelsTaskRun has no client token, so a blind resend can run a file twice. Each
//! attempt is therefore (1) **marked** in the upload's ledger entry (`STARTING`, when, by whom)
//! with a conditional write — of two writers only one marks a version —, (2) **sent once**,
//! without the SDK's retry, and (3) **recorded** (the task run ID). After an unclear answer
//! (5xx, timeout, connection lost) Glue's history of the file since the mark decides: adopt
//! the run it shows, or attempt again. A process that dies between mark and record leaves a
//! mark that the next delivery or tick resolves the same way once `START_LEASE_SECONDS` passed.

use std::time::Duration;

use tracing::{info, warn};

use crate::aws::glue::{self, StartFailure};
use crate::lifecycle::ledger::{self, Entry, ImportState, Ledger, LedgerError, PutMode, Stored};
use crate::upload::outcome::ImportError;
use crate::State;

/// Start attempts per upload in its own invocation (throttling and unclear answers).
pub const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled for each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Glue's clock and ours may differ a little: history is read from this long before the mark.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(1);

/// Where taking an entry forward left it.
#[derive(Debug)]
pub enum Forward {
    /// The import runs (started now, or found in Glue's history after an unclear answer).
    Started { task_run_id: String, adopted: bool },
    /// Another writer changed the entry first: it took the upload forward (or is doing so).
    Lost,
    /// Glue refused the start for good; the entry records FAILED with the reason.
    Refused { error: ImportError },
    /// Glue did not start it, for a reason that passes; the entry waits as QUEUED, with its
    /// turn, for the tick (or a later delivery) to start it.
    Queued { error: ImportError, held: Held },
    /// Its lane has not given it its turn: the entry waits as QUEUED for what `reason` names.
    Waiting { reason: String },
}

impl Forward {
    /// What the label object's status tag shows after this: the entry's state and, once it
    /// started, its task run; `None` when another writer has the entry (its tags are theirs).
    pub fn shown(&self) -> Option<(ImportState, Option<&str>)> {
        match self {
            Forward::Started { task_run_id, .. } => {
                Some((ImportState::Starting, Some(task_run_id.as_str())))
            }
            Forward::Queued { .. } | Forward::Waiting { .. } => Some((ImportState::Queued, None)),
            Forward::Refused { .. } => Some((ImportState::Failed, None)),
            Forward::Lost => None,
        }
    }
}

/// Why a start that passes did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Glue's quota of concurrent task runs of the transform is in use.
    Quota,
    /// Glue kept throttling the start.
    Throttled,
    /// Glue's answers were unclear (5xx, timeouts) and its history showed no run.
    Unclear,
}

impl Held {
    /// What an upload held so waits for; `None` after unclear answers, which still fail the
    /// delivery so that its retry tries again.
    pub fn waits_for(self, error: &ImportError) -> Option<String> {
        match (self, error) {
            (Held::Quota, _) => Some(format!("waits for Glue's quota: {error}")),
            (Held::Throttled, ImportError::Glue { code, message, .. }) => Some(format!(
                "waits for Glue: it kept throttling the start ({code}: {message}) through {ATTEMPTS} attempts; the tick starts it when Glue accepts"
            )),
            _ => None,
        }
    }
}

/// Takes an entry forward: up to `attempts` (at least one) marks and starts. `mode` is how the first mark
/// meets the stored entry (`Create` for a new upload).
pub async fn take_forward(
    state: &State,
    ledger: &Ledger<'_>,
    key: &str,
    mut entry: Entry,
    mut mode: PutMode,
    attempts: u32,
) -> Result<Forward, ImportError> {
    let mut attempt = 0;
    let mut held: Held;
    let error = loop {
        attempt += 1;
        let marked_at = ledger::now();
        entry.enter(ImportState::Starting, marked_at);
        entry.marked_at = Some(marked_at);
        entry.marked_by = Some(ledger::attempt_token());
        entry.start_attempts += 1;
        let marked = match ledger.put(key, entry, mode).await {
            Ok(marked) => marked,
            Err(LedgerError::Conflict { .. }) => return Ok(Forward::Lost),
            Err(e) => return Err(e.into()),
        };
        let e = &marked.entry;
        let failure = match glue::start_once(
            state,
            &e.transform_id,
            &e.input_s3_path,
            e.replace_all_labels,
        )
        .await
        {
            Ok(task_run_id) => return Ok(record_run(ledger, marked, task_run_id, false).await),
            Err(failure) => failure,
        };
        let error = match failure {
            StartFailure::Refused(error) => return record_refusal(ledger, marked, error).await,
            StartFailure::Busy(error) => {
                // The quota frees when a run ends, minutes away: the tick tries again.
                (entry, mode) = (marked.entry, PutMode::Update(marked.etag));
                held = Held::Quota;
                break error;
            }
            StartFailure::NotNow(error) => {
                held = Held::Throttled;
                error
            }
            StartFailure::Unclear(error) => match find_run(state, &marked.entry, marked_at).await {
                Ok(Some(task_run_id)) => {
                    return Ok(record_run(ledger, marked, task_run_id, true).await)
                }
                Ok(None) => {
                    held = Held::Unclear;
                    error
                }
                Err(history_error) => {
                    return Err(ImportError::StartUndecided {
                        start_error: error.to_string(),
                        history_error: history_error.to_string(),
                    })
                }
            },
        };
        (entry, mode) = (marked.entry, PutMode::Update(marked.etag));
        if attempt >= attempts {
            break error;
        }
        tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
    };
    entry.enter(ImportState::Queued, ledger::now());
    entry.marked_by = None;
    entry.last_error = Some(error.to_string());
    match ledger.put(key, entry, mode).await {
        Ok(_) => Ok(Forward::Queued { error, held }),
        Err(LedgerError::Conflict { .. }) => Ok(Forward::Lost),
        Err(e) => Err(e.into()),
    }
}

/// Resolves a start that was marked but never recorded (its process died or lost its
/// answer): Glue's history since the mark shows the run — adopt it — or there is none and
/// the upload is taken forward again.
pub async fn resume(
    state: &State,
    ledger: &Ledger<'_>,
    stored: Stored,
    attempts: u32,
) -> Result<Forward, ImportError> {
    let since = stored.entry.marked_at.unwrap_or(stored.entry.uploaded_at);
    match find_run(state, &stored.entry, since).await? {
        Some(task_run_id) => Ok(record_run(ledger, stored, task_run_id, true).await),
        None => {
            let mode = PutMode::Update(stored.etag);
            take_forward(state, ledger, &stored.key, stored.entry, mode, attempts).await
        }
    }
}

/// The run of this entry's file that Glue started since `since` (less the clock skew).
async fn find_run(
    state: &State,
    entry: &Entry,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>, ImportError> {
    let run = glue::import_run_since(
        state,
        &entry.transform_id,
        &entry.input_s3_path,
        since - CLOCK_SKEW,
    )
    .await?;
    Ok(run.and_then(|r| r.task_run_id().map(str::to_string)))
}

/// Records the task run in the marked entry. The run exists whatever the write does: an entry
/// left marked is resolved from Glue's history later, so a failed write is only logged.
async fn record_run(
    ledger: &Ledger<'_>,
    marked: Stored,
    task_run_id: String,
    adopted: bool,
) -> Forward {
    let Stored {
        key,
        etag,
        mut entry,
    } = marked;
    entry.task_run_id = Some(task_run_id.clone());
    entry.last_error = None;
    if adopted {
        info!(
            key = entry.key,
            task_run_id, "adopted the task run found in Glue's history"
        );
    }
    if let Err(e) = ledger.put(&key, entry, PutMode::Update(etag)).await {
        warn!(
            ledger_key = key,
            task_run_id,
            "task run not recorded in the ledger (resolved later from Glue's history): {e}"
        );
    }
    Forward::Started {
        task_run_id,
        adopted,
    }
}

/// Records Glue's refusal: the entry ends FAILED with Glue's message.
async fn record_refusal(
    ledger: &Ledger<'_>,
    marked: Stored,
    error: ImportError,
) -> Result<Forward, ImportError> {
    let Stored {
        key,
        etag,
        mut entry,
    } = marked;
    entry.enter(ImportState::Failed, ledger::now());
    entry.marked_by = None;
    entry.error_string = Some(match &error {
        ImportError::Glue { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    });
    entry.last_error = Some(error.to_string());
    match ledger.put(&key, entry, PutMode::Update(etag)).await {
        Ok(_) => Ok(Forward::Refused { error }),
        Err(LedgerError::Conflict { .. }) => Ok(Forward::Lost),
        Err(e) => {
            warn!(ledger_key = key, "refusal not recorded in the ledger: {e}");
            Ok(Forward::Refused { error })
        }
    }
}
