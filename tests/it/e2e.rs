//! End to end: the real Lambda binary, driven through the Lambda Runtime API, against moto (S3)
//! and glue-local (Glue) on loopback.

use glue_local::Fault;
use local_stack::{error, response, s3_event, Stack, Uploaded, BUCKET, SAMPLE, SAMPLE_ROWS};
use serde_json::json;

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";
const TFM2: &str = "tfm-fedcba9876543210fedcba9876543210fedcba98";
const ROUND_2: &str = include_str!("../../examples/labels/persons-round-2.csv");

/// A stack with transform TFM and the sample file uploaded to `labels/TFM/round-1.csv`.
async fn sample_stack() -> (Stack, Uploaded) {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    (stack, file)
}

/// The next `count` StartImportLabelsTaskRun calls answer ThrottlingException.
fn throttle_starts(stack: &Stack, count: u32) {
    stack.glue_local.store.add_fault(Fault {
        operation: Some("StartImportLabelsTaskRun".into()),
        error: "ThrottlingException".into(),
        count,
        message: None,
        lost_answer: false,
    });
}

fn start_calls(stack: &Stack) -> u64 {
    stack
        .glue_local
        .store
        .calls()
        .get("StartImportLabelsTaskRun")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn imports_an_uploaded_file_once_and_glue_counts_its_labels() {
    let (stack, file) = sample_stack().await;
    let request_id = stack.runtime.next_request_id();

    let reply = response(stack.invoke(&[&file]).await);

    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    let run_id = runs[0].task_run_id().unwrap();
    let path = format!("s3://{BUCKET}/labels/{TFM}/round-1.csv");
    assert_eq!(
        reply,
        json!({"imported": [{"bucket": BUCKET, "key": file.key, "transformId": TFM, "inputS3Path": path,
                             "replaceAllLabels": false, "taskRunId": run_id,
                             "ledgerEntry": reply["imported"][0]["ledgerEntry"]}], "queued": [], "skipped": []})
    );
    let entry_uri = reply["imported"][0]["ledgerEntry"].as_str().unwrap();
    let prefix = format!("s3://{BUCKET}/glue-label-importer/entries/{TFM}/");
    let id = entry_uri
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix(".json"));
    assert!(
        id.is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{entry_uri}"
    );
    let entry = stack.ledger_entry(&json!(entry_uri)).await;
    assert_eq!(
        (
            &entry["state"],
            &entry["taskRunId"],
            &entry["etag"],
            &entry["transformId"],
            &entry["revision"]
        ),
        (
            &json!("STARTING"),
            &json!(run_id),
            &json!(file.etag),
            &json!(TFM),
            &json!(2)
        ),
        "created marked (revision 1), then the run recorded (revision 2): {entry}"
    );
    assert_eq!(stack.final_status(TFM, run_id).await, "SUCCEEDED");
    assert_eq!(stack.label_count(TFM).await, SAMPLE_ROWS);
    let logs = stack.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(" imported"))
        .unwrap_or_else(|| panic!("no imported line in {logs}"));
    for field in [request_id.as_str(), TFM, run_id, &file.key] {
        assert!(line.contains(field), "{line} should contain {field}");
    }
}

#[tokio::test]
async fn the_replace_flag_in_the_metadata_replaces_all_labels() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let first = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    response(stack.invoke(&[&first]).await);
    let run1 = stack.import_runs(TFM).await[0]
        .task_run_id()
        .unwrap()
        .to_string();
    stack.final_status(TFM, &run1).await;
    assert_eq!(stack.label_count(TFM).await, SAMPLE_ROWS);

    let second = stack
        .upload(
            &format!("labels/{TFM}/round-2.csv"),
            ROUND_2,
            &[("replace-all-labels", "TRUE")],
            None,
        )
        .await;
    let reply = response(stack.invoke(&[&second]).await);
    assert_eq!(reply["imported"][0]["replaceAllLabels"], true);
    let run2 = reply["imported"][0]["taskRunId"].as_str().unwrap();
    assert_eq!(stack.final_status(TFM, run2).await, "SUCCEEDED");
    let run = stack
        .glue
        .get_ml_task_run()
        .transform_id(TFM)
        .task_run_id(run2)
        .send()
        .await
        .unwrap();
    assert!(run
        .properties()
        .unwrap()
        .import_labels_task_run_properties()
        .unwrap()
        .replace());
    assert_eq!(
        stack.label_count(TFM).await,
        5,
        "round 2 (5 rows) replaced round 1"
    );
}

