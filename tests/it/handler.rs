//! The handler on the real SDK clients, answered by aws-smithy-mocks: every outcome, the exact
//! Glue request, the response JSON and the error text.

use crate::mocks::*;
use aws_sdk_glue::operation::get_ml_task_runs::{GetMlTaskRunsInput, GetMlTaskRunsOutput};
use aws_sdk_glue::operation::start_import_labels_task_run::StartImportLabelsTaskRunOutput;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{TaskStatusType, TaskType};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingOutput;
use aws_smithy_mocks::mock;
use glue_label_importer::handler::{handle, Report, Response};
use glue_label_importer::{Config, State};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

/// A direct event that must succeed: its report.
async fn report(state: &State, ev: LambdaEvent<Value>) -> Report {
    match handle(state, ev).await.unwrap() {
        Response::Report(report) => report,
        other => panic!("expected a report, got {other:?}"),
    }
}

#[tokio::test]
async fn imports_a_labeled_file_with_the_exact_glue_request() {
    let path = format!("s3://bkt/labels/{TFM}/round 1 é a+b.csv");
    let head = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| r.bucket() == Some("bkt") && r.if_match() == Some("\"etag-1\""))
        .then_output(|| {
            HeadObjectOutput::builder()
                .content_length(120)
                .metadata("replace-all-labels", "TRUE")
                .build()
        });
    let get_tags = tags(&[("team", "risk")]);
    let expected_key = format!("labels/{TFM}/round 1 é a+b.csv");
    let put = mock!(aws_sdk_s3::Client::put_object_tagging)
        .match_requests(move |r| {
            let set: Vec<(&str, &str)> = r
                .tagging()
                .map(|t| t.tag_set().iter().map(|t| (t.key(), t.value())).collect())
                .unwrap_or_default();
            r.key() == Some(expected_key.as_str())
                && set
                    == [
                        ("team", "risk"),
                        ("glue-import-task-run-id", "tsk-1"),
                        ("glue-import-status", "STARTING"),
                    ]
        })
        .then_output(|| PutObjectTaggingOutput::builder().build());
    let hist = mock!(aws_sdk_glue::Client::get_ml_task_runs)
        .match_requests(|r: &GetMlTaskRunsInput| {
            let f = r.filter();
            r.transform_id() == Some(TFM)
                && f.and_then(|f| f.task_run_type()) == Some(&TaskType::ImportLabels)
                && f.and_then(|f| f.started_after()) == Some(&DateTime::from_millis(EVENT_MILLIS))
        })
        .then_output(|| GetMlTaskRunsOutput::builder().build());
    let start = start_exact(TFM, &path, true, "tsk-1");
    let writes = ledger_writes();
    let lane = active_imports(vec![]);
    let lane_read = no_lane();
    // The new lane, created with this upload in it, its turn given.
    let lane_write = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            let body = r
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).to_string());
            r.key() == Some(lane_key().as_str())
                && r.if_none_match() == Some("*")
                && body.is_some_and(|b| {
                    b.contains("\"replaceAllLabels\": true") && b.contains("\"turnAt\": \"20")
                })
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"lane-1\"").build());
    let state = state(
        Config::default(),
        &[&lane_read, &lane_write, &head, &get_tags, &put, &writes],
        &[&hist, &lane, &start],
    );

    let raw_key = format!("labels/{TFM}/round+1+%C3%A9+a%2Bb.csv");
    let response = report(&state, event(vec![s3_record(&raw_key, "etag-1")])).await;

    let entry = entry_key(&format!("labels/{TFM}/round 1 é a+b.csv"), "etag-1");
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"imported": [{"bucket": "bkt", "key": format!("labels/{TFM}/round 1 é a+b.csv"),
                             "transformId": TFM, "inputS3Path": path, "replaceAllLabels": true,
                             "taskRunId": "tsk-1", "ledgerEntry": format!("s3://bkt/{entry}")}],
               "queued": [], "skipped": []})
    );
    assert_eq!(
        (
            head.num_calls(),
            hist.num_calls(),
            lane.num_calls(),
            start.num_calls(),
            put.num_calls()
        ),
        // One GetMLTaskRuns answers the duplicate check and the lane: the page of recent
        // imports reaches back past the event (the history query by time is not sent).
        (1, 0, 1, 1, 1)
    );
    // The ledger's cost on this path: the marker, the entry (created marked) and the
    // recorded run — three writes; the lane's: one read and one write.
    assert_eq!(
        (
            writes.num_calls(),
            lane_read.num_calls(),
            lane_write.num_calls()
        ),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn absent_flag_takes_the_configured_default() {
    for default in [false, true] {
        let path = format!("s3://bkt/labels/{TFM}/x.csv");
        let (h, t, p, hist) = (
            head(&[("owner", "ana")], 5),
            tags(&[]),
            put_tags(),
            history(vec![]),
        );
        let start = start_exact(TFM, &path, default, "tsk-2");
        let config = Config {
            default_replace_all_labels: default,
            ..Config::default()
        };
        let state = state(config, &[&h, &t, &p], &[&hist, &start]);
        let response = report(
            &state,
            event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
        )
        .await;
        assert_eq!(response.imported[0].replace_all_labels, default);
        assert_eq!(start.num_calls(), 1);
    }
}

#[tokio::test]
async fn honours_a_custom_prefix_and_metadata_key() {
    let path = format!("s3://bkt/in/labels/{TFM}/2024/x.csv");
    let (h, t, p, hist) = (
        head(&[("replace", "false")], 5),
        tags(&[]),
        put_tags(),
        history(vec![]),
    );
    let start = start_exact(TFM, &path, false, "tsk-3");
    let config = Config {
        labels_prefix: "in/labels/".into(),
        replace_metadata_key: "replace".into(),
        default_replace_all_labels: true,
        ..Config::default()
    };
    let state = state(config, &[&h, &t, &p], &[&hist, &start]);
    let response = report(
        &state,
        event(vec![s3_record(&format!("in/labels/{TFM}/2024/x.csv"), "e")]),
    )
    .await;
    assert_eq!(response.imported[0].input_s3_path, path);
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn skips_keys_that_are_not_label_files_without_calling_aws() {
    let (h, start) = (head(&[], 5), any_start());
    let state = state(Config::default(), &[&h], &[&start]);
    let records = vec![
        s3_record("labels-archive/tfm-1/x.csv", "e"),
        s3_record("labels/x.csv", "e"),
        s3_record("labels/tfm-1/", "e"),
    ];
    let response = report(&state, event(records)).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"imported": [], "queued": [], "skipped": [
            {"bucket": "bkt", "key": "labels-archive/tfm-1/x.csv", "reason": "key is outside the labels prefix \"labels/\""},
            {"bucket": "bkt", "key": "labels/x.csv", "reason": "key has no transform segment: label files go to labels/<transform-id>/<file>.csv"},
            {"bucket": "bkt", "key": "labels/tfm-1/", "reason": "folder marker (key ends with /), not a label file"},
        ]})
    );
    assert_eq!((h.num_calls(), start.num_calls()), (0, 0));
}

