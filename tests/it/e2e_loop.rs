//! End to end, the teaching loop (TEACHING_LOOP=evaluate): the real Lambda binary's ticks
//! against moto and glue-local's FindMatches model — one evaluation per round, NOT_READY, a
//! recorded round with every metric, a FAILED evaluation, the loop off, the idle tick, and
//! concurrent ticks starting one evaluation per round (and telling each round once).

use std::time::Duration;

use futures_util::future::join_all;
use glue_local::Settings;
use local_stack::{response, tick_event, Stack, BUCKET, SAMPLE, SAMPLE_ROWS};
use serde_json::{json, Value};

const TFM: &str = "tfm-00000000000000000000000000000000000000aa";
const LOOP_ON: [(&str, &str); 2] = [("TEACHING_LOOP", "evaluate"), ("LOOP_QUIET_SECONDS", "0")];

fn calls(stack: &Stack, operation: &str) -> u64 {
    stack
        .glue_local
        .store
        .calls()
        .get(operation)
        .copied()
        .unwrap_or(0)
}

fn quick(ready_label_count: i64) -> Settings {
    Settings {
        ready_label_count,
        task_run_duration: Duration::from_millis(150),
        evaluation_run_duration: Duration::from_millis(150),
        ..Settings::default()
    }
}

/// The transform's rounds document, if any.
async fn rounds(stack: &Stack, transform: &str) -> Option<Value> {
    let object = stack
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("glue-label-importer/rounds/{transform}.json"))
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    serde_json::from_slice(&bytes).ok()
}

async fn loop_marker(stack: &Stack, transform: &str) -> bool {
    stack
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(format!("glue-label-importer/open/{transform}/loop"))
        .send()
        .await
        .is_ok()
}

/// Uploads the sample as an append to `transform` under each name and delivers its event.
async fn upload(stack: &Stack, transform: &str, names: &[&str]) {
    for name in names {
        let file = stack
            .upload(&format!("labels/{transform}/{name}.csv"), SAMPLE, &[], None)
            .await;
        response(stack.invoke(&[&file]).await);
    }
}

