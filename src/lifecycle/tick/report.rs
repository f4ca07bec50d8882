//! What one tick did: the report it answers, and one log line per finished import.

use serde::Serialize;
use tracing::{error, info};

use crate::lifecycle::entry::{Entry, ImportState};

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
    /// Rounds of the teaching loop recorded this tick (TEACHING_LOOP on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<crate::teaching::follow::RoundProgress>,
    /// Labeling sets whose generation ended this tick (`evaluate-and-generate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labeling_sets: Vec<crate::teaching::follow::LabelingSet>,
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
    pub fn of(entry: &Entry) -> Progress {
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

/// One line per finished import: TaskRunId, status, durations and Glue's ErrorString verbatim.
pub fn log_end(entry: &Entry) {
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
