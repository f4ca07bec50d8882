//! One record, start to finish: route → HeadObject → replace flag → duplicate check →
//! preflight → StartImportLabelsTaskRun → receipt tag.

use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{TaskRun, TaskRunFilterCriteria, TaskType};
use aws_sdk_s3::types::{Tag, Tagging};
use tracing::warn;

use crate::intake::{decode_key, Record};
use crate::outcome::{
    Failed, ImportError, Imported, NotImported, Outcome, SkipReason, Skipped, RECEIPT_TAG,
};
use crate::{metadata, preflight, route, State};

/// What an operator may override when importing by hand (the Lambda uses the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `ReplaceAllLabels` regardless of the object's metadata.
    pub replace_all_labels: Option<bool>,
    /// Start the import even when the receipt tag or Glue's history shows one.
    pub skip_duplicate_check: bool,
}

/// Processes one record of an S3 notification.
pub async fn process(state: &State, record: Record, options: ImportOptions) -> Outcome {
    let key = match decode_key(&record.raw_key) {
        Ok(key) => key,
        Err(e) => {
            let error = ImportError::UndecodableKey(e.to_string());
            let key = record.raw_key.clone();
            return not_imported(record, key, None, error.into());
        }
    };
    process_key(state, record, key, options).await
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
) -> Outcome {
    if !record.is_object_created() {
        let reason = SkipReason::NotObjectCreated(record.event_name.clone());
        return not_imported(record, key, None, reason.into());
    }
    let transform_id = match route::transform_id(&state.config.labels_prefix, &key) {
        Ok(id) => id.to_string(),
        Err(why) => return not_imported(record, key, None, why),
    };
    match import(state, &record, &key, &transform_id, &options).await {
        Ok(imported) => Outcome::Imported(imported),
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

/// HeadObject → replace flag → duplicate check → preflight → start → receipt, for a routed record.
async fn import(
    state: &State,
    record: &Record,
    key: &str,
    transform_id: &str,
    options: &ImportOptions,
) -> Result<Imported, NotImported> {
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
    let tags = existing_tags(state, bucket, key).await;
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

    let started = state
        .glue
        .start_import_labels_task_run()
        .transform_id(transform_id)
        .input_s3_path(&input_s3_path)
        .replace_all_labels(replace_all_labels)
        .send()
        .await
        .map_err(|e| glue_error("StartImportLabelsTaskRun", transform_id, e))?;
    let task_run_id = started.task_run_id().unwrap_or_default().to_string();

    if let Err(problem) = write_receipt(state, bucket, key, tags, &task_run_id).await {
        warn!(
            bucket,
            key, task_run_id, "receipt tag not written: {problem}"
        );
    }
    Ok(Imported {
        bucket: bucket.to_string(),
        key: key.to_string(),
        transform_id: transform_id.to_string(),
        input_s3_path,
        replace_all_labels,
        task_run_id,
        warnings,
    })
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
        .map_err(|e| match status(&e) {
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
    let run = earlier_run(state, transform_id, input_s3_path, record).await?;
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

/// The object's tags, or `None` (with a warning) when they cannot be read.
async fn existing_tags(state: &State, bucket: &str, key: &str) -> Option<Vec<Tag>> {
    match state
        .s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => Some(out.tag_set),
        Err(e) => {
            warn!(
                bucket,
                key,
                "cannot read the object's tags, relying on Glue's history alone: {}",
                DisplayErrorContext(&e)
            );
            None
        }
    }
}

/// An IMPORT_LABELS run of this file that started after the event, from Glue's own history.
async fn earlier_run(
    state: &State,
    transform_id: &str,
    input_s3_path: &str,
    record: &Record,
) -> Result<Option<TaskRun>, ImportError> {
    let filter = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::ImportLabels)
        .started_after(DateTime::from_millis(record.event_time.timestamp_millis()))
        .build();
    let mut pages = state
        .glue
        .get_ml_task_runs()
        .transform_id(transform_id)
        .filter(filter)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| glue_error("GetMLTaskRuns", transform_id, e))?;
        let same_file = |run: &&TaskRun| {
            run.properties()
                .and_then(|p| p.import_labels_task_run_properties())
                .and_then(|p| p.input_s3_path())
                == Some(input_s3_path)
        };
        if let Some(run) = page.task_runs().iter().find(same_file) {
            return Ok(Some(run.clone()));
        }
    }
    Ok(None)
}

/// Adds the receipt tag (replacing an earlier one), keeping the object's other tags.
async fn write_receipt(
    state: &State,
    bucket: &str,
    key: &str,
    tags: Option<Vec<Tag>>,
    task_run_id: &str,
) -> Result<(), String> {
    let mut tags =
        tags.ok_or("the existing tags could not be read, and writing would drop them")?;
    tags.push(
        Tag::builder()
            .key(RECEIPT_TAG)
            .value(task_run_id)
            .build()
            .map_err(|e| e.to_string())?,
    );
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| e.to_string())?;
    state
        .s3
        .put_object_tagging()
        .bucket(bucket)
        .key(key)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    Ok(())
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

pub(crate) fn s3_error<E: std::error::Error + 'static>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> ImportError {
    match status(&err) {
        Some(403) => ImportError::S3AccessDenied { operation },
        _ => ImportError::S3 {
            operation,
            message: DisplayErrorContext(&err).to_string(),
        },
    }
}

fn glue_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    transform_id: &str,
    err: SdkError<E, HttpResponse>,
) -> ImportError {
    let (code, message) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {}", service.raw().status().as_u16()));
            (code, e.message().unwrap_or("no message").to_string())
        }
        SdkError::ConstructionFailure(_) => (
            "RequestConstruction".to_string(),
            DisplayErrorContext(&err).to_string(),
        ),
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            "no answer within the SDK timeouts".to_string(),
        ),
        _ => (
            "NetworkError".to_string(),
            DisplayErrorContext(&err).to_string(),
        ),
    };
    ImportError::Glue {
        operation,
        code,
        message,
        transform_id: transform_id.to_string(),
    }
}
