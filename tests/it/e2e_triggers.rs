//! End to end through the other triggers: the real Lambda binary invoked with an EventBridge
//! event, and with SQS batches that moto's own S3 → SQS notifications produced.

use local_stack::{eventbridge_event, response, Stack, BUCKET, SAMPLE};
use serde_json::{json, Value};

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";
/// A well-formed ID no transform has.
const MISSING: &str = "tfm-ffffffffffffffffffffffffffffffffffffffff";

/// The messageId of the batch's message whose body contains `needle`.
fn message_id(batch: &Value, needle: &str) -> String {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no message contains {needle}: {batch}"))["messageId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_eventbridge_event_imports_once() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let key = format!("labels/{TFM}/round 1+é.csv");
    let file = stack
        .upload(&key, SAMPLE, &[("replace-all-labels", "true")], None)
        .await;
    let event = eventbridge_event(&file);

    let reply = response(stack.runtime.invoke(&event).await);

    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    let run_id = runs[0].task_run_id().unwrap();
    let path = format!("s3://{BUCKET}/{key}");
    assert_eq!(
        reply,
        json!({"imported": [{"bucket": BUCKET, "key": key, "transformId": TFM, "inputS3Path": path,
                             "replaceAllLabels": true, "taskRunId": run_id,
                             "ledgerEntry": reply["imported"][0]["ledgerEntry"]}], "queued": [], "skipped": []})
    );
    let entry = stack
        .ledger_entry(&reply["imported"][0]["ledgerEntry"])
        .await;
    assert_eq!(
        (entry["key"].as_str(), entry["taskRunId"].as_str()),
        (Some(key.as_str()), Some(run_id))
    );
    assert_eq!(stack.final_status(TFM, run_id).await, "SUCCEEDED");

    // EventBridge retries deliver the same event again: no second import.
    let again = response(stack.runtime.invoke(&event).await);
    assert_eq!(
        again["skipped"][0]["reason"],
        format!("duplicate: the object already carries the receipt tag glue-import-task-run-id={run_id}")
    );
    assert_eq!(stack.import_runs(TFM).await.len(), 1);
}

/// moto's S3 notifications to a queue: the s3:TestEvent, a good upload, an upload for a
/// transform that does not exist, and a foreign message. Exactly the last two come back in
/// batchItemFailures; delivering the batch again imports nothing twice.
#[tokio::test]
async fn an_sqs_batch_of_s3_notifications_names_exactly_the_failed_messages() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let queue = stack.notify_queue("labels", "labels/").await;
    let good = stack
        .upload(&format!("labels/{TFM}/round 1.csv"), SAMPLE, &[], None)
        .await;
    stack
        .upload(&format!("labels/{MISSING}/round-1.csv"), SAMPLE, &[], None)
        .await;
    stack.send_message(&queue, "Test message.").await;
    let batch = stack.receive_batch(&queue).await;
    assert_eq!(batch["Records"].as_array().unwrap().len(), 4, "{batch}");
    let missing = message_id(&batch, MISSING);
    let foreign = message_id(&batch, "Test message.");
    message_id(&batch, "s3:TestEvent");
    // moto form-encodes keys as S3 does (the space arrives as +, even / as %2F).
    message_id(&batch, &format!("labels%2F{TFM}%2Fround+1.csv"));

    let reply = response(stack.runtime.invoke(&batch).await);

    let mut failures: Vec<String> = reply["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    failures.sort();
    let mut want = vec![missing.clone(), foreign.clone()];
    want.sort();
    assert_eq!(failures, want, "{reply}");
    assert_eq!(
        reply.as_object().unwrap().len(),
        1,
        "only batchItemFailures: {reply}"
    );
    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        run.properties()
            .and_then(|p| p.import_labels_task_run_properties())
            .and_then(|p| p.input_s3_path()),
        Some(format!("s3://{BUCKET}/{}", good.key).as_str())
    );
    assert_eq!(
        stack.final_status(TFM, run.task_run_id().unwrap()).await,
        "SUCCEEDED"
    );
    let logs = stack.logs();
    assert!(logs.contains("EntityNotFoundException"), "{logs}");
    assert!(
        logs.contains(&format!("message_id=\"{foreign}\"")),
        "{logs}"
    );

    // One metrics line for the invocation, counting by reason and class.
    let metrics = stack.metrics();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    let counts: Vec<(&str, u64)> = [
        "Imported",
        "Skipped",
        "Failed",
        "FailedPermanent",
        "FailedRetryable",
        "FailedInvalidEvent",
    ]
    .into_iter()
    .map(|name| (name, metrics[0][name].as_u64().unwrap()))
    .collect();
    assert_eq!(
        counts,
        [
            ("Imported", 1),
            ("Skipped", 0),
            ("Failed", 2),
            ("FailedPermanent", 1),
            ("FailedRetryable", 0),
            ("FailedInvalidEvent", 1)
        ]
    );
    assert_eq!(metrics[0]["FunctionName"], "glue-label-importer");
    assert_eq!(
        metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "GlueLabelImporter"
    );

    // The queue delivers the batch again (visibility timeout): the good file is not imported twice.
    let again = response(stack.runtime.invoke(&batch).await);
    assert_eq!(again["batchItemFailures"].as_array().unwrap().len(), 2);
    assert_eq!(stack.import_runs(TFM).await.len(), 1);
}