#[tokio::test]
async fn skips_other_event_types() {
    let start = any_start();
    let state = state(Config::default(), &[], &[&start]);
    let mut record = s3_record(&format!("labels/{TFM}/x.csv"), "e");
    record["eventName"] = json!("ObjectRemoved:Delete");
    let response = report(&state, event(vec![record])).await;
    assert_eq!(
        response.skipped[0].reason.to_string(),
        "event ObjectRemoved:Delete is not an object creation"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn skips_an_object_that_is_gone_or_was_overwritten() {
    for (status, reason) in [
        (404, "object no longer exists (404)".to_string()),
        (412, "stale event: the object was overwritten after this event (eTag old-etag is no longer current); the newer upload has its own event".to_string()),
    ] {
        let h = mock!(aws_sdk_s3::Client::head_object).sequence().http_status(status, None).repeatedly().build();
        let start = any_start();
        let state = state(Config::default(), &[&h], &[&start]);
        let response = report(&state, event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "old-etag")])).await;
        assert_eq!(response.skipped[0].reason.to_string(), reason);
        assert_eq!((h.num_calls(), start.num_calls()), (1, 0), "status {status}");
    }
}

#[tokio::test]
async fn skips_a_file_that_carries_the_receipt_tag() {
    let (h, t, hist, start) = (
        head(&[], 5),
        tags(&[("glue-import-task-run-id", "tsk-earlier")]),
        history(vec![]),
        any_start(),
    );
    let state = state(Config::default(), &[&h, &t], &[&hist, &start]);
    let response = report(
        &state,
        event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
    )
    .await;
    assert_eq!(
        response.skipped[0].reason.to_string(),
        "duplicate: the object already carries the receipt tag glue-import-task-run-id=tsk-earlier"
    );
    // Glue's page of recent imports is asked beside HeadObject, before the tags are known.
    assert_eq!((hist.num_calls(), start.num_calls()), (1, 0));
}

