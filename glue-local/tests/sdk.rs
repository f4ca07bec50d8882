//! glue-local through the real aws-sdk-glue client: every operation, Glue's documented errors,
//! the task-run lifecycle, LabelCount, filters, paging and fault injection.

mod common;

use std::time::Duration;

use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{
    SortDirectionType, TaskRunFilterCriteria, TaskRunSortColumnType, TaskRunSortCriteria,
    TaskStatusType, TaskType,
};
use common::{code_and_message, Local, LABELS, ROLE};
use glue_local::{Fault, Settings};

#[tokio::test]
async fn transforms_are_created_described_listed_and_deleted() {
    let local = Local::start(Settings::default()).await;
    let first = local.create_transform("persons").await;
    assert!(
        first.starts_with("tfm-")
            && first.len() == 44
            && first[4..].chars().all(|c| c.is_ascii_hexdigit()),
        "{first}"
    );
    let pinned = local
        .create_request("pinned")
        .tags("glue-local:transform-id", "tfm-pinned")
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.transform_id(), Some("tfm-pinned"));

    let described = local
        .glue
        .get_ml_transform()
        .transform_id(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(described.name(), Some("persons"));
    assert_eq!(described.role(), Some(ROLE));
    assert_eq!(described.label_count(), 0);
    assert_eq!(described.status().map(|s| s.as_str()), Some("NOT_READY"));
    assert_eq!(described.input_record_tables()[0].table_name(), "persons");

    let page1 = local
        .glue
        .list_ml_transforms()
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.transform_ids(), std::slice::from_ref(&first));
    let page2 = local
        .glue
        .list_ml_transforms()
        .max_results(1)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page2.transform_ids(), ["tfm-pinned".to_string()]);
    assert_eq!(page2.next_token(), None);

    let dup = local.create_request("persons").send().await.unwrap_err();
    assert_eq!(
        code_and_message(dup),
        (
            "AlreadyExistsException".into(),
            "Transform with name persons already exists.".into()
        )
    );
    let no_role = local
        .glue
        .create_ml_transform()
        .name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(no_role),
        (
            "InvalidInputException".into(),
            "A role is required for the ML transform.".into()
        )
    );

    let deleted = local
        .glue
        .delete_ml_transform()
        .transform_id(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.transform_id(), Some(first.as_str()));
    let gone = local
        .glue
        .get_ml_transform()
        .transform_id(&first)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(gone),
        (
            "EntityNotFoundException".into(),
            format!("Cannot find MLTransform in account 123456789012 with handle {first}.")
        )
    );
}

#[tokio::test]
async fn an_import_runs_to_succeeded_and_counts_labels_append_or_replace() {
    let local = Local::start(Settings::default()).await;
    let tfm = local.create_transform("persons").await;
    local
        .put("labels/x/round 1 é+.csv", LABELS.as_bytes())
        .await;
    let path = "s3://labels-bkt/labels/x/round 1 é+.csv";
    let mut counts = Vec::new();
    for replace in [false, false, true] {
        let started = local
            .glue
            .start_import_labels_task_run()
            .transform_id(&tfm)
            .input_s3_path(path)
            .replace_all_labels(replace)
            .send()
            .await
            .unwrap();
        let run_id = started.task_run_id().unwrap().to_string();
        assert!(run_id.starts_with("tsk-") && run_id.len() == 44, "{run_id}");
        let (seen, run) = local.wait(&tfm, &run_id).await;
        assert_eq!(seen, ["STARTING", "RUNNING", "SUCCEEDED"]);
        let props = run.properties().unwrap();
        assert_eq!(props.task_type(), Some(&TaskType::ImportLabels));
        let import = props.import_labels_task_run_properties().unwrap();
        assert_eq!(
            (import.input_s3_path(), import.replace()),
            (Some(path), replace)
        );
        assert!(run.completed_on().is_some() && run.error_string().is_none());
        counts.push(
            local
                .glue
                .get_ml_transform()
                .transform_id(&tfm)
                .send()
                .await
                .unwrap()
                .label_count(),
        );
    }
    assert_eq!(counts, [3, 6, 3]);
}

