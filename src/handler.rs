//! The Lambda handler: dispatches each invocation — the uploads of one event, concurrently,
//! into one response; or the scheduled tick.
//!
//! A direct event (S3 notification, EventBridge) succeeds or fails as a whole, so Lambda's
//! retries and on-failure destination apply to it. An SQS batch always succeeds and names the
//! messages to deliver again (`batchItemFailures`, with `ReportBatchItemFailures`). A tick
//! always succeeds with its report: what it could not do stays for the next tick.

use std::collections::{HashMap, HashSet, VecDeque};

use aws_lambda_events::sqs::SqsBatchResponse;
use futures_util::{stream, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, Instrument};

use crate::lifecycle::tick::{self, TickReport};
use crate::metrics::Metrics;
use crate::upload::intake::{
    self, decode_key, Message, Notification, Payload, Record, UnknownEvent,
};
use crate::upload::order::RecordOrder;
use crate::upload::outcome::{Failed, Imported, Outcome, Queued, Skipped};
use crate::upload::pipeline::{self, ImportOptions};
use crate::upload::route;
use crate::State;

/// The success response: a report for a direct event, the failed messages for an SQS batch,
/// what a tick did.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Report(Report),
    Batch(SqsBatchResponse),
    Tick { tick: TickReport },
}

/// What happened to the records of a direct event.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub imported: Vec<Imported>,
    /// Waiting for their turn (their transform's lane, or Glue's quota): not a failure.
    pub queued: Vec<Queued>,
    pub skipped: Vec<Skipped>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    InvalidEvent(#[from] UnknownEvent),
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

/// Handles one invocation, and writes its metrics line.
pub async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Response, InvocationError> {
    let (payload, context) = event.into_parts();
    let mut metrics = Metrics::default();
    let result = dispatch(state, &context.request_id, payload, &mut metrics).await;
    metrics.emit(&state.config);
    result
}

async fn dispatch(
    state: &State,
    request_id: &str,
    payload: Value,
    metrics: &mut Metrics,
) -> Result<Response, InvocationError> {
    match intake::parse(payload) {
        Ok(Payload::Event(Notification::Records(records))) => {
            let work = records.into_iter().map(|r| ((), r)).collect();
            let outcomes = process_all(state, request_id, work).await;
            outcomes.iter().for_each(|(_, o)| metrics.record(o));
            respond(request_id, outcomes.into_iter().map(|(_, o)| o).collect())
                .map(Response::Report)
        }
        Ok(Payload::Event(Notification::Test)) => {
            info!(request_id, "s3:TestEvent: nothing to import");
            Ok(Response::Report(Report::default()))
        }
        Ok(Payload::Batch(messages)) => Ok(Response::Batch(
            batch(state, request_id, messages, metrics).await,
        )),
        Ok(Payload::Tick) => Ok(Response::Tick {
            tick: tick::run(state, metrics).await,
        }),
        Err(e) => {
            error!(request_id, "{e}");
            metrics.invalid_event();
            Err(e.into())
        }
    }
}

/// Processes the records of every message together; a message fails when its body is none of
/// the known shapes or one of its records failed.
async fn batch(
    state: &State,
    request_id: &str,
    messages: Vec<Message>,
    metrics: &mut Metrics,
) -> SqsBatchResponse {
    let mut failed = vec![false; messages.len()];
    let mut ids = Vec::with_capacity(messages.len());
    let mut work = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let message_id = message.message_id.as_str();
        match message.body {
            Ok(Notification::Records(records)) => work.extend(records.into_iter().map(|r| (i, r))),
            Ok(Notification::Test) => {
                info!(request_id, message_id, "s3:TestEvent: nothing to import")
            }
            Err(e) => {
                error!(request_id, message_id, "{e}");
                metrics.invalid_event();
                failed[i] = true;
            }
        }
        ids.push(message.message_id);
    }
    for (i, outcome) in process_all(state, request_id, work).await {
        log(request_id, Some(&ids[i]), &outcome);
        metrics.record(&outcome);
        failed[i] |= matches!(outcome, Outcome::Failed(_));
    }
    let messages = ids.len();
    let mut response = SqsBatchResponse::default();
    response.set_failures(
        ids.into_iter()
            .zip(failed)
            .filter(|(_, f)| *f)
            .map(|(id, _)| id),
    );
    let failed = response.batch_item_failures.len();
    info!(
        request_id,
        messages, failed, "batch done: {failed} of {messages} message(s) to deliver again"
    );
    response
}

