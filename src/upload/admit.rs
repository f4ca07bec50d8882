//! Admitting one upload: HeadObject, the replace flag, the duplicate check (the receipt tag,
//! Glue's history) and the preflight — their requests sent side by side in the first round
//! trip ([`FirstLook`]), their answers weighed in that order.

use tracing::warn;

use crate::aws::documents::{LedgerError, Snapshot};
use crate::aws::glue::{self, Recent};
use crate::aws::s3::{self, Head, HeadError};
use crate::aws::tags;
use crate::lifecycle::entry::Upload;
use crate::lifecycle::ledger::Ledger;
use crate::upload::intake::Record;
use crate::upload::order::RecordOrder;
use crate::upload::outcome::{ImportError, NotImported, SkipReason};
use crate::upload::pipeline::ImportOptions;
use crate::upload::{metadata, preflight};
use crate::State;

/// A routed record, admitted: what its import needs.
pub(super) struct Admitted {
    pub upload: Upload,
    pub input_s3_path: String,
    pub replace_all_labels: bool,
    pub warnings: Vec<String>,
}

/// What the first round trip brings, its requests sent side by side: HeadObject, Glue's page of
/// the transform's recent imports (the duplicate check's and the lane's), the preflight's read
/// of the file and the transform's lane (unless a record before this one joins it first).
pub(super) struct FirstLook {
    head: Result<Head, NotImported>,
    recent: Result<Recent, ImportError>,
    preflight: Option<Result<preflight::Report, ImportError>>,
    pub lane: Option<Result<Snapshot, LedgerError>>,
}

pub(super) async fn first_look(
    state: &State,
    ledger: &Ledger<'_>,
    record: &Record,
    key: &str,
    transform_id: &str,
    order: &RecordOrder,
) -> FirstLook {
    let config = &state.config;
    let max = config.max_label_file_bytes;
    // An event that says the file is empty or too large leaves HeadObject to say so.
    let readable = record.size.is_none_or(|size| size > 0 && size <= max);
    let preflight = async {
        let (bucket, etag) = (&record.bucket, record.etag.as_deref());
        match config.preflight && readable {
            true => Some(s3::validate_object(&state.s3, bucket, key, etag, max).await),
            false => None,
        }
    };
    let lane = async {
        let lane_key = ledger.lane_key(transform_id);
        match order.has_predecessor() {
            true => None,
            false => Some(ledger.documents().snapshot(&lane_key).await),
        }
    };
    let (head, recent, preflight, lane) = tokio::join!(
        head_object(state, record, key),
        glue::recent_imports(state, transform_id),
        preflight,
        lane,
    );
    FirstLook {
        head,
        recent,
        preflight,
        lane,
    }
}

/// HeadObject → replace flag → duplicate check (the receipt tag, Glue's history) → preflight,
/// from the first look; the record's facts and Glue's page of recent imports.
pub(super) async fn admit(
    state: &State,
    record: &Record,
    key: &str,
    transform_id: &str,
    options: &ImportOptions,
    look: FirstLook,
) -> Result<(Admitted, Recent), NotImported> {
    let head = look.head?;
    let replace_all_labels = replace_flag(state, options, &head)?;
    let input_s3_path = format!("s3://{}/{key}", record.bucket);
    let upload = upload(record, key, &head);
    let mut recent = look.recent?;
    if !options.skip_duplicate_check {
        let receipt = receipt(state, &upload, &head).await;
        if let Some(duplicate) = already_imported(
            state,
            receipt,
            &mut recent,
            transform_id,
            &input_s3_path,
            record,
        )
        .await?
        {
            return Err(duplicate.into());
        }
    }
    let report = match look.preflight {
        Some(report) => Some(report?),
        None => preflight_late(state, record, key).await?,
    };
    let warnings = match report {
        Some(report) => preflight(report, record, key, transform_id)?,
        None => Vec::new(),
    };
    let admitted = Admitted {
        upload,
        input_s3_path,
        replace_all_labels,
        warnings,
    };
    Ok((admitted, recent))
}