/// Ticks until the transform's ended import waits in `pending` (noted, its round not open).
async fn tick_until_noted(stack: &Stack) {
    for _ in 0..100 {
        stack.tick().await;
        let doc = rounds(stack, TFM).await.unwrap_or_default();
        if doc["pending"].as_array().is_some_and(|p| !p.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("no import of {TFM} was noted")
}

/// Ticks until round `number` of `transform` is recorded in a final state; every tick's reply.
async fn tick_until_round(stack: &Stack, transform: &str, number: usize) -> (Value, Vec<Value>) {
    let mut ticks = Vec::new();
    for _ in 0..200 {
        ticks.push(stack.tick().await);
        if let Some(doc) = rounds(stack, transform).await {
            let state = &doc["rounds"][number - 1]["state"];
            if state.is_string() && state != "EVALUATING" {
                return (doc, ticks);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{transform}: round {number} not recorded: {ticks:?}")
}

#[tokio::test]
async fn a_burst_of_uploads_makes_one_round_evaluated_once_with_every_metric() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &LOOP_ON).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a", "b", "c"]).await;
    let (doc, ticks) = tick_until_round(&stack, TFM, 1).await;
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 1, "{ticks:?}");
    let round = &doc["rounds"][0];
    assert_eq!(doc["rounds"].as_array().map(Vec::len), Some(1), "{doc:#}");
    assert_eq!(doc["pending"], json!([]));
    assert_eq!(
        (&round["number"], &round["series"], &round["state"]),
        (&json!(1), &json!(1), &json!("EVALUATED"))
    );
    let keys: Vec<&str> = round["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            format!("labels/{TFM}/a.csv"),
            format!("labels/{TFM}/b.csv"),
            format!("labels/{TFM}/c.csv")
        ]
    );
    let labels = 3 * i64::from(SAMPLE_ROWS);
    assert_eq!(round["labelCount"], labels);
    // glue-local's documented model for these labels (synthetic table, no primary key set).
    let columns = ["id", "name", "city"].map(String::from);
    let want = glue_local::findmatches::metrics(labels, None, &columns, None);
    let metrics = &round["metrics"];
    for (ours, glue) in [
        ("areaUnderPRCurve", "AreaUnderPRCurve"),
        ("precision", "Precision"),
        ("recall", "Recall"),
        ("f1", "F1"),
    ] {
        assert_eq!(metrics[ours], want[glue], "{ours}");
    }
    assert_eq!(
        metrics["confusionMatrix"]["numTruePositives"],
        want["ConfusionMatrix"]["NumTruePositives"]
    );
    assert_eq!(
        metrics["columnImportances"][0],
        json!({"columnName": "id", "importance": 0.5})
    );
    assert_eq!(round["change"], Value::Null, "the series' first round");
    assert_eq!(round["evaluation"]["status"], "SUCCEEDED");
    let evaluations = stack
        .glue
        .get_ml_task_runs()
        .transform_id(TFM)
        .filter(
            aws_sdk_glue::types::TaskRunFilterCriteria::builder()
                .task_run_type(aws_sdk_glue::types::TaskType::Evaluation)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        round["evaluation"]["taskRunId"].as_str(),
        evaluations.task_runs()[0].task_run_id()
    );
    let reported: Vec<&Value> = ticks
        .iter()
        .flat_map(|t| t["tick"]["rounds"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(reported.len(), 1, "{ticks:?}");
    assert_eq!(reported[0]["state"], "EVALUATED");
    assert!(stack.logs().contains("round evaluated"), "{}", stack.logs());
    let lines: Vec<Value> = stack
        .metrics()
        .into_iter()
        .filter(|m| m["TransformId"] == TFM)
        .collect();
    assert_eq!(lines.len(), 1, "one metrics line per evaluated round");
    assert_eq!(lines[0]["AreaUnderPRCurve"], metrics["areaUnderPRCurve"]);
    assert_eq!(lines[0]["LabelCount"], labels);

    // Done: the loop marker is gone, and an idle tick asks Glue nothing.
    assert!(!loop_marker(&stack, TFM).await);
    let before = stack.glue_local.store.calls();
    let idle = stack.tick().await;
    assert_eq!(idle["tick"]["open"], 0);
    assert_eq!(idle["tick"].get("rounds"), None);
    assert_eq!(stack.glue_local.store.calls(), before);

    // The next upload makes round 2, measured against round 1.
    upload(&stack, TFM, &["d"]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 2).await;
    let second = &doc["rounds"][1];
    assert_eq!(second["state"], "EVALUATED");
    assert_eq!(second["change"]["fromRound"], 1);
    assert_eq!(second["change"]["labelCount"], i64::from(SAMPLE_ROWS));
    assert!(second["change"]["areaUnderPRCurve"].as_f64().unwrap() > 0.0);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 2);

    // import-labels rounds: the document as JSON, and the table with its chart.
    let args = ["rounds", "--transform-id", TFM, "--bucket", BUCKET];
    let json = crate::cli::cli(Some(&stack), &args).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.json()["rounds"], doc["rounds"]);
    let table = crate::cli::cli(Some(&stack), &[&args[..], &["--output", "table"]].concat()).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ROUND  SERIES  STATE"),
        "{}",
        table.stdout
    );
    let auprc = |n: usize| {
        format!(
            "{:.4}",
            doc["rounds"][n]["metrics"]["areaUnderPRCurve"]
                .as_f64()
                .unwrap()
        )
    };
    assert!(
        lines[2].starts_with("1      1       EVALUATED  24"),
        "{}",
        table.stdout
    );
    assert!(
        lines[2].contains(&auprc(0)) && lines[3].contains(&auprc(1)),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("AUPRC (█) and F1 (▓) by label count")
            && table.stdout.contains("round   2      32 labels  AUPRC █"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn a_transform_not_ready_gets_its_round_recorded_and_no_evaluation() {
    let stack = Stack::start_with(quick(100), &LOOP_ON).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    let round = &doc["rounds"][0];
    assert_eq!(
        (&round["state"], &round["labelCount"], &round["evaluation"]),
        (&json!("NOT_READY"), &json!(SAMPLE_ROWS), &Value::Null)
    );
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 0);
    assert_eq!(calls(&stack, "GetMLTransform"), 1);
    assert!(!loop_marker(&stack, TFM).await);
    assert!(
        stack
            .logs()
            .contains("round not evaluated: the transform is not READY"),
        "{}",
        stack.logs()
    );
}

#[tokio::test]
async fn a_failed_evaluation_is_recorded_with_glues_error_and_not_started_again() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &LOOP_ON).await;
    stack.transform(TFM).await;
    stack
        .glue_local
        .store
        .add_outcome(glue_local::RunOutcome {
            task_type: "EVALUATION".into(),
            transform_id: Some(TFM.into()),
            input_s3_path: None,
            output_s3_path: None,
            status: "FAILED".into(),
            error_string: Some("Dependency failure.".into()),
            metrics: None,
            count: 1,
        })
        .unwrap();
    upload(&stack, TFM, &["a"]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    let round = &doc["rounds"][0];
    assert_eq!(
        (
            &round["state"],
            &round["errorString"],
            &round["evaluation"]["status"]
        ),
        (
            &json!("FAILED"),
            &json!("Dependency failure."),
            &json!("FAILED")
        )
    );
    for _ in 0..3 {
        stack.tick().await;
    }
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 1);
    assert!(stack.logs().contains("Dependency failure."));
    upload(&stack, TFM, &["b"]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 2).await;
    assert_eq!(doc["rounds"][1]["state"], "EVALUATED");
}