#[tokio::test]
async fn skips_a_file_glue_already_imports_reading_every_page() {
    let path = format!("s3://bkt/labels/{TFM}/x.csv");
    let other = format!("s3://bkt/labels/{TFM}/other.csv");
    let page1 = vec![
        run("tsk-a", &other, TaskStatusType::Succeeded),
        run("tsk-b", &format!("{path}.bak"), TaskStatusType::Failed),
    ];
    let page2 = vec![run("tsk-c", &path, TaskStatusType::Failed)];
    let hist = mock!(aws_sdk_glue::Client::get_ml_task_runs).then_compute_output(move |r| match r
        .next_token()
    {
        None => GetMlTaskRunsOutput::builder()
            .set_task_runs(Some(page1.clone()))
            .next_token("page-2")
            .build(),
        Some("page-2") => GetMlTaskRunsOutput::builder()
            .set_task_runs(Some(page2.clone()))
            .build(),
        Some(other) => panic!("unexpected token {other}"),
    });
    let (h, t, start) = (head(&[], 5), tags(&[]), any_start());
    let state = state(Config::default(), &[&h, &t], &[&hist, &start]);
    let response = report(
        &state,
        event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
    )
    .await;
    assert_eq!(
        response.skipped[0].reason.to_string(),
        "duplicate: Glue task run tsk-c (FAILED) already imports this file"
    );
    assert_eq!((hist.num_calls(), start.num_calls()), (2, 0));
}

#[tokio::test]
async fn an_s3_test_event_succeeds_with_nothing_to_do() {
    let state = state(Config::default(), &[], &[]);
    let ev = LambdaEvent::new(
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2014-10-13T15:57:02.089Z",
               "Bucket": "bkt", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"}),
        Context::default(),
    );
    assert_eq!(
        handle(&state, ev).await.unwrap(),
        Response::Report(Report::default())
    );
}

