//! One record, start to finish: route → HeadObject → replace flag → duplicate check →
//! preflight → its place in the transform's lane ([`crate::lifecycle::lane`]) → ledger entry → start
//! (exactly once, see [`crate::lifecycle::start`]) when its turn has come, else QUEUED → receipt and
//! status tags.

use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::Tag;
use tracing::warn;

use crate::aws::glue;
use crate::aws::tags;
use crate::lifecycle::lane::{self, JoinOrder, Turn};
use crate::lifecycle::ledger::{self, Entry, ImportState, Ledger, LedgerError, PutMode, Upload};
use crate::lifecycle::start::{self, Forward};
use crate::upload::intake::{decode_key, Record};
use crate::upload::outcome::{
    Failed, ImportError, Imported, NotImported, Outcome, Queued, SkipReason, Skipped, RECEIPT_TAG,
};
use crate::upload::{metadata, preflight, route};
use crate::{http_status, State};

/// What an operator may override when importing by hand (the Lambda uses the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `ReplaceAllLabels` regardless of the object's metadata.
    pub replace_all_labels: Option<bool>,
    /// Start the import even when the receipt tag, Glue's history or the ledger shows one
    /// (a new ledger entry is made).
    pub skip_duplicate_check: bool,
}

/// Processes one record of an S3 notification.
pub async fn process(
    state: &State,
    record: Record,
    options: ImportOptions,
    order: JoinOrder,
) -> Outcome {
    let key = match decode_key(&record.raw_key) {
        Ok(key) => key,
        Err(e) => {
            let error = ImportError::UndecodableKey(e.to_string());
            let key = record.raw_key.clone();
            return not_imported(record, key, None, error.into());
        }
    };
    process_key(state, record, key, options, order).await
}

/// A record that repeats an earlier one of the same invocation (same bucket, key and eTag):
/// skipped, so one upload starts one import even when S3 delivered its event twice.
pub fn repeated(record: Record) -> Outcome {
    let key = decode_key(&record.raw_key).unwrap_or_else(|_| record.raw_key.clone());
    not_imported(record, key, None, SkipReason::RepeatedInEvent.into())
}

/// Processes one object whose key is already decoded (`record.raw_key` is not used).
pub async fn process_key(
    state: &State,
    record: Record,
    key: String,
    options: ImportOptions,
    order: JoinOrder,
) -> Outcome {
    if !record.is_object_created() {
        let reason = SkipReason::NotObjectCreated(record.event_name.clone());
        return not_imported(record, key, None, reason.into());
    }
    let transform_id = match route::transform_id(&state.config.labels_prefix, &key) {
        Ok(id) => id.to_string(),
        Err(why) => return not_imported(record, key, None, why),
    };
    match import(state, &record, &key, &transform_id, &options, order).await {
        Ok(outcome) => outcome,
        Err(why) => not_imported(record, key, Some(transform_id), why),
    }
}

fn not_imported(
    record: Record,
    key: String,
    transform_id: Option<String>,
    why: NotImported,
) -> Outcome {
    let bucket = record.bucket;
    match why {
        NotImported::Skipped(reason) => Outcome::Skipped(Skipped {
            bucket,
            key,
            transform_id,
            reason,
        }),
        NotImported::Failed(error) => Outcome::Failed(Failed {
            bucket,
            key,
            transform_id,
            error,
        }),
    }
}

