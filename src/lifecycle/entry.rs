//! An upload and the life of its import: the ledger entry's model and its rules, without I/O.
//!
//! An entry moves `QUEUED → STARTING → RUNNING → … → SUCCEEDED | FAILED | STOPPED | TIMEOUT`
//! ([`ImportState`], Glue's words; `QUEUED` waits for its turn). `STARTING` without a task run
//! ID is a start in flight: marked, its answer not recorded ([`Entry::start_in_flight`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::documents::{self, Document};

/// The entry format this build writes and reads; a newer one is left alone.
pub const FORMAT: u32 = 1;
/// Tag on finished entries, for the bucket's lifecycle rule that expires them.
pub const FINISHED_TAG: (&str, &str) = ("glue-label-importer-entry", "finished");

/// Where an import stands, in Glue's words (`QUEUED`: waiting for its start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportState {
    Queued,
    Starting,
    Running,
    Stopping,
    Succeeded,
    Failed,
    Stopped,
    Timeout,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Queued => "QUEUED",
            ImportState::Starting => "STARTING",
            ImportState::Running => "RUNNING",
            ImportState::Stopping => "STOPPING",
            ImportState::Succeeded => "SUCCEEDED",
            ImportState::Failed => "FAILED",
            ImportState::Stopped => "STOPPED",
            ImportState::Timeout => "TIMEOUT",
        }
    }

    /// Glue's task-run status as a state (`None` for a status this build does not know).
    pub fn from_glue(status: &str) -> Option<ImportState> {
        Some(match status {
            "STARTING" => ImportState::Starting,
            "RUNNING" => ImportState::Running,
            "STOPPING" => ImportState::Stopping,
            "SUCCEEDED" => ImportState::Succeeded,
            "FAILED" => ImportState::Failed,
            "STOPPED" => ImportState::Stopped,
            "TIMEOUT" => ImportState::Timeout,
            _ => return None,
        })
    }

    /// The import has ended (SUCCEEDED is the only good end).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ImportState::Succeeded
                | ImportState::Failed
                | ImportState::Stopped
                | ImportState::Timeout
        )
    }
}

impl std::fmt::Display for ImportState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When an entry entered a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub state: ImportState,
    pub at: DateTime<Utc>,
}

/// One upload and the life of its import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub format: u32,
    /// Raised by every write: the bytes of two versions always differ.
    pub revision: u64,
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub version_id: Option<String>,
    /// When S3 took the upload (the event's time).
    pub uploaded_at: DateTime<Utc>,
    pub transform_id: String,
    pub input_s3_path: String,
    pub replace_all_labels: bool,
    pub state: ImportState,
    pub task_run_id: Option<String>,
    /// When the current start attempt was marked, before StartImportLabelsTaskRun was sent;
    /// `STARTING` without a task run ID means that start's answer is not recorded yet.
    pub marked_at: Option<DateTime<Utc>>,
    /// Who marked it (one token per attempt): a writer recognises its own write.
    pub marked_by: Option<String>,
    pub start_attempts: u32,
    /// Every state the entry entered, oldest first.
    pub history: Vec<Transition>,
    /// Glue's `StartedOn` and `CompletedOn`.
    pub started_on: Option<DateTime<Utc>>,
    pub completed_on: Option<DateTime<Utc>>,
    /// Glue's `ErrorString`, verbatim.
    pub error_string: Option<String>,
    /// Why the last start attempt did not start the import.
    pub last_error: Option<String>,
}

/// What identifies one upload: every delivery of it, and `import-labels import`, agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub version_id: Option<String>,
    /// The object's Last-Modified, in seconds (part of the identity: the same bytes uploaded
    /// again are a new upload).
    pub last_modified: Option<i64>,
    pub uploaded_at: DateTime<Utc>,
}

impl Upload {
    /// The upload's ID: 32 hex digits of SHA-256 over its identity (`salt` makes a new one,
    /// for a forced re-import).
    pub fn id(&self, salt: Option<&str>) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.bucket.as_str(),
            self.key.as_str(),
            self.etag.as_str(),
            self.version_id.as_deref().unwrap_or(""),
            &self
                .last_modified
                .map(|t| t.to_string())
                .unwrap_or_default(),
            salt.unwrap_or(""),
        ] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        hex::encode(&hash.finalize()[..16])
    }
}

impl Entry {
    /// A new entry for an upload, in `state` from `at`.
    pub fn new(
        upload: &Upload,
        transform_id: &str,
        input_s3_path: &str,
        replace_all_labels: bool,
        state: ImportState,
        at: DateTime<Utc>,
    ) -> Entry {
        Entry {
            format: FORMAT,
            revision: 0,
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            etag: upload.etag.clone(),
            version_id: upload.version_id.clone(),
            uploaded_at: upload.uploaded_at,
            transform_id: transform_id.to_string(),
            input_s3_path: input_s3_path.to_string(),
            replace_all_labels,
            state,
            task_run_id: None,
            marked_at: None,
            marked_by: None,
            start_attempts: 0,
            history: vec![Transition { state, at }],
            started_on: None,
            completed_on: None,
            error_string: None,
            last_error: None,
        }
    }

