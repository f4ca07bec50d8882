//! End to end, lanes: the real Lambda binary against moto (S3, conditional writes) and
//! glue-local with Glue's per-transform quota of 3 concurrent ML task runs. A transform's
//! imports start in upload order, a replace alone, appends up to MAX_IMPORTS_PER_TRANSFORM;
//! waiting is not failing; the tick starts each upload when its turn comes.

use std::time::Duration;

use aws_sdk_glue::types::TaskRun;
use futures_util::future::join_all;
use glue_local::{Quota, Settings};
use local_stack::{response, s3_event, Stack, BUCKET, SAMPLE};
use serde_json::{json, Value};

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";
const TFM2: &str = "tfm-fedcba9876543210fedcba9876543210fedcba98";

/// One import run as Glue reports it: file, start and end in milliseconds.
#[derive(Debug, Clone)]
struct Span {
    path: String,
    started: i64,
    ended: Option<i64>,
}

fn span(run: &TaskRun) -> Span {
    Span {
        path: local_stack::input_path(run).to_string(),
        started: run.started_on().and_then(|t| t.to_millis().ok()).unwrap(),
        ended: run.completed_on().and_then(|t| t.to_millis().ok()),
    }
}

/// The transform's import runs, oldest start first.
async fn spans(stack: &Stack, transform: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = stack
        .import_runs(transform)
        .await
        .iter()
        .map(span)
        .collect();
    spans.sort_by_key(|s| s.started);
    spans
}

