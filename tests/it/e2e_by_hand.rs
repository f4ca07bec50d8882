//! End to end, the teaching loop's steps by hand (`import-labels evaluate` and `generate`):
//! the real CLI against moto and glue-local's FindMatches model, on a deployment with the loop
//! off (the by-hand steps do not need it) and on one that generates (its tick follows what a
//! step by hand started). Exactly once: repeated and concurrent commands start one run.

use std::time::Duration;

use futures_util::future::join_all;
use glue_local::Settings;
use local_stack::{response, Stack, BUCKET, SAMPLE, SAMPLE_ROWS};
use serde_json::{json, Value};

use crate::cli::{cli, Run};

const TFM: &str = "tfm-00000000000000000000000000000000000000bb";
const FAST: &str = "0.05";

fn calls(stack: &Stack, operation: &str) -> u64 {
    let calls = stack.glue_local.store.calls();
    calls.get(operation).copied().unwrap_or(0)
}

fn quick(ready_label_count: i64) -> Settings {
    Settings {
        ready_label_count,
        task_run_duration: Duration::from_millis(150),
        evaluation_run_duration: Duration::from_millis(150),
        generation_run_duration: Duration::from_millis(150),
        ..Settings::default()
    }
}

async fn step(stack: &Stack, command: &str, transform: &str, wait: bool) -> Run {
    let mut args = vec![
        command,
        "--transform-id",
        transform,
        "--bucket",
        BUCKET,
        "--poll-interval",
        FAST,
    ];
    if wait {
        args.push("--wait");
    }
    cli(Some(stack), &args).await
}

async fn rounds(stack: &Stack, transform: &str) -> Value {
    let object = stack
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("glue-label-importer/rounds/{transform}.json"))
        .send()
        .await
        .expect("a rounds document");
    let bytes = object.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn open_markers(stack: &Stack, transform: &str) -> Vec<String> {
    let listed = stack
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("glue-label-importer/open/{transform}/"))
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// Uploads the sample to `transform` as `name` and ticks until its import ended and its
/// marker went.
async fn import(stack: &Stack, transform: &str, name: &str) {
    let file = stack
        .upload(&format!("labels/{transform}/{name}.csv"), SAMPLE, &[], None)
        .await;
    response(stack.invoke(&[&file]).await);
    for _ in 0..200 {
        stack.tick().await;
        let open = open_markers(stack, transform).await;
        if open.iter().all(|k| k.ends_with("/loop")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the import of {name} did not end")
}

#[tokio::test]
async fn evaluate_by_hand_measures_the_labels_once_and_records_the_round() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &[]).await;
    stack.transform(TFM).await;
    import(&stack, TFM, "a").await;
    let run = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(
        (&out["asked"], &out["transformId"]),
        (&json!("started"), &json!(TFM))
    );
    let round = &out["round"];
    assert_eq!(
        (&round["number"], &round["state"], &round["labelCount"]),
        (&json!(1), &json!("EVALUATED"), &json!(SAMPLE_ROWS))
    );
    let columns = ["id", "name", "city"].map(String::from);
    let want = glue_local::findmatches::metrics(SAMPLE_ROWS.into(), None, &columns, None);
    assert_eq!(
        round["metrics"]["areaUnderPRCurve"],
        want["AreaUnderPRCurve"]
    );
    assert_eq!(round["evaluation"]["status"], "SUCCEEDED");
    assert!(run.stderr.contains("round 1 EVALUATED"), "{}", run.stderr);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 1);
    // The round is the document's (the loop being off, no import was noted in it).
    assert_eq!(rounds(&stack, TFM).await["rounds"][0], *round);

    // The same labels again: nothing new to measure, no second evaluation.
    let again = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["asked"], "unchanged");
    assert_eq!(again.json()["round"]["number"], 1);
    assert!(
        again.stderr.contains("nothing new to evaluate"),
        "{}",
        again.stderr
    );
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 1);

    // More labels: a second round, its change from the first.
    import(&stack, TFM, "b").await;
    let second = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let round = &second.json()["round"];
    assert_eq!(
        (&round["number"], &round["labelCount"]),
        (&json!(2), &json!(2 * SAMPLE_ROWS))
    );
    assert_eq!(round["change"]["fromRound"], 1);
    assert!(round["change"]["areaUnderPRCurve"].as_f64().unwrap() > 0.0);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 2);
    // Nothing left under way: `--wait` closed the loop marker its step opened.
    assert_eq!(open_markers(&stack, TFM).await, Vec::<String>::new());
}

