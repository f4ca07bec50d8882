//! The Glue calls: one StartImportLabelsTaskRun without the SDK's retry, the IMPORT_LABELS
//! history of a file, the transform's imports not ended, one task run, and Glue's errors as
//! [`ImportError`]s, with Glue's error policy (what passes, what lasts, what to do).

use aws_config::retry::RetryConfig;
use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::operation::get_ml_task_runs::builders::GetMLTaskRunsFluentBuilder;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{
    SortDirectionType, TaskRun, TaskRunFilterCriteria, TaskRunSortColumnType, TaskRunSortCriteria,
    TaskStatusType, TaskType,
};
use chrono::Utc;

use crate::upload::outcome::ImportError;
use crate::State;

/// How one start attempt ended, when it did not start a run.
#[derive(Debug)]
pub enum StartFailure {
    /// Glue said no and will say it again (unknown transform, unreadable file…).
    Refused(ImportError),
    /// Glue said not now (throttling): nothing started, another attempt may.
    NotNow(ImportError),
    /// Glue's quota of concurrent task runs of the transform is in use: nothing started; the
    /// start waits until a run ends.
    Busy(ImportError),
    /// No clear answer (5xx, timeout, connection lost): the run may or may not exist.
    Unclear(ImportError),
}

/// Sends StartImportLabelsTaskRun exactly once: the API has no client token, so the SDK's
/// automatic retry (which would resend after a lost answer) is turned off for this call.
pub async fn start_once(
    state: &State,
    transform_id: &str,
    input_s3_path: &str,
    replace_all_labels: bool,
) -> Result<String, StartFailure> {
    let sent = state
        .glue
        .start_import_labels_task_run()
        .transform_id(transform_id)
        .input_s3_path(input_s3_path)
        .replace_all_labels(replace_all_labels)
        .customize()
        .config_override(sent_once())
        .send()
        .await;
    match sent {
        Ok(out) => Ok(out.task_run_id().unwrap_or_default().to_string()),
        Err(e) => Err(start_failure("StartImportLabelsTaskRun", transform_id, e)),
    }
}

/// The override that sends a start once: no client token, so no retry of the SDK's.
pub fn sent_once() -> aws_sdk_glue::config::Builder {
    aws_sdk_glue::Config::builder().retry_config(RetryConfig::disabled())
}

/// How a start sent once failed: unclear (5xx, timeout, connection lost), busy (the quota),
/// not now (passing), or refused (lasting).
pub fn start_failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    transform_id: &str,
    e: SdkError<E, HttpResponse>,
) -> StartFailure {
    let unclear = super::is_unclear(&e);
    let error = glue_error(operation, transform_id, e);
    if unclear {
        StartFailure::Unclear(error)
    } else if error.is_quota_refusal() {
        StartFailure::Busy(error)
    } else if error.is_retryable() {
        StartFailure::NotNow(error)
    } else {
        StartFailure::Refused(error)
    }
}

/// The first IMPORT_LABELS run of `input_s3_path` that Glue started after `after`, from its
/// own history (every page read).
pub async fn import_run_since(
    state: &State,
    transform_id: &str,
    input_s3_path: &str,
    after: chrono::DateTime<Utc>,
) -> Result<Option<ImportRun>, ImportError> {
    let filter = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::ImportLabels)
        .started_after(DateTime::from_millis(after.timestamp_millis()))
        .build();
    let mut pages = state
        .glue
        .get_ml_task_runs()
        .transform_id(transform_id)
        .filter(filter)
        .into_paginator()
        .send();
    let mut found: Option<TaskRun> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| glue_error("GetMLTaskRuns", transform_id, e))?;
        let same_file = page
            .task_runs()
            .iter()
            .filter(|run| input_path(run) == Some(input_s3_path));
        for run in same_file {
            let earlier = match (&found, run.started_on()) {
                (None, _) => true,
                (Some(f), Some(t)) => f.started_on().is_none_or(|ft| t.secs() < ft.secs()),
                (Some(_), None) => false,
            };
            if earlier {
                found = Some(run.clone());
            }
        }
    }
    Ok(found.as_ref().map(import_run))
}

/// The label file an IMPORT_LABELS run reads.
fn input_path(run: &TaskRun) -> Option<&str> {
    run.properties()
        .and_then(|p| p.import_labels_task_run_properties())
        .and_then(|p| p.input_s3_path())
}

/// One of the transform's recent imports, as Glue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRun {
    pub task_run_id: String,
    pub input_s3_path: String,
    /// Glue's status word (`RUNNING`, `SUCCEEDED`, …).
    pub status: String,
    /// Not ended: STARTING, RUNNING or STOPPING.
    pub active: bool,
    pub started_on: Option<chrono::DateTime<Utc>>,
}

/// Glue's page of a transform's most recently started IMPORT_LABELS runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recent {
    pub runs: Vec<ImportRun>,
    /// Glue's token for the next (older) page; `None`: the runs are the whole history.
    pub next_token: Option<String>,
}