/// The most runs that overlapped at any moment.
fn most_at_once(spans: &[Span]) -> usize {
    spans
        .iter()
        .map(|s| {
            spans
                .iter()
                .filter(|o| o.started <= s.started && o.ended.is_none_or(|e| e > s.started))
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn path(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}

/// Ticks every 200 ms until the ledger of `transform` shows `count` imports, all ended; the
/// ticks' replies.
async fn tick_until_all_ended(stack: &Stack, transform: &str, count: usize) -> Vec<Value> {
    let mut ticks = Vec::new();
    for _ in 0..300 {
        ticks.push(stack.tick().await);
        let runs = stack.import_runs(transform).await;
        let ended = runs.iter().filter(|r| r.completed_on().is_some()).count();
        if runs.len() == count && ended == count && ticks.last().unwrap()["tick"]["open"] == 0 {
            return ticks;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{transform}: not all {count} imports ended: {ticks:?}")
}

async fn statuses(stack: &Stack, transform: &str) -> Vec<String> {
    stack
        .import_runs(transform)
        .await
        .iter()
        .map(|r| {
            r.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn an_append_uploaded_after_a_replace_starts_only_after_the_replace_ended() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let replace = stack
        .upload(
            &format!("labels/{TFM}/corrected.csv"),
            SAMPLE,
            &[("replace-all-labels", "true")],
            None,
        )
        .await;
    let first = response(stack.invoke(&[&replace]).await);
    let replace_run = first["imported"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let append = stack
        .upload(&format!("labels/{TFM}/more.csv"), SAMPLE, &[], None)
        .await;
    let second = response(stack.invoke(&[&append]).await);
    // glue-local's runs take 600 ms: the replace has ended in Glue, not yet in the ledger —
    // the lane asks Glue and the append starts at once.
    assert_eq!(second["imported"][0]["key"], append.key.as_str());
    let spans = spans(&stack, TFM).await;
    assert_eq!(spans.len(), 2);
    assert_eq!(
        (spans[0].path.as_str(), spans[1].path.as_str()),
        (path(&replace.key).as_str(), path(&append.key).as_str())
    );
    assert!(
        spans[1].started >= spans[0].ended.unwrap(),
        "the append started after the replace ended: {spans:?}"
    );
    stack.final_status(TFM, &replace_run).await;
}

#[tokio::test]
async fn an_event_with_a_replace_then_an_append_imports_the_first_and_queues_the_second() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let replace = stack
        .upload(
            &format!("labels/{TFM}/a-replace.csv"),
            SAMPLE,
            &[("replace-all-labels", "true")],
            None,
        )
        .await;
    let append = stack
        .upload(&format!("labels/{TFM}/b-append.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&replace, &append]).await);
    let replace_run = reply["imported"][0]["taskRunId"].as_str().unwrap();
    assert_eq!(reply["imported"][0]["key"], replace.key.as_str());
    let entry = reply["queued"][0]["ledgerEntry"].clone();
    assert_eq!(
        reply["queued"],
        json!([{"bucket": BUCKET, "key": append.key, "transformId": TFM,
                "inputS3Path": path(&append.key), "replaceAllLabels": false,
                "reason": format!("waits for replace {} (task run {replace_run}) to end (nothing starts while a replace runs)", path(&replace.key)),
                "ledgerEntry": entry}])
    );
    assert_eq!(stack.ledger_entry(&entry).await["state"], "QUEUED");
    let tags = stack.tags(&append.key).await;
    assert!(
        tags.contains(&("glue-import-status".into(), "QUEUED".into())),
        "{tags:?}"
    );
    let metrics = stack.metrics();
    assert_eq!(
        (
            &metrics.last().unwrap()["Imported"],
            &metrics.last().unwrap()["ImportQueued"]
        ),
        (&json!(1), &json!(1))
    );

    tick_until_all_ended(&stack, TFM, 2).await;
    let spans = spans(&stack, TFM).await;
    assert_eq!(spans[1].path, path(&append.key));
    assert!(spans[1].started >= spans[0].ended.unwrap(), "{spans:?}");
    assert_eq!(statuses(&stack, TFM).await, ["SUCCEEDED", "SUCCEEDED"]);
}

/// A burst: imports take 3.5 s and uploads come a second apart, so without the lane four
/// would overlap and Glue (quota 3) would refuse the fourth.
#[tokio::test]
async fn five_uploads_a_second_apart_import_one_at_a_time_in_upload_order() {
    let glue = Settings {
        task_run_duration: Duration::from_millis(3_500),
        ..Settings::default()
    };
    let stack = Stack::start_with(glue, &[]).await;
    stack.transform(TFM).await;
    let mut keys = Vec::new();
    let mut replies = Vec::new();
    for n in 0..5 {
        let file = stack
            .upload(&format!("labels/{TFM}/part-{n}.csv"), SAMPLE, &[], None)
            .await;
        replies.push(response(stack.invoke(&[&file]).await));
        keys.push(file.key);
        stack.tick().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(replies[0]["imported"][0]["key"], keys[0].as_str());
    for reply in &replies[1..] {
        assert_eq!(reply["imported"], json!([]), "{reply}");
    }
    tick_until_all_ended(&stack, TFM, 5).await;
    let spans = spans(&stack, TFM).await;
    let order: Vec<&str> = spans.iter().map(|s| s.path.as_str()).collect();
    let expected: Vec<String> = keys.iter().map(|k| path(k)).collect();
    assert_eq!(order, expected, "upload order");
    assert_eq!(most_at_once(&spans), 1, "one at a time: {spans:?}");
    assert_eq!(statuses(&stack, TFM).await, ["SUCCEEDED"; 5]);
    assert_eq!(stack.glue_local.store.refused(), 0, "no start was refused");
    let calls = stack.glue_local.store.calls();
    assert_eq!(calls.get("StartImportLabelsTaskRun"), Some(&5));
}

#[tokio::test]
async fn with_three_imports_allowed_five_appends_run_at_most_three_at_once_in_order() {
    let stack = Stack::start(&[("MAX_IMPORTS_PER_TRANSFORM", "3")]).await;
    stack.transform(TFM).await;
    let mut files = Vec::new();
    for n in 0..5 {
        files.push(
            stack
                .upload(&format!("labels/{TFM}/part-{n}.csv"), SAMPLE, &[], None)
                .await,
        );
    }
    let reply = response(stack.invoke(&files.iter().collect::<Vec<_>>()).await);
    let imported: Vec<&str> = reply["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    let queued: Vec<&str> = reply["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(imported, [&files[0].key, &files[1].key, &files[2].key]);
    assert_eq!(queued, [&files[3].key, &files[4].key]);
    tick_until_all_ended(&stack, TFM, 5).await;
    let spans = spans(&stack, TFM).await;
    let order: Vec<&str> = spans.iter().map(|s| s.path.as_str()).collect();
    let expected: Vec<String> = files.iter().map(|f| path(&f.key)).collect();
    assert_eq!(order, expected, "started in upload order");
    assert_eq!(most_at_once(&spans), 3, "{spans:?}");
    assert_eq!(stack.glue_local.store.refused(), 0);
}

#[tokio::test]
async fn two_transforms_never_wait_for_each_other() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    stack.transform(TFM2).await;
    let a1 = stack
        .upload(&format!("labels/{TFM}/a1.csv"), SAMPLE, &[], None)
        .await;
    let a2 = stack
        .upload(&format!("labels/{TFM}/a2.csv"), SAMPLE, &[], None)
        .await;
    let b1 = stack
        .upload(&format!("labels/{TFM2}/b1.csv"), SAMPLE, &[], None)
        .await;
    let b2 = stack
        .upload(&format!("labels/{TFM2}/b2.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&a1, &a2, &b1, &b2]).await);
    let keys = |list: &str| -> Vec<String> {
        reply[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys("imported"), [a1.key.clone(), b1.key.clone()]);
    assert_eq!(keys("queued"), [a2.key.clone(), b2.key.clone()]);
    // Each lane's second starts at the same tick, whatever the other lane holds.
    let (a_spans, b_spans) = (spans(&stack, TFM).await, spans(&stack, TFM2).await);
    assert_eq!((a_spans.len(), b_spans.len()), (1, 1));
    tick_until_all_ended(&stack, TFM, 2).await;
    tick_until_all_ended(&stack, TFM2, 2).await;
    let (a_spans, b_spans) = (spans(&stack, TFM).await, spans(&stack, TFM2).await);
    assert!(
        (a_spans[1].started - b_spans[1].started).abs() < 1_000,
        "both second imports started at one tick: {a_spans:?} {b_spans:?}"
    );
}

/// Three labeling-set generation runs fill the transform's quota: Glue refuses the start
/// (with either error it uses for it); the upload waits, the invocation succeeds, and once a
/// run ends the tick imports it, once.
#[tokio::test]
async fn an_upload_waits_while_glues_quota_is_full_then_imports_once() {
    let stack = Stack::start(&[]).await;
    for (n, error) in glue_local::QUOTA_ERRORS.iter().enumerate() {
        let transform = format!("tfm-{n:040x}");
        stack.transform(&transform).await;
        stack
            .glue_local
            .store
            .set_quota(Quota {
                max_runs_per_transform: 3,
                error: error.to_string(),
            })
            .unwrap();
        let mut generations = Vec::new();
        for set in 0..3 {
            let run = stack
                .glue
                .start_ml_labeling_set_generation_task_run()
                .transform_id(&transform)
                .output_s3_path(format!("s3://{BUCKET}/sets/{set}/"))
                .send()
                .await
                .unwrap();
            generations.push(run.task_run_id().unwrap().to_string());
        }
        let file = stack
            .upload(
                &format!("labels/{transform}/round-1.csv"),
                SAMPLE,
                &[],
                None,
            )
            .await;
        let reply = response(stack.invoke(&[&file]).await);
        assert_eq!(
            reply["queued"][0]["reason"],
            format!("waits for Glue's quota: Glue StartImportLabelsTaskRun failed with {error}: ML Task Runs count 4 has exceeded the transform limit of 3 task runs.; transform {transform} already runs as many ML task runs as Glue's quota allows (3 by default, every task type counted); the import waits in its lane and the tick starts it when a run ends"),
            "{error}"
        );
        // Still full: the tick tries again, Glue refuses again, nothing fails.
        let tick = stack.tick().await;
        assert_eq!(
            (&tick["tick"]["started"], &tick["tick"]["queued"]),
            (&json!([]), &json!(1)),
            "{error}"
        );
        assert!(tick["tick"]["oldestQueuedSeconds"].as_f64().unwrap() > 0.0);
        stack
            .glue
            .cancel_ml_task_run()
            .transform_id(&transform)
            .task_run_id(&generations[0])
            .send()
            .await
            .unwrap();
        stack.final_status(&transform, &generations[0]).await;
        let tick = stack.tick().await;
        assert_eq!(
            tick["tick"]["started"][0]["key"],
            file.key.as_str(),
            "{error}"
        );
        tick_until_all_ended(&stack, &transform, 1).await;
        assert_eq!(statuses(&stack, &transform).await, ["SUCCEEDED"], "{error}");
        for id in &generations[1..] {
            let _ = stack
                .glue
                .cancel_ml_task_run()
                .transform_id(&transform)
                .task_run_id(id)
                .send()
                .await;
        }
    }
    let queued_metrics: Vec<Value> = stack
        .metrics()
        .into_iter()
        .filter(|m| m.get("Queued").is_some())
        .collect();
    assert!(queued_metrics.iter().any(|m| m["Queued"] == 1));
}

/// An import started by hand (not through the function) holds the lane until it ends.
#[tokio::test]
async fn an_import_the_lane_does_not_know_holds_it() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let by_hand = stack.upload("manual/by-hand.csv", SAMPLE, &[], None).await;
    let hand_run = stack
        .glue
        .start_import_labels_task_run()
        .transform_id(TFM)
        .input_s3_path(path(&by_hand.key))
        .send()
        .await
        .unwrap()
        .task_run_id
        .unwrap();
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(
        reply["queued"][0]["reason"],
        format!("waits for task run {hand_run} (an import of {} that glue-label-importer did not start) to end", path(&by_hand.key))
    );
    stack.final_status(TFM, &hand_run).await;
    tick_until_all_ended(&stack, TFM, 2).await;
    let spans = spans(&stack, TFM).await;
    assert_eq!(spans[1].path, path(&file.key));
    assert!(spans[1].started >= spans[0].ended.unwrap());
}

/// 50 rounds of three different uploads of one transform, each delivered by its own function
/// process at the same moment: the lane takes all three exactly once, gives one turn, and
/// Glue starts one import; no invocation fails.
#[tokio::test]
async fn uploads_racing_into_one_lane_join_it_once_each_and_one_starts() {
    const ROUNDS: usize = 50;
    let stack = Stack::start(&[]).await;
    let _more = stack.more_instances(2, &[]);
    for round in 0..ROUNDS {
        let transform = format!("tfm-{:040x}", 9000 + round);
        stack.transform(&transform).await;
        let mut files = Vec::new();
        for n in 0..3 {
            files.push(
                stack
                    .upload(&format!("labels/{transform}/f{n}.csv"), SAMPLE, &[], None)
                    .await,
            );
        }
        let events: Vec<Value> = files.iter().map(|f| s3_event(&[f])).collect();
        stack.runtime.wait_for_pollers(3).await;
        let replies: Vec<Value> = join_all(events.iter().map(|e| stack.runtime.invoke(e)))
            .await
            .into_iter()
            .map(response)
            .collect();
        let imported: usize = replies
            .iter()
            .map(|r| r["imported"].as_array().unwrap().len())
            .sum();
        let queued: usize = replies
            .iter()
            .map(|r| r["queued"].as_array().unwrap().len())
            .sum();
        assert_eq!((imported, queued), (1, 2), "round {round}: {replies:?}");
        assert_eq!(
            stack.import_runs(&transform).await.len(),
            1,
            "round {round}"
        );
        let lane = stack
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(format!("glue-label-importer/lanes/{transform}.json"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let lane: Value = serde_json::from_slice(&lane).unwrap();
        let mut places: Vec<&str> = lane["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["inputS3Path"].as_str().unwrap())
            .collect();
        places.sort();
        let mut expected: Vec<String> = files.iter().map(|f| path(&f.key)).collect();
        expected.sort();
        assert_eq!(places, expected, "round {round}: each upload once");
        let turns = lane["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["turnAt"].is_string())
            .count();
        assert_eq!(turns, 1, "round {round}: {lane}");
    }
}

/// A delivery that died after taking its turn and before writing its ledger entry holds no
/// lock: the tick drops its place once START_LEASE_SECONDS passed, and the next upload starts.
#[tokio::test]
async fn a_place_left_by_a_dead_delivery_is_dropped_after_the_lease() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let dead = json!({
        "format": 1, "revision": 1, "transformId": TFM,
        "imports": [{"uploadId": "0123456789abcdef0123456789abcdef",
                     "inputS3Path": path(&format!("labels/{TFM}/dead.csv")),
                     "replaceAllLabels": false,
                     "joinedAt": "2026-01-01T00:00:00Z", "turnAt": "2026-01-01T00:00:00Z"}]});
    stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("glue-label-importer/lanes/{TFM}.json"))
        .body(dead.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let reply = response(stack.invoke(&[&file]).await);
    assert_eq!(
        reply["queued"][0]["reason"],
        format!(
            "waits for append {} to end (MAX_IMPORTS_PER_TRANSFORM imports already run)",
            path(&format!("labels/{TFM}/dead.csv"))
        )
    );
    let tick = stack.tick().await;
    assert_eq!(tick["tick"]["started"][0]["key"], file.key.as_str());
    tick_until_all_ended(&stack, TFM, 1).await;
    assert_eq!(statuses(&stack, TFM).await, ["SUCCEEDED"]);
}
