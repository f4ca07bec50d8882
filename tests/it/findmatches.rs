//! The teaching loop's Glue adapter (`aws::findmatches`) through the real SDK client answered
//! by aws-smithy-mocks rules: the transform as read (every metric, nulls kept), the starts
//! sent exactly once, and the history that settles an unclear start.

use aws_sdk_glue::operation::get_ml_transform::GetMlTransformOutput;
use aws_sdk_glue::operation::start_ml_evaluation_task_run::StartMlEvaluationTaskRunOutput;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{
    ColumnImportance, ConfusionMatrix, EvaluationMetrics, FindMatchesMetrics,
    FindMatchesParameters, LabelingSetGenerationTaskRunProperties, TaskRun, TaskRunProperties,
    TaskType, TransformParameters, TransformStatusType, TransformType,
};
use aws_smithy_mocks::mock;
use glue_label_importer::aws::findmatches::{
    is_not_ready, read_transform, run_since, start_once, LoopTask,
};
use glue_label_importer::aws::glue::StartFailure;
use glue_label_importer::teaching::rounds::{
    ColumnImportance as Importance, ConfusionMatrix as Matrix, Metrics, Parameters,
};
use glue_label_importer::Config;

use crate::mocks::{glue_error_body, history, state, TFM};

#[tokio::test]
async fn the_transform_is_read_with_every_metric_and_nulls_kept() {
    let described = mock!(aws_sdk_glue::Client::get_ml_transform)
        .match_requests(|r| r.transform_id() == Some(TFM))
        .then_output(|| {
            GetMlTransformOutput::builder()
                .status(TransformStatusType::Ready)
                .label_count(200)
                .parameters(
                    TransformParameters::builder()
                        .transform_type(TransformType::FindMatches)
                        .find_matches_parameters(
                            FindMatchesParameters::builder()
                                .precision_recall_tradeoff(0.9)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .evaluation_metrics(
                    EvaluationMetrics::builder()
                        .transform_type(TransformType::FindMatches)
                        .find_matches_metrics(
                            FindMatchesMetrics::builder()
                                .area_under_pr_curve(0.8314)
                                .f1(0.8261)
                                .confusion_matrix(
                                    ConfusionMatrix::builder()
                                        .num_true_positives(76)
                                        .num_false_negatives(24)
                                        .build(),
                                )
                                .column_importances(
                                    ColumnImportance::builder()
                                        .column_name("name")
                                        .importance(0.5)
                                        .build(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let state = state(Config::default(), &[], &[&described]);
    let reading = read_transform(&state, TFM).await.unwrap();
    assert!(reading.is_ready());
    assert_eq!(reading.label_count, 200);
    assert_eq!(
        reading.parameters,
        Parameters {
            precision_recall_tradeoff: Some(0.9),
            accuracy_cost_tradeoff: None
        }
    );
    assert_eq!(
        reading.metrics,
        Some(Metrics {
            area_under_pr_curve: Some(0.8314),
            precision: None,
            recall: None,
            f1: Some(0.8261),
            confusion_matrix: Some(Matrix {
                num_true_positives: Some(76),
                num_false_negatives: Some(24),
                ..Matrix::default()
            }),
            column_importances: vec![Importance {
                column_name: Some("name".into()),
                importance: Some(0.5)
            }],
        })
    );
    assert_eq!(described.num_calls(), 1);
}

#[tokio::test]
async fn a_loop_start_is_sent_once_and_its_refusals_are_sorted() {
    let cases = [
        (
            500,
            "InternalServiceException",
            "Dependency failure.",
            "unclear",
        ),
        (
            400,
            "ConcurrentRunsExceededException",
            "ML Task Runs count 4 has exceeded the transform limit of 3 task runs.",
            "busy",
        ),
        (
            400,
            "MLTransformNotReadyException",
            "This operation can only be applied to a transform that is in a READY state.",
            "refused",
        ),
        (400, "ThrottlingException", "Rate exceeded", "not now"),
    ];
    for (status, code, message, want) in cases {
        let start = mock!(aws_sdk_glue::Client::start_ml_evaluation_task_run)
            .sequence()
            .http_status(status, Some(glue_error_body(code, message)))
            .repeatedly()
            .build();
        let state = state(Config::default(), &[], &[&start]);
        let failure = start_once(&state, TFM, &LoopTask::Evaluation)
            .await
            .unwrap_err();
        let (kind, error) = match &failure {
            StartFailure::Unclear(e) => ("unclear", e),
            StartFailure::Busy(e) => ("busy", e),
            StartFailure::Refused(e) => ("refused", e),
            StartFailure::NotNow(e) => ("not now", e),
        };
        assert_eq!(kind, want, "{code}");
        assert_eq!(start.num_calls(), 1, "{code}: sent once, never retried");
        assert_eq!(is_not_ready(error), code == "MLTransformNotReadyException");
        assert!(
            error.to_string().starts_with(&format!(
                "Glue StartMLEvaluationTaskRun failed with {code}: {message}; "
            )),
            "{error}"
        );
    }
    let started = mock!(aws_sdk_glue::Client::start_ml_evaluation_task_run)
        .match_requests(|r| r.transform_id() == Some(TFM))
        .then_output(|| {
            StartMlEvaluationTaskRunOutput::builder()
                .task_run_id("tsk-eval")
                .build()
        });
    let state = state(Config::default(), &[], &[&started]);
    assert_eq!(
        start_once(&state, TFM, &LoopTask::Evaluation)
            .await
            .unwrap(),
        "tsk-eval"
    );
}

fn generation(id: &str, output: &str, started_secs: i64) -> TaskRun {
    TaskRun::builder()
        .transform_id(TFM)
        .task_run_id(id)
        .started_on(DateTime::from_secs(started_secs))
        .properties(
            TaskRunProperties::builder()
                .task_type(TaskType::LabelingSetGeneration)
                .labeling_set_generation_task_run_properties(
                    LabelingSetGenerationTaskRunProperties::builder()
                        .output_s3_path(output)
                        .build(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn an_unclear_generation_is_settled_by_the_first_run_into_its_output() {
    let output = "s3://bkt/labeling-sets/tfm/round-2/";
    let runs = history(vec![
        generation("tsk-later", output, 1_800_000_300),
        generation(
            "tsk-other-round",
            "s3://bkt/labeling-sets/tfm/round-1/",
            1_800_000_100,
        ),
        generation("tsk-first", output, 1_800_000_200),
    ]);
    let state = state(Config::default(), &[], &[&runs]);
    let task = LoopTask::Generation {
        output_s3_path: output.into(),
    };
    let since = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    assert_eq!(
        run_since(&state, TFM, &task, since)
            .await
            .unwrap()
            .as_deref(),
        Some("tsk-first")
    );
    let elsewhere = LoopTask::Generation {
        output_s3_path: "s3://bkt/labeling-sets/tfm/round-3/".into(),
    };
    assert_eq!(
        run_since(&state, TFM, &elsewhere, since).await.unwrap(),
        None
    );
}