#[tokio::test]
async fn an_invalid_labeling_file_fails_the_run_with_an_error_string() {
    let local = Local::start(Settings::default()).await;
    let tfm = local.create_transform("persons").await;
    local.put("labels/x/bad.csv", b"id,label\n1,A\n").await;
    let started = local
        .glue
        .start_import_labels_task_run()
        .transform_id(&tfm)
        .input_s3_path("s3://labels-bkt/labels/x/bad.csv")
        .send()
        .await
        .unwrap();
    let (seen, run) = local.wait(&tfm, started.task_run_id().unwrap()).await;
    assert_eq!(seen, ["STARTING", "RUNNING", "FAILED"]);
    assert_eq!(run.error_string(), Some("The label file's header must start with labeling_set_id,label but starts with \"id,label\"."));
    assert_eq!(
        local
            .glue
            .get_ml_transform()
            .transform_id(&tfm)
            .send()
            .await
            .unwrap()
            .label_count(),
        0
    );
}

#[tokio::test]
async fn start_import_rejects_what_glue_rejects() {
    let local = Local::start(Settings {
        label_file_limit_mb: 1,
        ..Settings::default()
    })
    .await;
    let tfm = local.create_transform("persons").await;
    local.put("labels/x/empty.csv", b"").await;
    let mut big = LABELS.as_bytes().to_vec();
    while big.len() <= 1024 * 1024 {
        big.extend_from_slice(b"ABC123,A,1001,John,Doe,Seattle\n");
    }
    local.put("labels/x/big.csv", &big).await;
    let cases = [
        (tfm.as_str(), "labels-bkt/x.csv", "InvalidInputException", "Invalid label file path.".to_string()),
        (tfm.as_str(), "s3://labels-bkt/", "InvalidInputException", "Invalid label file path.".to_string()),
        (tfm.as_str(), "s3://labels-bkt/labels/x/missing.csv", "InvalidInputException", "Cannot access the label file at s3://labels-bkt/labels/x/missing.csv. The specified key does not exist.".to_string()),
        (tfm.as_str(), "s3://labels-bkt/labels/x/empty.csv", "InvalidInputException", "Invalid label file of size 0.".to_string()),
        (tfm.as_str(), "s3://labels-bkt/labels/x/big.csv", "ResourceNumberLimitExceededException", "Label file has exceeded the limit of 1 MB.".to_string()),
        ("tfm-unknown", "s3://labels-bkt/labels/x/empty.csv", "EntityNotFoundException", "Cannot find MLTransform in account 123456789012 with handle tfm-unknown.".to_string()),
    ];
    for (transform, path, code, message) in cases {
        let err = local
            .glue
            .start_import_labels_task_run()
            .transform_id(transform)
            .input_s3_path(path)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code_and_message(err), (code.to_string(), message), "{path}");
    }
    let runs = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .send()
        .await
        .unwrap();
    assert!(
        runs.task_runs().is_empty(),
        "a rejected start creates no task run"
    );
}

