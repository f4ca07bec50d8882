//! `status`'s Glue side: the transform's recent label imports (the library's query), and one
//! task run, followed to its end with `--wait`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use glue_label_importer::aws::glue::import_runs_query;
use glue_label_importer::lifecycle::entry::ImportState;

use crate::status::Run;
use crate::{aws_error, CliError};

/// The most recent `max` IMPORT_LABELS runs of the transform, newest first.
pub async fn recent(
    glue: &aws_sdk_glue::Client,
    transform_id: &str,
    max: i32,
) -> Result<Vec<Run>, CliError> {
    let query =
        import_runs_query(glue, transform_id, max).map_err(|e| crate::UsageError(e.to_string()))?;
    let runs = query
        .send()
        .await
        .map_err(|e| aws_error("GetMLTaskRuns", e))?;
    Ok(runs.task_runs().iter().map(Run::from_task_run).collect())
}

/// One task run; with `wait`, polled every `poll_interval` seconds until it ends (a spinner
/// on an interactive terminal).
pub async fn one(
    glue: &aws_sdk_glue::Client,
    transform_id: &str,
    task_run_id: &str,
    wait: bool,
    poll_interval: f64,
) -> Result<Run, CliError> {
    let interactive = std::io::stderr().is_terminal();
    let started = Instant::now();
    let spinner = ['|', '/', '-', '\\'];
    let mut tick = 0;
    loop {
        let out = glue
            .get_ml_task_run()
            .transform_id(transform_id)
            .task_run_id(task_run_id)
            .send()
            .await
            .map_err(|e| aws_error("GetMLTaskRun", e))?;
        let run = Run::from_output(&out);
        let ended = ImportState::from_glue(&run.status).is_some_and(ImportState::is_final);
        if !wait || ended {
            if interactive && wait {
                eprintln!();
            }
            return Ok(run);
        }
        if interactive {
            let elapsed = started.elapsed().as_secs();
            eprint!(
                "\r{} {} {} ({elapsed} s)   ",
                spinner[tick % 4],
                run.task_run_id,
                run.status
            );
            tick += 1;
        }
        tokio::time::sleep(Duration::from_secs_f64(poll_interval.max(0.05))).await;
    }
}