#[tokio::test]
async fn concurrent_evaluate_commands_start_one_evaluation_per_round() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &[]).await;
    stack.transform(TFM).await;
    for round in 1..=10u64 {
        import(&stack, TFM, &format!("r{round}")).await;
        let runs = join_all((0..4).map(|_| step(&stack, "evaluate", TFM, true))).await;
        for run in &runs {
            assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
            assert_eq!(run.json()["round"]["number"], round, "{}", run.stdout);
            assert_eq!(run.json()["round"]["state"], "EVALUATED", "{}", run.stdout);
        }
        let started = runs
            .iter()
            .filter(|r| r.json()["asked"] == "started")
            .count();
        assert_eq!(
            started,
            1,
            "round {round}: {:?}",
            runs.iter().map(|r| &r.stdout).collect::<Vec<_>>()
        );
        assert_eq!(
            calls(&stack, "StartMLEvaluationTaskRun"),
            round,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn evaluate_by_hand_says_not_ready_and_refuses_while_an_import_runs() {
    let settings = Settings {
        task_run_duration: Duration::from_secs(3),
        ..quick(100)
    };
    let stack = Stack::start_with(settings, &[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(&format!("labels/{TFM}/a.csv"), SAMPLE, &[], None)
        .await;
    response(stack.invoke(&[&file]).await);
    let busy = step(&stack, "evaluate", TFM, false).await;
    assert_eq!(busy.code, 1, "{}", busy.stderr);
    assert_eq!(
        busy.stderr.trim_end(),
        format!("an upload ({}) of {TFM} is waiting or running: an evaluation now would leave its labels out. Run this again once it ended (import-labels status --transform-id {TFM} --bucket {BUCKET})",
            open_markers(&stack, TFM).await[0].rsplit('/').next().unwrap())
    );
    assert_eq!(calls(&stack, "GetMLTransform"), 0);
    for _ in 0..200 {
        stack.tick().await;
        if open_markers(&stack, TFM).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(&format!("round 1 of {TFM} was not evaluated: the transform is NOT_READY with {SAMPLE_ROWS} labels. Label more (`import-labels generate --transform-id {TFM}` makes a labeling set), import them, and run this again\n")),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["round"]["state"], "NOT_READY");
    let again = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(
        (again.code, again.json()["asked"].clone()),
        (1, json!("unchanged"))
    );
    assert_eq!(
        rounds(&stack, TFM).await["rounds"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 0);
}

#[tokio::test]
async fn a_failed_evaluation_by_hand_exits_with_glues_error() {
    let stack = Stack::start_with(quick(SAMPLE_ROWS.into()), &[]).await;
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
    import(&stack, TFM, "a").await;
    let run = step(&stack, "evaluate", TFM, true).await;
    let task_run_id = run.json()["round"]["evaluation"]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(&format!(
            "task run {task_run_id} ended FAILED: Dependency failure.\n"
        )),
        "{}",
        run.stderr
    );
    // A FAILED round is measured again when asked.
    let retry = step(&stack, "evaluate", TFM, true).await;
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    assert_eq!(retry.json()["round"]["number"], 2);
    assert_eq!(calls(&stack, "StartMLEvaluationTaskRun"), 2);
}

#[tokio::test]
async fn generate_by_hand_makes_a_new_transforms_first_labeling_set_once() {
    let stack = Stack::start_with(quick(100), &[]).await;
    stack.transform(TFM).await;
    let runs = join_all((0..4).map(|_| step(&stack, "generate", TFM, true))).await;
    let output = format!("s3://{BUCKET}/labeling-sets/{TFM}/round-1/");
    let listed = stack
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("labeling-sets/{TFM}/round-1/"))
        .send()
        .await
        .unwrap();
    let written: Vec<String> = listed
        .contents()
        .iter()
        .map(|o| format!("s3://{BUCKET}/{}", o.key().unwrap()))
        .collect();
    assert_eq!(written.len(), 1);
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = run.json();
        assert_eq!(out["afterRound"], 0);
        let set = &out["labelingSet"];
        assert_eq!(
            (
                &set["outputS3Path"],
                &set["uploadTo"],
                &set["run"]["status"]
            ),
            (
                &json!(output),
                &json!(format!("s3://{BUCKET}/labels/{TFM}/round-1.csv")),
                &json!("SUCCEEDED")
            )
        );
        assert_eq!(set["objects"], json!(written));
        assert!(
            run.stderr
                .contains(&format!("download: aws s3 cp {} .", written[0])),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!(
                "upload it labeled: aws s3 cp <labeled file> s3://{BUCKET}/labels/{TFM}/round-1.csv"
            )),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        calls(&stack, "StartMLLabelingSetGenerationTaskRun"),
        1,
        "{:#}\n{:?}",
        rounds(&stack, TFM).await,
        runs.iter()
            .map(|r| (&r.stdout, &r.stderr))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        runs.iter()
            .filter(|r| r.json()["asked"] == "started")
            .count(),
        1
    );
    assert_eq!(
        rounds(&stack, TFM).await["firstLabelingSet"]["objects"],
        json!(written)
    );
    // Asked again: generated already, nothing started.
    let again = step(&stack, "generate", TFM, false).await;
    assert_eq!(
        (again.code, again.json()["asked"].clone()),
        (0, json!("unchanged"))
    );
    assert_eq!(calls(&stack, "StartMLLabelingSetGenerationTaskRun"), 1);
    // The file generated is unlabeled, outside the labels prefix: nothing imports it.
    assert!(stack.import_runs(TFM).await.is_empty());
}

#[tokio::test]
async fn a_tick_that_generates_follows_a_labeling_set_started_by_hand() {
    let env = [
        ("TEACHING_LOOP", "evaluate-and-generate"),
        ("LOOP_QUIET_SECONDS", "0"),
    ];
    let stack = Stack::start_with(quick(100), &env).await;
    stack.transform(TFM).await;
    let run = step(&stack, "generate", TFM, false).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["labelingSet"]["run"]["status"], "STARTING");
    assert!(run.stderr.contains("--wait"), "{}", run.stderr);
    let mut reported = Vec::new();
    for _ in 0..200 {
        let tick = stack.tick().await;
        reported.extend(
            tick["tick"]["labelingSets"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        if !reported.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(
        (&reported[0]["afterRound"], &reported[0]["state"]),
        (&json!(0), &json!("SUCCEEDED"))
    );
    assert_eq!(reported[0]["objects"].as_array().map(Vec::len), Some(1));
    assert!(
        stack.logs().contains("labeling set ready"),
        "{}",
        stack.logs()
    );
    stack.tick().await;
    assert!(open_markers(&stack, TFM).await.is_empty());
    assert_eq!(calls(&stack, "StartMLLabelingSetGenerationTaskRun"), 1);
}

#[tokio::test]
async fn concurrent_generate_commands_start_one_generation_each_time() {
    let stack = Stack::start_with(quick(100), &[]).await;
    for n in 1..=20u64 {
        let transform = format!("tfm-{n:040}");
        stack.transform(&transform).await;
        let runs = join_all((0..4).map(|_| step(&stack, "generate", &transform, true))).await;
        for run in &runs {
            assert_eq!(run.code, 0, "{transform}: {}", run.stderr);
            let status = &run.json()["labelingSet"]["run"]["status"];
            assert_eq!(status, "SUCCEEDED", "{}", run.stdout);
        }
        assert_eq!(
            calls(&stack, "StartMLLabelingSetGenerationTaskRun"),
            n,
            "{transform}: {:#}\n{:?}",
            rounds(&stack, &transform).await,
            runs.iter()
                .map(|r| (&r.stdout, &r.stderr))
                .collect::<Vec<_>>()
        );
    }
}