    /// Moves to `state` (recording when, if it is a change).
    pub fn enter(&mut self, state: ImportState, at: DateTime<Utc>) {
        if self.state != state || self.history.is_empty() {
            self.history.push(Transition { state, at });
        }
        self.state = state;
    }

    /// Marks a start attempt (`STARTING`, when, by whom), before StartImportLabelsTaskRun is
    /// sent.
    pub fn mark(&mut self, at: DateTime<Utc>, token: &str) {
        self.enter(ImportState::Starting, at);
        self.marked_at = Some(at);
        self.marked_by = Some(token.to_string());
        self.start_attempts += 1;
    }

    /// Records the task run the start began (or Glue's history showed).
    pub fn record_run(&mut self, task_run_id: &str) {
        self.task_run_id = Some(task_run_id.to_string());
        self.last_error = None;
    }

    /// Glue refused the start for good: the entry ends `FAILED` with Glue's word.
    pub fn refuse(&mut self, at: DateTime<Utc>, error_string: String, last_error: String) {
        self.enter(ImportState::Failed, at);
        self.marked_by = None;
        self.error_string = Some(error_string);
        self.last_error = Some(last_error);
    }

    /// The start did not happen, for a reason that passes (Glue's quota, throttling, no clear
    /// answer): back to `QUEUED` with the reason, for the tick or a later delivery.
    pub fn defer(&mut self, at: DateTime<Utc>, reason: String) {
        self.enter(ImportState::Queued, at);
        self.marked_by = None;
        self.last_error = Some(reason);
    }

    /// A start was marked and its answer is not recorded: in flight, or its process died.
    pub fn start_in_flight(&self) -> bool {
        self.state == ImportState::Starting && self.task_run_id.is_none()
    }

    /// Whether an in-flight mark is older than `lease` at `now` (its process is presumed dead).
    pub fn mark_expired(&self, lease: Duration, now: DateTime<Utc>) -> bool {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        self.marked_at.is_none_or(|at| now - at >= lease)
    }

    /// Seconds from the upload to the import's end (Glue's CompletedOn).
    pub fn upload_to_end_seconds(&self) -> Option<f64> {
        self.completed_on
            .map(|end| (end - self.uploaded_at).num_milliseconds() as f64 / 1000.0)
    }

    /// Reads an entry, checking its format first.
    pub fn parse(bytes: &[u8]) -> Result<Entry, String> {
        documents::parse(bytes)
    }
}

impl Document for Entry {
    const NAME: &'static str = "ledger entry";
    const FORMAT: u32 = FORMAT;
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
    /// A finished entry is tagged for the bucket's lifecycle rule that expires it.
    fn tagging(&self) -> Option<String> {
        self.state
            .is_final()
            .then(|| format!("{}={}", FINISHED_TAG.0, FINISHED_TAG.1))
    }
}

/// A token that names one writer's attempt (process, time, sequence).
pub fn attempt_token() -> String {
    crate::unique_token()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn queued() -> Entry {
        let upload = Upload {
            bucket: "b".into(),
            key: "labels/t/a.csv".into(),
            etag: "e".into(),
            version_id: None,
            last_modified: None,
            uploaded_at: at(0),
        };
        Entry::new(
            &upload,
            "t",
            "s3://b/labels/t/a.csv",
            false,
            ImportState::Queued,
            at(0),
        )
    }

    #[test]
    fn a_mark_is_a_start_in_flight_until_its_run_is_recorded() {
        let mut e = queued();
        e.mark(at(10), "token-1");
        assert!(e.start_in_flight());
        assert_eq!(
            (e.marked_by.as_deref(), e.start_attempts),
            (Some("token-1"), 1)
        );
        assert!(!e.mark_expired(Duration::from_secs(300), at(309)));
        assert!(e.mark_expired(Duration::from_secs(300), at(310)));
        e.record_run("tsk-1");
        assert!(!e.start_in_flight());
        let states: Vec<ImportState> = e.history.iter().map(|t| t.state).collect();
        assert_eq!(states, [ImportState::Queued, ImportState::Starting]);
    }

    #[test]
    fn a_deferred_start_waits_queued_and_a_refused_one_ends_failed() {
        let mut e = queued();
        e.mark(at(10), "token-1");
        e.defer(at(11), "waits for Glue's quota".into());
        assert_eq!(
            (e.state, e.marked_by.as_deref()),
            (ImportState::Queued, None)
        );
        assert_eq!(e.last_error.as_deref(), Some("waits for Glue's quota"));
        e.mark(at(20), "token-2");
        e.refuse(
            at(21),
            "EntityNotFoundException: no".into(),
            "refused".into(),
        );
        assert_eq!((e.state, e.start_attempts), (ImportState::Failed, 2));
        assert!(e.state.is_final());
        assert_eq!(
            e.error_string.as_deref(),
            Some("EntityNotFoundException: no")
        );
        assert_eq!(e.history.len(), 5);
    }
}
