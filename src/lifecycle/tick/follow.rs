//! Following one open import: a start the tick attempted, and a started run asked of Glue
//! (GetMLTaskRun), its change recorded.

use tracing::{error, info, warn};

use super::report::{self, Progress};
use super::{Finding, Standing};
use crate::aws::documents::Replaced;
use crate::aws::glue::{self, RunReport};
use crate::aws::tags;
use crate::lifecycle::entry::ImportState;
use crate::lifecycle::ledger::{Ledger, Stored};
use crate::lifecycle::start::Attempt;
use crate::notify::{self, message};
use crate::upload::outcome::ImportError;
use crate::State;

/// The finding of a start attempted by the tick (the start tagged the object itself); a
/// refusal is also a person's news.
pub(super) async fn attempted(
    state: &State,
    ledger: &Ledger<'_>,
    before: &Stored,
    attempt: Result<Attempt, ImportError>,
) -> Finding {
    let entry = &before.value;
    let attempt = match attempt {
        Ok(attempt) => attempt,
        Err(e) => {
            error!(ledger_key = before.key, "tick: {e}");
            return Finding::Error(e.to_string());
        }
    };
    let (bucket, key, transform_id) = (&entry.bucket, &entry.key, &entry.transform_id);
    match attempt {
        Attempt::Started { task_run_id } => {
            info!(
                bucket,
                key, transform_id, task_run_id, "import started by the tick"
            );
            let mut progress = Progress::of(entry);
            progress.task_run_id = Some(task_run_id);
            progress.state = ImportState::Starting;
            Finding::Started(progress)
        }
        // Superseded or gone: another writer has the entry. (Queued is a lane's answer; the
        // tick asks its lane itself before it attempts a start.)
        Attempt::Superseded | Attempt::Gone | Attempt::Queued { .. } => Finding::Nothing,
        Attempt::Deferred { error, .. } => {
            warn!(bucket, key, "import still waiting to start: {error}");
            Finding::Nothing
        }
        // The entry is FAILED: the next tick takes its place from the lane and its marker.
        Attempt::Refused { error } => {
            error!(
                bucket,
                key, transform_id, "Glue refused the import: {error}"
            );
            let upload_id = crate::lifecycle::ledger::upload_id(&before.key);
            let notice = message::import_refused(entry, &error.to_string(), upload_id);
            notify::send(state, ledger, notice).await;
            Finding::Refused(error)
        }
    }
}

/// Asks Glue about a started run and records what changed.
pub(super) async fn follow_run(
    state: &State,
    ledger: &Ledger<'_>,
    stored: Stored,
) -> (Standing, Finding) {
    let task_run_id = stored.value.task_run_id.clone().unwrap_or_default();
    let transform_id = stored.value.transform_id.clone();
    let run = match glue::task_run(state, &transform_id, &task_run_id).await {
        Ok(run) => run,
        Err(e) => {
            error!(ledger_key = stored.key, task_run_id, "tick: {e}");
            return (
                Standing::Open(Box::new(stored)),
                Finding::Error(e.to_string()),
            );
        }
    };
    let Some(now_state) = ImportState::from_glue(&run.status) else {
        warn!(
            task_run_id,
            "Glue reports status {:?}, unknown to this version: entry left as it is", run.status
        );
        return (Standing::Open(Box::new(stored)), Finding::Nothing);
    };
    if now_state == stored.value.state {
        return (Standing::Open(Box::new(stored)), Finding::Nothing);
    }
    let stored = match record_change(ledger, stored, now_state, run).await {
        Ok(stored) => stored,
        Err(left) => return left,
    };
    let entry = &stored.value;
    let version = entry.version_id.as_deref();
    let status = now_state.as_str();
    tags::set_status(
        state,
        &entry.bucket,
        &entry.key,
        version,
        status,
        Some(&task_run_id),
    )
    .await;
    if !now_state.is_final() {
        let progress = Progress::of(entry);
        return (
            Standing::Open(Box::new(stored)),
            Finding::Progressed(progress),
        );
    }
    report::log_end(entry);
    if matches!(now_state, ImportState::Failed | ImportState::Timeout) {
        let upload_id = crate::lifecycle::ledger::upload_id(&stored.key);
        notify::send(state, ledger, message::import_failed(entry, upload_id)).await;
    }
    let seconds = entry.upload_to_end_seconds();
    let finding = Finding::Finished(Progress::of(entry), seconds);
    (Standing::Ended(Box::new(stored.value)), finding)
}

/// Records the run's new state with compare-and-set; a lost write leaves the import to the
/// next tick.
async fn record_change(
    ledger: &Ledger<'_>,
    stored: Stored,
    now_state: ImportState,
    run: RunReport,
) -> Result<Stored, (Standing, Finding)> {
    let key = stored.key.clone();
    let at = crate::now();
    let recorded = ledger
        .replace(stored, |entry| {
            entry.enter(now_state, at);
            entry.started_on = run.started_on.or(entry.started_on);
            entry.completed_on = run.completed_on;
            entry.error_string = run.error_string;
        })
        .await;
    match recorded {
        Ok(Replaced::Written(stored)) => Ok(stored),
        Ok(Replaced::Superseded | Replaced::Gone) => Err((Standing::Unknown, Finding::Nothing)),
        Err(e) => {
            error!(ledger_key = key, "tick: {e}");
            Err((Standing::Unknown, Finding::Error(e.to_string())))
        }
    }
}
