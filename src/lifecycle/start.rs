//! Starting an upload's import exactly once.
//!
//! StartImportLabelsTaskRun has no client token, so a blind resend can run a file twice. Each
//! attempt is therefore **marked** in the upload's ledger entry (`STARTING`, when, by whom)
//! with a compare-and-set write — of two writers only one marks a version —, **sent once**,
//! without the SDK's retry, and **classified**:
//!
//! ```text
//!  Basis ──mark──► Marked ──send once──► classify ─┬─ started ──► record the run  ► Started
//!  (new entry,     (STARTING,                      ├─ refused ──► record FAILED   ► Refused
//!   or one held)    this token)                    ├─ quota ────► back to QUEUED  ► Deferred
//!    ▲                                             ├─ throttled ┐
//!    └──────────── attempt again (≤ attempts) ◄────┴─ unclear ──┴ (Glue's history since the
//!                                                                 mark: adopt its run)
//! ```
//!
//! A writer that loses the mark gets [`Attempt::Superseded`] (or [`Attempt::Gone`]): another
//! writer has the upload. A process that dies between mark and record leaves a mark that the
//! next delivery or tick resolves from Glue's history once `START_LEASE_SECONDS` passed
//! ([`resume`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::aws::documents::Replaced;
use crate::aws::glue::{self, StartFailure};
use crate::lifecycle::entry::{attempt_token, Entry};
use crate::lifecycle::ledger::{Ledger, Stored};
use crate::upload::outcome::ImportError;
use crate::State;

/// Start attempts per upload in its own invocation (throttling and unclear answers).
pub const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled for each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// What a start is marked on: a new upload's entry (created by the mark), or the entry held.
#[derive(Debug)]
pub enum Basis {
    New { key: String, entry: Entry },
    Held(Stored),
}

/// An entry marked by this attempt: the start may be sent.
#[derive(Debug)]
pub struct Marked {
    stored: Stored,
    at: DateTime<Utc>,
}

/// Where a start attempt left the upload.
#[derive(Debug)]
pub enum Attempt {
    /// The import runs (started now, or found in Glue's history after an unclear answer).
    Started { task_run_id: String },
    /// Another writer changed the entry first: it takes the upload forward (or did).
    Superseded,
    /// The entry was deleted meanwhile.
    Gone,
    /// Glue refused the start for good; the entry records FAILED with the reason.
    Refused { error: ImportError },
    /// Glue did not start it, for a reason that passes; the entry waits as QUEUED, with its
    /// turn, for the tick (or a later delivery) to start it.
    Deferred {
        error: ImportError,
        deferral: Deferral,
    },
    /// Its lane has not given it its turn: the entry waits as QUEUED for what `reason` names.
    Queued { reason: String },
}

/// Why a start that passes was deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Glue's quota of concurrent task runs of the transform is in use.
    Quota,
    /// Glue kept throttling the start.
    Throttled,
    /// Glue's answers were unclear (5xx, timeouts) and its history showed no run.
    Unanswered,
}

impl Deferral {
    /// What a deferred upload waits for; `None` after unclear answers, which still fail the
    /// delivery so that its retry tries again.
    pub fn waits_for(self, error: &ImportError) -> Option<String> {
        match (self, error) {
            (Deferral::Quota, _) => Some(format!("waits for Glue's quota: {error}")),
            (Deferral::Throttled, ImportError::Glue { code, message, .. }) => Some(format!(
                "waits for Glue: it kept throttling the start ({code}: {message}) through {ATTEMPTS} attempts; the tick starts it when Glue accepts"
            )),
            _ => None,
        }
    }
}

impl Attempt {
    /// What the label object's status tag shows after this: the entry's state word and, once
    /// it started, its task run; `None` when another writer has the entry (its tags are theirs).
    pub fn tag_status(&self) -> Option<(&'static str, Option<&str>)> {
        match self {
            Attempt::Started { task_run_id } => Some(("STARTING", Some(task_run_id.as_str()))),
            Attempt::Deferred { .. } | Attempt::Queued { .. } => Some(("QUEUED", None)),
            Attempt::Refused { .. } => Some(("FAILED", None)),
            Attempt::Superseded | Attempt::Gone => None,
        }
    }
}

/// What classifying one sent start calls for.
enum Next {
    Done(Attempt),
    /// Nothing started, for a reason that passes: attempt again, or defer.
    Retry {
        stored: Box<Stored>,
        error: ImportError,
        deferral: Deferral,
    },
}

/// Up to `attempts` (at least one) marks and starts of the upload on `basis`.
pub async fn attempt(
    state: &State,
    ledger: &Ledger<'_>,
    mut basis: Basis,
    attempts: u32,
) -> Result<Attempt, ImportError> {
    let mut n = 1;
    loop {
        let marked = match mark(ledger, basis).await? {
            Ok(marked) => marked,
            Err(lost) => return Ok(lost),
        };
        let sent = send_once(state, &marked.stored.value).await;
        match classify(state, ledger, marked, sent).await? {
            Next::Done(attempt) => return Ok(attempt),
            Next::Retry {
                stored,
                error,
                deferral,
            } => {
                if n >= attempts || deferral == Deferral::Quota {
                    // The quota frees when a run ends, minutes away: the tick tries again.
                    return defer(ledger, *stored, error, deferral).await;
                }
                tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(n - 1)).await;
                basis = Basis::Held(*stored);
                n += 1;
            }
        }
    }
}