#[tokio::test]
async fn a_payload_of_no_known_shape_is_an_invalid_event() {
    let state = state(Config::default(), &[], &[]);
    let cases = [
        (
            json!({"hello": "world"}),
            "it has no Records, is no EventBridge event from aws.s3 and no s3:TestEvent",
        ),
        (
            json!({"detail-type": "Object Created", "source": "aws.s3"}),
            "EventBridge event: missing field `detail`",
        ),
    ];
    for (payload, why) in cases {
        let diagnostic: Diagnostic = handle(&state, LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap_err()
            .into();
        assert_eq!(diagnostic.error_type, "InvalidEvent");
        assert_eq!(
            diagnostic.error_message,
            format!("the event is not one this function reads ({why}); send an S3 event notification ({{\"Records\": [...]}}), an EventBridge \"Object Created\" event from aws.s3, an SQS batch of S3 notifications, or the tick's EventBridge \"Scheduled Event\" (events/ has one of each)")
        );
    }
}

/// A record that fails before any AWS call, with its exact message.
#[tokio::test]
async fn fails_records_with_a_bad_key() {
    let start = any_start();
    let state = state(Config::default(), &[], &[&start]);
    let records = vec![
        s3_record("labels//x.csv", "e"),
        s3_record("labels/t/%FF.csv", "e"),
    ];
    let d = failure(&state, event(records)).await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!(
        d.error_message,
        "2 of 2 record(s) failed: s3://bkt/labels//x.csv: invalid transform ID \"\": it is empty; put the file under labels/<transform-id>/ using an ID from `aws glue list-ml-transforms` \
         | s3://bkt/labels/t/%FF.csv: the event's object key is not valid URL-encoded UTF-8 (invalid utf-8 sequence of 1 bytes from index 9); S3 never sends such keys, check what produced this event"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn fails_an_empty_file_and_a_bad_replace_flag() {
    let key = format!("labels/{TFM}/x.csv");
    for (h, want) in [
        (head(&[], 0), "the file is empty (0 bytes) and Glue rejects empty label files; upload the labeled CSV again".to_string()),
        (head(&[("replace-all-labels", "yes")], 5), "user metadata replace-all-labels=\"yes\" is neither true nor false; upload the file again with --metadata replace-all-labels=true (replace all labels) or replace-all-labels=false (append)".to_string()),
    ] {
        let start = any_start();
        let state = state(Config::default(), &[&h], &[&start]);
        let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
        assert_eq!(d.error_type, "PermanentImportFailure");
        assert_eq!(d.error_message, format!("1 of 1 record(s) failed: s3://bkt/{key}: {want}"));
        assert_eq!(start.num_calls(), 0);
    }
}

#[tokio::test]
async fn head_object_denied_is_permanent() {
    let h = mock!(aws_sdk_s3::Client::head_object)
        .sequence()
        .http_status(403, None)
        .repeatedly()
        .build();
    let state = state(Config::default(), &[&h], &[]);
    let d = failure(
        &state,
        event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
    )
    .await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!(
        d.error_message,
        format!("1 of 1 record(s) failed: s3://bkt/labels/{TFM}/x.csv: S3 HeadObject was denied (403): grant the function s3:GetObject on the labels prefix (without s3:ListBucket S3 also answers 403 for a deleted object)")
    );
}

/// Glue's permanent errors: answered once, not retried, reported with a hint.
#[tokio::test]
async fn permanent_glue_errors_fail_without_retrying() {
    let key = format!("labels/{TFM}/x.csv");
    let cases = [
        ("EntityNotFoundException", format!("Cannot find MLTransform in account 123456789012 with handle {TFM}."),
         format!("check that transform {TFM} exists in this account and region (aws glue get-ml-transform --transform-id {TFM})")),
        ("InvalidInputException", "Cannot access the label file at s3://bkt/x. Access Denied.".to_string(),
         "check that the transform's IAM role can read the file, that the bucket is in the transform's region and that the file is a labeled CSV; then upload it again".to_string()),
        ("ResourceNumberLimitExceededException", "Label file has exceeded the limit of 10 MB.".to_string(),
         "the label file is over Glue's size quota (10 MB by default); split it into smaller files and upload those".to_string()),
    ];
    for (code, message, hint) in cases {
        let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
            .sequence()
            .http_status(400, Some(glue_error_body(code, &message)))
            .repeatedly()
            .build();
        let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
        let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
        let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
        assert_eq!(d.error_type, "PermanentImportFailure", "{code}");
        assert_eq!(
            d.error_message,
            format!("1 of 1 record(s) failed: s3://bkt/{key}: Glue StartImportLabelsTaskRun failed with {code}: {message}; {hint}")
        );
        // Sent once; the entry ends FAILED, and so does the object's status tag.
        assert_eq!((start.num_calls(), p.num_calls()), (1, 1), "{code}");
    }
}

#[tokio::test]
async fn an_unknown_transform_fails_at_the_history_check() {
    let message = format!("Cannot find MLTransform in account 123456789012 with handle {TFM}.");
    let hist = mock!(aws_sdk_glue::Client::get_ml_task_runs)
        .sequence()
        .http_status(
            400,
            Some(glue_error_body("EntityNotFoundException", &message)),
        )
        .repeatedly()
        .build();
    let (h, t, start) = (head(&[], 5), tags(&[]), any_start());
    let state = state(Config::default(), &[&h, &t], &[&hist, &start]);
    let d = failure(
        &state,
        event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
    )
    .await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert!(d.error_message.contains(&format!("Glue GetMLTaskRuns failed with EntityNotFoundException: {message}; check that transform {TFM} exists")), "{}", d.error_message);
    assert_eq!(start.num_calls(), 0);
}

/// A start is never resent by the SDK: our own three attempts, each marked first. After an
/// unclear answer (5xx) Glue's history is read before the next attempt; then the upload waits
/// as QUEUED and the record fails, retryably.
#[tokio::test]
async fn unclear_glue_answers_are_retried_then_reported_as_retryable() {
    let key = format!("labels/{TFM}/x.csv");
    let (code, message) = ("InternalServiceException", "Internal service error.");
    let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .sequence()
        .http_status(500, Some(glue_error_body(code, message)))
        .repeatedly()
        .build();
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
    let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(d.error_type, "RetryableImportFailure");
    assert_eq!(
        d.error_message,
        format!("1 of 1 record(s) failed: s3://bkt/{key}: Glue StartImportLabelsTaskRun failed with {code}: {message}; a retry may succeed (Lambda retries the event; duplicates are detected)")
    );
    assert_eq!(start.num_calls(), 3);
    // One page for the duplicate check and the lane's look, and one history read after each
    // unclear answer.
    assert_eq!(hist.num_calls(), 1 + 3);
    assert_eq!(p.num_calls(), 1, "the status tag shows QUEUED");
}

/// Glue busy — its task-run quota in use (either error it uses for that), or throttling past
/// our attempts — is waiting, not failing: the invocation succeeds and reports the upload
/// queued with the reason; a quota refusal is not sent again in the invocation.
#[tokio::test]
async fn a_busy_glue_queues_the_upload_and_the_invocation_succeeds() {
    let key = format!("labels/{TFM}/x.csv");
    let quota = "ML Task Runs count 4 has exceeded the transform limit of 3 task runs.";
    let quota_reason = |code: &str| {
        format!("waits for Glue's quota: Glue StartImportLabelsTaskRun failed with {code}: {quota}; transform {TFM} already runs as many ML task runs as Glue's quota allows (3 by default, every task type counted); the import waits in its lane and the tick starts it when a run ends")
    };
    let cases = [
        ("ConcurrentRunsExceededException", quota, 1, quota_reason("ConcurrentRunsExceededException")),
        ("ResourceNumberLimitExceededException", quota, 1, quota_reason("ResourceNumberLimitExceededException")),
        ("ThrottlingException", "Rate exceeded", 3, "waits for Glue: it kept throttling the start (ThrottlingException: Rate exceeded) through 3 attempts; the tick starts it when Glue accepts".to_string()),
    ];
    for (code, message, attempts, reason) in cases {
        let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
            .sequence()
            .http_status(400, Some(glue_error_body(code, message)))
            .repeatedly()
            .build();
        let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
        let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
        let response = report(&state, event(vec![s3_record(&key, "e")])).await;
        let entry = entry_key(&key, "e");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"imported": [], "skipped": [], "queued": [{
                "bucket": "bkt", "key": key, "transformId": TFM,
                "inputS3Path": format!("s3://bkt/{key}"), "replaceAllLabels": false,
                "reason": reason, "ledgerEntry": format!("s3://bkt/{entry}")}]}),
            "{code}"
        );
        assert_eq!(start.num_calls(), attempts, "{code}");
        assert_eq!(p.num_calls(), 1, "{code}: the status tag shows QUEUED");
    }
}

