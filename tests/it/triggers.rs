//! EventBridge and SQS invocations on the real SDK clients, answered by aws-smithy-mocks: the
//! same per-file behaviour as a direct S3 notification, and for SQS exactly the failed messages
//! in `batchItemFailures`.

use crate::mocks::*;
use aws_sdk_glue::operation::get_ml_task_runs::GetMlTaskRunsInput;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_smithy_mocks::mock;
use glue_label_importer::handler::handle;
use glue_label_importer::{Config, State};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// `time` of the EventBridge events below, in milliseconds.
const EB_MILLIS: i64 = 1_795_946_401_000;

fn eventbridge(detail_type: &str, raw_key: &str, etag: &str) -> Value {
    json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type, "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-29T10:00:01Z", "region": "us-east-1", "resources": ["arn:aws:s3:::bkt"],
        "detail": {"version": "0", "bucket": {"name": "bkt"},
            "object": {"key": raw_key, "size": 120, "etag": etag,
                       "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
            "source-ip-address": "1.2.3.4", "reason": "PutObject"}})
}

/// An SQS event with these (messageId, body) messages.
fn sqs(messages: &[(&str, String)]) -> LambdaEvent<Value> {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({"messageId": id, "receiptHandle": format!("AQEB{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795946400183",
                               "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1795946400185"},
                "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:labels",
                "awsRegion": "us-east-1"})
        })
        .collect();
    LambdaEvent::new(json!({ "Records": records }), Context::default())
}

/// An S3 notification with these records, as an SQS message body.
fn notification(records: Vec<Value>) -> String {
    json!({ "Records": records }).to_string()
}

fn test_event() -> String {
    json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-29T09:59:58.120Z",
           "Bucket": "bkt", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"})
    .to_string()
}

async fn response(state: &State, ev: LambdaEvent<Value>) -> Value {
    serde_json::to_value(handle(state, ev).await.unwrap()).unwrap()
}

#[tokio::test]
async fn an_eventbridge_event_imports_with_the_exact_glue_request() {
    let key = format!("labels/{TFM}/round 1 é a+b.csv");
    let path = format!("s3://bkt/{key}");
    let h = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| {
            r.bucket() == Some("bkt")
                && r.key() == Some(key.as_str())
                && r.if_match() == Some("\"etag-eb\"")
        })
        .then_output(|| {
            HeadObjectOutput::builder()
                .content_length(120)
                .metadata("replace-all-labels", "true")
                .build()
        });
    let (t, p) = (tags(&[]), put_tags());
    // The event's `time` bounds the duplicate check, as eventTime does for notifications.
    let hist = mock!(aws_sdk_glue::Client::get_ml_task_runs)
        .match_requests(|r: &GetMlTaskRunsInput| {
            r.filter().and_then(|f| f.started_after()) == Some(&DateTime::from_millis(EB_MILLIS))
        })
        .then_output(|| {
            aws_sdk_glue::operation::get_ml_task_runs::GetMlTaskRunsOutput::builder().build()
        });
    let start = start_exact(TFM, &path, true, "tsk-eb");
    let lane = active_imports(vec![]);
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &lane, &start]);

    // EventBridge keys are URL-encoded like notification keys (docs/design/decisions.md, "Events").
    let raw_key = format!("labels/{TFM}/round+1+%C3%A9+a%2Bb.csv");
    let ev = LambdaEvent::new(
        eventbridge("Object Created", &raw_key, "etag-eb"),
        Context::default(),
    );
    let entry = entry_key(&format!("labels/{TFM}/round 1 é a+b.csv"), "etag-eb");
    assert_eq!(
        response(&state, ev).await,
        json!({"imported": [{"bucket": "bkt", "key": format!("labels/{TFM}/round 1 é a+b.csv"),
                             "transformId": TFM, "inputS3Path": path, "replaceAllLabels": true,
                             "taskRunId": "tsk-eb", "ledgerEntry": format!("s3://bkt/{entry}")}],
               "queued": [], "skipped": []})
    );
    assert_eq!(
        (
            h.num_calls(),
            hist.num_calls(),
            lane.num_calls(),
            start.num_calls()
        ),
        // One page of recent imports answers the duplicate check (bounded by the event's time
        // on the page) and the lane: the history query by time is not sent.
        (1, 0, 1, 1)
    );
}

#[tokio::test]
async fn an_eventbridge_event_that_is_not_a_creation_is_skipped_without_calling_aws() {
    let start = any_start();
    let state = state(Config::default(), &[], &[&start]);
    let ev = LambdaEvent::new(
        eventbridge("Object Deleted", &format!("labels/{TFM}/x.csv"), "e"),
        Context::default(),
    );
    assert_eq!(
        response(&state, ev).await,
        json!({"imported": [], "queued": [], "skipped": [{"bucket": "bkt", "key": format!("labels/{TFM}/x.csv"),
               "reason": "event Object Deleted is not an object creation"}]})
    );
    assert_eq!(start.num_calls(), 0);
}