/// `ReplaceAllLabels`: the operator's override, else the object's metadata.
fn replace_flag(state: &State, options: &ImportOptions, head: &Head) -> Result<bool, NotImported> {
    let config = &state.config;
    Ok(match options.replace_all_labels {
        Some(replace) => replace,
        None => metadata::replace_all_labels(
            head.metadata.as_ref(),
            &config.replace_metadata_key,
            config.default_replace_all_labels,
        )?,
    })
}

/// The task run the receipt tag names. S3 counts an object's tags only when it has some:
/// without a count there is no receipt, and the tags are not read.
async fn receipt(state: &State, upload: &Upload, head: &Head) -> Option<String> {
    match head.tag_count {
        Some(n) if n > 0 => {
            let version = upload.version_id.as_deref();
            tags::receipt(state, &upload.bucket, &upload.key, version).await
        }
        _ => None,
    }
}

/// The preflight's read when it was not sent beside HeadObject (the event's size said not
/// to) yet HeadObject let the file by.
async fn preflight_late(
    state: &State,
    record: &Record,
    key: &str,
) -> Result<Option<preflight::Report>, ImportError> {
    let config = &state.config;
    if !config.preflight {
        return Ok(None);
    }
    let (bucket, etag, max) = (
        &record.bucket,
        record.etag.as_deref(),
        config.max_label_file_bytes,
    );
    Ok(Some(
        s3::validate_object(&state.s3, bucket, key, etag, max).await?,
    ))
}

/// The upload as the ledger knows it: the object's ETag, version and Last-Modified as
/// HeadObject saw them (the same for every delivery), the event's time as its upload time.
fn upload(record: &Record, key: &str, head: &Head) -> Upload {
    Upload {
        bucket: record.bucket.clone(),
        key: key.to_string(),
        etag: head
            .etag
            .clone()
            .or_else(|| record.etag.clone())
            .unwrap_or_default(),
        version_id: head.version_id.clone(),
        last_modified: head.last_modified.map(|t| t.timestamp()),
        uploaded_at: record.event_time,
    }
}

/// HeadObject pinned to the event's ETag: the object's metadata, or why there is nothing to do.
async fn head_object(state: &State, record: &Record, key: &str) -> Result<Head, NotImported> {
    let config = &state.config;
    let head = s3::head(&state.s3, &record.bucket, key, record.etag.as_deref())
        .await
        .map_err(|e| match e {
            HeadError::Gone => SkipReason::ObjectGone.into(),
            HeadError::Stale => SkipReason::StaleEvent {
                etag: record.etag.clone().unwrap_or_default(),
            }
            .into(),
            HeadError::Failed(error) => NotImported::Failed(error),
        })?;
    if head.size == 0 {
        return Err(ImportError::EmptyFile.into());
    }
    if config.preflight && head.size > config.max_label_file_bytes {
        return Err(ImportError::LabelFileTooLarge {
            bytes: head.size,
            max: config.max_label_file_bytes,
        }
        .into());
    }
    Ok(head)
}

/// Whether this upload was imported already: the receipt tag, else Glue's own history — the
/// page of recent imports, and older pages until they reach back to the event.
async fn already_imported(
    state: &State,
    receipt: Option<String>,
    recent: &mut Recent,
    transform_id: &str,
    input_s3_path: &str,
    record: &Record,
) -> Result<Option<SkipReason>, ImportError> {
    if let Some(task_run_id) = receipt {
        return Ok(Some(SkipReason::ReceiptTag { task_run_id }));
    }
    let since = record.event_time;
    recent.reach_back(state, transform_id, since).await?;
    let run = recent.first_run_of(input_s3_path, since).cloned();
    Ok(run.map(|run| SkipReason::GlueHistory {
        task_run_id: run.task_run_id,
        status: run.status,
    }))
}

/// The preflight's word on the file: its warnings, or the first problem as the error.
fn preflight(
    report: preflight::Report,
    record: &Record,
    key: &str,
    transform_id: &str,
) -> Result<Vec<String>, ImportError> {
    let bucket = record.bucket.as_str();
    if let Some(summary) = report.summary() {
        return Err(ImportError::InvalidLabelFile(summary));
    }
    for warning in &report.warnings {
        warn!(bucket, key, transform_id, "label file: {warning}");
    }
    Ok(report.warnings)
}
