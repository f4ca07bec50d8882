//! Starting an upload's import exactly once.
//!
//! StartImportLabelsTaskRun has no client token, so a blind resend can run a file twice. Each
//! attempt is therefore **marked** in the upload's ledger entry (`STARTING`, when, by whom)
//! with a compare-and-set write — of two writers only one marks a version —, **sent once**,
//! without the SDK's retry, and **classified**:
//!
//! ```text
//!  Basis ──mark──► Marked ──send once──► classify ─┬─ started ──► record the run  ► Started
//!                         (‖ read tags)            │             (‖ write tags)
//!  (new entry,     (STARTING,                      ├─ refused ──► record FAILED   ► Refused
//!   or one held)    this token)                    ├─ quota ────► back to QUEUED  ► Deferred
//!    ▲                                             ├─ throttled ┐
//!    └──────────── attempt again (≤ attempts) ◄────┴─ unclear ──┴ (Glue's history since the
//!                                                                 mark: adopt its run)
//! ```
//!
//! The label object's tags are read beside the first start and written beside the recorded
//! run (the status tag follows the entry: `STARTING` and the receipt, `FAILED`, `QUEUED`).
//! A writer that loses the mark gets [`Attempt::Superseded`] (or [`Attempt::Gone`]): another
//! writer has the upload. A process that dies between mark and record leaves a mark that the
//! next delivery or tick resolves from Glue's history once `START_LEASE_SECONDS` passed
//! ([`resume`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::aws::documents::Replaced;
use crate::aws::glue::{self, StartFailure};
use crate::aws::tags::{self, Existing};
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
    let mut read_tags: ReadTags = None;
    loop {
        let marked = match mark(ledger, basis).await? {
            Ok(marked) => marked,
            Err(lost) => return Ok(lost),
        };
        let sent = send_once(state, &marked.stored.value, &mut read_tags).await;
        match classify(state, ledger, marked, sent, &mut read_tags).await? {
            Next::Done(attempt) => return Ok(attempt),
            Next::Retry {
                stored,
                error,
                deferral,
            } => {
                if n >= attempts || deferral == Deferral::Quota {
                    // The quota frees when a run ends, minutes away: the tick tries again.
                    return defer(state, ledger, *stored, (error, deferral), read_tags).await;
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

/// The label object's tags, read beside the first start for the status tag that follows it
/// (`None`: not read yet).
type ReadTags = Option<Option<Existing>>;

/// The label object of an entry: bucket, key, version.
fn object(entry: &Entry) -> (&str, &str, Option<&str>) {
    (&entry.bucket, &entry.key, entry.version_id.as_deref())
}

/// Sends the start once; the first time, the object's tags are read beside it.
async fn send_once(
    state: &State,
    entry: &Entry,
    read_tags: &mut ReadTags,
) -> Result<String, StartFailure> {
    let (transform_id, path) = (&entry.transform_id, &entry.input_s3_path);
    let start = glue::start_once(state, transform_id, path, entry.replace_all_labels);
    if read_tags.is_some() {
        return start.await;
    }
    let (bucket, key, version) = object(entry);
    let (sent, tags) = tokio::join!(start, tags::read(state, bucket, key, version));
    *read_tags = Some(tags);
    sent
}

/// What Glue's answer to a marked start calls for; after an unclear answer Glue's history
/// since the mark decides.
async fn classify(
    state: &State,
    ledger: &Ledger<'_>,
    marked: Marked,
    sent: Result<String, StartFailure>,
    read_tags: &mut ReadTags,
) -> Result<Next, ImportError> {
    let failure = match sent {
        Ok(task_run_id) => {
            let recorded = record_run(state, ledger, marked.stored, task_run_id, read_tags.take());
            return Ok(Next::Done(recorded.await));
        }
        Err(failure) => failure,
    };
    let (error, deferral) = match failure {
        StartFailure::Refused(error) => {
            let refused = record_refusal(state, ledger, marked.stored, error, read_tags.take());
            return Ok(Next::Done(refused.await?));
        }
        StartFailure::Busy(error) => (error, Deferral::Quota),
        StartFailure::NotNow(error) => (error, Deferral::Throttled),
        StartFailure::Unclear(error) => {
            match find_run(state, &marked.stored.value, marked.at).await {
                Ok(Some(task_run_id)) => {
                    let key = &marked.stored.value.key;
                    info!(
                        key,
                        task_run_id, "adopted the task run found in Glue's history"
                    );
                    let recorded =
                        record_run(state, ledger, marked.stored, task_run_id, read_tags.take());
                    return Ok(Next::Done(recorded.await));
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
        Some(task_run_id) => {
            info!(
                key = stored.value.key,
                task_run_id, "adopted the task run found in Glue's history"
            );
            Ok(record_run(state, ledger, stored, task_run_id, None).await)
        }
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

/// Records the task run in the marked entry, and beside it the receipt and status tags. The
/// run exists whatever the write does: an entry left marked is resolved from Glue's history
/// later, so a lost write is only logged.
async fn record_run(
    state: &State,
    ledger: &Ledger<'_>,
    marked: Stored,
    task_run_id: String,
    read_tags: ReadTags,
) -> Attempt {
    let key = marked.key.clone();
    let entry = marked.value.clone();
    let record = ledger.replace(marked, |e| e.record_run(&task_run_id));
    let tag = tags::follow(
        state,
        object(&entry),
        read_tags,
        "STARTING",
        Some(&task_run_id),
    );
    let (recorded, ()) = tokio::join!(record, tag);
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
    state: &State,
    ledger: &Ledger<'_>,
    marked: Stored,
    error: ImportError,
    read_tags: ReadTags,
) -> Result<Attempt, ImportError> {
    let key = marked.key.clone();
    let entry = marked.value.clone();
    let error_string = match &error {
        ImportError::Glue { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    };
    let last_error = error.to_string();
    let at = crate::now();
    let recorded = ledger
        .replace(marked, |e| e.refuse(at, error_string, last_error))
        .await;
    match recorded {
        Ok(Replaced::Superseded) => return Ok(Attempt::Superseded),
        Ok(Replaced::Gone) => return Ok(Attempt::Gone),
        Ok(Replaced::Written(_)) => {}
        Err(e) => warn!(ledger_key = key, "refusal not recorded in the ledger: {e}"),
    }
    tags::follow(state, object(&entry), read_tags, "FAILED", None).await;
    Ok(Attempt::Refused { error })
}

/// Records that the start waits (QUEUED, with the reason) after a deferral.
async fn defer(
    state: &State,
    ledger: &Ledger<'_>,
    stored: Stored,
    (error, deferral): (ImportError, Deferral),
    read_tags: ReadTags,
) -> Result<Attempt, ImportError> {
    let (at, reason) = (crate::now(), error.to_string());
    let entry = stored.value.clone();
    match ledger.replace(stored, |e| e.defer(at, reason)).await? {
        Replaced::Written(_) => {}
        Replaced::Superseded => return Ok(Attempt::Superseded),
        Replaced::Gone => return Ok(Attempt::Gone),
    }
    tags::follow(state, object(&entry), read_tags, "QUEUED", None).await;
    Ok(Attempt::Deferred { error, deferral })
}