/// Runs the records (each tagged with where it came from) with bounded concurrency, in order;
/// the records of one transform join its lane in record order. A record repeating an earlier
/// one of the invocation (same bucket, key and eTag) is skipped.
async fn process_all<T>(
    state: &State,
    request_id: &str,
    work: Vec<(T, Record)>,
) -> Vec<(T, Outcome)> {
    let mut seen = HashSet::new();
    let mut orders = record_orders(state, &work);
    stream::iter(work)
        .map(|(tag, record)| {
            let order = orders.pop_front().unwrap_or_default();
            let first = match &record.etag {
                Some(etag) => {
                    seen.insert((record.bucket.clone(), record.raw_key.clone(), etag.clone()))
                }
                None => true,
            };
            let span =
                info_span!("record", request_id, bucket = %record.bucket, key = %record.raw_key);
            async move {
                let outcome = if first {
                    pipeline::process(state, record, ImportOptions::default(), order).await
                } else {
                    pipeline::repeated(record)
                };
                (tag, outcome)
            }
            .instrument(span)
        })
        .buffered(state.config.max_concurrency)
        .collect()
        .await
}

/// One [`RecordOrder`] per record: each waits for the record before it in its lane (bucket
/// and transform); records that route nowhere wait for nothing.
fn record_orders<T>(state: &State, work: &[(T, Record)]) -> VecDeque<RecordOrder> {
    let lane_of = |record: &Record| {
        let key = decode_key(&record.raw_key).ok()?;
        let transform = route::transform_id(&state.config.labels_prefix, &key).ok()?;
        Some((record.bucket.clone(), transform.to_string()))
    };
    let mut last = HashMap::new();
    work.iter()
        .map(|(_, record)| match lane_of(record) {
            Some(lane) => {
                let (order, predecessor) = RecordOrder::after(last.remove(&lane));
                last.insert(lane, predecessor);
                order
            }
            None => RecordOrder::default(),
        })
        .collect()
}

/// Logs each outcome once and turns them into the response, or the error naming every failure.
pub fn respond(request_id: &str, outcomes: Vec<Outcome>) -> Result<Report, InvocationError> {
    let total = outcomes.len();
    let mut response = Report::default();
    let mut failed = Vec::new();
    for outcome in outcomes {
        log(request_id, None, &outcome);
        match outcome {
            Outcome::Imported(i) => response.imported.push(i),
            Outcome::Queued(q) => response.queued.push(q),
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

fn log(request_id: &str, message_id: Option<&str>, outcome: &Outcome) {
    match outcome {
        Outcome::Imported(i) => info!(
            request_id,
            message_id,
            bucket = i.bucket,
            key = i.key,
            transform_id = i.transform_id,
            task_run_id = i.task_run_id,
            replace_all_labels = i.replace_all_labels,
            ledger_entry = i.ledger_entry,
            "imported"
        ),
        Outcome::Queued(q) => info!(
            request_id,
            message_id,
            bucket = q.bucket,
            key = q.key,
            transform_id = q.transform_id,
            replace_all_labels = q.replace_all_labels,
            ledger_entry = q.ledger_entry,
            reason = q.reason,
            "queued"
        ),
        Outcome::Skipped(s) => info!(
            request_id,
            message_id,
            bucket = s.bucket,
            key = s.key,
            transform_id = s.transform_id,
            reason = %s.reason,
            "skipped"
        ),
        Outcome::Failed(f) => error!(
            request_id,
            message_id,
            bucket = f.bucket,
            key = f.key,
            transform_id = f.transform_id,
            retryable = f.error.is_retryable(),
            error = %f.error,
            "failed"
        ),
    }
}