#[tokio::test]
async fn task_runs_filter_sort_and_page_like_glue() {
    let local = Local::start(Settings::default()).await;
    let tfm = local.create_transform("persons").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        local
            .put(&format!("labels/x/{i}.csv"), LABELS.as_bytes())
            .await;
        let r = local
            .glue
            .start_import_labels_task_run()
            .transform_id(&tfm)
            .input_s3_path(format!("s3://labels-bkt/labels/x/{i}.csv"))
            .send()
            .await
            .unwrap();
        ids.push(r.task_run_id().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .send()
        .await
        .unwrap();
    let newest_first: Vec<&str> = all
        .task_runs()
        .iter()
        .map(|r| r.task_run_id().unwrap())
        .collect();
    assert_eq!(
        newest_first,
        [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]
    );

    let asc = TaskRunSortCriteria::builder()
        .column(TaskRunSortColumnType::Started)
        .sort_direction(SortDirectionType::Ascending)
        .build()
        .unwrap();
    let page1 = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .sort(asc.clone())
        .max_results(2)
        .send()
        .await
        .unwrap();
    let page2 = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .sort(asc)
        .max_results(2)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let paged: Vec<&str> = page1
        .task_runs()
        .iter()
        .chain(page2.task_runs())
        .map(|r| r.task_run_id().unwrap())
        .collect();
    assert_eq!(paged, [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(page2.next_token(), None);

    let second_started = all.task_runs()[1].started_on().unwrap();
    let after = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::ImportLabels)
        .started_after(*second_started)
        .build();
    let newer = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(after)
        .send()
        .await
        .unwrap();
    assert_eq!(
        newer
            .task_runs()
            .iter()
            .map(|r| r.task_run_id().unwrap())
            .collect::<Vec<_>>(),
        [ids[2].as_str()]
    );
    let before = TaskRunFilterCriteria::builder()
        .started_before(*second_started)
        .build();
    let older = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(before)
        .send()
        .await
        .unwrap();
    assert_eq!(
        older
            .task_runs()
            .iter()
            .map(|r| r.task_run_id().unwrap())
            .collect::<Vec<_>>(),
        [ids[0].as_str()]
    );
    let evaluation = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::Evaluation)
        .build();
    assert!(local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(evaluation)
        .send()
        .await
        .unwrap()
        .task_runs()
        .is_empty());
    let future = TaskRunFilterCriteria::builder()
        .started_after(DateTime::from_secs(4_000_000_000))
        .build();
    assert!(local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(future)
        .send()
        .await
        .unwrap()
        .task_runs()
        .is_empty());

    local.wait(&tfm, &ids[2]).await;
    let succeeded = TaskRunFilterCriteria::builder()
        .status(TaskStatusType::Succeeded)
        .build();
    let done = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(succeeded)
        .send()
        .await
        .unwrap();
    assert!(
        done.task_runs()
            .iter()
            .all(|r| r.status() == Some(&TaskStatusType::Succeeded))
            && !done.task_runs().is_empty()
    );

    let bad_token = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .next_token("nonsense")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(bad_token),
        ("InvalidInputException".into(), "Invalid NextToken.".into())
    );
    let missing = local
        .glue
        .get_ml_task_run()
        .transform_id(&tfm)
        .task_run_id("tsk-nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(missing),
        (
            "EntityNotFoundException".into(),
            format!(
                "No ML Task Run found for tsk-nope: in account 123456789012 for transform {tfm}."
            )
        )
    );
}

#[tokio::test]
async fn a_cancelled_import_stops_without_labels() {
    let local = Local::start(Settings {
        task_run_duration: Duration::from_secs(3),
        ..Settings::default()
    })
    .await;
    let tfm = local.create_transform("persons").await;
    local.put("labels/x/a.csv", LABELS.as_bytes()).await;
    let run = local
        .glue
        .start_import_labels_task_run()
        .transform_id(&tfm)
        .input_s3_path("s3://labels-bkt/labels/x/a.csv")
        .send()
        .await
        .unwrap();
    let run_id = run.task_run_id().unwrap();
    let cancelled = local
        .glue
        .cancel_ml_task_run()
        .transform_id(&tfm)
        .task_run_id(run_id)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), Some(&TaskStatusType::Stopping));
    let (seen, _) = local.wait(&tfm, run_id).await;
    assert_eq!(seen, ["STOPPING", "STOPPED"]);
    assert_eq!(
        local
            .glue
            .get_ml_transform()
            .transform_id(&tfm)
            .send()
            .await
            .unwrap()
            .label_count(),
        0
    );
}

#[tokio::test]
async fn injected_faults_answer_the_next_calls() {
    let local = Local::start(Settings::default()).await;
    let tfm = local.create_transform("persons").await;
    local.put("labels/x/a.csv", LABELS.as_bytes()).await;
    let fault = |error: &str, count| Fault {
        operation: Some("StartImportLabelsTaskRun".into()),
        error: error.into(),
        count,
        message: None,
        lost_answer: false,
    };

    // The SDK retries throttling (3 attempts in standard mode): two throttles, then success.
    local
        .server
        .store
        .add_fault(fault("ThrottlingException", 2));
    let ok = local
        .glue
        .start_import_labels_task_run()
        .transform_id(&tfm)
        .input_s3_path("s3://labels-bkt/labels/x/a.csv")
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(local.server.store.calls()["StartImportLabelsTaskRun"], 3);

    local
        .server
        .store
        .add_fault(fault("InternalServiceException", 3));
    let err = local
        .glue
        .start_import_labels_task_run()
        .transform_id(&tfm)
        .input_s3_path("s3://labels-bkt/labels/x/a.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(
        code_and_message(err),
        (
            "InternalServiceException".into(),
            "Internal service error.".into()
        )
    );
    assert_eq!(local.server.store.calls()["StartImportLabelsTaskRun"], 6);
    let runs = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        runs.task_runs().len(),
        1,
        "only the call that got through started a run"
    );
}