impl Recent {
    /// Whether the runs hold every run started at or after `since`.
    pub fn covers(&self, since: chrono::DateTime<Utc>) -> bool {
        self.next_token.is_none()
            || self
                .runs
                .last()
                .is_some_and(|oldest| oldest.started_on.is_some_and(|t| t < since))
    }

    /// The first run of `input_s3_path` started at or after `since`, when the page
    /// [`covers`](Recent::covers) that time.
    pub fn first_run_of(
        &self,
        input_s3_path: &str,
        since: chrono::DateTime<Utc>,
    ) -> Option<&ImportRun> {
        // A run without a start time is taken as recent: the check errs on the side of a
        // duplicate found.
        self.runs
            .iter()
            .rev()
            .filter(|run| run.input_s3_path == input_s3_path)
            .find(|run| run.started_on.is_none_or(|t| t >= since))
    }

    /// Reads older pages until the runs [`cover`](Recent::covers) `since`.
    pub async fn reach_back(
        &mut self,
        state: &State,
        transform_id: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<(), ImportError> {
        while !self.covers(since) {
            let older = page(state, transform_id, self.next_token.take()).await?;
            self.runs.extend(older.runs);
            self.next_token = older.next_token;
        }
        Ok(())
    }
}

/// The transform's 100 most recently started IMPORT_LABELS runs, newest first: one
/// GetMLTaskRuns call.
pub async fn recent_imports(state: &State, transform_id: &str) -> Result<Recent, ImportError> {
    page(state, transform_id, None).await
}

/// The query for a transform's IMPORT_LABELS runs, newest first, `max_results` a page (the
/// CLI's `status` lists them with it too).
pub fn import_runs_query(
    glue: &aws_sdk_glue::Client,
    transform_id: &str,
    max_results: i32,
) -> Result<GetMLTaskRunsFluentBuilder, ImportError> {
    let filter = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::ImportLabels)
        .build();
    let sort = TaskRunSortCriteria::builder()
        .column(TaskRunSortColumnType::Started)
        .sort_direction(SortDirectionType::Descending)
        .build()
        .map_err(|e| ImportError::Glue {
            operation: "GetMLTaskRuns",
            code: "RequestConstruction".into(),
            message: e.to_string(),
            transform_id: transform_id.to_string(),
        })?;
    Ok(glue
        .get_ml_task_runs()
        .transform_id(transform_id)
        .filter(filter)
        .sort(sort)
        .max_results(max_results))
}

/// One page of the transform's IMPORT_LABELS runs, newest first (100 a page).
async fn page(
    state: &State,
    transform_id: &str,
    next_token: Option<String>,
) -> Result<Recent, ImportError> {
    let page = import_runs_query(&state.glue, transform_id, 100)?
        .set_next_token(next_token)
        .send()
        .await
        .map_err(|e| glue_error("GetMLTaskRuns", transform_id, e))?;
    Ok(Recent {
        runs: page.task_runs().iter().map(import_run).collect(),
        next_token: page.next_token().map(str::to_string),
    })
}

fn import_run(run: &TaskRun) -> ImportRun {
    ImportRun {
        task_run_id: run.task_run_id().unwrap_or_default().to_string(),
        input_s3_path: input_path(run).unwrap_or_default().to_string(),
        status: run.status().map(|s| s.as_str()).unwrap_or("?").to_string(),
        active: matches!(
            run.status(),
            Some(TaskStatusType::Starting | TaskStatusType::Running | TaskStatusType::Stopping)
        ),
        started_on: run.started_on().and_then(super::utc),
    }
}

/// A task run as GetMLTaskRun reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Glue's status word (`RUNNING`, `SUCCEEDED`, …; empty when it gave none).
    pub status: String,
    pub started_on: Option<chrono::DateTime<Utc>>,
    pub completed_on: Option<chrono::DateTime<Utc>>,
    /// Glue's `ErrorString`, verbatim.
    pub error_string: Option<String>,
}

/// One task run (GetMLTaskRun).
pub async fn task_run(
    state: &State,
    transform_id: &str,
    task_run_id: &str,
) -> Result<RunReport, ImportError> {
    let run = state
        .glue
        .get_ml_task_run()
        .transform_id(transform_id)
        .task_run_id(task_run_id)
        .send()
        .await
        .map_err(|e| glue_error("GetMLTaskRun", transform_id, e))?;
    Ok(RunReport {
        status: run
            .status()
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
        started_on: run.started_on().and_then(super::utc),
        completed_on: run.completed_on().and_then(super::utc),
        error_string: run.error_string().map(str::to_string),
    })
}

/// A Glue error, with its code and message and what to do about it.
pub fn glue_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    transform_id: &str,
    err: SdkError<E, HttpResponse>,
) -> ImportError {
    let (code, message) = super::code_and_message(&err);
    ImportError::Glue {
        operation,
        code,
        message,
        transform_id: transform_id.to_string(),
    }
}