/// Marks the attempt with a compare-and-set write; a lost write is the attempt's end.
async fn mark(ledger: &Ledger<'_>, basis: Basis) -> Result<Result<Marked, Attempt>, ImportError> {
    let at = crate::now();
    let token = attempt_token();
    let written = match basis {
        Basis::New { key, mut entry } => {
            entry.mark(at, &token);
            ledger.create(&key, entry).await?
        }
        Basis::Held(stored) => ledger.replace(stored, |e| e.mark(at, &token)).await?,
    };
    Ok(match written {
        Replaced::Written(stored) => Ok(Marked { stored, at }),
        Replaced::Superseded => Err(Attempt::Superseded),
        Replaced::Gone => Err(Attempt::Gone),
    })
}

async fn send_once(state: &State, entry: &Entry) -> Result<String, StartFailure> {
    let (transform_id, path) = (&entry.transform_id, &entry.input_s3_path);
    glue::start_once(state, transform_id, path, entry.replace_all_labels).await
}

/// What Glue's answer to a marked start calls for; after an unclear answer Glue's history
/// since the mark decides.
async fn classify(
    state: &State,
    ledger: &Ledger<'_>,
    marked: Marked,
    sent: Result<String, StartFailure>,
) -> Result<Next, ImportError> {
    let failure = match sent {
        Ok(task_run_id) => {
            return Ok(Next::Done(
                record_run(ledger, marked.stored, task_run_id, false).await,
            ))
        }
        Err(failure) => failure,
    };
    let (error, deferral) = match failure {
        StartFailure::Refused(error) => {
            return Ok(Next::Done(
                record_refusal(ledger, marked.stored, error).await?,
            ))
        }
        StartFailure::Busy(error) => (error, Deferral::Quota),
        StartFailure::NotNow(error) => (error, Deferral::Throttled),
        StartFailure::Unclear(error) => {
            match find_run(state, &marked.stored.value, marked.at).await {
                Ok(Some(task_run_id)) => {
                    return Ok(Next::Done(
                        record_run(ledger, marked.stored, task_run_id, true).await,
                    ))
                }
                Ok(None) => (error, Deferral::Unanswered),
                Err(history_error) => {
                    return Err(ImportError::StartUndecided {
                        start_error: error.to_string(),
                        history_error: history_error.to_string(),
                    })
                }
            }
        }
    };
    Ok(Next::Retry {
        stored: Box::new(marked.stored),
        error,
        deferral,
    })
}

/// Resolves a start that was marked but never recorded (its process died or lost its
/// answer): Glue's history since the mark shows the run — adopt it — or there is none and
/// the upload is attempted again.
pub async fn resume(
    state: &State,
    ledger: &Ledger<'_>,
    stored: Stored,
    attempts: u32,
) -> Result<Attempt, ImportError> {
    let since = stored.value.marked_at.unwrap_or(stored.value.uploaded_at);
    match find_run(state, &stored.value, since).await? {
        Some(task_run_id) => Ok(record_run(ledger, stored, task_run_id, true).await),
        None => attempt(state, ledger, Basis::Held(stored), attempts).await,
    }
}

/// The run of this entry's file that Glue started since `since` (less the clock skew).
async fn find_run(
    state: &State,
    entry: &Entry,
    since: DateTime<Utc>,
) -> Result<Option<String>, ImportError> {
    let (transform_id, path) = (&entry.transform_id, &entry.input_s3_path);
    let run = glue::import_run_since(state, transform_id, path, since - crate::CLOCK_SKEW).await?;
    Ok(run.map(|r| r.task_run_id))
}

/// Records the task run in the marked entry. The run exists whatever the write does: an entry
/// left marked is resolved from Glue's history later, so a lost write is only logged.
async fn record_run(
    ledger: &Ledger<'_>,
    marked: Stored,
    task_run_id: String,
    adopted: bool,
) -> Attempt {
    let key = marked.key.clone();
    if adopted {
        info!(
            key = marked.value.key,
            task_run_id, "adopted the task run found in Glue's history"
        );
    }
    let recorded = ledger.replace(marked, |e| e.record_run(&task_run_id)).await;
    if !matches!(recorded, Ok(Replaced::Written(_))) {
        let problem = match recorded {
            Err(e) => e.to_string(),
            _ => "another writer changed the entry first".to_string(),
        };
        warn!(
            ledger_key = key,
            task_run_id,
            "task run not recorded in the ledger (resolved later from Glue's history): {problem}"
        );
    }
    Attempt::Started { task_run_id }
}

/// Records Glue's refusal: the entry ends FAILED with Glue's message.
async fn record_refusal(
    ledger: &Ledger<'_>,
    marked: Stored,
    error: ImportError,
) -> Result<Attempt, ImportError> {
    let key = marked.key.clone();
    let error_string = match &error {
        ImportError::Glue { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    };
    let last_error = error.to_string();
    let at = crate::now();
    match ledger
        .replace(marked, |e| e.refuse(at, error_string, last_error))
        .await
    {
        Ok(Replaced::Written(_)) => Ok(Attempt::Refused { error }),
        Ok(Replaced::Superseded) => Ok(Attempt::Superseded),
        Ok(Replaced::Gone) => Ok(Attempt::Gone),
        Err(e) => {
            warn!(ledger_key = key, "refusal not recorded in the ledger: {e}");
            Ok(Attempt::Refused { error })
        }
    }
}

/// Records that the start waits (QUEUED, with the reason) after a deferral.
async fn defer(
    ledger: &Ledger<'_>,
    stored: Stored,
    error: ImportError,
    deferral: Deferral,
) -> Result<Attempt, ImportError> {
    let (at, reason) = (crate::now(), error.to_string());
    Ok(
        match ledger.replace(stored, |e| e.defer(at, reason)).await? {
            Replaced::Written(_) => Attempt::Deferred { error, deferral },
            Replaced::Superseded => Attempt::Superseded,
            Replaced::Gone => Attempt::Gone,
        },
    )
}