#[tokio::test]
async fn a_key_with_spaces_unicode_and_plus_reaches_glue_decoded() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let key = format!("labels/{TFM}/Round 2 étiquettes a+b.csv");
    let file = stack.upload(&key, SAMPLE, &[], None).await;
    let event = s3_event(&[&file]);
    assert_eq!(
        event["Records"][0]["s3"]["object"]["key"],
        format!("labels/{TFM}/Round+2+%C3%A9tiquettes+a%2Bb.csv")
    );

    let reply = response(stack.runtime.invoke(&event).await);
    assert_eq!(reply["imported"][0]["key"], key);
    assert_eq!(
        reply["imported"][0]["inputS3Path"],
        format!("s3://{BUCKET}/{key}")
    );
    let run_id = reply["imported"][0]["taskRunId"].as_str().unwrap();
    assert_eq!(
        stack.final_status(TFM, run_id).await,
        "SUCCEEDED",
        "glue-local read the object at the decoded key"
    );
}

#[tokio::test]
async fn a_custom_prefix_routes_only_its_own_keys() {
    let stack = Stack::start(&[("LABELS_PREFIX", "incoming/labels/")]).await;
    stack.transform(TFM).await;
    let inside = stack
        .upload(
            &format!("incoming/labels/{TFM}/2026/round-1.csv"),
            SAMPLE,
            &[],
            None,
        )
        .await;
    let outside = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&inside, &outside]).await);
    assert_eq!(reply["imported"][0]["key"], inside.key);
    assert_eq!(
        reply["skipped"],
        json!([{"bucket": BUCKET, "key": outside.key, "reason": "key is outside the labels prefix \"incoming/labels/\""}])
    );
    assert_eq!(stack.import_runs(TFM).await.len(), 1);
}

#[tokio::test]
async fn a_multi_record_event_imports_each_file_into_its_transform() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    stack.transform(TFM2).await;
    let a = stack
        .upload(&format!("labels/{TFM}/a.csv"), SAMPLE, &[], None)
        .await;
    let b = stack
        .upload(&format!("labels/{TFM}/b.csv"), ROUND_2, &[], None)
        .await;
    let c = stack
        .upload(
            &format!("labels/{TFM2}/c.csv"),
            SAMPLE,
            &[("replace-all-labels", "true")],
            None,
        )
        .await;
    let reply = response(stack.invoke(&[&a, &b, &c]).await);
    let imported: Vec<(&str, &str, bool)> = reply["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap(),
                i["transformId"].as_str().unwrap(),
                i["replaceAllLabels"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        imported,
        [(a.key.as_str(), TFM, false), (c.key.as_str(), TFM2, true)]
    );
    // b waits behind a in TFM's lane (one import at a time); TFM2's lane does not wait for it.
    assert_eq!(reply["queued"][0]["key"], b.key.as_str());
    let a_run = stack.import_runs(TFM).await[0]
        .task_run_id()
        .unwrap()
        .to_string();
    stack.final_status(TFM, &a_run).await;
    let tick = stack.tick().await;
    assert_eq!(tick["tick"]["started"][0]["key"], b.key.as_str());
    assert_eq!(
        (
            stack.import_runs(TFM).await.len(),
            stack.import_runs(TFM2).await.len()
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn an_unknown_transform_fails_permanently_naming_the_file() {
    let stack = Stack::start(&[]).await;
    let file = stack
        .upload("labels/tfm-unknown/round-1.csv", SAMPLE, &[], None)
        .await;
    let (error_type, message) = error(stack.invoke(&[&file]).await);
    assert_eq!(error_type, "PermanentImportFailure");
    assert_eq!(
        message,
        format!("1 of 1 record(s) failed: s3://{BUCKET}/labels/tfm-unknown/round-1.csv: Glue GetMLTaskRuns failed with EntityNotFoundException: Cannot find MLTransform in account 123456789012 with handle tfm-unknown.; check that transform tfm-unknown exists in this account and region (aws glue get-ml-transform --transform-id tfm-unknown)")
    );
    assert_eq!(start_calls(&stack), 0);
}

#[tokio::test]
async fn throttled_twice_then_accepted_imports_exactly_once() {
    let (stack, file) = sample_stack().await;
    throttle_starts(&stack, 2);
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(
        start_calls(&stack),
        3,
        "two throttled attempts, one accepted"
    );
    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        reply["imported"][0]["taskRunId"],
        runs[0].task_run_id().unwrap()
    );
}

#[tokio::test]
async fn persistent_throttling_queues_the_upload_and_the_tick_imports_it_once() {
    let (stack, file) = sample_stack().await;
    throttle_starts(&stack, 3);
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(
        reply["queued"][0]["reason"],
        "waits for Glue: it kept throttling the start (ThrottlingException: Rate exceeded) through 3 attempts; the tick starts it when Glue accepts"
    );
    assert_eq!(start_calls(&stack), 3, "our three attempts");
    assert!(stack.import_runs(TFM).await.is_empty());
    let tick = stack.tick().await;
    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        tick["tick"]["started"][0]["taskRunId"],
        runs[0].task_run_id().unwrap()
    );
    assert_eq!(stack.tick().await["tick"]["started"], json!([]));
    assert_eq!(start_calls(&stack), 4);
}

#[tokio::test]
async fn an_object_deleted_before_processing_is_skipped() {
    let (stack, file) = sample_stack().await;
    stack
        .s3
        .delete_object()
        .bucket(BUCKET)
        .key(&file.key)
        .send()
        .await
        .unwrap();
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(
        reply,
        json!({"imported": [], "queued": [], "skipped": [{"bucket": BUCKET, "key": file.key, "reason": "object no longer exists (404)"}]})
    );
    assert_eq!(start_calls(&stack), 0);
}

#[tokio::test]
async fn a_stale_event_for_an_overwritten_object_is_skipped() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let old = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let new = stack.upload(&old.key, ROUND_2, &[], None).await;
    assert_ne!(old.etag, new.etag);
    let reply = response(stack.invoke(&[&old]).await);
    assert_eq!(
        reply["skipped"][0]["reason"],
        format!("stale event: the object was overwritten after this event (eTag {} is no longer current); the newer upload has its own event", old.etag)
    );
    assert_eq!(start_calls(&stack), 0);
    let reply = response(stack.invoke(&[&new]).await);
    assert_eq!(reply["imported"][0]["key"], new.key);
}