/// Whether trying a Glue call again can help: a quota refusal passes, and so does every code
/// that is not a lasting refusal.
pub fn is_retryable(code: &str, message: &str) -> bool {
    is_quota_refusal(code, message) || !is_permanent(code)
}

/// Glue refused a start because the transform's (or account's) quota of concurrent ML task
/// runs is in use.
pub fn is_quota_refusal(code: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == "ConcurrentRunsExceededException"
        || (code == "ResourceNumberLimitExceededException"
            && (message.contains("task run") || message.contains("taskrun")))
}

/// Glue's error codes that a retry does not change (the errors of StartImportLabelsTaskRun,
/// GetMLTaskRuns and GetMLTaskRun in the AWS Glue API reference, and StartMLEvaluationTaskRun's
/// MLTransformNotReadyException: more labels change it, a retry does not).
fn is_permanent(code: &str) -> bool {
    matches!(
        code,
        "EntityNotFoundException"
            | "InvalidInputException"
            | "MLTransformNotReadyException"
            | "ResourceNumberLimitExceededException"
            | "AccessDeniedException"
            | "ValidationException"
            | "RequestConstruction"
    )
}

/// What to do about a Glue error, for its message.
pub fn hint(code: &str, message: &str, transform_id: &str) -> String {
    if is_quota_refusal(code, message) {
        return format!("transform {transform_id} already runs as many ML task runs as Glue's quota allows (3 by default, every task type counted); the import waits in its lane and the tick starts it when a run ends");
    }
    match code {
        "EntityNotFoundException" => format!(
            "check that transform {transform_id} exists in this account and region (aws glue get-ml-transform --transform-id {transform_id})"
        ),
        "InvalidInputException" => "check that the transform's IAM role can read the file, that the bucket is in the transform's region and that the file is a labeled CSV; then upload it again".to_string(),
        "ResourceNumberLimitExceededException" => "the label file is over Glue's size quota (10 MB by default); split it into smaller files and upload those".to_string(),
        "AccessDeniedException" => format!(
            "grant the function glue:StartImportLabelsTaskRun and glue:GetMLTaskRuns on transform {transform_id}"
        ),
        "ValidationException" | "RequestConstruction" => "the request could not be sent; check the function's AWS configuration (region, endpoint)".to_string(),
        _ => "a retry may succeed (Lambda retries the event; duplicates are detected)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> chrono::DateTime<Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn run(id: &str, path: &str, started: Option<i64>) -> ImportRun {
        ImportRun {
            task_run_id: id.into(),
            input_s3_path: path.into(),
            status: "SUCCEEDED".into(),
            active: false,
            started_on: started.map(at),
        }
    }

    #[test]
    fn the_page_answers_the_duplicate_check_from_the_events_time() {
        // Newest first: b started after the event at 100, a before it.
        let page = Recent {
            runs: vec![
                run("tsk-other", "s3://b/other.csv", Some(150)),
                run("tsk-b", "s3://b/x.csv", Some(120)),
                run("tsk-b0", "s3://b/x.csv", Some(100)),
                run("tsk-a", "s3://b/x.csv", Some(90)),
            ],
            next_token: Some("older".into()),
        };
        assert!(page.covers(at(100)));
        assert!(
            !page.covers(at(90)),
            "the oldest run is not older than the time"
        );
        let first = page.first_run_of("s3://b/x.csv", at(100)).unwrap();
        assert_eq!(
            first.task_run_id, "tsk-b0",
            "the earliest at or after the time"
        );
        assert_eq!(page.first_run_of("s3://b/x.csv", at(121)), None);
        assert_eq!(page.first_run_of("s3://b/y.csv", at(0)), None);
        // A whole history covers any time; a run without a start time counts as recent.
        let whole = Recent {
            runs: vec![run("tsk-new", "s3://b/x.csv", None)],
            next_token: None,
        };
        assert!(whole.covers(at(0)));
        assert_eq!(
            whole
                .first_run_of("s3://b/x.csv", at(500))
                .unwrap()
                .task_run_id,
            "tsk-new"
        );
    }

    #[test]
    fn glue_refusals_are_sorted_into_lasting_and_passing() {
        assert!(is_quota_refusal("ConcurrentRunsExceededException", "x"));
        assert!(is_quota_refusal(
            "ResourceNumberLimitExceededException",
            "Too many concurrent task runs"
        ));
        assert!(!is_quota_refusal(
            "ResourceNumberLimitExceededException",
            "file too large"
        ));
        assert!(is_retryable("ThrottlingException", "slow down"));
        assert!(is_retryable(
            "ResourceNumberLimitExceededException",
            "task runs"
        ));
        assert!(!is_retryable("EntityNotFoundException", "no transform"));
        assert!(!is_retryable(
            "ResourceNumberLimitExceededException",
            "file too large"
        ));
    }
}
