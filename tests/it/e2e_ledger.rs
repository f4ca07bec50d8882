//! End to end, the import ledger and the tick: the real Lambda binary (several instances at
//! once where a race is claimed) against moto (S3, conditional writes) and glue-local.

use aws_sdk_s3::primitives::ByteStream;
use futures_util::future::join_all;
use glue_label_importer::lifecycle::entry::{Entry, ImportState, Upload};
use glue_local::Fault;
use local_stack::{error, response, s3_event, Stack, Uploaded, BUCKET, SAMPLE};
use serde_json::{json, Value};

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";
/// Rounds of each race: every round is a new upload delivered to every instance at once.
const ROUNDS: usize = 50;

fn start_calls(stack: &Stack) -> u64 {
    stack
        .glue_local
        .store
        .calls()
        .get("StartImportLabelsTaskRun")
        .copied()
        .unwrap_or(0)
}

/// The import runs of one file (of the transform its key names).
async fn runs_of(stack: &Stack, key: &str) -> Vec<String> {
    let path = format!("s3://{BUCKET}/{key}");
    let transform = key.split('/').nth(1).unwrap_or(TFM);
    stack
        .import_runs(transform)
        .await
        .iter()
        .filter(|r| local_stack::input_path(r) == path)
        .map(|r| r.task_run_id().unwrap_or_default().to_string())
        .collect()
}