#[tokio::test]
async fn with_the_loop_off_a_tick_makes_no_loop_call() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &[]).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    for _ in 0..20 {
        let tick = stack.tick().await;
        if tick["tick"]["open"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(calls(&stack, "GetMLTransform"), 0);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 0);
    assert_eq!(rounds(&stack, TFM).await, None);
    assert_eq!(
        stack.label_count(TFM).await,
        SAMPLE_ROWS,
        "the import ended"
    );
}

/// Three ticks at once, in three function instances, meet each due round: one evaluation
/// starts per round, 50 rounds in a row.
#[tokio::test]
async fn concurrent_ticks_start_one_evaluation_and_one_generation_per_round() {
    // A quiet second: the tick that notes the import does not open the round itself. A
    // plateau too small to stop the loop within 50 rounds.
    // Each round's messages are raced too: one round-evaluated and one labeling-set-ready.
    let arn = local_stack::topic_arn("loop-news");
    let env = [
        ("TEACHING_LOOP", "evaluate-and-generate"),
        ("LOOP_QUIET_SECONDS", "1"),
        ("PLATEAU_DELTA", "0.000001"),
        ("NOTIFY_TOPIC_ARN", arn.as_str()),
    ];
    let settings = Settings {
        generation_run_duration: Duration::from_millis(150),
        ..quick(SAMPLE_ROWS.into())
    };
    let stack = Stack::start_with(settings, &env).await;
    let instances = 3;
    let _more = stack.more_instances(instances - 1, &env);
    let topic = stack.topic("loop-news").await;
    stack.transform(TFM).await;
    for round in 1..=50usize {
        upload(&stack, TFM, &[&format!("race-{round}")]).await;
        let uploaded = std::time::Instant::now();
        // Tick until the import ended and was noted; the round is not opened yet.
        tick_until_noted(&stack).await;
        let doc = rounds(&stack, TFM).await.unwrap_or_default();
        assert_eq!(
            doc["rounds"].as_array().map_or(0, Vec::len),
            round - 1,
            "round {round} opened before the quiet second: {doc:#}"
        );
        tokio::time::sleep(Duration::from_millis(1100).saturating_sub(uploaded.elapsed())).await;
        // Every tick from here on runs in all instances at once: the round's open, its
        // evaluation's start and record, its generation's start and record are all raced.
        let mut replies = Vec::new();
        let mut doc = Value::Null;
        for _ in 0..200 {
            stack.runtime.wait_for_pollers(instances).await;
            let tick = tick_event();
            replies.extend(
                join_all((0..instances).map(|_| stack.runtime.invoke(&tick)))
                    .await
                    .into_iter()
                    .map(response),
            );
            doc = rounds(&stack, TFM).await.unwrap_or_default();
            if doc["rounds"][round - 1]["generation"]["run"]["status"] == "SUCCEEDED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let this = &doc["rounds"][round - 1];
        assert_eq!(this["state"], "EVALUATED", "{doc:#}");
        assert_eq!(this["generation"]["run"]["status"], "SUCCEEDED", "{doc:#}");
        assert_eq!(doc["rounds"].as_array().map(Vec::len), Some(round));
        assert_eq!(
            calls(&stack, "StartMLEvaluationTaskRun"),
            round as u64,
            "round {round}: {replies:?}"
        );
        assert_eq!(
            calls(&stack, "StartMLLabelingSetGenerationTaskRun"),
            round as u64,
            "round {round}: {replies:?}"
        );
        let reported = replies
            .iter()
            .flat_map(|r| {
                r["tick"]["labelingSets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .count();
        assert_eq!(reported, 1, "one tick lists the set: {replies:?}");
        let told: Vec<(String, String)> = stack
            .messages(&topic)
            .await
            .into_iter()
            .map(|m| (m.event, m.subject))
            .collect();
        assert_eq!(
            told,
            [
                (
                    "round-evaluated".to_string(),
                    format!(
                        "Round {round} of {TFM}: AUPRC {:.4} ({})",
                        this["metrics"]["areaUnderPRCurve"].as_f64().unwrap(),
                        if round == 1 {
                            "first".to_string()
                        } else {
                            format!(
                                "{:+.4}",
                                this["change"]["areaUnderPRCurve"].as_f64().unwrap()
                            )
                        }
                    )
                ),
                (
                    "labeling-set-ready".to_string(),
                    format!("Labeling set ready: round {} of {TFM}", round + 1)
                ),
            ],
            "round {round}"
        );
    }
}

/// Glue's quota refuses the evaluation: the round waits, deferred, and a later tick starts it
/// once a run of the transform ended.
#[tokio::test]
async fn an_evaluation_refused_for_the_quota_is_started_at_a_later_tick() {
    let env = [("TEACHING_LOOP", "evaluate"), ("LOOP_QUIET_SECONDS", "1")];
    let stack = Stack::start_with(
        Settings {
            generation_run_duration: Duration::from_secs(60),
            ..quick(SAMPLE_ROWS.into())
        },
        &env,
    )
    .await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    tick_until_noted(&stack).await;
    let mut generations = Vec::new();
    for n in 0..3 {
        let run = stack
            .glue
            .start_ml_labeling_set_generation_task_run()
            .transform_id(TFM)
            .output_s3_path(format!("s3://{BUCKET}/elsewhere/{n}/"))
            .send()
            .await
            .unwrap();
        generations.push(run.task_run_id().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.tick().await;
    let doc = rounds(&stack, TFM).await.unwrap();
    let round = &doc["rounds"][0];
    assert_eq!(round["state"], "EVALUATING", "{doc:#}");
    assert_eq!(round["evaluation"]["taskRunId"], Value::Null);
    assert_eq!(
        round["evaluation"]["markedAt"],
        Value::Null,
        "deferred: no mark"
    );
    assert!(
        round["evaluation"]["lastError"]
            .as_str()
            .unwrap()
            .contains("ConcurrentRunsExceededException"),
        "{doc:#}"
    );
    assert_eq!(stack.glue_local.store.refused(), 1);
    stack.tick().await;
    assert_eq!(
        stack.glue_local.store.refused(),
        2,
        "tried again at the next tick"
    );
    stack
        .glue
        .cancel_ml_task_run()
        .transform_id(TFM)
        .task_run_id(&generations[0])
        .send()
        .await
        .unwrap();
    stack.final_status(TFM, &generations[0]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    assert_eq!(doc["rounds"][0]["state"], "EVALUATED", "{doc:#}");
    assert_eq!(doc["rounds"][0]["evaluation"]["attempts"], 3);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 3);
    for id in &generations[1..] {
        let _ = stack
            .glue
            .cancel_ml_task_run()
            .transform_id(TFM)
            .task_run_id(id)
            .send()
            .await;
    }
}

/// A transform deleted before its round: the round is recorded FAILED with Glue's refusal, and
/// the loop stops asking (an idle tick again costs no Glue call).
#[tokio::test]
async fn a_round_of_a_deleted_transform_fails_once_and_the_loop_stops_asking() {
    let env = [("TEACHING_LOOP", "evaluate"), ("LOOP_QUIET_SECONDS", "1")];
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &env).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    tick_until_noted(&stack).await;
    stack
        .glue
        .delete_ml_transform()
        .transform_id(TFM)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    let round = &doc["rounds"][0];
    assert_eq!(round["state"], "FAILED", "{doc:#}");
    assert!(
        round["errorString"].as_str().unwrap().starts_with(
            "Glue GetMLTransform failed with EntityNotFoundException: Cannot find MLTransform"
        ),
        "{doc:#}"
    );
    assert!(!loop_marker(&stack, TFM).await);
    let before = stack.glue_local.store.calls();
    stack.tick().await;
    assert_eq!(stack.glue_local.store.calls(), before);
}

/// An attempt answered unclearly, then one deferred for the quota (its mark cleared): before it
/// sends again, the tick asks Glue's history since the first attempt's mark, and adopts the
/// evaluation the first attempt started, instead of starting a second.
#[tokio::test]
async fn a_deferred_retry_adopts_the_run_an_unclear_attempt_started() {
    let stack = Stack::start_with(quick(0), &LOOP_ON).await;
    stack.transform(TFM).await;
    let first_mark = chrono::Utc::now() - chrono::Duration::seconds(5);
    // What the unclear attempt started, unknown to the document.
    let started = stack
        .glue
        .start_ml_evaluation_task_run()
        .transform_id(TFM)
        .send()
        .await
        .unwrap();
    let started = started.task_run_id().unwrap().to_string();
    let document = json!({
        "format": 1, "revision": 4, "transformId": TFM, "pending": [],
        "lastUploadAt": first_mark.to_rfc3339(),
        "rounds": [{"number": 1, "series": 1, "state": "EVALUATING",
                    "imports": [{"key": format!("labels/{TFM}/a.csv"), "taskRunId": "tsk-import",
                                 "replaceAllLabels": false, "completedOn": null}],
                    "openedAt": first_mark.to_rfc3339(),
                    "evaluation": {"taskRunId": null, "markedAt": null, "markedBy": null,
                                   "firstMarkedAt": first_mark.to_rfc3339(), "attempts": 2,
                                   "status": null, "startedOn": null, "completedOn": null,
                                   "lastError": "Glue StartMLEvaluationTaskRun failed with ConcurrentRunsExceededException: …"},
                    "labelCount": null, "parameters": null, "metrics": null, "change": null,
                    "errorString": null, "stopped": null}]
    });
    for (key, body) in [
        (
            format!("glue-label-importer/rounds/{TFM}.json"),
            document.to_string(),
        ),
        (
            format!("glue-label-importer/open/{TFM}/loop"),
            String::new(),
        ),
    ] {
        stack
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    assert_eq!(
        (
            &doc["rounds"][0]["state"],
            &doc["rounds"][0]["evaluation"]["taskRunId"]
        ),
        (&json!("EVALUATED"), &json!(started)),
        "{doc:#}"
    );
    assert_eq!(
        calls(&stack, "StartMLEvaluationTaskRun"),
        1,
        "only the first attempt's"
    );
}

/// The stop rule on recorded rounds: a plateau (forced metrics gaining less than
/// PLATEAU_DELTA over PLATEAU_ROUNDS rounds), then, after a replace starts a new series, a
/// target reached.
#[tokio::test]
async fn a_round_says_why_the_loop_stopped_and_a_replace_starts_over() {
    let env = [
        ("TEACHING_LOOP", "evaluate"),
        ("LOOP_QUIET_SECONDS", "0"),
        ("TARGET_AUPRC", "0.95"),
        ("PLATEAU_DELTA", "0.01"),
        ("PLATEAU_ROUNDS", "2"),
    ];
    let stack = Stack::start_with(quick(0), &env).await;
    stack.transform(TFM).await;
    let force = |auprc: f64| {
        let metrics = json!({"AreaUnderPRCurve": auprc, "F1": auprc});
        stack
            .glue_local
            .store
            .add_outcome(glue_local::RunOutcome {
                task_type: "EVALUATION".into(),
                transform_id: Some(TFM.into()),
                input_s3_path: None,
                output_s3_path: None,
                status: "SUCCEEDED".into(),
                error_string: None,
                metrics: metrics.as_object().cloned(),
                count: 1,
            })
            .unwrap();
    };
    let mut stopped = Vec::new();
    for (n, auprc) in [0.80, 0.90, 0.905, 0.908].into_iter().enumerate() {
        force(auprc);
        upload(&stack, TFM, &[&format!("r{n}")]).await;
        let (doc, _) = tick_until_round(&stack, TFM, n + 1).await;
        stopped.push(doc["rounds"][n]["stopped"].clone());
    }
    assert_eq!(stopped[..3], [Value::Null, Value::Null, Value::Null]);
    assert_eq!(
        stopped[3],
        json!({"reason": "plateau", "rounds": 2, "delta": 0.01, "gain": 0.008, "best": 0.908})
    );
    // A replace starts a new series: the plateau is forgotten; 0.96 reaches the target.
    force(0.96);
    let file = stack
        .upload(
            &format!("labels/{TFM}/again.csv"),
            SAMPLE,
            &[("replace-all-labels", "true")],
            None,
        )
        .await;
    response(stack.invoke(&[&file]).await);
    let (doc, _) = tick_until_round(&stack, TFM, 5).await;
    let fifth = &doc["rounds"][4];
    assert_eq!(
        (&fifth["series"], &fifth["change"]),
        (&json!(2), &Value::Null)
    );
    assert_eq!(
        fifth["stopped"],
        json!({"reason": "targetReached", "auprc": 0.96, "target": 0.95})
    );
    let table = crate::cli::cli(
        Some(&stack),
        &[
            "rounds",
            "--transform-id",
            TFM,
            "--bucket",
            BUCKET,
            "--output",
            "table",
        ],
    )
    .await;
    assert!(
        table
            .stdout
            .contains("AreaUnderPRCurve 0.96 reached TARGET_AUPRC 0.95"),
        "{}",
        table.stdout
    );
}

/// evaluate-and-generate: after the evaluated round, one labeling-set generation into
/// `labeling-sets/<transform>/round-2/` (outside the labels prefix), its file listed and the
/// labeler told where it goes back; none once the loop stopped.
#[tokio::test]
async fn after_a_round_the_next_labeling_set_is_generated_once_and_listed() {
    let env = [
        ("TEACHING_LOOP", "evaluate-and-generate"),
        ("LOOP_QUIET_SECONDS", "0"),
    ];
    let settings = Settings {
        generation_run_duration: Duration::from_millis(150),
        ..quick(SAMPLE_ROWS.into())
    };
    let stack = Stack::start_with(settings, &env).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    let mut reported = Vec::new();
    let mut doc = Value::Null;
    for _ in 0..200 {
        let tick = stack.tick().await;
        reported.extend(
            tick["tick"]["labelingSets"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        doc = rounds(&stack, TFM).await.unwrap_or_default();
        if doc["rounds"][0]["generation"]["run"]["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let generation = &doc["rounds"][0]["generation"];
    assert_eq!(generation["run"]["status"], "SUCCEEDED", "{doc:#}");
    let output = format!("s3://{BUCKET}/labeling-sets/{TFM}/round-2/");
    assert_eq!(generation["outputS3Path"], output.as_str());
    assert_eq!(
        generation["uploadTo"],
        format!("s3://{BUCKET}/labels/{TFM}/round-2.csv")
    );
    let listed = stack
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("labeling-sets/{TFM}/round-2/"))
        .send()
        .await
        .unwrap();
    let written: Vec<String> = listed
        .contents()
        .iter()
        .map(|o| format!("s3://{BUCKET}/{}", o.key().unwrap()))
        .collect();
    assert_eq!(written.len(), 1);
    assert_eq!(generation["objects"], json!(written));
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(reported[0]["objects"], json!(written));
    assert!(
        stack.logs().contains("labeling set ready"),
        "{}",
        stack.logs()
    );
    for _ in 0..3 {
        stack.tick().await;
    }
    assert_eq!(calls(&stack, "StartMLLabelingSetGenerationTaskRun"), 1);
    assert!(!loop_marker(&stack, TFM).await);
    // The generated file is unlabeled, outside the labels prefix: nothing imported it.
    assert_eq!(stack.import_runs(TFM).await.len(), 1);
}

#[tokio::test]
async fn no_labeling_set_is_generated_once_the_loop_stopped() {
    let env = [
        ("TEACHING_LOOP", "evaluate-and-generate"),
        ("LOOP_QUIET_SECONDS", "0"),
        ("TARGET_AUPRC", "0.1"),
    ];
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &env).await;
    stack.transform(TFM).await;
    upload(&stack, TFM, &["a"]).await;
    let (doc, _) = tick_until_round(&stack, TFM, 1).await;
    assert_eq!(doc["rounds"][0]["stopped"]["reason"], "targetReached");
    for _ in 0..3 {
        stack.tick().await;
    }
    assert_eq!(calls(&stack, "StartMLLabelingSetGenerationTaskRun"), 0);
    assert_eq!(
        rounds(&stack, TFM).await.unwrap()["rounds"][0]["generation"],
        Value::Null
    );
    assert!(!loop_marker(&stack, TFM).await);
}
