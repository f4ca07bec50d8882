//! Glue's teaching-loop calls: the transform as the loop reads it (GetMLTransform: status,
//! label count, parameters, the latest metrics), StartMLEvaluationTaskRun and
//! StartMLLabelingSetGenerationTaskRun sent once each (neither takes a client token), the
//! runs of one task type Glue started since a time, and the objects a generation wrote.

use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{TaskRun, TaskRunFilterCriteria, TaskType};
use chrono::Utc;

use super::glue::{glue_error, sent_once, start_failure, StartFailure};
use crate::teaching::rounds::{ColumnImportance, ConfusionMatrix, Metrics, Parameters};
use crate::upload::outcome::ImportError;
use crate::State;

/// A transform as the loop reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `READY` (an evaluation can start), `NOT_READY`, or another word of Glue's.
    pub status: String,
    pub label_count: i64,
    pub parameters: Parameters,
    /// The latest evaluation's metrics (Glue keeps no others).
    pub metrics: Option<Metrics>,
}

impl Reading {
    pub fn is_ready(&self) -> bool {
        self.status == "READY"
    }
}

/// GetMLTransform, as a [`Reading`].
pub async fn read_transform(state: &State, transform_id: &str) -> Result<Reading, ImportError> {
    let out = state
        .glue
        .get_ml_transform()
        .transform_id(transform_id)
        .send()
        .await
        .map_err(|e| glue_error("GetMLTransform", transform_id, e))?;
    let find_matches = out.parameters().and_then(|p| p.find_matches_parameters());
    let metrics = out
        .evaluation_metrics()
        .and_then(|m| m.find_matches_metrics())
        .map(|m| Metrics {
            area_under_pr_curve: m.area_under_pr_curve(),
            precision: m.precision(),
            recall: m.recall(),
            f1: m.f1(),
            confusion_matrix: m.confusion_matrix().map(|c| ConfusionMatrix {
                num_true_positives: c.num_true_positives(),
                num_false_positives: c.num_false_positives(),
                num_true_negatives: c.num_true_negatives(),
                num_false_negatives: c.num_false_negatives(),
            }),
            column_importances: m
                .column_importances()
                .iter()
                .map(|c| ColumnImportance {
                    column_name: c.column_name().map(str::to_string),
                    importance: c.importance(),
                })
                .collect(),
        });
    Ok(Reading {
        status: out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        label_count: i64::from(out.label_count()),
        parameters: Parameters {
            precision_recall_tradeoff: find_matches.and_then(|p| p.precision_recall_tradeoff()),
            accuracy_cost_tradeoff: find_matches.and_then(|p| p.accuracy_cost_tradeoff()),
        },
        metrics,
    })
}

/// The loop's two kinds of task run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopTask {
    Evaluation,
    /// A labeling-set generation into this `OutputS3Path`.
    Generation {
        output_s3_path: String,
    },
}

impl LoopTask {
    fn task_type(&self) -> TaskType {
        match self {
            LoopTask::Evaluation => TaskType::Evaluation,
            LoopTask::Generation { .. } => TaskType::LabelingSetGeneration,
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            LoopTask::Evaluation => "StartMLEvaluationTaskRun",
            LoopTask::Generation { .. } => "StartMLLabelingSetGenerationTaskRun",
        }
    }

    /// Whether `run` is one of this task's (a generation: into the same output path).
    fn is_mine(&self, run: &TaskRun) -> bool {
        match self {
            LoopTask::Evaluation => true,
            LoopTask::Generation { output_s3_path } => {
                run.properties()
                    .and_then(|p| p.labeling_set_generation_task_run_properties())
                    .and_then(|p| p.output_s3_path())
                    == Some(output_s3_path.as_str())
            }
        }
    }
}

/// Sends the task's start exactly once, without the SDK's retry; the task run ID.
pub async fn start_once(
    state: &State,
    transform_id: &str,
    task: &LoopTask,
) -> Result<String, StartFailure> {
    let sent = match task {
        LoopTask::Evaluation => state
            .glue
            .start_ml_evaluation_task_run()
            .transform_id(transform_id)
            .customize()
            .config_override(sent_once())
            .send()
            .await
            .map(|out| out.task_run_id().map(str::to_string))
            .map_err(|e| start_failure(task.operation(), transform_id, e)),
        LoopTask::Generation { output_s3_path } => state
            .glue
            .start_ml_labeling_set_generation_task_run()
            .transform_id(transform_id)
            .output_s3_path(output_s3_path)
            .customize()
            .config_override(sent_once())
            .send()
            .await
            .map(|out| out.task_run_id().map(str::to_string))
            .map_err(|e| start_failure(task.operation(), transform_id, e)),
    };
    sent.map(Option::unwrap_or_default)
}

/// Glue's refusal of an evaluation because the transform is `NOT_READY`.
pub fn is_not_ready(error: &ImportError) -> bool {
    matches!(error, ImportError::Glue { code, .. } if code == "MLTransformNotReadyException")
}

/// The first run of `task` Glue started after `after`, from its history (every page read):
/// how an unclear start is settled.
pub async fn run_since(
    state: &State,
    transform_id: &str,
    task: &LoopTask,
    after: chrono::DateTime<Utc>,
) -> Result<Option<String>, ImportError> {
    let filter = TaskRunFilterCriteria::builder()
        .task_run_type(task.task_type())
        .started_after(DateTime::from_millis(after.timestamp_millis()))
        .build();
    let mut pages = state
        .glue
        .get_ml_task_runs()
        .transform_id(transform_id)
        .filter(filter)
        .into_paginator()
        .send();
    let mut first: Option<(i64, String)> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| glue_error("GetMLTaskRuns", transform_id, e))?;
        for run in page.task_runs().iter().filter(|r| task.is_mine(r)) {
            let started = run
                .started_on()
                .and_then(|t| t.to_millis().ok())
                .unwrap_or(i64::MAX);
            let id = run.task_run_id().unwrap_or_default().to_string();
            if first.as_ref().is_none_or(|(t, _)| started < *t) {
                first = Some((started, id));
            }
        }
    }
    Ok(first.map(|(_, id)| id))
}