async fn tag(stack: &Stack, key: &str, name: &str) -> Option<String> {
    stack
        .tags(key)
        .await
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[tokio::test]
async fn the_same_event_in_several_instances_at_once_starts_one_import() {
    let stack = Stack::start(&[]).await;
    for instances in [2usize, 4] {
        let _more = stack.more_instances(instances - 1, &[]);
        for round in 0..ROUNDS {
            // A transform per round: each upload finds its lane idle (lanes: e2e_lanes).
            let transform = format!("tfm-{:040x}", instances * 1000 + round);
            stack.transform(&transform).await;
            let key = format!("labels/{transform}/race-{instances}-{round}.csv");
            let file = stack.upload(&key, SAMPLE, &[], None).await;
            let event = s3_event(&[&file]);
            stack.runtime.wait_for_pollers(instances).await;
            let replies: Vec<Value> =
                join_all((0..instances).map(|_| stack.runtime.invoke(&event)))
                    .await
                    .into_iter()
                    .map(response) // every delivery succeeds: none fails for losing the race
                    .collect();
            let imported: Vec<&Value> = replies
                .iter()
                .flat_map(|r| r["imported"].as_array().into_iter().flatten())
                .collect();
            let skipped: Vec<&str> = replies
                .iter()
                .flat_map(|r| r["skipped"].as_array().into_iter().flatten())
                .map(|s| s["reason"].as_str().unwrap_or_default())
                .collect();
            let runs = runs_of(&stack, &key).await;
            assert_eq!(
                runs.len(),
                1,
                "{instances} instances, round {round}: {replies:?}"
            );
            assert_eq!(imported.len(), 1, "{instances}/{round}: {replies:?}");
            assert_eq!(imported[0]["taskRunId"], json!(runs[0]));
            assert_eq!(skipped.len(), instances - 1, "{instances}/{round}");
            assert!(
                skipped.iter().all(|r| r.starts_with("duplicate: ")),
                "{skipped:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_start_whose_answer_is_lost_is_adopted_not_sent_again() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(&format!("labels/{TFM}/lost.csv"), SAMPLE, &[], None)
        .await;
    // Glue starts the run, then answers 500: the SDK's retry would start a second one.
    stack.glue_local.store.add_fault(Fault {
        operation: Some("StartImportLabelsTaskRun".into()),
        error: "InternalServiceException".into(),
        lost_answer: true,
        ..Fault::default()
    });
    let reply = response(stack.invoke(&[&file]).await);
    let runs = runs_of(&stack, &file.key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(start_calls(&stack), 1, "the start was sent once");
    assert_eq!(reply["imported"][0]["taskRunId"], json!(runs[0]));
    assert!(
        stack
            .logs()
            .contains("adopted the task run found in Glue's history"),
        "{}",
        stack.logs()
    );
    let entry = stack
        .ledger_entry(&reply["imported"][0]["ledgerEntry"])
        .await;
    assert_eq!(entry["taskRunId"], json!(runs[0]));
    assert_eq!(entry["startAttempts"], 1);
    stack.final_status(TFM, &runs[0]).await; // the lane is free again

    // A 500 that started nothing: history shows no run, so the start is sent again.
    let other = stack
        .upload(&format!("labels/{TFM}/retry.csv"), SAMPLE, &[], None)
        .await;
    stack.glue_local.store.add_fault(Fault {
        operation: Some("StartImportLabelsTaskRun".into()),
        error: "InternalServiceException".into(),
        ..Fault::default()
    });
    let reply = response(stack.invoke(&[&other]).await);
    let runs = runs_of(&stack, &other.key).await;
    assert_eq!((runs.len(), start_calls(&stack)), (1, 3));
    assert_eq!(reply["imported"][0]["taskRunId"], json!(runs[0]));
}

#[tokio::test]
async fn a_tick_follows_each_import_to_its_end_with_glues_error() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let good = stack
        .upload(&format!("labels/{TFM}/good.csv"), SAMPLE, &[], None)
        .await;
    let bad = stack
        .upload(&format!("labels/{TFM}/bad.csv"), SAMPLE, &[], None)
        .await;
    let glue_says = "Labeling set 022ce3ed is not one of this transform's labeling sets.";
    stack.fail_next_run(&bad.key, glue_says);
    let reply = response(stack.invoke(&[&good, &bad]).await);
    let good_run = reply["imported"][0]["taskRunId"].as_str().unwrap();
    // One import at a time: bad waits in the lane behind good.
    assert_eq!(reply["queued"][0]["key"], bad.key.as_str());
    assert_eq!(
        tag(&stack, &bad.key, "glue-import-status").await.as_deref(),
        Some("QUEUED")
    );
    assert_eq!(stack.final_status(TFM, good_run).await, "SUCCEEDED");

    // The tick records good's end and gives bad its turn.
    let tick = stack.tick().await;
    assert_eq!(
        tick["tick"]["finished"],
        json!([{"bucket": BUCKET, "key": good.key, "transformId": TFM, "taskRunId": good_run,
                "state": "SUCCEEDED"}])
    );
    assert_eq!(tick["tick"]["started"][0]["key"], bad.key.as_str());
    let bad_run = tick["tick"]["started"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        (
            &tick["tick"]["open"],
            &tick["tick"]["errors"],
            &tick["tick"]["queued"]
        ),
        (&json!(2), &json!([]), &json!(0))
    );
    assert_eq!(stack.final_status(TFM, &bad_run).await, "FAILED");
    let tick = stack.tick().await;
    assert_eq!(
        tick["tick"]["finished"],
        json!([{"bucket": BUCKET, "key": bad.key, "transformId": TFM, "taskRunId": bad_run,
                "state": "FAILED", "errorString": glue_says}])
    );
    for (file, status) in [(&good, "SUCCEEDED"), (&bad, "FAILED")] {
        assert_eq!(
            tag(&stack, &file.key, "glue-import-status")
                .await
                .as_deref(),
            Some(status)
        );
    }
    let entry = stack.ledger_entry(&reply["queued"][0]["ledgerEntry"]).await;
    assert_eq!(
        (&entry["state"], &entry["errorString"]),
        (&json!("FAILED"), &json!(glue_says))
    );
    let states: Vec<&str> = entry["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["QUEUED", "STARTING", "FAILED"]);
    assert!(entry["completedOn"].is_string(), "{entry}");

    let logs = stack.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("import finished") && l.contains(bad_run.as_str()))
        .unwrap_or_else(|| panic!("no finished line for {bad_run} in {logs}"));
    for field in ["FAILED", glue_says, "upload_to_end_seconds", TFM] {
        assert!(line.contains(field), "{line} should contain {field}");
    }
    let metrics = stack.metrics();
    let ticks: Vec<&Value> = metrics
        .iter()
        .filter(|m| m.get("Queued").is_some())
        .collect();
    let ended: Vec<(&Value, &Value)> = ticks
        .iter()
        .map(|m| (&m["ImportSucceeded"], &m["ImportFailed"]))
        .collect();
    assert_eq!(ended, [(&json!(1), &json!(0)), (&json!(0), &json!(1))]);
    assert!(ticks
        .iter()
        .all(|m| m["ImportSeconds"].as_array().map(Vec::len) == Some(1)));

    // Both ended: the next tick finds nothing open and asks Glue nothing.
    let glue_calls = stack.glue_local.store.calls();
    let next = stack.tick().await;
    assert_eq!(next["tick"]["open"], 0);
    assert_eq!(stack.glue_local.store.calls(), glue_calls);
}

#[tokio::test]
async fn an_idle_tick_asks_glue_nothing() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let before = stack.glue_local.store.calls();
    let reply = stack.tick().await;
    assert_eq!(
        reply,
        json!({"tick": {"open": 0, "started": [], "progressed": [], "finished": [], "queued": 0,
                        "oldestQueuedSeconds": 0.0, "errors": []}})
    );
    assert_eq!(stack.glue_local.store.calls(), before);
    assert!(stack.logs().contains("tick done"), "{}", stack.logs());
    drop(stack);

    let unset = Stack::start(&[("LABELS_BUCKET", "")]).await;
    assert_eq!(unset.tick().await["tick"]["open"], 0);
    assert!(
        unset.logs().contains("LABELS_BUCKET is not set"),
        "{}",
        unset.logs()
    );
}

/// Writes the ledger as a process that died right after marking its start would leave it:
/// the entry STARTING without a task run, marked two minutes ago, and its open marker.
async fn abandoned_mark(stack: &Stack, file: &Uploaded) -> String {
    let head = stack
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(&file.key)
        .send()
        .await
        .unwrap();
    let upload = Upload {
        bucket: BUCKET.into(),
        key: file.key.clone(),
        etag: file.etag.clone(),
        version_id: None,
        last_modified: head.last_modified().map(|t| t.secs()),
        uploaded_at: chrono::DateTime::from_timestamp_millis(file.time_ms).unwrap(),
    };
    let id = upload.id(None);
    let marked_at = chrono::DateTime::from_timestamp_millis(file.time_ms - 120_000).unwrap();
    let mut entry = Entry::new(
        &upload,
        TFM,
        &format!("s3://{BUCKET}/{}", file.key),
        false,
        ImportState::Starting,
        marked_at,
    );
    entry.revision = 1;
    entry.marked_at = Some(marked_at);
    entry.marked_by = Some("a-process-that-died".into());
    entry.start_attempts = 1;
    let key = format!("glue-label-importer/entries/{TFM}/{id}.json");
    for (k, body) in [
        (key.clone(), serde_json::to_vec_pretty(&entry).unwrap()),
        (format!("glue-label-importer/open/{TFM}/{id}"), vec![]),
    ] {
        stack
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(k)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    key
}

#[tokio::test]
async fn a_start_abandoned_between_mark_and_record_ends_with_exactly_one_run() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;

    // Died before the start reached Glue: the tick finds no run and starts one.
    let never_sent = stack
        .upload(&format!("labels/{TFM}/never-sent.csv"), SAMPLE, &[], None)
        .await;
    let entry_key = abandoned_mark(&stack, &never_sent).await;
    let tick = stack.tick().await;
    let runs = runs_of(&stack, &never_sent.key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(tick["tick"]["started"][0]["taskRunId"], json!(runs[0]));
    let entry = stack
        .ledger_entry(&json!(format!("s3://{BUCKET}/{entry_key}")))
        .await;
    assert_eq!(
        (&entry["taskRunId"], &entry["startAttempts"]),
        (&json!(runs[0]), &json!(2))
    );

    // Died after Glue started the run, before recording it: the tick adopts that run.
    let sent = stack
        .upload(&format!("labels/{TFM}/sent.csv"), SAMPLE, &[], None)
        .await;
    let entry_key = abandoned_mark(&stack, &sent).await;
    let run = stack
        .glue
        .start_import_labels_task_run()
        .transform_id(TFM)
        .input_s3_path(format!("s3://{BUCKET}/{}", sent.key))
        .send()
        .await
        .unwrap()
        .task_run_id
        .unwrap();
    let calls = start_calls(&stack);
    stack.tick().await;
    assert_eq!(runs_of(&stack, &sent.key).await, std::slice::from_ref(&run));
    assert_eq!(start_calls(&stack), calls, "nothing was sent again");
    let entry = stack
        .ledger_entry(&json!(format!("s3://{BUCKET}/{entry_key}")))
        .await;
    assert_eq!(entry["taskRunId"], json!(run));

    // A late delivery of either upload imports nothing more.
    let reply = response(stack.invoke(&[&never_sent, &sent]).await);
    assert_eq!(reply["imported"], json!([]));
    assert_eq!(runs_of(&stack, &never_sent.key).await.len(), 1);
    assert_eq!(runs_of(&stack, &sent.key).await.len(), 1);

    // A delivery that meets an abandoned mark resolves it the same way.
    let redelivered = stack
        .upload(&format!("labels/{TFM}/redelivered.csv"), SAMPLE, &[], None)
        .await;
    abandoned_mark(&stack, &redelivered).await;
    let reply = response(stack.invoke(&[&redelivered]).await);
    let runs = runs_of(&stack, &redelivered.key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(reply["imported"][0]["taskRunId"], json!(runs[0]));
}

#[tokio::test]
async fn an_unreadable_entry_is_reported_and_left_as_it_is() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    for (name, body, problem) in [
        ("garbage", "{not json", "not JSON: key must be a string at line 1 column 2"),
        ("newer", r#"{"format": 2, "state": "TELEPORTING"}"#,
         "format 2 is newer than this function's format 1; deploy the newer function version that wrote it"),
    ] {
        let file = stack
            .upload(&format!("labels/{TFM}/{name}.csv"), SAMPLE, &[], None)
            .await;
        let entry_key = abandoned_mark(&stack, &file).await;
        stack
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&entry_key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
        let (error_type, message) = error(stack.invoke(&[&file]).await);
        assert_eq!(error_type, "PermanentImportFailure");
        assert_eq!(
            message,
            format!("1 of 1 record(s) failed: s3://{BUCKET}/{}: ledger entry s3://{BUCKET}/{entry_key} cannot be used ({problem}); it was left as it is: fix or delete it, then re-drive the upload with `import-labels import --force`", file.key)
        );
        let tick = stack.tick().await;
        assert_eq!(
            tick["tick"]["errors"],
            json!([format!("ledger entry s3://{BUCKET}/{entry_key} cannot be used ({problem}); it was left as it is: fix or delete it, then re-drive the upload with `import-labels import --force`")])
        );
        let stored = stack
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(&entry_key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(stored.as_ref(), body.as_bytes(), "nothing overwritten");
        assert!(stack.logs().contains(&entry_key), "the error names the key");
        // Cleared for the next case: the marker of this one stays open.
        stack
            .s3
            .delete_object()
            .bucket(BUCKET)
            .key(format!(
                "glue-label-importer/open/{TFM}/{}",
                entry_key.rsplit('/').next().unwrap().trim_end_matches(".json")
            ))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(start_calls(&stack), 0);
}
