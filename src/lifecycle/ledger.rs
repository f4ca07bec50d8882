//! The import ledger: one small JSON document per upload, in the upload's own bucket under
//! `LEDGER_PREFIX`, so every delivery of one upload (and every tick) meets the same entry.
//!
//! Entries live at `<prefix>entries/<transform-id>/<upload-id>.json`; `<upload-id>` is a hash of
//! the upload (bucket, key, ETag, version ID, Last-Modified). An entry is created with
//! `If-None-Match: *` and changed with `If-Match: <its ETag>` ([`PutMode`]), and every write
//! raises its `revision`, so no two writes carry the same bytes and of two writers that read
//! the same version only one can change it. An upload whose import has not ended also has an
//! empty marker at `<prefix>open/<transform-id>/<upload-id>`: the tick lists only those.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::http_status;

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

    /// Reads an entry, refusing one of a newer format.
    pub fn parse(bytes: &[u8]) -> Result<Entry, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(format) if format > u64::from(FORMAT) => {
                return Err(format!(
                    "format {format} is newer than this function's format {FORMAT}; deploy the newer function version that wrote it"
                ))
            }
            Some(_) => {}
            None => return Err("no \"format\" number: not a ledger entry".into()),
        }
        serde_json::from_value(value).map_err(|e| format!("not a ledger entry: {e}"))
    }
}

/// The upload ID in an entry key (`…/<upload-id>.json`).
pub fn upload_id(entry_key: &str) -> &str {
    let name = entry_key.rsplit('/').next().unwrap_or_default();
    name.strip_suffix(".json").unwrap_or(name)
}

/// The current time, to the millisecond.
pub fn now() -> DateTime<Utc> {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A token that names one writer's attempt (process, time, sequence).
pub fn attempt_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// How a write meets the current version: create only when absent, or replace only the
/// version read (its ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    Create,
    Update(String),
}

/// An entry as read or written, with the ETag that a change must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub etag: String,
    pub entry: Entry,
}

/// An open import's marker, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub key: String,
    pub transform_id: String,
    pub upload_id: String,
    pub last_modified: Option<DateTime<Utc>>,
}

/// Why the ledger could not be read or written. Every message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("another writer changed ledger entry s3://{bucket}/{key} first")]
    Conflict { bucket: String, key: String },
    #[error("ledger entry s3://{bucket}/{key} cannot be used ({problem}); it was left as it is: fix or delete it, then re-drive the upload with `import-labels import --force`")]
    Invalid {
        bucket: String,
        key: String,
        problem: String,
    },
    #[error("S3 {operation} of s3://{bucket}/{key} was denied (403): grant the function s3:GetObject, s3:PutObject, s3:PutObjectTagging and s3:DeleteObject on <bucket>/<LEDGER_PREFIX>* and s3:ListBucket for that prefix")]
    AccessDenied {
        operation: &'static str,
        bucket: String,
        key: String,
    },
    #[error("S3 {operation} of ledger s3://{bucket}/{key} failed: {message}; a retry may succeed")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
}

impl LedgerError {
    /// Whether trying again can help (a conflict is settled by reading the entry again).
    pub fn is_retryable(&self) -> bool {
        matches!(self, LedgerError::Conflict { .. } | LedgerError::S3 { .. })
    }
}

/// One bucket's ledger.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    prefix: &'a str,
}