/// HeadObject → replace flag → duplicate check → preflight → lane, ledger entry and start →
/// tags, for a routed record: imported, or queued for its turn.
async fn import(
    state: &State,
    record: &Record,
    key: &str,
    transform_id: &str,
    options: &ImportOptions,
    order: JoinOrder,
) -> Result<Outcome, NotImported> {
    let config = &state.config;
    let bucket = record.bucket.as_str();
    let head = head_object(state, record, key).await?;
    let replace_all_labels = match options.replace_all_labels {
        Some(replace) => replace,
        None => metadata::replace_all_labels(
            head.metadata(),
            &config.replace_metadata_key,
            config.default_replace_all_labels,
        )?,
    };
    let input_s3_path = format!("s3://{bucket}/{key}");
    let upload = upload(record, key, &head);
    let version = upload.version_id.as_deref();
    let tags = tags::read(state, bucket, key, version).await;
    if !options.skip_duplicate_check {
        if let Some(duplicate) =
            already_imported(state, tags.as_deref(), transform_id, &input_s3_path, record).await?
        {
            return Err(duplicate.into());
        }
    }
    let warnings = if config.preflight {
        preflight(state, record, key, transform_id).await?
    } else {
        Vec::new()
    };

    let ledger = Ledger::new(&state.s3, bucket, &config.ledger_prefix);
    let salt = options.skip_duplicate_check.then(ledger::attempt_token);
    let upload_id = upload.id(salt.as_deref());
    let entry_key = ledger.entry_key(transform_id, &upload_id);
    let entry = Entry::new(
        &upload,
        transform_id,
        &input_s3_path,
        replace_all_labels,
        ImportState::Queued,
        ledger::now(),
    );
    let forward = start_in_lane(state, &ledger, &upload_id, &entry_key, entry, order).await?;
    // The tags follow the entry as this delivery left it.
    if let Some((status, task_run_id)) = forward.shown() {
        let status = status.as_str();
        if let Err(problem) =
            tags::write(state, bucket, key, version, tags, status, task_run_id).await
        {
            warn!(
                bucket,
                key, task_run_id, status, "receipt and status tags not written: {problem}"
            );
        }
    }
    let ledger_entry = format!("s3://{bucket}/{entry_key}");
    let reason = match forward {
        Forward::Started { task_run_id, .. } => {
            return Ok(Outcome::Imported(Imported {
                bucket: bucket.to_string(),
                key: key.to_string(),
                transform_id: transform_id.to_string(),
                input_s3_path,
                replace_all_labels,
                task_run_id,
                ledger_entry,
                warnings,
            }))
        }
        Forward::Queued { error, held } => match held.waits_for(&error) {
            Some(reason) => reason,
            None => return Err(error.into()),
        },
        Forward::Waiting { reason } => reason,
        Forward::Refused { error } => return Err(error.into()),
        Forward::Lost => {
            return Err(SkipReason::LedgerEntry {
                state: "changed by another delivery".into(),
                task_run_id: None,
            }
            .into())
        }
    };
    Ok(Outcome::Queued(Queued {
        bucket: bucket.to_string(),
        key: key.to_string(),
        transform_id: transform_id.to_string(),
        input_s3_path,
        replace_all_labels,
        reason,
        ledger_entry,
    }))
}

/// The upload as the ledger knows it: the object's ETag, version and Last-Modified as
/// HeadObject saw them (the same for every delivery), the event's time as its upload time.
fn upload(record: &Record, key: &str, head: &HeadObjectOutput) -> Upload {
    Upload {
        bucket: record.bucket.clone(),
        key: key.to_string(),
        etag: head
            .e_tag()
            .map(|e| e.trim_matches('"').to_string())
            .or_else(|| record.etag.clone())
            .unwrap_or_default(),
        version_id: head.version_id().map(str::to_string),
        last_modified: head.last_modified().map(|t| t.secs()),
        uploaded_at: record.event_time,
    }
}

/// Opens the upload's marker, takes its place in the transform's lane and, when its turn has
/// come, creates its ledger entry marked and starts the import; else creates the entry QUEUED.
/// When a delivery before this one made the entry, does what the entry calls for. Where that
/// left the entry.
async fn start_in_lane(
    state: &State,
    ledger: &Ledger<'_>,
    upload_id: &str,
    entry_key: &str,
    mut entry: Entry,
    mut order: JoinOrder,
) -> Result<Forward, NotImported> {
    ledger
        .open(&entry.transform_id, upload_id)
        .await
        .map_err(ImportError::from)?;
    order.wait().await;
    let turn = lane::join(state, ledger, upload_id, &entry).await?;
    let mut forward = match turn {
        Turn::Go => {
            entry = Entry {
                history: Vec::new(),
                ..entry
            };
            let mode = PutMode::Create;
            start::take_forward(state, ledger, entry_key, entry, mode, start::ATTEMPTS).await?
        }
        Turn::Wait(reason) => wait(ledger, entry_key, entry, reason, PutMode::Create).await?,
    };
    // The next record of this transform in the event joins once this one has started (or
    // waits): Glue sees the starts in record order, and a waiting record can name the task
    // run ahead of it.
    order.done();
    // Lost: another writer changed the entry first. Read what it holds and act on that; a
    // second loss means the upload is in other hands.
    for _ in 0..2 {
        if !matches!(forward, Forward::Lost) {
            break;
        }
        forward = meet_existing(state, ledger, upload_id, entry_key).await?;
    }
    Ok(forward)
}

/// Records that the upload waits for its turn (QUEUED, with the reason).
async fn wait(
    ledger: &Ledger<'_>,
    entry_key: &str,
    mut entry: Entry,
    reason: String,
    mode: PutMode,
) -> Result<Forward, ImportError> {
    entry.last_error = Some(reason.clone());
    match ledger.put(entry_key, entry, mode).await {
        Ok(_) => Ok(Forward::Waiting { reason }),
        Err(LedgerError::Conflict { .. }) => Ok(Forward::Lost),
        Err(e) => Err(e.into()),
    }
}