#[tokio::test]
async fn a_duplicate_delivery_is_skipped_and_glue_has_one_run() {
    let (stack, file) = sample_stack().await;
    let first = response(stack.invoke(&[&file]).await);
    let run_id = first["imported"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    let second = response(stack.invoke(&[&file]).await);
    assert_eq!(
        second,
        json!({"imported": [], "queued": [], "skipped": [{"bucket": BUCKET, "key": file.key,
               "reason": format!("duplicate: the object already carries the receipt tag glue-import-task-run-id={run_id}")}]})
    );
    assert_eq!(stack.import_runs(TFM).await.len(), 1);
    assert_eq!(start_calls(&stack), 1);
}

#[tokio::test]
async fn without_a_receipt_tag_glue_history_still_stops_a_second_import() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    // Ten tags already: S3 refuses the receipt tag, so only Glue's history can tell.
    let ten = (0..10)
        .map(|i| format!("t{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let file = stack
        .upload(
            &format!("labels/{TFM}/round-1.csv"),
            SAMPLE,
            &[],
            Some(&ten),
        )
        .await;
    let first = response(stack.invoke(&[&file]).await);
    let run_id = first["imported"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stack.logs().contains("receipt and status tags not written"),
        "{}",
        stack.logs()
    );
    assert_eq!(stack.tags(&file.key).await.len(), 10);
    stack.final_status(TFM, &run_id).await;

    let second = response(stack.invoke(&[&file]).await);
    assert_eq!(
        second["skipped"][0]["reason"],
        format!("duplicate: Glue task run {run_id} (SUCCEEDED) already imports this file")
    );
    assert_eq!(start_calls(&stack), 1);
}

#[tokio::test]
async fn the_receipt_tag_is_added_beside_existing_tags() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(
            &format!("labels/{TFM}/round-1.csv"),
            SAMPLE,
            &[],
            Some("team=risk&owner=ana"),
        )
        .await;
    let reply = response(stack.invoke(&[&file]).await);
    let run_id = reply["imported"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tags = stack.tags(&file.key).await;
    tags.sort();
    assert_eq!(
        tags,
        [
            ("glue-import-status".to_string(), "STARTING".to_string()),
            ("glue-import-task-run-id".into(), run_id),
            ("owner".into(), "ana".into()),
            ("team".into(), "risk".into())
        ]
    );
}

#[tokio::test]
async fn a_malformed_event_fails_and_the_same_process_serves_the_next() {
    let mut stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let (error_type, message) = error(stack.runtime.invoke(&json!({"hello": "world"})).await);
    assert_eq!(error_type, "InvalidEvent");
    assert_eq!(message, "the event is not one this function reads (it has no Records, is no EventBridge event from aws.s3 and no s3:TestEvent); send an S3 event notification ({\"Records\": [...]}), an EventBridge \"Object Created\" event from aws.s3, an SQS batch of S3 notifications, or the tick's EventBridge \"Scheduled Event\" (events/ has one of each)");
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-29T10:00:00.000Z", "Bucket": BUCKET, "RequestId": "1", "HostId": "2"});
    assert_eq!(
        response(stack.runtime.invoke(&test_event).await),
        json!({"imported": [], "queued": [], "skipped": []})
    );
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(reply["imported"][0]["key"], file.key);
    assert!(
        stack.function_alive(),
        "one process served all three events"
    );
}

#[tokio::test]
async fn an_empty_file_and_a_bad_flag_fail_permanently_before_glue() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let empty = stack
        .upload(&format!("labels/{TFM}/empty.csv"), "", &[], None)
        .await;
    let bad = stack
        .upload(
            &format!("labels/{TFM}/bad.csv"),
            SAMPLE,
            &[("replace-all-labels", "yes")],
            None,
        )
        .await;
    let (error_type, message) = error(stack.invoke(&[&empty, &bad]).await);
    assert_eq!(error_type, "PermanentImportFailure");
    assert_eq!(
        message,
        format!("2 of 2 record(s) failed: s3://{BUCKET}/{}: the file is empty (0 bytes) and Glue rejects empty label files; upload the labeled CSV again \
                 | s3://{BUCKET}/{}: user metadata replace-all-labels=\"yes\" is neither true nor false; upload the file again with --metadata replace-all-labels=true (replace all labels) or replace-all-labels=false (append)", empty.key, bad.key)
    );
    assert_eq!(start_calls(&stack), 0);
}

#[tokio::test]
async fn logs_one_json_object_per_line_when_lambda_asks_for_json() {
    let stack = Stack::start(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let outside = stack
        .upload("elsewhere/round-1.csv", SAMPLE, &[], None)
        .await;
    let request_id = stack.runtime.next_request_id();
    let reply = response(stack.invoke(&[&file, &outside]).await);
    let run_id = reply["imported"][0]["taskRunId"].as_str().unwrap();
    let lines: Vec<serde_json::Value> = stack
        .logs()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    let imported = lines
        .iter()
        .find(|l| l["message"] == "imported")
        .expect("an imported line");
    assert_eq!(
        (
            &imported["request_id"],
            &imported["key"],
            &imported["transform_id"],
            &imported["task_run_id"]
        ),
        (
            &json!(request_id),
            &json!(file.key),
            &json!(TFM),
            &json!(run_id)
        )
    );
    let skipped = lines
        .iter()
        .find(|l| l["message"] == "skipped")
        .expect("a skipped line");
    assert_eq!(
        skipped["reason"],
        "key is outside the labels prefix \"labels/\""
    );
}

#[tokio::test]
async fn an_unlabeled_file_fails_preflight_without_a_glue_call() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let generated =
        "labeling_set_id,label,id,first_name\n022ce3ed,,1001,John\n022ce3ed,,1002,Jon\n";
    let file = stack
        .upload(&format!("labels/{TFM}/generated.csv"), generated, &[], None)
        .await;
    let (error_type, message) = error(stack.invoke(&[&file]).await);
    assert_eq!(error_type, "PermanentImportFailure");
    assert_eq!(
        message,
        format!("1 of 1 record(s) failed: s3://{BUCKET}/{}: the label file is not what Glue accepts: line 2: 2 of 2 rows have an empty labeling_set_id or label; label every row before uploading the file (and 1 more problem); fix it and upload it again (check it first with `import-labels validate`)", file.key)
    );
    assert_eq!(start_calls(&stack), 0);
    drop(stack); // one stack at a time: they share the moto server
    let off = Stack::start(&[("PREFLIGHT", "off")]).await;
    off.transform(TFM).await;
    let file = off
        .upload(&format!("labels/{TFM}/generated.csv"), generated, &[], None)
        .await;
    let reply = response(off.invoke(&[&file]).await);
    let run_id = reply["imported"][0]["taskRunId"].as_str().unwrap();
    assert_eq!(
        off.final_status(TFM, run_id).await,
        "FAILED",
        "without preflight, Glue fails the run later"
    );
}

#[tokio::test]
async fn invalid_configuration_stops_start_up_naming_the_variable() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_glue-label-importer"))
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
            ("AWS_LAMBDA_FUNCTION_NAME", "glue-label-importer"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_REGION", "us-east-1"),
            ("DEFAULT_REPLACE_ALL_LABELS", "maybe"),
        ])
        .output()
        .await
        .expect("run the Lambda binary");
    assert_eq!(out.status.code(), Some(1));
    let logs =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains(
            "invalid configuration: DEFAULT_REPLACE_ALL_LABELS=\"maybe\": expected true or false"
        ),
        "{logs}"
    );
}
