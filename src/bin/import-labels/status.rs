//! `status`: the transform's import ledger (one row per upload, a waiting one with its place in
//! the lane and what it waits for), one task run (GetMLTaskRun) or
//! the recent IMPORT_LABELS runs (GetMLTaskRuns), as a table or JSON; `--wait` follows one run
//! to its end.

use aws_sdk_glue::operation::get_ml_task_run::GetMlTaskRunOutput;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::primitives::DateTimeFormat;
use aws_sdk_glue::types::{TaskRun, TaskRunProperties, TaskStatusType};
use glue_label_importer::lifecycle::entry::ImportState;
use glue_label_importer::lifecycle::lane::Lane;
use glue_label_importer::lifecycle::ledger::{self, LedgerError, Stored};
use serde::Serialize;

/// The parts of a task run an operator looks at (JSON names as Glue's).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Run {
    pub task_run_id: String,
    pub status: String,
    pub input_s3_path: String,
    pub replace: bool,
    pub started_on: Option<String>,
    pub completed_on: Option<String>,
    #[serde(rename = "ErrorString")]
    pub error: Option<String>,
}

/// RFC 3339 to the second: what an operator reads.
fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| {
        DateTime::from_secs(t.secs())
            .fmt(DateTimeFormat::DateTime)
            .ok()
    })
}

impl Run {
    fn new(
        task_run_id: Option<&str>,
        status: Option<&TaskStatusType>,
        properties: Option<&TaskRunProperties>,
        started_on: Option<&DateTime>,
        completed_on: Option<&DateTime>,
        error: Option<&str>,
    ) -> Run {
        let import = properties.and_then(|p| p.import_labels_task_run_properties());
        Run {
            task_run_id: task_run_id.unwrap_or_default().to_string(),
            status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            input_s3_path: import
                .and_then(|p| p.input_s3_path())
                .unwrap_or_default()
                .to_string(),
            replace: import.is_some_and(|p| p.replace()),
            started_on: time(started_on),
            completed_on: time(completed_on),
            error: error.map(str::to_string),
        }
    }

    /// An item of GetMLTaskRuns.
    pub fn from_task_run(r: &TaskRun) -> Run {
        Run::new(
            r.task_run_id(),
            r.status(),
            r.properties(),
            r.started_on(),
            r.completed_on(),
            r.error_string(),
        )
    }

    /// The answer of GetMLTaskRun (the same members, another type).
    pub fn from_output(r: &GetMlTaskRunOutput) -> Run {
        Run::new(
            r.task_run_id(),
            r.status(),
            r.properties(),
            r.started_on(),
            r.completed_on(),
            r.error_string(),
        )
    }
}

/// One upload of the ledger, as an operator reads it (JSON names in Glue's style).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Import {
    pub upload: String,
    pub state: String,
    pub task_run_id: Option<String>,
    pub replace: bool,
    pub uploaded: Option<String>,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub error: Option<String>,
    /// A QUEUED upload's place among its transform's waiting uploads (1 = next).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<usize>,
    /// What a QUEUED upload waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
    pub entry: String,
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

