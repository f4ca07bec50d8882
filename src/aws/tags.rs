//! What a person sees on the label object: the receipt tag `glue-import-task-run-id` and the
//! status tag `glue-import-status`, beside the object's other tags. Best effort: an object has
//! at most 10 tags, and the ledger is the truth.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{Tag, Tagging};
use tracing::warn;

use crate::upload::outcome::{RECEIPT_TAG, STATUS_TAG};
use crate::State;

/// An object's tags as read, to be kept by the next write.
#[derive(Debug, Clone)]
pub struct Existing(Vec<Tag>);

/// The object's tags, or `None` (with a warning) when they cannot be read.
pub async fn read(
    state: &State,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Option<Existing> {
    match state
        .s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .send()
        .await
    {
        Ok(out) => Some(Existing(out.tag_set)),
        Err(e) => {
            warn!(
                bucket,
                key,
                "cannot read the object's tags: {}",
                DisplayErrorContext(&e)
            );
            None
        }
    }
}

/// The task run named by the object's receipt tag, if it carries one (`None`, with a warning,
/// when the tags cannot be read).
pub async fn receipt(
    state: &State,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Option<String> {
    read(state, bucket, key, version_id)
        .await?
        .0
        .into_iter()
        .find(|t| t.key() == RECEIPT_TAG)
        .map(|t| t.value().to_string())
}

/// Sets the status tag (and the receipt tag, when a task run is known), keeping every other
/// tag of `existing`. Never writes when the existing tags could not be read: that would drop them.
pub async fn write(
    state: &State,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    existing: Option<Existing>,
    status: &str,
    task_run_id: Option<&str>,
) -> Result<(), String> {
    let Existing(existing) =
        existing.ok_or("the existing tags could not be read, and writing would drop them")?;
    let mut tags: Vec<Tag> = existing
        .into_iter()
        .filter(|t| t.key() != STATUS_TAG && !(task_run_id.is_some() && t.key() == RECEIPT_TAG))
        .collect();
    let mut add = |key: &str, value: &str| -> Result<(), String> {
        tags.push(
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| e.to_string())?,
        );
        Ok(())
    };
    if let Some(id) = task_run_id {
        add(RECEIPT_TAG, id)?;
    }
    add(STATUS_TAG, status)?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| e.to_string())?;
    state
        .s3
        .put_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    Ok(())
}

/// Sets the status (and the receipt, once a run is known) on the object, keeping its other
/// tags: those read before (`Some`, read beside an earlier request), else read now. Logs —
/// never fails — when it cannot: the ledger is the truth.
pub async fn follow(
    state: &State,
    (bucket, key, version_id): (&str, &str, Option<&str>),
    read_before: Option<Option<Existing>>,
    status: &str,
    task_run_id: Option<&str>,
) {
    let existing = match read_before {
        Some(existing) => existing,
        None => read(state, bucket, key, version_id).await,
    };
    if let Err(problem) = write(
        state,
        bucket,
        key,
        version_id,
        existing,
        status,
        task_run_id,
    )
    .await
    {
        warn!(
            bucket,
            key, task_run_id, status, "receipt and status tags not written: {problem}"
        );
    }
}

/// Reads the tags and sets the status, logging (not failing) when it cannot.
pub async fn set_status(
    state: &State,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    status: &str,
    task_run_id: Option<&str>,
) {
    follow(state, (bucket, key, version_id), None, status, task_run_id).await;
}