#[tokio::test]
async fn the_per_transform_quota_counts_every_task_type_and_refuses_with_either_error() {
    let local = Local::start(Settings {
        generation_run_duration: Duration::from_secs(60),
        ..Settings::default()
    })
    .await;
    let tfm = local.create_transform("persons").await;
    let other = local.create_transform("other").await;
    local.put("labels/x/a.csv", LABELS.as_bytes()).await;
    let mut generations = Vec::new();
    for n in 0..3 {
        let run = local
            .glue
            .start_ml_labeling_set_generation_task_run()
            .transform_id(&tfm)
            .output_s3_path(format!("s3://labels-bkt/sets/{n}/"))
            .send()
            .await
            .unwrap();
        generations.push(run.task_run_id().unwrap().to_string());
    }
    let import = |transform: String| {
        local
            .glue
            .start_import_labels_task_run()
            .transform_id(transform)
            .input_s3_path("s3://labels-bkt/labels/x/a.csv")
            .send()
    };
    let refused = import(tfm.clone()).await.unwrap_err();
    assert_eq!(
        code_and_message(refused),
        (
            "ConcurrentRunsExceededException".to_string(),
            "ML Task Runs count 4 has exceeded the transform limit of 3 task runs.".to_string()
        )
    );
    // Transforms have their own quota.
    import(other.clone()).await.unwrap();
    local
        .server
        .store
        .set_quota(glue_local::Quota {
            max_runs_per_transform: 3,
            error: "ResourceNumberLimitExceededException".into(),
        })
        .unwrap();
    let refused = import(tfm.clone()).await.unwrap_err();
    assert_eq!(
        code_and_message(refused).0,
        "ResourceNumberLimitExceededException"
    );
    assert_eq!(local.server.store.refused(), 2);
    let listed = local
        .glue
        .get_ml_task_runs()
        .transform_id(&tfm)
        .filter(
            TaskRunFilterCriteria::builder()
                .task_run_type(TaskType::LabelingSetGeneration)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listed.task_runs().len(), 3);
    assert!(listed.task_runs().iter().all(|r| r
        .properties()
        .and_then(|p| p.labeling_set_generation_task_run_properties())
        .and_then(|p| p.output_s3_path())
        .is_some_and(|p| p.starts_with("s3://labels-bkt/sets/"))));
    // A cancelled run frees its place once STOPPED.
    local
        .glue
        .cancel_ml_task_run()
        .transform_id(&tfm)
        .task_run_id(&generations[0])
        .send()
        .await
        .unwrap();
    let (seen, _) = local.wait(&tfm, &generations[0]).await;
    assert_eq!(seen.last().map(String::as_str), Some("STOPPED"));
    import(tfm.clone()).await.unwrap();
}

