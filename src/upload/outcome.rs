//! What happened to each record, and the errors that say what to do next.

use serde::Serialize;

use crate::lifecycle::ledger::LedgerError;

/// Name of the tag written on an imported object: its value is the Glue task run ID.
pub const RECEIPT_TAG: &str = "glue-import-task-run-id";
/// Name of the tag that shows where the object's import stands (its ledger entry's state).
pub const STATUS_TAG: &str = "glue-import-status";

/// A record whose import was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub bucket: String,
    pub key: String,
    pub transform_id: String,
    pub input_s3_path: String,
    pub replace_all_labels: bool,
    pub task_run_id: String,
    /// The upload's ledger entry (`aws s3 cp` it to read where the import stands).
    pub ledger_entry: String,
    /// Preflight warnings (the import still started).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A record whose import waits for its turn (its transform's lane, or Glue's quota): the
/// invocation succeeds and the tick starts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub bucket: String,
    pub key: String,
    pub transform_id: String,
    pub input_s3_path: String,
    pub replace_all_labels: bool,
    /// What it waits for.
    pub reason: String,
    /// The upload's ledger entry.
    pub ledger_entry: String,
}

/// A record that needs no import (benign: the invocation still succeeds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub bucket: String,
    pub key: String,
    /// Known once the key is routed; logged, not part of the response.
    #[serde(skip)]
    pub transform_id: Option<String>,
    #[serde(serialize_with = "serialize_display")]
    pub reason: SkipReason,
}

/// A record whose import could not be started.
#[derive(Debug)]
pub struct Failed {
    pub bucket: String,
    pub key: String,
    /// Known once the key is routed.
    pub transform_id: Option<String>,
    pub error: ImportError,
}

/// The result of processing one record.
#[derive(Debug)]
pub enum Outcome {
    Imported(Imported),
    Queued(Queued),
    Skipped(Skipped),
    Failed(Failed),
}

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("event {0} is not an object creation")]
    NotObjectCreated(String),
    #[error("key is outside the labels prefix {prefix:?}")]
    OutsidePrefix { prefix: String },
    #[error("key has no transform segment: label files go to {prefix}<transform-id>/<file>.csv")]
    NoTransformSegment { prefix: String },
    #[error("folder marker (key ends with /), not a label file")]
    FolderMarker,
    #[error("object no longer exists (404)")]
    ObjectGone,
    #[error("stale event: the object was overwritten after this event (eTag {etag} is no longer current); the newer upload has its own event")]
    StaleEvent { etag: String },
    #[error(
        "duplicate: an earlier record of this invocation is the same upload (same key and eTag)"
    )]
    RepeatedInEvent,
    #[error("duplicate: the object already carries the receipt tag {RECEIPT_TAG}={task_run_id}")]
    ReceiptTag { task_run_id: String },
    #[error("duplicate: Glue task run {task_run_id} ({status}) already imports this file")]
    GlueHistory { task_run_id: String, status: String },
    #[error("duplicate: the import ledger already has this upload ({state}{})", task_run_id.as_deref().map(|id| format!(", task run {id}")).unwrap_or_default())]
    LedgerEntry {
        state: String,
        task_run_id: Option<String>,
    },
    #[error("duplicate: another delivery is starting this upload's import (ledger entry STARTING since {since})")]
    StartInFlight { since: String },
}

/// Why a record failed. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the event's object key is not valid URL-encoded UTF-8 ({0}); S3 never sends such keys, check what produced this event")]
    UndecodableKey(String),
    #[error("invalid transform ID {id:?}: {problem}; put the file under {prefix}<transform-id>/ using an ID from `aws glue list-ml-transforms`")]
    InvalidTransformId {
        id: String,
        problem: &'static str,
        prefix: String,
    },
    #[error("the file is empty (0 bytes) and Glue rejects empty label files; upload the labeled CSV again")]
    EmptyFile,
    #[error("the file is {bytes} bytes, over the label-file quota of {max} bytes (MAX_LABEL_FILE_BYTES); split it into smaller files and upload those")]
    LabelFileTooLarge { bytes: u64, max: u64 },
    #[error("the label file is not what Glue accepts: {0}; fix it and upload it again (check it first with `import-labels validate`)")]
    InvalidLabelFile(String),
    #[error("user metadata {meta_key}={value:?} is neither true nor false; upload the file again with --metadata {meta_key}=true (replace all labels) or {meta_key}=false (append)")]
    BadReplaceFlag { meta_key: String, value: String },
    #[error("S3 {operation} was denied (403): grant the function s3:GetObject on the labels prefix (without s3:ListBucket S3 also answers 403 for a deleted object)")]
    S3AccessDenied { operation: &'static str },
    #[error("S3 {operation} failed: {message}; a retry may succeed")]
    S3 {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("ledger entry {entry} was deleted while this delivery used it; a retry makes it again (Lambda retries the event; or re-drive it with `import-labels import`)")]
    EntryGone { entry: String },
    #[error("Glue refused this upload's import earlier: {error} (ledger entry {entry}); fix the cause, then upload the file again or re-drive it with `import-labels import --force`")]
    RefusedEarlier { entry: String, error: String },
    #[error("the start of the import got no clear answer ({start_error}) and Glue's history could not be read to tell whether it began ({history_error}); the ledger entry stays marked and the next delivery or tick settles it")]
    StartUndecided {
        start_error: String,
        history_error: String,
    },
    #[error(
        "Glue {operation} failed with {code}: {message}; {}",
        crate::aws::glue::hint(code, message, transform_id)
    )]
    Glue {
        operation: &'static str,
        code: String,
        message: String,
        transform_id: String,
    },
}

impl ImportError {
    /// Whether invoking again with the same event can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ImportError::S3 { .. }
            | ImportError::StartUndecided { .. }
            | ImportError::EntryGone { .. } => true,
            ImportError::Ledger(e) => e.is_retryable(),
            ImportError::Glue { code, message, .. } => {
                crate::aws::glue::is_retryable(code, message)
            }
            _ => false,
        }
    }

    /// Glue refused a start because the transform's quota of concurrent ML task runs is in
    /// use: `ConcurrentRunsExceededException`, or `ResourceNumberLimitExceededException` whose
    /// message speaks of task runs (the same code also means a label file over 10 MB).
    pub fn is_quota_refusal(&self) -> bool {
        matches!(self, ImportError::Glue { code, message, .. } if crate::aws::glue::is_quota_refusal(code, message))
    }
}

fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A record the pipeline stops early, benignly or not. `?` converts both halves.
#[derive(Debug)]
pub enum NotImported {
    Skipped(SkipReason),
    Failed(ImportError),
}

impl From<SkipReason> for NotImported {
    fn from(reason: SkipReason) -> Self {
        NotImported::Skipped(reason)
    }
}

impl From<ImportError> for NotImported {
    fn from(error: ImportError) -> Self {
        NotImported::Failed(error)
    }
}
