//! The label object on S3: HeadObject pinned to the event's ETag, the preflight's read of the
//! file (streamed through the validator), and S3's errors as [`ImportError`]s.

use std::collections::HashMap;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use chrono::{DateTime, Utc};

use crate::http_status;
use crate::upload::outcome::ImportError;
use crate::upload::preflight::{self, Report};

/// What HeadObject tells of the label object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    /// The ETag, without its quotes.
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub size: u64,
    /// User metadata (keys lower-case, without `x-amz-meta-`).
    pub metadata: Option<HashMap<String, String>>,
    /// How many tags the object has (`None` when S3 did not say).
    pub tag_count: Option<i32>,
}

/// Why HeadObject found nothing to import.
#[derive(Debug)]
pub enum HeadError {
    /// 404: the object is gone.
    Gone,
    /// 412: the object was overwritten after the event.
    Stale,
    Failed(ImportError),
}

/// HeadObject, pinned to `etag` (the event's) when there is one.
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<Head, HeadError> {
    let out = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(etag.map(|etag| format!("\"{etag}\"")))
        .send()
        .await
        .map_err(|e| match http_status(&e) {
            Some(404) => HeadError::Gone,
            Some(412) => HeadError::Stale,
            _ => HeadError::Failed(error("HeadObject", e)),
        })?;
    Ok(Head {
        etag: out.e_tag().map(|e| e.trim_matches('"').to_string()),
        version_id: out.version_id().map(str::to_string),
        last_modified: out.last_modified().and_then(super::utc),
        size: out.content_length().unwrap_or_default().max(0) as u64,
        tag_count: out.tag_count(),
        metadata: out.metadata,
    })
}

/// Streams the object (pinned to `etag`) through the preflight validator, off the async
/// threads: memory stays flat whatever the file's size.
pub async fn validate_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    max_bytes: u64,
) -> Result<Report, ImportError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(etag.map(|e| format!("\"{e}\"")))
        .send()
        .await
        .map_err(|e| error("GetObject", e))?;
    let reader = tokio_util::io::SyncIoBridge::new(object.body.into_async_read());
    tokio::task::spawn_blocking(move || preflight::validate(reader, max_bytes))
        .await
        .map_err(|e| ImportError::S3 {
            operation: "GetObject",
            message: format!("the preflight did not finish: {e}"),
        })
}

/// An S3 error on the label object, with what to do about it.
pub fn error<E: std::error::Error + 'static>(
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