/// The FindMatches model: NOT_READY until `ready_label_count` labels, an evaluation refused
/// before that, and one that ends SUCCEEDED setting the documented metrics.
#[tokio::test]
async fn a_transform_is_ready_from_its_label_count_and_an_evaluation_measures_it() {
    let local = Local::start(Settings {
        ready_label_count: 3,
        evaluation_run_duration: Duration::from_millis(150),
        ..Settings::default()
    })
    .await;
    let tfm = local.create_transform("persons").await;
    let evaluate = || {
        local
            .glue
            .start_ml_evaluation_task_run()
            .transform_id(&tfm)
            .send()
    };
    assert_eq!(
        code_and_message(evaluate().await.unwrap_err()),
        (
            "MLTransformNotReadyException".to_string(),
            "This operation can only be applied to a transform that is in a READY state."
                .to_string()
        )
    );
    local.put("labels/x/a.csv", LABELS.as_bytes()).await;
    let import = local
        .glue
        .start_import_labels_task_run()
        .transform_id(&tfm)
        .input_s3_path("s3://labels-bkt/labels/x/a.csv")
        .send()
        .await
        .unwrap();
    local.wait(&tfm, import.task_run_id().unwrap()).await;
    let described = local
        .glue
        .get_ml_transform()
        .transform_id(&tfm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            described.status().map(|s| s.as_str()),
            described.label_count()
        ),
        (Some("READY"), 3)
    );
    assert!(described.evaluation_metrics().is_none());
    let schema: Vec<&str> = described.schema().iter().filter_map(|c| c.name()).collect();
    assert_eq!(
        schema,
        ["id", "name", "city"],
        "the synthetic table's columns"
    );

    let run = evaluate().await.unwrap();
    let (seen, ended) = local.wait(&tfm, run.task_run_id().unwrap()).await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("SUCCEEDED"),
        "{seen:?}"
    );
    let properties = ended.properties().unwrap();
    assert_eq!(properties.task_type(), Some(&TaskType::Evaluation));
    assert!(properties
        .labeling_set_generation_task_run_properties()
        .is_none());
    let described = local
        .glue
        .get_ml_transform()
        .transform_id(&tfm)
        .send()
        .await
        .unwrap();
    let metrics = described.evaluation_metrics().unwrap();
    assert_eq!(metrics.transform_type().as_str(), "FIND_MATCHES");
    let fm = metrics.find_matches_metrics().unwrap();
    // 0.95 − 0.45·e^(−3/150), to 4 decimals; tradeoff 0.5, so precision = recall = AUPRC.
    assert_eq!(
        (
            fm.area_under_pr_curve(),
            fm.precision(),
            fm.recall(),
            fm.f1()
        ),
        (Some(0.5089), Some(0.5089), Some(0.5089), Some(0.5089))
    );
    let matrix = fm.confusion_matrix().unwrap();
    assert_eq!(
        (
            matrix.num_true_positives(),
            matrix.num_false_positives(),
            matrix.num_true_negatives(),
            matrix.num_false_negatives()
        ),
        (Some(51), Some(49), Some(851), Some(49))
    );
    let importances: Vec<(Option<&str>, Option<f64>)> = fm
        .column_importances()
        .iter()
        .map(|c| (c.column_name(), c.importance()))
        .collect();
    assert_eq!(
        importances,
        [
            (Some("id"), Some(0.5)),
            (Some("name"), Some(0.25)),
            (Some("city"), Some(0.125))
        ],
        "no primary key set: every column"
    );
}

/// A forced end: an evaluation SUCCEEDED with partial metrics (absent members stay absent),
/// then one FAILED, which leaves the latest metrics as they were.
#[tokio::test]
async fn an_evaluations_end_can_be_forced_with_metrics_or_a_failure() {
    let local = Local::start(Settings {
        ready_label_count: 0,
        evaluation_run_duration: Duration::from_millis(60),
        ..Settings::default()
    })
    .await;
    let tfm = local.create_transform("persons").await;
    let store = &local.server.store;
    let forced = |status: &str, metrics: Option<serde_json::Value>, error: Option<&str>| {
        glue_local::RunOutcome {
            task_type: "EVALUATION".into(),
            transform_id: Some(tfm.clone()),
            input_s3_path: None,
            output_s3_path: None,
            status: status.into(),
            error_string: error.map(String::from),
            metrics: metrics.and_then(|m| m.as_object().cloned()),
            count: 1,
        }
    };
    store
        .add_outcome(forced(
            "SUCCEEDED",
            Some(serde_json::json!({"AreaUnderPRCurve": 0.9, "F1": 0.5})),
            None,
        ))
        .unwrap();
    let evaluate = || async {
        let run = local
            .glue
            .start_ml_evaluation_task_run()
            .transform_id(&tfm)
            .send()
            .await
            .unwrap();
        local.wait(&tfm, run.task_run_id().unwrap()).await
    };
    let metrics = || async {
        local
            .glue
            .get_ml_transform()
            .transform_id(&tfm)
            .send()
            .await
            .unwrap()
            .evaluation_metrics()
            .and_then(|m| m.find_matches_metrics())
            .map(|m| {
                (
                    m.area_under_pr_curve(),
                    m.precision(),
                    m.f1(),
                    m.confusion_matrix().is_none(),
                )
            })
    };
    let (seen, _) = evaluate().await;
    assert_eq!(seen.last().map(String::as_str), Some("SUCCEEDED"));
    assert_eq!(metrics().await, Some((Some(0.9), None, Some(0.5), true)));
    store
        .add_outcome(forced("FAILED", None, Some("Dependency failure.")))
        .unwrap();
    let (seen, ended) = evaluate().await;
    assert_eq!(
        (seen.last().map(String::as_str), ended.error_string()),
        (Some("FAILED"), Some("Dependency failure."))
    );
    assert_eq!(metrics().await, Some((Some(0.9), None, Some(0.5), true)));
    assert_eq!(
        store
            .add_outcome(forced("SUCCEEDED", None, None))
            .unwrap_err()
            .message,
        "metrics go with status SUCCEEDED of an EVALUATION, and only there"
    );
}