/// The batch of the issue: a test event, a good record, a bad record, plus a body of no known
/// shape and an SNS-wrapped record. Exactly the bad record's and the unknown body's messages
/// come back; both good records are imported with their exact requests.
#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_failed_messages() {
    let h = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(120).build());
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let good = format!("labels/{TFM}/round-1.csv");
    let via_sns = format!("labels/{TFM}/round 2.csv");
    let start_good = start_exact(TFM, &format!("s3://bkt/{good}"), false, "tsk-good");
    let start_sns = start_exact(TFM, &format!("s3://bkt/{via_sns}"), false, "tsk-sns");
    let state = state(
        Config::default(),
        &[&h, &t, &p],
        &[&hist, &start_good, &start_sns],
    );
    let sns = json!({"Type": "Notification", "MessageId": "b4a3f0e2", "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Subject": "Amazon S3 Notification",
        "Message": notification(vec![s3_record(&format!("labels/{TFM}/round+2.csv"), "e2")])});

    let ev = sqs(&[
        ("m-test", test_event()),
        ("m-good", notification(vec![s3_record(&good, "e1")])),
        (
            "m-bad",
            notification(vec![s3_record("labels//round-1.csv", "e3")]),
        ),
        ("m-unknown", "Test message.".to_string()),
        ("m-sns", sns.to_string()),
    ]);
    assert_eq!(
        response(&state, ev).await,
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}, {"itemIdentifier": "m-unknown"}]})
    );
    assert_eq!((start_good.num_calls(), start_sns.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_sqs_batch_without_failures_returns_an_empty_list() {
    let start = any_start();
    let state = state(Config::default(), &[], &[&start]);
    let ev = sqs(&[
        ("m-test", test_event()),
        (
            "m-outside",
            notification(vec![s3_record("other/readme.txt", "e")]),
        ),
    ]);
    assert_eq!(response(&state, ev).await, json!({"batchItemFailures": []}));
    assert_eq!(start.num_calls(), 0);
}

/// A Glue outage fails only its own message; the invocation still succeeds so the other
/// messages are deleted from the queue.
#[tokio::test]
async fn a_retryable_failure_names_only_its_message() {
    let h = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(120).build());
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let ok = format!("labels/{TFM}/ok.csv");
    let start_ok = start_exact(TFM, &format!("s3://bkt/{ok}"), false, "tsk-ok");
    let start_down = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .match_requests(|r| r.input_s3_path().is_some_and(|p| p.ends_with("down.csv")))
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let state = state(
        Config::default(),
        &[&h, &t, &p],
        &[&hist, &start_ok, &start_down],
    );
    let ev = sqs(&[
        ("m-ok", notification(vec![s3_record(&ok, "e1")])),
        (
            "m-down",
            notification(vec![s3_record(&format!("labels/{TFM}/down.csv"), "e2")]),
        ),
    ]);
    assert_eq!(
        response(&state, ev).await,
        json!({"batchItemFailures": [{"itemIdentifier": "m-down"}]})
    );
    assert_eq!(start_ok.num_calls(), 1);
    assert!(start_down.num_calls() > 1, "the SDK retried the 503");
}

/// S3 delivers at least once: the same upload twice in one batch (or one event) starts one
/// import, and neither message fails.
#[tokio::test]
async fn the_same_upload_twice_in_one_invocation_starts_one_import() {
    let h = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(120).build());
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let key = format!("labels/{TFM}/round-1.csv");
    let start = start_exact(TFM, &format!("s3://bkt/{key}"), false, "tsk-1");
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
    let body = notification(vec![s3_record(&key, "e1")]);
    let ev = sqs(&[("m-1", body.clone()), ("m-2", body)]);
    assert_eq!(response(&state, ev).await, json!({"batchItemFailures": []}));
    assert_eq!(start.num_calls(), 1);

    let ev = event(vec![s3_record(&key, "e9"), s3_record(&key, "e9")]);
    let reply = response(&state, ev).await;
    assert_eq!(reply["imported"].as_array().unwrap().len(), 1);
    assert_eq!(
        reply["skipped"],
        json!([{"bucket": "bkt", "key": key,
                "reason": "duplicate: an earlier record of this invocation is the same upload (same key and eTag)"}])
    );
    assert_eq!(start.num_calls(), 2);
}

/// Waiting is not failing: in a batch, an upload Glue cannot start yet (its task-run quota in
/// use) is queued, and its message is not delivered again.
#[tokio::test]
async fn a_queued_upload_is_no_batch_item_failure() {
    let h = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(120).build());
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let ok = format!("labels/{TFM}/ok.csv");
    let start_ok = start_exact(TFM, &format!("s3://bkt/{ok}"), false, "tsk-ok");
    let start_full = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .match_requests(|r| r.input_s3_path().is_some_and(|p| p.ends_with("full.csv")))
        .sequence()
        .http_status(
            400,
            Some(glue_error_body(
                "ConcurrentRunsExceededException",
                "ML Task Runs count 4 has exceeded the transform limit of 3 task runs.",
            )),
        )
        .repeatedly()
        .build();
    let other = "tfm-fedcba9876543210fedcba9876543210fedcba98";
    let state = state(
        Config::default(),
        &[&h, &t, &p],
        &[&hist, &start_ok, &start_full],
    );
    let ev = sqs(&[
        ("m-ok", notification(vec![s3_record(&ok, "e1")])),
        (
            "m-full",
            notification(vec![s3_record(&format!("labels/{other}/full.csv"), "e2")]),
        ),
    ]);
    assert_eq!(response(&state, ev).await, json!({"batchItemFailures": []}));
    assert_eq!((start_ok.num_calls(), start_full.num_calls()), (1, 1));
}