impl Import {
    /// A ledger entry (a waiting one with its place and what it waits for, from the
    /// transform's lane), or the reason it cannot be read (state `UNREADABLE`).
    pub fn from_entry(bucket: &str, entry: Result<Stored, LedgerError>, lane: &Lane) -> Import {
        match entry {
            Ok(Stored { key, value: e, .. }) => {
                let queued = e.state == ImportState::Queued;
                let upload_id = ledger::upload_id(&key);
                let (place, waits_for, error) = if queued {
                    // With its turn, a waiting upload waits for Glue (its last answer).
                    let waits_for = lane.waits_for(upload_id).or_else(|| {
                        e.last_error
                            .as_ref()
                            .map(|why| format!("its turn came; Glue has not started it yet: {why}"))
                    });
                    (lane.waiting_place(upload_id), waits_for, None)
                } else {
                    let error = e.error_string.clone().or_else(|| e.last_error.clone());
                    (None, None, error)
                };
                Import {
                    upload: format!("s3://{}/{}", e.bucket, e.key),
                    state: e.state.to_string(),
                    task_run_id: e.task_run_id.clone(),
                    replace: e.replace_all_labels,
                    uploaded: rfc3339(Some(e.uploaded_at)),
                    started: rfc3339(e.started_on),
                    ended: rfc3339(e.completed_on),
                    error,
                    place,
                    waits_for,
                    entry: format!("s3://{bucket}/{key}"),
                }
            }
            Err(error) => {
                let entry = match &error {
                    LedgerError::Invalid { key, .. }
                    | LedgerError::AccessDenied { key, .. }
                    | LedgerError::S3 { key, .. }
                    | LedgerError::Conflict { key, .. } => format!("s3://{bucket}/{key}"),
                };
                Import {
                    upload: String::new(),
                    state: "UNREADABLE".into(),
                    task_run_id: None,
                    replace: false,
                    uploaded: None,
                    started: None,
                    ended: None,
                    error: Some(error.to_string()),
                    place: None,
                    waits_for: None,
                    entry,
                }
            }
        }
    }
}

/// The ledger as a table: one row per upload, oldest first; a waiting upload's place and
/// what it waits for in the last column.
pub fn imports_table(imports: &[Import]) -> String {
    let header = [
        "UPLOADED",
        "STATE",
        "PLACE",
        "TASK RUN ID",
        "STARTED",
        "ENDED",
        "UPLOAD",
        "ERROR / WAITS FOR",
    ];
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = imports
        .iter()
        .map(|i| {
            vec![
                i.uploaded.clone().unwrap_or_else(dash),
                i.state.clone(),
                i.place.map(|p| p.to_string()).unwrap_or_else(dash),
                i.task_run_id.clone().unwrap_or_else(dash),
                i.started.clone().unwrap_or_else(dash),
                i.ended.clone().unwrap_or_else(dash),
                if i.upload.is_empty() {
                    i.entry.clone()
                } else {
                    i.upload.clone()
                },
                i.error
                    .clone()
                    .or_else(|| i.waits_for.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// A plain table: a header row, a rule, one row per run.
pub fn table(runs: &[Run]) -> String {
    let header = [
        "TASK RUN ID",
        "STATUS",
        "REPLACE",
        "STARTED",
        "INPUT S3 PATH",
        "ERROR",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.task_run_id.clone(),
                r.status.clone(),
                r.replace.to_string(),
                r.started_on.clone().unwrap_or_else(|| "-".into()),
                r.input_s3_path.clone(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// Aligned columns: the header, a rule, the rows.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.push(line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, status: &str, error: Option<&str>) -> Run {
        Run {
            task_run_id: id.into(),
            status: status.into(),
            input_s3_path: format!("s3://b/labels/t/{id}.csv"),
            replace: status == "FAILED",
            started_on: Some("2026-11-29T10:00:00Z".into()),
            completed_on: None,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn renders_a_table_with_aligned_columns() {
        let runs = [
            run("tsk-1", "SUCCEEDED", None),
            run("tsk-22", "FAILED", Some("bad header")),
        ];
        assert_eq!(
            table(&runs),
            "TASK RUN ID  STATUS     REPLACE  STARTED               INPUT S3 PATH               ERROR\n\
             -----------  ---------  -------  --------------------  --------------------------  ----------\n\
             tsk-1        SUCCEEDED  false    2026-11-29T10:00:00Z  s3://b/labels/t/tsk-1.csv\n\
             tsk-22       FAILED     true     2026-11-29T10:00:00Z  s3://b/labels/t/tsk-22.csv  bad header"
        );
    }

    #[test]
    fn only_final_statuses_end_a_wait() {
        let is_final = |s: &str| ImportState::from_glue(s).is_some_and(ImportState::is_final);
        for status in ["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"] {
            assert!(is_final(status));
        }
        for status in ["STARTING", "RUNNING", "STOPPING", ""] {
            assert!(!is_final(status));
        }
    }
}
