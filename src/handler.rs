//! The Lambda handler: every record of one event, concurrently, into one response.

use futures_util::{stream, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, Instrument};

use crate::importer::{self, ImportOptions};
use crate::intake::{self, NotS3Notification, Notification};
use crate::outcome::{Failed, Imported, Outcome, Skipped};
use crate::State;

/// The success response.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    pub imported: Vec<Imported>,
    pub skipped: Vec<Skipped>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    InvalidEvent(#[from] NotS3Notification),
    #[error("{}", describe_failures(.failed, .total))]
    RecordsFailed { failed: Vec<Failed>, total: usize },
}

impl InvocationError {
    /// Whether invoking again with the same event can help. Records imported before are
    /// not imported again (duplicate check), so a retry is always safe.
    pub fn is_retryable(&self) -> bool {
        match self {
            InvocationError::InvalidEvent(_) => false,
            InvocationError::RecordsFailed { failed, .. } => {
                failed.iter().any(|f| f.error.is_retryable())
            }
        }
    }
}

impl InvocationError {
    /// Lambda's `errorType`: whether a retry can help.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::InvalidEvent(_) => "InvalidEvent",
            _ if self.is_retryable() => "RetryableImportFailure",
            _ => "PermanentImportFailure",
        }
    }
}

impl From<InvocationError> for Diagnostic {
    fn from(e: InvocationError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

fn describe_failures(failed: &[Failed], total: &usize) -> String {
    let list: Vec<String> = failed
        .iter()
        .map(|f| format!("s3://{}/{}: {}", f.bucket, f.key, f.error))
        .collect();
    format!(
        "{} of {total} record(s) failed: {}",
        failed.len(),
        list.join(" | ")
    )
}

/// Handles one invocation.
pub async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Response, InvocationError> {
    let (payload, context) = event.into_parts();
    let request_id = context.request_id.as_str();
    let records = match intake::parse(payload) {
        Ok(Notification::Records(records)) => records,
        Ok(Notification::Test) => {
            info!(request_id, "s3:TestEvent: nothing to import");
            return Ok(Response::default());
        }
        Err(e) => {
            error!(request_id, "{e}");
            return Err(e.into());
        }
    };
    let outcomes: Vec<Outcome> = stream::iter(records)
        .map(|record| {
            let span =
                info_span!("record", request_id, bucket = %record.bucket, key = %record.raw_key);
            importer::process(state, record, ImportOptions::default()).instrument(span)
        })
        .buffered(state.config.max_concurrency)
        .collect()
        .await;
    respond(request_id, outcomes)
}

/// Logs each outcome once and turns them into the response, or the error naming every failure.
pub fn respond(request_id: &str, outcomes: Vec<Outcome>) -> Result<Response, InvocationError> {
    let total = outcomes.len();
    let mut response = Response::default();
    let mut failed = Vec::new();
    for outcome in outcomes {
        log(request_id, &outcome);
        match outcome {
            Outcome::Imported(i) => response.imported.push(i),
            Outcome::Skipped(s) => response.skipped.push(s),
            Outcome::Failed(f) => failed.push(f),
        }
    }
    if failed.is_empty() {
        Ok(response)
    } else {
        Err(InvocationError::RecordsFailed { failed, total })
    }
}

fn log(request_id: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Imported(i) => info!(
            request_id,
            bucket = i.bucket,
            key = i.key,
            transform_id = i.transform_id,
            task_run_id = i.task_run_id,
            replace_all_labels = i.replace_all_labels,
            "imported"
        ),
        Outcome::Skipped(s) => info!(
            request_id,
            bucket = s.bucket,
            key = s.key,
            transform_id = s.transform_id,
            reason = %s.reason,
            "skipped"
        ),
        Outcome::Failed(f) => error!(
            request_id,
            bucket = f.bucket,
            key = f.key,
            transform_id = f.transform_id,
            retryable = f.error.is_retryable(),
            error = %f.error,
            "failed"
        ),
    }
}
