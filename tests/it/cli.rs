//! `import-labels`: argument parsing, skeletons, error messages and exit codes, then every
//! subcommand end to end against moto and glue-local.

use local_stack::{Stack, BUCKET, SAMPLE};
use serde_json::{json, Value};

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs import-labels; with a stack, pointed at its moto and glue-local.
pub async fn cli(stack: Option<&Stack>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_import-labels"));
    command.args(args).env_clear().envs([
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("S3_FORCE_PATH_STYLE", "true"),
    ]);
    if let Some(stack) = stack {
        command
            .env("AWS_ENDPOINT_URL_S3", stack.lease.moto.url())
            .args(["--endpoint-url", &stack.glue_local.url()]);
    }
    let out = command.output().await.expect("run import-labels");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

#[tokio::test]
async fn skeletons_print_what_aws_cli_v2_prints() {
    let input = cli(
        None,
        &["start-import-labels-task-run", "--generate-cli-skeleton"],
    )
    .await;
    assert_eq!((input.code, input.stdout.as_str()), (0, "{\n    \"TransformId\": \"\",\n    \"InputS3Path\": \"\",\n    \"ReplaceAllLabels\": true\n}\n"));
    let explicit = cli(
        None,
        &[
            "start-import-labels-task-run",
            "--generate-cli-skeleton",
            "input",
        ],
    )
    .await;
    assert_eq!(explicit.stdout, input.stdout);
    let yaml = cli(
        None,
        &[
            "start-import-labels-task-run",
            "--generate-cli-skeleton",
            "yaml-input",
        ],
    )
    .await;
    assert_eq!(
        (yaml.code, yaml.stdout.as_str()),
        (0, "TransformId: '' # [REQUIRED] The unique identifier of the machine learning transform.\n\
             InputS3Path: '' # [REQUIRED] The Amazon Simple Storage Service (Amazon S3) path from where you import the labels.\n\
             ReplaceAllLabels: true # Indicates whether to overwrite your existing labels.\n")
    );
    let output = cli(
        None,
        &[
            "start-import-labels-task-run",
            "--transform-id",
            "tfm-1",
            "--input-s3-path",
            "s3://b/k.csv",
            "--generate-cli-skeleton",
            "output",
        ],
    )
    .await;
    assert_eq!(
        (output.code, output.stdout.as_str()),
        (0, "{\n    \"TaskRunId\": \"TaskRunId\"\n}\n")
    );
    let unvalidated = cli(
        None,
        &[
            "start-import-labels-task-run",
            "--generate-cli-skeleton",
            "output",
        ],
    )
    .await;
    assert_eq!(unvalidated.code, 2);
    assert_eq!(
        unvalidated.stderr,
        "import-labels: error: the following arguments are required: --transform-id, --input-s3-path\nRun `import-labels <command> --help` for the options.\n"
    );
}

#[tokio::test]
async fn usage_errors_exit_2_and_say_what_is_wrong() {
    let cases: [(&[&str], &str); 8] = [
        (&["start-import-labels-task-run", "--cli-input-json", r#"{"TransformId": "t", "InputS3Path": "s3://b/k", "Replace": true}"#],
         "Parameter validation failed: Unknown parameter in input: \"Replace\", must be one of: TransformId, InputS3Path, ReplaceAllLabels"),
        (&["start-import-labels-task-run", "--cli-input-yaml", "TransformId: t\nInputS3Path: s3://b/k\nReplaceAllLabels: maybe\n"],
         "Parameter validation failed: Invalid type for parameter ReplaceAllLabels, value: \"maybe\", valid types: boolean"),
        (&["start-import-labels-task-run", "--transform-id", "t"], "the following arguments are required: --input-s3-path"),
        (&["start-import-labels-task-run", "--cli-input-json", "{}", "--cli-input-yaml", "{}"], "cannot be used with"),
        (&["start-import-labels-task-run", "--transform-id", "t", "--input-s3-path", "p", "--replace-all-labels", "--no-replace-all-labels"], "cannot be used with"),
        (&["status", "--transform-id", "t", "--wait"], "--task-run-id"),
        (&["import", "labels/t/x.csv"], "\"labels/t/x.csv\" is not an S3 object URI; expected s3://<bucket>/<key>"),
        (&["rounds", "--transform-id", "t", "--bucket", "b", "--chart", "rounds.png"],
         "cannot write the chart to rounds.png: the chart is SVG (PNG and other formats are not supported); give a path that ends in .svg"),
    ];
    for (args, want) in cases {
        let run = cli(None, args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(want),
            "{args:?}: {} should contain {want}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}

#[tokio::test]
async fn start_import_labels_task_run_calls_glue_with_the_merged_request() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(&format!("labels/{TFM}/round-1.csv"), SAMPLE, &[], None)
        .await;
    let path = format!("s3://{BUCKET}/{}", file.key);
    let document =
        json!({"TransformId": "tfm-from-the-file", "InputS3Path": path, "ReplaceAllLabels": true})
            .to_string();
    let run = cli(
        Some(&stack),
        &[
            "start-import-labels-task-run",
            "--cli-input-json",
            &document,
            "--transform-id",
            TFM,
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let task_run_id = run.json()["TaskRunId"].as_str().unwrap().to_string();
    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].task_run_id(), Some(task_run_id.as_str()));
    let props = runs[0]
        .properties()
        .unwrap()
        .import_labels_task_run_properties()
        .unwrap();
    assert_eq!(
        (props.input_s3_path(), props.replace()),
        (Some(path.as_str()), true)
    );

    let unknown = cli(
        Some(&stack),
        &[
            "start-import-labels-task-run",
            "--transform-id",
            "tfm-nope",
            "--input-s3-path",
            &path,
        ],
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stderr,
        "An error occurred (EntityNotFoundException) when calling the StartImportLabelsTaskRun operation: Cannot find MLTransform in account 123456789012 with handle tfm-nope.\n"
    );
}

#[tokio::test]
async fn import_runs_the_lambda_pipeline_and_force_redrives() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let file = stack
        .upload(
            &format!("labels/{TFM}/round 1.csv"),
            SAMPLE,
            &[("replace-all-labels", "true")],
            Some("team=risk"),
        )
        .await;
    let uri = format!("s3://{BUCKET}/{}", file.key);

    let first = cli(Some(&stack), &["import", &uri]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let imported = &first.json()["imported"][0];
    assert_eq!(
        (
            imported["key"].as_str(),
            imported["replaceAllLabels"].as_bool()
        ),
        (Some(file.key.as_str()), Some(true))
    );
    let first_run = imported["taskRunId"].as_str().unwrap().to_string();

    let again = cli(Some(&stack), &["import", &uri]).await;
    assert_eq!(again.code, 0);
    assert_eq!(
        again.json()["skipped"][0]["reason"],
        format!("duplicate: the object already carries the receipt tag glue-import-task-run-id={first_run}")
    );

    // The re-drive waits in the lane behind the first import (a replace, still running);
    // --wait follows it through the lane to its end.
    let forced = cli(
        Some(&stack),
        &[
            "import",
            &uri,
            "--force",
            "--no-replace-all-labels",
            "--wait",
            "--poll-interval",
            "0.2",
        ],
    )
    .await;
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let out = forced.json();
    let queued = &out["queued"][0];
    assert_eq!(
        queued["replaceAllLabels"], false,
        "the flag overrides the metadata"
    );
    assert_eq!(
        queued["reason"],
        format!("waits for replace s3://{BUCKET}/{} (task run {first_run}) to end (nothing starts while a replace runs)", file.key)
    );
    let ended = &out["ended"];
    assert_eq!(ended["state"], "SUCCEEDED");
    let second_run = ended["taskRunId"].as_str().unwrap().to_string();
    assert_ne!(second_run, first_run);
    let states: Vec<&str> = forced
        .stderr
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .collect();
    assert_eq!(states.first().copied(), Some("QUEUED"), "{}", forced.stderr);
    assert_eq!(
        states.last().copied(),
        Some("SUCCEEDED"),
        "{}",
        forced.stderr
    );
    let runs = stack.import_runs(TFM).await;
    assert_eq!(runs.len(), 2);
    let first_end = runs
        .iter()
        .find(|r| r.task_run_id() == Some(first_run.as_str()))
        .and_then(|r| r.completed_on())
        .unwrap()
        .to_millis()
        .unwrap();
    let second_start = runs
        .iter()
        .find(|r| r.task_run_id() == Some(second_run.as_str()))
        .and_then(|r| r.started_on())
        .unwrap()
        .to_millis()
        .unwrap();
    assert!(
        second_start >= first_end,
        "the re-drive started after the replace ended"
    );
    let mut tags = stack.tags(&file.key).await;
    tags.sort();
    assert_eq!(
        tags,
        [
            ("glue-import-status".to_string(), "SUCCEEDED".to_string()),
            ("glue-import-task-run-id".into(), second_run),
            ("team".into(), "risk".into())
        ]
    );

    let missing = cli(
        Some(&stack),
        &["import", &format!("s3://{BUCKET}/labels/tfm-nope/x.csv")],
    )
    .await;
    assert_eq!(missing.code, 0);
    assert_eq!(
        missing.json()["skipped"][0]["reason"],
        "object no longer exists (404)"
    );
    let other = stack
        .upload("labels/tfm-nope/x.csv", SAMPLE, &[], None)
        .await;
    let failed = cli(
        Some(&stack),
        &["import", &format!("s3://{BUCKET}/{}", other.key)],
    )
    .await;
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.starts_with(&format!("PermanentImportFailure: 1 of 1 record(s) failed: s3://{BUCKET}/labels/tfm-nope/x.csv: Glue GetMLTaskRuns failed with EntityNotFoundException")),
        "{}",
        failed.stderr
    );
}

#[tokio::test]
async fn status_shows_runs_and_waits_for_the_end() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let good = stack
        .upload(&format!("labels/{TFM}/good.csv"), SAMPLE, &[], None)
        .await;
    let bad = stack
        .upload(
            &format!("labels/{TFM}/bad.csv"),
            "id,label\n1,A\n",
            &[],
            None,
        )
        .await;
    let start = |key: String| {
        let stack = &stack;
        async move {
            let run = cli(
                Some(stack),
                &[
                    "start-import-labels-task-run",
                    "--transform-id",
                    TFM,
                    "--input-s3-path",
                    &format!("s3://{BUCKET}/{key}"),
                ],
            )
            .await;
            run.json()["TaskRunId"].as_str().unwrap().to_string()
        }
    };
    let good_run = start(good.key.clone()).await;
    let bad_run = start(bad.key.clone()).await;

    let waited = cli(
        Some(&stack),
        &[
            "status",
            "--transform-id",
            TFM,
            "--task-run-id",
            &good_run,
            "--wait",
            "--poll-interval",
            "0.1",
        ],
    )
    .await;
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    let run = waited.json();
    assert_eq!(
        (run["TaskRunId"].as_str(), run["Status"].as_str()),
        (Some(good_run.as_str()), Some("SUCCEEDED"))
    );
    assert_eq!(run["InputS3Path"], format!("s3://{BUCKET}/{}", good.key));

    let failed = cli(
        Some(&stack),
        &[
            "status",
            "--transform-id",
            TFM,
            "--task-run-id",
            &bad_run,
            "--wait",
            "--poll-interval",
            "0.1",
        ],
    )
    .await;
    assert_eq!(failed.code, 1);
    assert_eq!(failed.json()["Status"], "FAILED");
    assert_eq!(
        failed.stderr,
        format!("task run {bad_run} ended FAILED: The label file's header must start with labeling_set_id,label but starts with \"id,label\".\n")
    );

    let listed = cli(
        Some(&stack),
        &["status", "--transform-id", TFM, "--output", "table"],
    )
    .await;
    assert_eq!(listed.code, 0);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(
        lines[0].starts_with("TASK RUN ID") && lines[1].starts_with("---"),
        "{}",
        listed.stdout
    );
    assert!(
        lines[2].starts_with(&bad_run) && lines[3].starts_with(&good_run),
        "newest first: {}",
        listed.stdout
    );
    let json = cli(Some(&stack), &["status", "--transform-id", TFM])
        .await
        .json();
    assert_eq!(json["TaskRuns"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn validate_checks_local_files_and_s3_objects() {
    let dir = std::env::temp_dir().join(format!("import-labels-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    let bom = dir.join("excel.csv");
    std::fs::write(&good, SAMPLE).unwrap();
    std::fs::write(
        &bom,
        [b"\xef\xbb\xbf".as_slice(), SAMPLE.as_bytes()].concat(),
    )
    .unwrap();
    let ok = cli(None, &["validate", good.to_str().unwrap()]).await;
    let excel = cli(None, &["validate", bom.to_str().unwrap()]).await;
    let missing = cli(None, &["validate", dir.join("nope.csv").to_str().unwrap()]).await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (ok.code, ok.json()),
        (
            0,
            json!({"rows": 8, "firstProblem": null, "problems": 0, "warnings": []})
        )
    );
    assert_eq!(excel.code, 1);
    assert_eq!(excel.json()["problems"], 1);
    assert_eq!(
        excel.stderr,
        format!("{}: line 1: the file starts with a byte-order mark (saved by Excel with a BOM); save it as UTF-8 without BOM (e.g. \"CSV UTF-8\" then remove the BOM, or export from another editor)\n", bom.display())
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with(&format!("cannot read {}: ", dir.join("nope.csv").display())),
        "{}",
        missing.stderr
    );

    let stack = Stack::start(&[]).await;
    let file = stack
        .upload(
            "labels/t/cp1252.csv",
            "labeling_set_id,label,name\nS1,A,Jos\u{e9}\n",
            &[],
            None,
        )
        .await;
    let utf8 = cli(
        Some(&stack),
        &["validate", &format!("s3://{BUCKET}/{}", file.key)],
    )
    .await;
    assert_eq!(utf8.code, 0, "é in UTF-8 is fine: {}", utf8.stderr);
    let latin1 = "labeling_set_id,label,name\nS1,A,Jos"
        .as_bytes()
        .iter()
        .chain(&[0xe9u8, b'\n'])
        .copied()
        .collect::<Vec<u8>>();
    stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("labels/t/latin1.csv")
        .body(latin1.into())
        .send()
        .await
        .unwrap();
    let bad = cli(
        Some(&stack),
        &["validate", &format!("s3://{BUCKET}/labels/t/latin1.csv")],
    )
    .await;
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.json()["firstProblem"],
        "line 2: invalid UTF-8 at byte offset 35; the file is probably saved as Windows-1252 (cp1252): save it as UTF-8"
    );
}

#[tokio::test]
async fn status_lists_the_ledger_of_a_transform() {
    let stack = Stack::start(&[]).await;
    stack.transform(TFM).await;
    let good = stack
        .upload(&format!("labels/{TFM}/good.csv"), SAMPLE, &[], None)
        .await;
    let bad = stack
        .upload(&format!("labels/{TFM}/bad.csv"), SAMPLE, &[], None)
        .await;
    let glue_says = "Labeling set 9f3 is not known to this transform.";
    stack.fail_next_run(&bad.key, glue_says);
    let mut outs = Vec::new();
    for file in [&good, &bad] {
        let out = cli(
            Some(&stack),
            &["import", &format!("s3://{BUCKET}/{}", file.key)],
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        outs.push(out.json());
    }
    let good_run = outs[0]["imported"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        outs[1]["imported"],
        json!([]),
        "the second waits in the lane"
    );
    let listed = cli(
        Some(&stack),
        &["status", "--transform-id", TFM, "--bucket", BUCKET],
    )
    .await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let imports = listed.json()["Imports"].clone();
    let row = |i: usize| {
        (
            imports[i]["Upload"].as_str().unwrap().to_string(),
            imports[i]["State"].as_str().unwrap().to_string(),
            imports[i]["Place"].clone(),
            imports[i]["WaitsFor"].clone(),
        )
    };
    assert_eq!(
        [row(0), row(1)],
        [
            (
                format!("s3://{BUCKET}/{}", good.key),
                "STARTING".to_string(),
                Value::Null,
                Value::Null
            ),
            (
                format!("s3://{BUCKET}/{}", bad.key),
                "QUEUED".to_string(),
                json!(1),
                json!(format!("waits for append s3://{BUCKET}/{} (task run {good_run}) to end (MAX_IMPORTS_PER_TRANSFORM imports already run)", good.key))
            ),
        ],
        "oldest upload first; the second waits in place 1 for the first"
    );

    // The first ends; the tick starts the second; it ends too.
    stack.final_status(TFM, &good_run).await;
    let tick = stack.tick().await;
    let bad_run = tick["tick"]["started"][0]["taskRunId"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = [good_run, bad_run];
    stack.final_status(TFM, &runs[1]).await;
    stack.tick().await;
    let listed = cli(
        Some(&stack),
        &["status", "--transform-id", TFM, "--bucket", BUCKET],
    )
    .await;
    let imports = listed.json()["Imports"].clone();
    assert_eq!(
        (
            &imports[0]["State"],
            &imports[0]["TaskRunId"],
            &imports[0]["Error"]
        ),
        (&json!("SUCCEEDED"), &json!(runs[0]), &Value::Null)
    );
    assert_eq!(
        (
            &imports[1]["State"],
            &imports[1]["TaskRunId"],
            &imports[1]["Error"]
        ),
        (&json!("FAILED"), &json!(runs[1]), &json!(glue_says))
    );
    assert!(imports[1]["Ended"].is_string() && imports[1]["Started"].is_string());
    assert!(imports[0]["Entry"]
        .as_str()
        .unwrap()
        .starts_with(&format!("s3://{BUCKET}/glue-label-importer/entries/{TFM}/")));

    let table = cli(
        Some(&stack),
        &[
            "status",
            "--transform-id",
            TFM,
            "--bucket",
            BUCKET,
            "--output",
            "table",
        ],
    )
    .await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    assert!(lines[0].starts_with("UPLOADED") && lines[0].contains("TASK RUN ID"));
    assert!(
        lines[2].contains("SUCCEEDED") && lines[2].contains(&runs[0]),
        "{}",
        table.stdout
    );
    assert!(
        lines[3].contains("FAILED") && lines[3].ends_with(glue_says),
        "{}",
        table.stdout
    );
}

/// The SVG stroke and fill of each metric's line and points, as `chart.rs` draws them.
const METRIC_COLORS: [(&str, &str); 4] = [
    ("AUPRC", "#1F77B4"),
    ("Precision", "#FF7F0E"),
    ("Recall", "#2CA02C"),
    ("F1", "#9467BD"),
];

#[tokio::test]
async fn rounds_draws_the_quality_chart_into_an_svg_file() {
    use glue_label_importer::teaching::rounds::{
        CoveredImport, Metrics, Parameters, Rounds, StopRule,
    };
    let stack = Stack::start(&[]).await;
    // Series 1: rounds 1 and 2 (round 2 without F1); a replace opens series 2, whose round 3
    // reaches the target; round 4 is still being evaluated (no metrics, not drawn).
    let mut rounds = Rounds::new(TFM);
    let at = chrono::Utc::now();
    let rule = StopRule {
        target_auprc: Some(0.9),
        ..StopRule::default()
    };
    let figures = [
        (
            false,
            Some(100),
            [Some(0.70), Some(0.75), Some(0.66), Some(0.70)],
        ),
        (false, Some(200), [Some(0.80), Some(0.82), Some(0.77), None]),
        (
            true,
            Some(80),
            [Some(0.91), Some(0.93), Some(0.88), Some(0.90)],
        ),
        (false, None, [None; 4]),
    ];
    for (n, (replace, labels, [auprc, precision, recall, f1])) in figures.into_iter().enumerate() {
        rounds.note_import(
            CoveredImport {
                key: format!("labels/{TFM}/round-{n}.csv"),
                task_run_id: format!("tsk-{n}"),
                replace_all_labels: replace,
                completed_on: None,
            },
            at,
        );
        let number = rounds.open_round(at);
        if labels.is_some() {
            let metrics = Metrics {
                area_under_pr_curve: auprc,
                precision,
                recall,
                f1,
                ..Metrics::default()
            };
            rounds.record_evaluated(number, labels, Parameters::default(), metrics, &rule);
        }
    }
    stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("glue-label-importer/rounds/{TFM}.json"))
        .body(serde_json::to_vec(&rounds).unwrap().into())
        .send()
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("import-labels-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let table_chart = dir.join("rounds.svg");
    let json_chart = dir.join("rounds-json.svg");
    let args = ["rounds", "--transform-id", TFM, "--bucket", BUCKET];
    let table = cli(
        Some(&stack),
        &[
            &args[..],
            &[
                "--output",
                "table",
                "--chart",
                table_chart.to_str().unwrap(),
            ],
        ]
        .concat(),
    )
    .await;
    let json = cli(
        Some(&stack),
        &[&args[..], &["--chart", json_chart.to_str().unwrap()]].concat(),
    )
    .await;
    let svg = std::fs::read_to_string(&table_chart);
    let json_svg = std::fs::read_to_string(&json_chart);
    std::fs::remove_dir_all(&dir).unwrap();

    // The table and the text chart as before, then where the file is.
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ROUND  SERIES  STATE"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("AUPRC (█) and F1 (▓) by label count"));
    assert_eq!(
        lines.last().copied(),
        Some(
            format!(
                "wrote the quality chart of 3 rounds to {}",
                table_chart.display()
            )
            .as_str()
        ),
        "{}",
        table.stdout
    );
    // With JSON, standard output is the document alone; the line goes to standard error.
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.json()["rounds"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        json.stderr,
        format!(
            "wrote the quality chart of 3 rounds to {}\n",
            json_chart.display()
        )
    );

    let svg = svg.unwrap();
    assert_eq!(json_svg.unwrap(), svg, "the same chart either way");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    // A line per metric and series (the replace breaks it), with a vertex and a point per
    // round that has the figure: round 2 has no F1.
    for ((name, color), per_series) in
        METRIC_COLORS
            .into_iter()
            .zip([[2, 1], [2, 1], [2, 1], [1, 1]])
    {
        let lines: Vec<usize> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color))
            .filter_map(|n| n.attribute("points"))
            .map(|p| p.split_whitespace().count())
            .collect();
        assert_eq!(
            lines, per_series,
            "{name}: a line per series, a vertex per round"
        );
        let points = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(color))
            .count();
        assert_eq!(
            points,
            per_series.iter().sum::<usize>(),
            "{name}: a point per round"
        );
        assert!(texts.contains(&name), "{name} in the legend: {texts:?}");
    }
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count(),
        11
    );
    for label in [
        "R1",
        "R2",
        "R3",
        "replace (series 2 from R3)",
        "R3 stopped: AUPRC 0.9100 reached TARGET_AUPRC 0.9",
    ] {
        assert!(texts.contains(&label), "{label}: {texts:?}");
    }
    assert!(!texts.contains(&"R4"), "round 4 has no metrics: {texts:?}");
}