/// An oversize file is caught by the preflight; without it, Glue's size refusal
/// (`ResourceNumberLimitExceededException` about the file) stays permanent with its own hint.
#[tokio::test]
async fn glues_size_refusal_is_not_taken_for_its_quota() {
    let key = format!("labels/{TFM}/x.csv");
    let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .sequence()
        .http_status(
            400,
            Some(glue_error_body(
                "ResourceNumberLimitExceededException",
                "Label file has exceeded the limit of 10 MB.",
            )),
        )
        .repeatedly()
        .build();
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let config = Config {
        preflight: false,
        ..Config::default()
    };
    let state = state(config, &[&h, &t, &p], &[&hist, &start]);
    let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!(d.error_message, format!("1 of 1 record(s) failed: s3://bkt/{key}: Glue StartImportLabelsTaskRun failed with ResourceNumberLimitExceededException: Label file has exceeded the limit of 10 MB.; the label file is over Glue's size quota (10 MB by default); split it into smaller files and upload those"));
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_throttle_that_clears_within_the_sdk_retries_imports_once() {
    let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .sequence()
        .http_status(
            400,
            Some(glue_error_body("ThrottlingException", "Rate exceeded")),
        )
        .output(|| {
            StartImportLabelsTaskRunOutput::builder()
                .task_run_id("tsk-after-throttle")
                .build()
        })
        .build();
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
    let response = report(
        &state,
        event(vec![s3_record(&format!("labels/{TFM}/x.csv"), "e")]),
    )
    .await;
    assert_eq!(response.imported[0].task_run_id, "tsk-after-throttle");
    assert_eq!(start.num_calls(), 2);
}

#[tokio::test]
async fn a_receipt_that_cannot_be_written_does_not_fail_the_import() {
    let path = format!("s3://bkt/labels/{TFM}/x.csv");
    let key = format!("labels/{TFM}/x.csv");
    // 10 tags already: S3 refuses an 11th.
    let put = mock!(aws_sdk_s3::Client::put_object_tagging).sequence()
        .http_status(400, Some("<Error><Code>BadRequest</Code><Message>Object tags cannot be greater than 10</Message></Error>".into()))
        .repeatedly().build();
    let (h, t, hist, start) = (
        head(&[], 5),
        tags(&[("a", "1")]),
        history(vec![]),
        start_exact(TFM, &path, false, "tsk-4"),
    );
    let state1 = state(Config::default(), &[&h, &t, &put], &[&hist, &start]);
    let response = report(&state1, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(response.imported[0].task_run_id, "tsk-4");
    assert_eq!(put.num_calls(), 1);

    // Tags unreadable: the import goes on, and no tagging would drop the unknown tags.
    let denied = mock!(aws_sdk_s3::Client::get_object_tagging)
        .sequence()
        .http_status(403, None)
        .repeatedly()
        .build();
    let (h, p, hist, start) = (
        head(&[], 5),
        put_tags(),
        history(vec![]),
        start_exact(TFM, &path, false, "tsk-5"),
    );
    let state2 = state(Config::default(), &[&h, &denied, &p], &[&hist, &start]);
    let response = report(&state2, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(response.imported[0].task_run_id, "tsk-5");
    // Glue's history: one page, for the duplicate check and the lane's look for imports it
    // does not know.
    assert_eq!((hist.num_calls(), p.num_calls()), (1, 0));
}

/// One event, three records: each gets its own outcome, the failure fails the invocation and
/// names only the failed key, and the good record was imported exactly once.
#[tokio::test]
async fn a_mixed_event_reports_every_failed_key() {
    let good = format!("labels/{TFM}/good.csv");
    let bad = format!("labels/{TFM}/bad.csv");
    let h = mock!(aws_sdk_s3::Client::head_object).then_compute_output(|r| {
        let len = if r.key().is_some_and(|k| k.ends_with("bad.csv")) {
            0
        } else {
            5
        };
        HeadObjectOutput::builder().content_length(len).build()
    });
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let start = start_exact(TFM, &format!("s3://bkt/{good}"), false, "tsk-good");
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
    let records = vec![
        s3_record(&good, "e1"),
        s3_record("other/readme.txt", "e2"),
        s3_record(&bad, "e3"),
    ];
    let d = failure(&state, event(records)).await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!(
        d.error_message,
        format!("1 of 3 record(s) failed: s3://bkt/{bad}: the file is empty (0 bytes) and Glue rejects empty label files; upload the labeled CSV again")
    );
    assert_eq!((start.num_calls(), p.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_retryable_failure_makes_the_whole_invocation_retryable() {
    let good = format!("labels/{TFM}/good.csv");
    let empty = format!("labels/{TFM}/empty.csv");
    let h = mock!(aws_sdk_s3::Client::head_object).then_compute_output(|r| {
        let len = if r.key().is_some_and(|k| k.ends_with("empty.csv")) {
            0
        } else {
            5
        };
        HeadObjectOutput::builder().content_length(len).build()
    });
    let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let (t, p, hist) = (tags(&[]), put_tags(), history(vec![]));
    let state = state(Config::default(), &[&h, &t, &p], &[&hist, &start]);
    let d = failure(
        &state,
        event(vec![s3_record(&good, "e"), s3_record(&empty, "e")]),
    )
    .await;
    assert_eq!(d.error_type, "RetryableImportFailure");
    assert!(d.error_message.starts_with(&format!("2 of 2 record(s) failed: s3://bkt/{good}: Glue StartImportLabelsTaskRun failed with HTTP 503: ")), "{}", d.error_message);
    assert!(d.error_message.ends_with(&format!(" | s3://bkt/{empty}: the file is empty (0 bytes) and Glue rejects empty label files; upload the labeled CSV again")), "{}", d.error_message);
}

#[tokio::test]
async fn many_records_keep_their_order() {
    let keys: Vec<String> = (0..10)
        .map(|i| format!("labels/{TFM}/part-{i}.csv"))
        .collect();
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let start =
        mock!(aws_sdk_glue::Client::start_import_labels_task_run).then_compute_output(|r| {
            let path = r.input_s3_path().unwrap_or_default();
            StartImportLabelsTaskRunOutput::builder()
                .task_run_id(format!("tsk-{}", &path[path.len() - 5..path.len() - 4]))
                .build()
        });
    let state = state(
        Config {
            max_concurrency: 3,
            ..Config::default()
        },
        &[&h, &t, &p],
        &[&hist, &start],
    );
    let response = report(
        &state,
        event(keys.iter().map(|k| s3_record(k, "e")).collect()),
    )
    .await;
    let got: Vec<(&str, &str)> = response
        .imported
        .iter()
        .map(|i| (i.key.as_str(), i.task_run_id.as_str()))
        .collect();
    let want: Vec<(String, String)> = (0..10)
        .map(|i| (keys[i].clone(), format!("tsk-{i}")))
        .collect();
    assert_eq!(
        got,
        want.iter()
            .map(|(k, t)| (k.as_str(), t.as_str()))
            .collect::<Vec<_>>()
    );
    assert_eq!(start.num_calls(), 10);
}

#[tokio::test]
async fn preflight_fails_a_bad_label_file_before_glue() {
    let key = format!("labels/{TFM}/round-1.csv");
    let unlabeled = get_object(b"labeling_set_id,label,id\nS1,,1\nS1,,2\nS2,,3\n");
    let (h, t, hist, start) = (head(&[], 5), tags(&[]), history(vec![]), any_start());
    let state = state(Config::default(), &[&h, &t, &unlabeled], &[&hist, &start]);
    let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!(
        d.error_message,
        format!("1 of 1 record(s) failed: s3://bkt/{key}: the label file is not what Glue accepts: line 2: 3 of 3 rows have an empty labeling_set_id or label; label every row before uploading the file (and 2 more problems); fix it and upload it again (check it first with `import-labels validate`)")
    );
    assert_eq!((unlabeled.num_calls(), start.num_calls()), (1, 0));
}

#[tokio::test]
async fn preflight_warnings_come_back_with_the_import() {
    let key = format!("labels/{TFM}/one.csv");
    let lonely = get_object(b"labeling_set_id,label,id\nS1,A,1\n");
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let start = start_exact(TFM, &format!("s3://bkt/{key}"), false, "tsk-w");
    let state = state(Config::default(), &[&h, &t, &p, &lonely], &[&hist, &start]);
    let response = report(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap()["imported"][0]["warnings"],
        json!(["the file holds a single labeling set of one row: Glue learns nothing from it"])
    );
}

#[tokio::test]
async fn an_oversized_file_fails_from_its_size_without_downloading() {
    let key = format!("labels/{TFM}/big.csv");
    let big = head(&[], 10 * 1024 * 1024 + 1);
    let never = get_object(LABELED);
    let state = state(Config::default(), &[&big, &never], &[]);
    // The event reports the object's size, as S3 does.
    let mut record = s3_record(&key, "e");
    record["s3"]["object"]["size"] = json!(10 * 1024 * 1024 + 1);
    let d = failure(&state, event(vec![record])).await;
    assert_eq!(
        d.error_message,
        format!("1 of 1 record(s) failed: s3://bkt/{key}: the file is 10485761 bytes, over the label-file quota of 10485760 bytes (MAX_LABEL_FILE_BYTES); split it into smaller files and upload those")
    );
    assert_eq!(never.num_calls(), 0);
}

#[tokio::test]
async fn preflight_off_starts_without_reading_the_file() {
    let key = format!("labels/{TFM}/x.csv");
    let broken = get_object(b"not,a,label,file\n");
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let start = start_exact(TFM, &format!("s3://bkt/{key}"), false, "tsk-off");
    let config = Config {
        preflight: false,
        ..Config::default()
    };
    let state = state(config, &[&h, &t, &p, &broken], &[&hist, &start]);
    let response = report(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(response.imported[0].task_run_id, "tsk-off");
    assert_eq!(broken.num_calls(), 0);
}

/// A delivery whose entry exists already (its create answers 412) acts on what the entry shows.
#[tokio::test]
async fn a_delivery_meeting_the_ledger_entry_acts_on_its_state() {
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
    use aws_sdk_s3::primitives::ByteStream;
    use glue_label_importer::lifecycle::entry::{Entry, ImportState, Upload};

    let key = format!("labels/{TFM}/x.csv");
    let entry_at = entry_key(&key, "e");
    let upload = Upload {
        bucket: "bkt".into(),
        key: key.clone(),
        etag: "e".into(),
        version_id: None,
        last_modified: None,
        uploaded_at: chrono::DateTime::from_timestamp_millis(EVENT_MILLIS).unwrap(),
    };
    let path = format!("s3://bkt/{key}");
    let now = glue_label_importer::now();
    let entry = |state: ImportState, run: Option<&str>, error: Option<&str>| {
        let mut e = Entry::new(&upload, TFM, &path, false, state, now);
        e.revision = 1;
        e.task_run_id = run.map(str::to_string);
        e.marked_at = Some(now);
        e.error_string = error.map(str::to_string);
        e
    };
    let cases = [
        (entry(ImportState::Running, Some("tsk-9"), None), Ok("duplicate: the import ledger already has this upload (RUNNING, task run tsk-9)".to_string()), 0),
        (entry(ImportState::Starting, None, None), Ok(format!("duplicate: another delivery is starting this upload's import (ledger entry STARTING since {})", now.to_rfc3339())), 0),
        (entry(ImportState::Queued, None, None), Ok("imported tsk-forward".to_string()), 1),
        (entry(ImportState::Failed, None, Some("InvalidInputException: Cannot use IAM role provided in the transform.")),
         Err(format!("1 of 1 record(s) failed: s3://bkt/{key}: Glue refused this upload's import earlier: InvalidInputException: Cannot use IAM role provided in the transform. (ledger entry s3://bkt/{entry_at}); fix the cause, then upload the file again or re-drive it with `import-labels import --force`")), 0),
    ];
    for (stored, want, starts) in cases {
        let (entry_key_1, entry_key_2) = (entry_at.clone(), entry_at.clone());
        let create = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(move |r: &PutObjectInput| {
                r.key() == Some(entry_key_1.as_str()) && r.if_none_match() == Some("*")
            })
            .sequence()
            .http_status(412, None)
            .repeatedly()
            .build();
        let update = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(move |r: &PutObjectInput| {
                r.key() == Some(entry_key_2.as_str()) && r.if_match() == Some("\"entry-v1\"")
            })
            .then_output(|| PutObjectOutput::builder().e_tag("\"entry-v2\"").build());
        let bytes = serde_json::to_vec(&stored).unwrap();
        let entry_key_3 = entry_at.clone();
        let get = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(move |r| r.key() == Some(entry_key_3.as_str()))
            .then_output(move || {
                GetObjectOutput::builder()
                    .e_tag("\"entry-v1\"")
                    .body(ByteStream::from(bytes.clone()))
                    .build()
            });
        let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
        let start = start_exact(TFM, &path, false, "tsk-forward");
        let state = state(
            Config::default(),
            &[&h, &t, &p, &create, &update, &get],
            &[&hist, &start],
        );
        let ev = event(vec![s3_record(&key, "e")]);
        match want {
            Ok(reason) if reason.starts_with("imported") => {
                let response = report(&state, ev).await;
                assert_eq!(response.imported[0].task_run_id, "tsk-forward");
                // The mark names the version read; the record then names the mark's ETag.
                assert_eq!(update.num_calls(), 1);
            }
            Ok(reason) => {
                let response = report(&state, ev).await;
                assert_eq!(response.skipped[0].reason.to_string(), reason);
                assert_eq!(update.num_calls(), 0);
            }
            Err(message) => {
                let d = failure(&state, ev).await;
                assert_eq!(
                    (d.error_type.as_str(), d.error_message),
                    ("PermanentImportFailure", message)
                );
            }
        }
        assert_eq!(start.num_calls(), starts);
    }
}

/// Glue refusing an upload's start is a person's news: one `import-failed` message with
/// Glue's words and the re-drive, sent once from the upload's own invocation.
#[tokio::test]
async fn a_start_glue_refuses_sends_one_import_failed_message() {
    let key = format!("labels/{TFM}/x.csv");
    let start = mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .sequence()
        .http_status(
            400,
            Some(glue_error_body(
                "ResourceNumberLimitExceededException",
                "Label file has exceeded the limit of 10 MB.",
            )),
        )
        .repeatedly()
        .build();
    let topic = "arn:aws:sns:us-east-1:123456789012:labels-news";
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |r| {
            let body = r.message().unwrap_or_default();
            let event = r
                .message_attributes()
                .and_then(|a| a.get("event"))
                .and_then(|v| v.string_value());
            r.topic_arn() == Some(topic)
                && r.subject() == Some(&format!("Label import FAILED ({TFM}): x.csv"))
                && event == Some("import-failed")
                && body.contains("Glue refused to start its import:\n    Glue StartImportLabelsTaskRun failed with ResourceNumberLimitExceededException: Label file has exceeded the limit of 10 MB.")
                && body.contains(&format!("    import-labels import s3://bkt/labels/{TFM}/x.csv --force\n"))
        })
        .then_output(|| {
            aws_sdk_sns::operation::publish::PublishOutput::builder()
                .message_id("m-1")
                .build()
        });
    let (h, t, p, hist) = (head(&[], 5), tags(&[]), put_tags(), history(vec![]));
    let config = Config {
        preflight: false,
        notify_topic_arn: Some(topic.into()),
        ..Config::default()
    };
    let state = crate::mocks::with_sns(state(config, &[&h, &t, &p], &[&hist, &start]), &[&publish]);
    let d = failure(&state, event(vec![s3_record(&key, "e")])).await;
    assert_eq!(d.error_type, "PermanentImportFailure");
    assert_eq!((start.num_calls(), publish.num_calls()), (1, 1));
}