impl<'a> Ledger<'a> {
    pub fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, prefix: &'a str) -> Self {
        Ledger { s3, bucket, prefix }
    }

    pub fn bucket(&self) -> &str {
        self.bucket
    }

    /// `<prefix>entries/<transform-id>/<upload-id>.json`
    pub fn entry_key(&self, transform_id: &str, upload_id: &str) -> String {
        format!("{}entries/{transform_id}/{upload_id}.json", self.prefix)
    }

    /// `<prefix>lanes/<transform-id>.json`
    pub fn lane_key(&self, transform_id: &str) -> String {
        format!("{}lanes/{transform_id}.json", self.prefix)
    }

    /// `<prefix>open/<transform-id>/<upload-id>`
    pub fn marker_key(&self, transform_id: &str, upload_id: &str) -> String {
        format!("{}open/{transform_id}/{upload_id}", self.prefix)
    }

    fn error<E: std::error::Error + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> LedgerError {
        let (bucket, key) = (self.bucket.to_string(), key.to_string());
        match http_status(&err) {
            Some(412) | Some(409) => LedgerError::Conflict { bucket, key },
            Some(403) => LedgerError::AccessDenied {
                operation,
                bucket,
                key,
            },
            _ => LedgerError::S3 {
                operation,
                bucket,
                key,
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }

    /// The document at `key` and its ETag, or `None` when there is none.
    pub(crate) async fn read(&self, key: &str) -> Result<Option<(String, Vec<u8>)>, LedgerError> {
        let out = match self
            .s3
            .get_object()
            .bucket(self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if http_status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(self.error("GetObject", key, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| LedgerError::S3 {
                operation: "GetObject",
                bucket: self.bucket.to_string(),
                key: key.to_string(),
                message: e.to_string(),
            })?
            .into_bytes();
        Ok(Some((etag, bytes.to_vec())))
    }

    /// The compare-and-set seam: writes `body` at `key` if `mode` holds (`If-None-Match: *`
    /// or `If-Match`), tagged finished when `finished`; the new ETag. A lost answer whose write
    /// took effect (the SDK's retry then meets 412) is recognised by reading the document
    /// back: the same bytes are this write (every write's bytes differ, see `revision`).
    pub(crate) async fn write(
        &self,
        key: &str,
        body: Vec<u8>,
        mode: &PutMode,
        finished: bool,
    ) -> Result<String, LedgerError> {
        let request = self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.clone()));
        let request = match mode {
            PutMode::Create => request.if_none_match("*"),
            PutMode::Update(etag) => request.if_match(etag),
        };
        let request = if finished {
            request.tagging(format!("{}={}", FINISHED_TAG.0, FINISHED_TAG.1))
        } else {
            request
        };
        match request.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) => match self.error("PutObject", key, e) {
                LedgerError::Conflict { .. } => match self.read(key).await? {
                    Some((etag, current)) if current == body => Ok(etag),
                    _ => Err(LedgerError::Conflict {
                        bucket: self.bucket.to_string(),
                        key: key.to_string(),
                    }),
                },
                other => Err(other),
            },
        }
    }

    /// The entry at `key`, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Stored>, LedgerError> {
        let Some((etag, bytes)) = self.read(key).await? else {
            return Ok(None);
        };
        let entry = Entry::parse(&bytes).map_err(|problem| self.invalid(key, problem))?;
        Ok(Some(Stored {
            key: key.to_string(),
            etag,
            entry,
        }))
    }

    pub(crate) fn invalid(&self, key: &str, problem: String) -> LedgerError {
        LedgerError::Invalid {
            bucket: self.bucket.to_string(),
            key: key.to_string(),
            problem,
        }
    }

    /// Writes `entry` (its revision raised first) at `key` if `mode` holds: compare-and-set.
    pub async fn put(
        &self,
        key: &str,
        mut entry: Entry,
        mode: PutMode,
    ) -> Result<Stored, LedgerError> {
        entry.revision += 1;
        let body =
            serde_json::to_vec_pretty(&entry).map_err(|e| self.invalid(key, e.to_string()))?;
        let etag = self.write(key, body, &mode, entry.state.is_final()).await?;
        Ok(Stored {
            key: key.to_string(),
            etag,
            entry,
        })
    }

    /// Opens the upload's marker (it may exist already: a delivery before this one).
    pub async fn open(&self, transform_id: &str, upload_id: &str) -> Result<(), LedgerError> {
        let key = self.marker_key(transform_id, upload_id);
        match self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from_static(b""))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match self.error("PutObject", &key, e) {
                LedgerError::Conflict { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Removes a marker: its import has ended (or it names no entry).
    pub async fn close(&self, marker_key: &str) -> Result<(), LedgerError> {
        self.s3
            .delete_object()
            .bucket(self.bucket)
            .key(marker_key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("DeleteObject", marker_key, e))
    }

    /// Every open import's marker, in key order.
    pub async fn open_markers(&self) -> Result<Vec<Marker>, LedgerError> {
        let prefix = format!("{}open/", self.prefix);
        let keys = self.list(&prefix).await?;
        Ok(keys
            .into_iter()
            .filter_map(|(key, last_modified)| {
                let (transform_id, upload_id) = key.strip_prefix(&prefix)?.split_once('/')?;
                Some(Marker {
                    transform_id: transform_id.to_string(),
                    upload_id: upload_id.to_string(),
                    key,
                    last_modified,
                })
            })
            .collect())
    }

    /// Every entry of a transform, oldest upload first; an entry that cannot be read is
    /// returned as its error.
    pub async fn entries(
        &self,
        transform_id: &str,
    ) -> Result<Vec<Result<Stored, LedgerError>>, LedgerError> {
        let prefix = format!("{}entries/{transform_id}/", self.prefix);
        let mut entries = Vec::new();
        for (key, _) in self.list(&prefix).await? {
            match self.get(&key).await {
                Ok(Some(stored)) => entries.push(Ok(stored)),
                Ok(None) => {}
                Err(e) => entries.push(Err(e)),
            }
        }
        // Upload time first; S3's Last-Modified has whole seconds, so ties go by the
        // entry's creation (to the millisecond).
        entries.sort_by_key(|e| {
            e.as_ref().ok().map(|s| {
                let created = s.entry.history.first().map(|t| t.at);
                (s.entry.uploaded_at, created)
            })
        });
        Ok(entries)
    }

    async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Option<DateTime<Utc>>)>, LedgerError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("ListObjectsV2", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| {
                let modified = o
                    .last_modified()
                    .and_then(|t| t.to_millis().ok())
                    .and_then(DateTime::from_timestamp_millis);
                o.key().map(|k| (k.to_string(), modified))
            }));
        }
        Ok(keys)
    }
}