/// A labeling-set generation writes ten sets of ten source records under its OutputS3Path,
/// on a NOT_READY transform too; the next one goes on where it ended; an output it cannot
/// write ends FAILED.
#[tokio::test]
async fn a_generation_writes_the_next_labeling_file_from_the_tables_records() {
    let local = Local::start(Settings {
        generation_run_duration: Duration::from_millis(90),
        ..Settings::default()
    })
    .await;
    let rows: String = (1..=150).map(|n| format!("{n},Name {n}\n")).collect();
    local
        .server
        .store
        .set_table(
            serde_json::from_value(serde_json::json!({
                "databaseName": "db", "tableName": "persons", "csv": format!("pk,name\n{rows}")
            }))
            .unwrap(),
        )
        .unwrap();
    let tfm = local.create_transform("persons").await;
    let (seen, _) = generate(&local, &tfm, "s3://labels-bkt/labeling-sets/t/round-1/").await;
    assert_eq!(seen.last().map(String::as_str), Some("SUCCEEDED"));
    let first = file_under(&local, "labeling-sets/t/round-1/").await;
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        (lines.len(), lines[0]),
        (101, "labeling_set_id,label,pk,name")
    );
    let sets: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(sets.len(), 10);
    assert!(lines[1].ends_with(",,1,Name 1") && lines[100].ends_with(",,100,Name 100"));
    generate(&local, &tfm, "s3://labels-bkt/labeling-sets/t/round-2/").await;
    let second = file_under(&local, "labeling-sets/t/round-2/").await;
    let lines: Vec<&str> = second.lines().collect();
    assert!(
        lines[1].ends_with(",,101,Name 101") && lines[51].ends_with(",,1,Name 1"),
        "the second file goes on and wraps: {:?}",
        &lines[..3]
    );
    let (seen, ended) = generate(&local, &tfm, "s3://no-such-bucket/sets/").await;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"));
    assert!(
        ended
            .error_string()
            .unwrap()
            .starts_with("Cannot write the labeling set to s3://no-such-bucket/sets/tsk-"),
        "{:?}",
        ended.error_string()
    );
}

async fn generate(
    local: &Local,
    tfm: &str,
    output: &str,
) -> (
    Vec<String>,
    aws_sdk_glue::operation::get_ml_task_run::GetMlTaskRunOutput,
) {
    let run = local
        .glue
        .start_ml_labeling_set_generation_task_run()
        .transform_id(tfm)
        .output_s3_path(output)
        .send()
        .await
        .unwrap();
    local.wait(tfm, run.task_run_id().unwrap()).await
}

/// The one object under `prefix`, as text.
async fn file_under(local: &Local, prefix: &str) -> String {
    let listed = local
        .s3
        .list_objects_v2()
        .bucket("labels-bkt")
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let body = local
        .s3
        .get_object()
        .bucket("labels-bkt")
        .key(&keys[0])
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}