/// An entry a delivery before this one made: a duplicate to report, a refusal to report
/// again, a waiting upload whose turn may have come, or an abandoned start to resolve.
async fn meet_existing(
    state: &State,
    ledger: &Ledger<'_>,
    upload_id: &str,
    entry_key: &str,
) -> Result<Forward, NotImported> {
    let Some(stored) = ledger.get(entry_key).await.map_err(ImportError::from)? else {
        return Ok(Forward::Lost);
    };
    let entry = &stored.entry;
    if entry.start_in_flight() {
        if !entry.mark_expired(state.config.start_lease, ledger::now()) {
            let since = entry.marked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            return Err(SkipReason::StartInFlight { since }.into());
        }
        return Ok(start::resume(state, ledger, stored, start::ATTEMPTS).await?);
    }
    if entry.state == ImportState::Queued {
        return match lane::join(state, ledger, upload_id, entry).await? {
            Turn::Go => {
                let mode = PutMode::Update(stored.etag.clone());
                let entry = stored.entry;
                Ok(
                    start::take_forward(state, ledger, entry_key, entry, mode, start::ATTEMPTS)
                        .await?,
                )
            }
            Turn::Wait(reason) => Ok(Forward::Waiting { reason }),
        };
    }
    if entry.state == ImportState::Failed && entry.task_run_id.is_none() {
        return Err(ImportError::RefusedEarlier {
            entry: format!("s3://{}/{entry_key}", ledger.bucket()),
            error: entry.error_string.clone().unwrap_or_default(),
        }
        .into());
    }
    Err(SkipReason::LedgerEntry {
        state: entry.state.to_string(),
        task_run_id: entry.task_run_id.clone(),
    }
    .into())
}

/// HeadObject pinned to the event's ETag: the object's metadata, or why there is nothing to do.
async fn head_object(
    state: &State,
    record: &Record,
    key: &str,
) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput, NotImported> {
    let config = &state.config;
    let head = state
        .s3
        .head_object()
        .bucket(&record.bucket)
        .key(key)
        .set_if_match(record.etag.as_ref().map(|etag| format!("\"{etag}\"")))
        .send()
        .await
        .map_err(|e| match http_status(&e) {
            Some(404) => SkipReason::ObjectGone.into(),
            Some(412) => SkipReason::StaleEvent {
                etag: record.etag.clone().unwrap_or_default(),
            }
            .into(),
            _ => NotImported::Failed(s3_error("HeadObject", e)),
        })?;
    let size = head.content_length().unwrap_or_default();
    if size == 0 {
        return Err(ImportError::EmptyFile.into());
    }
    if config.preflight && size as u64 > config.max_label_file_bytes {
        return Err(ImportError::LabelFileTooLarge {
            bytes: size as u64,
            max: config.max_label_file_bytes,
        }
        .into());
    }
    Ok(head)
}

/// Whether this upload was imported already: the receipt tag, else Glue's own history.
async fn already_imported(
    state: &State,
    tags: Option<&[Tag]>,
    transform_id: &str,
    input_s3_path: &str,
    record: &Record,
) -> Result<Option<SkipReason>, ImportError> {
    if let Some(receipt) = tags.into_iter().flatten().find(|t| t.key() == RECEIPT_TAG) {
        return Ok(Some(SkipReason::ReceiptTag {
            task_run_id: receipt.value().to_string(),
        }));
    }
    let run = glue::import_run_since(state, transform_id, input_s3_path, record.event_time).await?;
    Ok(run.map(|run| SkipReason::GlueHistory {
        task_run_id: run.task_run_id().unwrap_or_default().to_string(),
        status: run.status().map(|s| s.as_str()).unwrap_or("?").to_string(),
    }))
}

/// Streams the file through the preflight; its warnings, or the first problem as the error.
async fn preflight(
    state: &State,
    record: &Record,
    key: &str,
    transform_id: &str,
) -> Result<Vec<String>, ImportError> {
    let bucket = record.bucket.as_str();
    let report = preflight::validate_object(
        &state.s3,
        bucket,
        key,
        record.etag.as_deref(),
        state.config.max_label_file_bytes,
    )
    .await?;
    if let Some(summary) = report.summary() {
        return Err(ImportError::InvalidLabelFile(summary));
    }
    for warning in &report.warnings {
        warn!(bucket, key, transform_id, "label file: {warning}");
    }
    Ok(report.warnings)
}

pub(crate) fn s3_error<E: std::error::Error + 'static>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> ImportError {
    match http_status(&err) {
        Some(403) => ImportError::S3AccessDenied { operation },
        _ => ImportError::S3 {
            operation,
            message: DisplayErrorContext(&err).to_string(),
        },
    }
}
