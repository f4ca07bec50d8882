//! The tick's per-transform loop step: note the imports that ended, open a round when one is
//! due and start its evaluation exactly once, follow the evaluation to its end and record the
//! round.
//!
//! ```text
//!  ended imports ──► note (rounds document; loop marker open/<tfm>/loop)
//!  loop marker ──► round being evaluated? ── task run ──► GetMLTaskRun ─► ended: record round
//!       │                                  └ not started (deferred, or a mark past its lease)
//!       │                                      ──► Glue's history since the mark, else start
//!       └──► round due? ──► GetMLTransform ── NOT_READY: record the round, no evaluation
//!                                           └ READY: open round + mark (one write) ─► send once
//! ```
//!
//! Every change goes through the compare-and-set seam; of concurrent ticks, the one whose mark
//! was written sends the start. A transform with nothing to do costs no call: without its loop
//! marker the tick never reads its rounds document.

use serde::Serialize;
use tracing::{error, info, warn};

use crate::aws::documents::{LedgerError, Updated};
use crate::aws::findmatches::{self, LoopTask, Reading};
use crate::aws::glue::{self, StartFailure};
use crate::lifecycle::entry::{Entry, ImportState};
use crate::lifecycle::ledger::Ledger;
use crate::metrics::RoundFigures;
use crate::notify::{self, message};
use crate::teaching::rounds::{
    is_final, CoveredImport, Generation, Round, RoundState, Rounds, Stop,
};
use crate::upload::outcome::ImportError;
use crate::State;

/// What the loop did for a transform in one tick, for the tick's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundProgress {
    pub transform_id: String,
    pub round: u32,
    pub series: u32,
    pub state: RoundState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_count: Option<i64>,
    #[serde(rename = "areaUnderPRCurve", skip_serializing_if = "Option::is_none")]
    pub area_under_pr_curve: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl RoundProgress {
    fn of(transform_id: &str, round: &Round) -> RoundProgress {
        RoundProgress {
            transform_id: transform_id.to_string(),
            round: round.number,
            series: round.series,
            state: round.state,
            task_run_id: round
                .evaluation
                .as_ref()
                .and_then(|r| r.task_run_id.clone()),
            label_count: round.label_count,
            area_under_pr_curve: round.metrics.as_ref().and_then(|m| m.area_under_pr_curve),
            error_string: round.error_string.clone(),
            stopped: round.stopped.as_ref().map(Stop::to_string),
        }
    }
}

/// One transform's loop step in a tick: what changed, or why nothing could.
#[derive(Debug, Default)]
pub struct LoopResult {
    pub rounds: Vec<RoundProgress>,
    /// The figures of the rounds evaluated, for the transform's metrics line.
    pub figures: Vec<RoundFigures>,
    /// Labeling sets whose generation ended.
    pub labeling_sets: Vec<LabelingSet>,
    pub errors: Vec<String>,
}

/// Notes the transform's imports that ended (SUCCEEDED ones wait for the next round; every
/// upload restarts the quiet period) and opens the transform's loop marker. Nothing is written
/// when every one was noted before. An error leaves the imports' markers for the next tick.
pub async fn note_ended(
    ledger: &Ledger<'_>,
    transform_id: &str,
    ended: &[Entry],
) -> Result<(), LedgerError> {
    let key = ledger.rounds_key(transform_id);
    let updated = ledger
        .documents()
        .update(
            &key,
            || Some(Rounds::new(transform_id)),
            |rounds: &mut Rounds| {
                for entry in ended {
                    match (&entry.task_run_id, entry.state) {
                        (Some(task_run_id), ImportState::Succeeded) => rounds.note_import(
                            CoveredImport {
                                key: entry.key.clone(),
                                task_run_id: task_run_id.clone(),
                                replace_all_labels: entry.replace_all_labels,
                                completed_on: entry.completed_on,
                            },
                            entry.uploaded_at,
                        ),
                        _ => rounds.note_upload(entry.uploaded_at),
                    }
                }
            },
        )
        .await?;
    if let Some(rounds) = updated.into_versioned() {
        if !rounds.value.pending.is_empty() {
            ledger
                .documents()
                .create_empty(&ledger.loop_marker_key(transform_id))
                .await?;
        }
    }
    Ok(())
}

/// The loop step of a transform with a loop marker; `importing`: an import of it is waiting
/// or running.
pub async fn step(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    importing: bool,
) -> LoopResult {
    let mut result = LoopResult::default();
    if let Err(e) = try_step(state, ledger, transform_id, importing, &mut result).await {
        error!(transform_id, "teaching loop: {e}");
        result.errors.push(e.to_string());
    }
    result
}

/// Why a loop step stopped short; the next tick tries again.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Glue(#[from] ImportError),
}

async fn try_step(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    importing: bool,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    let Some(held) = ledger.documents().get::<Rounds>(&key).await? else {
        ledger.close(&ledger.loop_marker_key(transform_id)).await?;
        return Ok(());
    };
    let rounds = held.value;
    let config = &state.config;
    let now = crate::now();
    if let Some(round) = rounds.evaluating().cloned() {
        advance_evaluation(state, ledger, transform_id, &round, result).await?;
    } else if rounds.round_due(importing, now, config.loop_quiet) {
        open_round(state, ledger, transform_id, Due::Loop, result).await?;
    }
    let generates = config.teaching_loop.generates();
    if generates {
        generate(state, ledger, transform_id, result).await?;
    }
    // The marker goes once nothing is left to do (read again: this step may have changed it).
    if let Some(now_held) = ledger.documents().get::<Rounds>(&key).await? {
        if now_held.value.is_idle(generates) {
            close_marker(ledger, transform_id, generates).await?;
        }
    }
    Ok(())
}

/// Moves a round being evaluated on: follows its task run, or (deferred, or a mark past its
/// lease) asks Glue's history since the first mark and starts it only when none was started.
pub(super) async fn advance_evaluation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    round: &Round,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let (config, now) = (&state.config, crate::now());
    let run = round.evaluation.clone().unwrap_or_default();
    match &run.task_run_id {
        Some(task_run_id) => {
            follow_evaluation(state, ledger, transform_id, round, task_run_id, result).await?
        }
        None if run.startable(config.start_lease, now) => {
            // An earlier attempt (a mark past its lease, or one answered unclearly before a
            // deferral) may have started a run: Glue's history since the first mark says.
            let since = run
                .first_marked_at
                .or(run.marked_at)
                .map(|at| at - crate::CLOCK_SKEW);
            let found = match since {
                Some(since) => {
                    findmatches::run_since(state, transform_id, &LoopTask::Evaluation, since)
                        .await?
                }
                None => None,
            };
            match found {
                Some(task_run_id) => {
                    record_started(ledger, transform_id, round.number, None, &task_run_id).await?;
                }
                None => start_evaluation(state, ledger, transform_id, round.number, result).await?,
            }
        }
        None => {} // another process is sending it
    }
    Ok(())
}

/// What a labeling set's progress came to, for the tick's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelingSet {
    pub transform_id: String,
    pub after_round: u32,
    pub output_s3_path: String,
    pub state: String,
    pub objects: Vec<String>,
    pub upload_to: String,
}

/// The loop's labeling sets (`evaluate-and-generate`): follows the one being generated, or
/// starts the one due, exactly once (mark, send once, record), as evaluations are.
async fn generate(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    let Some(held) = ledger.documents().get::<Rounds>(&key).await? else {
        return Ok(());
    };
    let rounds = held.value;
    match (rounds.generating(), rounds.generation_due()) {
        (Some(number), _) => {
            let Some(current) = rounds.generation(number).cloned() else {
                return Ok(());
            };
            advance_generation(state, ledger, transform_id, number, current, None, result)
                .await
                .map(|_| ())
        }
        (None, Some(number)) => {
            let fresh = labeling_set_after(state, ledger, transform_id, number);
            let create = Some(Due::Loop);
            advance_generation(state, ledger, transform_id, number, fresh, create, result)
                .await
                .map(|_| ())
        }
        (None, None) => Ok(()),
    }
}

/// The labeling set to generate after round `number`, where this deployment keeps them.
pub(super) fn labeling_set_after(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
) -> Generation {
    Generation::after(
        ledger.bucket(),
        &state.config.labeling_sets_prefix,
        &state.config.labels_prefix,
        transform_id,
        number,
    )
}

/// Moves the labeling set after round `number` on: follows its task run, or starts it
/// exactly once (Glue's history since an earlier mark, else mark and send once). `create`:
/// `current` is new and is attached to the round in the mark's write (the loop: only while
/// it is still due; by hand: while the round is the latest and has none). Whether this call
/// marked it and sent its start.
pub(super) async fn advance_generation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    current: Generation,
    create: Option<Due>,
    result: &mut LoopResult,
) -> Result<bool, StepError> {
    let key = ledger.rounds_key(transform_id);
    let (lease, now) = (state.config.start_lease, crate::now());
    let task = LoopTask::Generation {
        output_s3_path: current.output_s3_path.clone(),
    };
    if let Some(task_run_id) = &current.run.task_run_id {
        follow_generation(state, ledger, transform_id, number, task_run_id, result).await?;
        return Ok(false);
    }
    if !current.run.startable(lease, now) {
        return Ok(false); // another process is sending it
    }
    if let Some(since) = current.run.first_marked_at.or(current.run.marked_at) {
        let since = since - crate::CLOCK_SKEW;
        if let Some(found) = findmatches::run_since(state, transform_id, &task, since).await? {
            record_generation(ledger, transform_id, number, None, |g| {
                if g.run.task_run_id.is_none() {
                    g.run.task_run_id = Some(found.clone());
                    g.run.status = Some("STARTING".into());
                }
            })
            .await?;
            return Ok(false);
        }
    }
    // Mark (creating the generation when it is new), then send once.
    let token = crate::unique_token();
    let updated = ledger
        .documents()
        .update(
            &key,
            || (create == Some(Due::ByHand)).then(|| Rounds::new(transform_id)),
            |rounds: &mut Rounds| {
                let attach = match create {
                    Some(Due::Loop) => rounds.generation_due() == Some(number),
                    Some(Due::ByHand) => true,
                    None => false,
                };
                if attach {
                    rounds.attach_generation(number, current.clone());
                }
                if let Some(g) = rounds.generation_mut(number) {
                    if g.run.startable(lease, now) {
                        g.run.mark(&token, now);
                    }
                }
            },
        )
        .await?;
    let mine = matches!(&updated, Updated::Written(w) if w.value.generation(number)
        .is_some_and(|g| g.run.marked_by.as_deref() == Some(token.as_str())));
    if !mine {
        return Ok(false);
    }
    let recorded = match findmatches::start_once(state, transform_id, &task).await {
        Ok(task_run_id) => {
            info!(
                transform_id,
                after_round = number,
                task_run_id,
                output_s3_path = current.output_s3_path,
                "labeling set generation started"
            );
            record_generation(ledger, transform_id, number, Some(&token), |g| {
                g.run.task_run_id = Some(task_run_id.clone());
                g.run.status = Some("STARTING".into());
                g.run.last_error = None;
            })
            .await
        }
        Err(StartFailure::Busy(e) | StartFailure::NotNow(e)) => {
            warn!(
                transform_id,
                after_round = number,
                "labeling set generation deferred to a later tick: {e}"
            );
            record_generation(ledger, transform_id, number, Some(&token), |g| {
                g.run.marked_at = None;
                g.run.marked_by = None;
                g.run.last_error = Some(e.to_string());
            })
            .await
        }
        Err(StartFailure::Refused(e)) => {
            error!(
                transform_id,
                after_round = number,
                "Glue refused the labeling set generation: {e}"
            );
            record_generation(ledger, transform_id, number, Some(&token), |g| {
                g.run.status = Some("REFUSED".into());
                g.run.last_error = Some(e.to_string());
            })
            .await
        }
        Err(StartFailure::Unclear(e)) => {
            warn!(
                transform_id,
                after_round = number,
                "the labeling set generation's start got no clear answer ({e}); Glue's history settles it at a later tick"
            );
            Ok(())
        }
    };
    recorded?;
    Ok(true)
}

/// Changes round `number`'s generation while it is not ended (with `token`, only on its own
/// mark, before a task run is recorded).
async fn record_generation(
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    token: Option<&str>,
    change: impl Fn(&mut Generation),
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                if let Some(g) = rounds.generation_mut(number) {
                    let ours = token.is_none_or(|t| {
                        g.run.task_run_id.is_none() && g.run.marked_by.as_deref() == Some(t)
                    });
                    if ours {
                        change(g);
                    }
                }
            },
        )
        .await?;
    Ok(())
}

/// Asks Glue about the generation; once it SUCCEEDED, lists every object under its output path
/// (Glue's file names there are undocumented) and records them.
async fn follow_generation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    task_run_id: &str,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let run = loop_run(state, transform_id, task_run_id).await?;
    if !is_final(&run.status) {
        return Ok(());
    }
    let key = ledger.rounds_key(transform_id);
    let output = ledger
        .documents()
        .get::<Rounds>(&key)
        .await?
        .and_then(|h| h.value.generation(number).cloned());
    let Some(output) = output else {
        return Ok(());
    };
    let mut listing_error = None;
    let objects: Vec<String> = match output
        .output_s3_path
        .strip_prefix(&format!("s3://{}/", ledger.bucket()))
        .filter(|prefix| !prefix.is_empty() && run.status == "SUCCEEDED")
    {
        Some(prefix) => match ledger.documents().list(prefix).await {
            Ok(listed) => listed
                .into_iter()
                .map(|l| format!("s3://{}/{}", ledger.bucket(), l.key))
                .collect(),
            Err(e) if e.is_retryable() => return Err(e.into()),
            // A lasting refusal (the listing's permission changed with the prefix, say): the
            // generation is recorded with it rather than asked about at every tick.
            Err(e) => {
                listing_error = Some(format!(
                    "the labeling set's objects could not be listed: {e}"
                ));
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let mut written = false;
    let updated = ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                written = false;
                if let Some(g) = rounds.generation_mut(number) {
                    if g.run.task_run_id.as_deref() == Some(task_run_id) {
                        g.run.status = Some(run.status.clone());
                        g.run.started_on = run.started_on;
                        g.run.completed_on = run.completed_on;
                        g.run.last_error = run.error_string.clone().or(listing_error.clone());
                        g.objects = objects.clone();
                        written = true;
                    }
                }
            },
        )
        .await?;
    if !(written && matches!(updated, Updated::Written(_))) {
        return Ok(());
    }
    if run.status == "SUCCEEDED" {
        for object in &objects {
            info!(
                transform_id,
                after_round = number,
                object,
                download = format!("aws s3 cp {object} ."),
                upload_labeled = format!("aws s3 cp <labeled file> {}", output.upload_to),
                "labeling set ready"
            );
        }
        if listing_error.is_none() && !objects.is_empty() {
            let mut ready = output.clone();
            ready.objects = objects.clone();
            let notice = message::labeling_set_ready(transform_id, number, &ready, task_run_id);
            notify::send(state, ledger, notice).await;
        }
        if let Some(e) = &listing_error {
            error!(
                transform_id,
                after_round = number,
                output_s3_path = output.output_s3_path,
                "{e}"
            );
        } else if objects.is_empty() {
            warn!(
                transform_id,
                after_round = number,
                output_s3_path = output.output_s3_path,
                "labeling set generation SUCCEEDED but wrote no object under its output path"
            );
        }
    } else {
        error!(
            transform_id,
            after_round = number,
            task_run_id,
            status = run.status,
            error_string = run.error_string,
            "labeling set generation did not succeed: it is not started again by itself"
        );
    }
    result.labeling_sets.push(LabelingSet {
        transform_id: transform_id.to_string(),
        after_round: number,
        output_s3_path: output.output_s3_path,
        state: run.status,
        objects,
        upload_to: output.upload_to,
    });
    Ok(())
}

/// Removes the loop marker, then reads the document again: a tick that noted an import
/// meanwhile may have found the marker still there (its open did nothing), so the marker is
/// opened again when work came in.
pub(super) async fn close_marker(
    ledger: &Ledger<'_>,
    transform_id: &str,
    generates: bool,
) -> Result<(), StepError> {
    let marker = ledger.loop_marker_key(transform_id);
    ledger.close(&marker).await?;
    let key = ledger.rounds_key(transform_id);
    if let Some(held) = ledger.documents().get::<Rounds>(&key).await? {
        if !held.value.is_idle(generates) {
            ledger.documents().create_empty(&marker).await?;
        }
    }
    Ok(())
}

/// Who asks for a round or a labeling set, and so when one is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The tick: a round once its imports are in and quiet; a labeling set after a round
    /// while the loop has not stopped.
    Loop,
    /// An operator (`import-labels evaluate` / `generate`): whenever there is something new to
    /// measure; a labeling set after the latest round, stop rule or not.
    ByHand,
}

/// Opens the due round: NOT_READY is recorded as such; READY opens it with this process's mark
/// (one compare-and-set: of concurrent ticks, one opens it) and sends the evaluation. The round
/// this call opened, if it did.
pub(super) async fn open_round(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    due: Due,
    result: &mut LoopResult,
) -> Result<Option<u32>, StepError> {
    let reading = match findmatches::read_transform(state, transform_id).await {
        Ok(reading) => reading,
        // A lasting refusal (the transform is gone, say): the round is recorded FAILED with
        // it, so the loop does not ask again at every tick.
        Err(e) if !e.is_retryable() && due == Due::Loop => {
            fail_due_round(state, ledger, transform_id, e, result).await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let key = ledger.rounds_key(transform_id);
    let (quiet, now) = (state.config.loop_quiet, crate::now());
    let token = crate::unique_token();
    let mut opened = None;
    let updated = ledger
        .documents()
        .update(
            &key,
            || (due == Due::ByHand).then(|| Rounds::new(transform_id)),
            |rounds: &mut Rounds| {
                opened = None;
                let wanted = match due {
                    Due::Loop => rounds.round_due(false, now, quiet),
                    Due::ByHand => {
                        rounds.evaluation_wanted(reading.label_count, &reading.parameters)
                    }
                };
                if !wanted {
                    return;
                }
                let number = rounds.open_round(now);
                if reading.is_ready() {
                    if let Some(run) = rounds.evaluation_mut(number) {
                        run.mark(&token, now);
                    }
                } else {
                    rounds.record_not_ready(number, reading.label_count);
                }
                opened = Some(number);
            },
        )
        .await?;
    let (Some(number), Updated::Written(written)) = (opened, updated) else {
        return Ok(None); // another tick opened it
    };
    let Some(round) = written.value.round(number) else {
        return Ok(None);
    };
    if round.state == RoundState::NotReady {
        warn!(
            transform_id,
            round = number,
            label_count = reading.label_count,
            status = reading.status,
            "round not evaluated: the transform is not READY (label more sets; the next round evaluates it once it is)"
        );
        result.rounds.push(RoundProgress::of(transform_id, round));
        return Ok(Some(number));
    }
    send_evaluation(
        state,
        ledger,
        transform_id,
        number,
        &token,
        &reading,
        result,
    )
    .await?;
    Ok(Some(number))
}

/// Opens the due round as FAILED with a lasting refusal of Glue's.
async fn fail_due_round(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    error: ImportError,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    let (quiet, now) = (state.config.loop_quiet, crate::now());
    let mut opened = None;
    let updated = ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                opened = None;
                if rounds.round_due(false, now, quiet) {
                    let number = rounds.open_round(now);
                    rounds.record_failed(number, "REFUSED", Some(error.to_string()));
                    opened = Some(number);
                }
            },
        )
        .await?;
    if let (Some(number), Updated::Written(written)) = (opened, updated) {
        error!(
            transform_id,
            round = number,
            "the round cannot be evaluated: {error}"
        );
        if let Some(round) = written.value.round(number) {
            result.rounds.push(RoundProgress::of(transform_id, round));
        }
    }
    Ok(())
}

/// Marks a deferred (or abandoned) evaluation with this process's token and sends it.
async fn start_evaluation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    let (lease, now) = (state.config.start_lease, crate::now());
    let token = crate::unique_token();
    let updated = ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                if let Some(run) = rounds.evaluation_mut(number) {
                    if run.startable(lease, now) {
                        run.mark(&token, now);
                    }
                }
            },
        )
        .await?;
    let mine = matches!(&updated, Updated::Written(w) if w.value.rounds.iter().any(|r| r.number == number
        && r.evaluation.as_ref().and_then(|e| e.marked_by.as_deref()) == Some(token.as_str())));
    if !mine {
        return Ok(());
    }
    let reading = findmatches::read_transform(state, transform_id).await?;
    send_evaluation(
        state,
        ledger,
        transform_id,
        number,
        &token,
        &reading,
        result,
    )
    .await
}

/// Sends the marked evaluation once and records what came of it.
async fn send_evaluation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    token: &str,
    reading: &Reading,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    let sent = findmatches::start_once(state, transform_id, &LoopTask::Evaluation).await;
    let mine = |rounds: &mut Rounds| -> bool {
        rounds
            .evaluation_mut(number)
            .is_some_and(|run| run.task_run_id.is_none() && run.marked_by.as_deref() == Some(token))
    };
    match sent {
        Ok(task_run_id) => {
            info!(
                transform_id,
                round = number,
                task_run_id,
                "evaluation started"
            );
            record_started(ledger, transform_id, number, Some(token), &task_run_id).await?;
        }
        Err(StartFailure::Busy(e) | StartFailure::NotNow(e)) => {
            warn!(
                transform_id,
                round = number,
                "evaluation deferred to a later tick: {e}"
            );
            ledger
                .documents()
                .update(
                    &key,
                    || None,
                    |rounds: &mut Rounds| {
                        if mine(rounds) {
                            if let Some(run) = rounds.evaluation_mut(number) {
                                run.marked_at = None;
                                run.marked_by = None;
                                run.last_error = Some(e.to_string());
                            }
                        }
                    },
                )
                .await?;
        }
        Err(StartFailure::Refused(e)) => {
            let not_ready = findmatches::is_not_ready(&e);
            let written = ledger
                .documents()
                .update(
                    &key,
                    || None,
                    |rounds: &mut Rounds| {
                        if mine(rounds) {
                            if not_ready {
                                rounds.record_not_ready(number, reading.label_count);
                            } else {
                                rounds.record_failed(number, "REFUSED", Some(e.to_string()));
                            }
                        }
                    },
                )
                .await?;
            if not_ready {
                warn!(transform_id, round = number, "round not evaluated: {e}");
            } else {
                error!(
                    transform_id,
                    round = number,
                    "Glue refused the round's evaluation: {e}"
                );
            }
            if let Some(round) = written
                .into_versioned()
                .and_then(|w| w.value.round(number).cloned())
            {
                result.rounds.push(RoundProgress::of(transform_id, &round));
            }
        }
        Err(StartFailure::Unclear(e)) => {
            // The mark stays: once its lease has passed, Glue's history settles it.
            warn!(
                transform_id,
                round = number,
                "the evaluation's start got no clear answer ({e}); Glue's history settles it at a later tick"
            );
        }
    }
    Ok(())
}

/// Records the task run of round `number`'s evaluation (when `token` is given, only on its own
/// mark).
async fn record_started(
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
    token: Option<&str>,
    task_run_id: &str,
) -> Result<(), StepError> {
    let key = ledger.rounds_key(transform_id);
    ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                if let Some(run) = rounds.evaluation_mut(number) {
                    let ours = token.is_none_or(|t| run.marked_by.as_deref() == Some(t));
                    if run.task_run_id.is_none() && ours {
                        run.task_run_id = Some(task_run_id.to_string());
                        run.status = Some("STARTING".into());
                        run.last_error = None;
                    }
                }
            },
        )
        .await?;
    Ok(())
}

/// Asks Glue about the round's evaluation; once it ended, records the round (SUCCEEDED: with
/// the transform's metrics, which Glue keeps only until the next evaluation).
async fn follow_evaluation(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    round: &Round,
    task_run_id: &str,
    result: &mut LoopResult,
) -> Result<(), StepError> {
    let run = loop_run(state, transform_id, task_run_id).await?;
    if !is_final(&run.status) {
        return Ok(());
    }
    let reading = if run.status == "SUCCEEDED" {
        Some(findmatches::read_transform(state, transform_id).await?)
    } else {
        None
    };
    let key = ledger.rounds_key(transform_id);
    let number = round.number;
    let rule = &state.config.stop_rule;
    let updated = ledger
        .documents()
        .update(
            &key,
            || None,
            |rounds: &mut Rounds| {
                let still = rounds
                    .evaluation_mut(number)
                    .is_some_and(|r| r.task_run_id.as_deref() == Some(task_run_id));
                if !still {
                    return;
                }
                if let Some(r) = rounds.evaluation_mut(number) {
                    r.status = Some(run.status.clone());
                    r.started_on = run.started_on;
                    r.completed_on = run.completed_on;
                }
                match &reading {
                    Some(reading) => rounds.record_evaluated(
                        number,
                        Some(reading.label_count),
                        reading.parameters.clone(),
                        reading.metrics.clone().unwrap_or_default(),
                        rule,
                    ),
                    None => rounds.record_failed(number, &run.status, run.error_string.clone()),
                }
            },
        )
        .await?;
    let Updated::Written(written) = updated else {
        return Ok(()); // another tick recorded it
    };
    let Some(round) = written.value.round(number) else {
        return Ok(());
    };
    log_round(transform_id, round, task_run_id);
    if round.state == RoundState::Evaluated {
        let bucket = ledger.bucket();
        let generates =
            state.config.teaching_loop.generates() && written.value.stopped_in_series().is_none();
        let notice = message::round_evaluated(bucket, transform_id, round, task_run_id, generates);
        notify::send(state, ledger, notice).await;
        if let Some(notice) = message::loop_stopped(
            bucket,
            transform_id,
            &written.value,
            round,
            task_run_id,
            state.config.teaching_loop.generates(),
        ) {
            notify::send(state, ledger, notice).await;
        }
        let m = round.metrics.clone().unwrap_or_default();
        result.figures.push(RoundFigures {
            transform_id: transform_id.to_string(),
            area_under_pr_curve: m.area_under_pr_curve,
            precision: m.precision,
            recall: m.recall,
            f1: m.f1,
            label_count: round.label_count,
        });
    }
    result.rounds.push(RoundProgress::of(transform_id, round));
    Ok(())
}

/// One line per recorded round: its figures and the change, or Glue's ErrorString verbatim.
fn log_round(transform_id: &str, round: &Round, task_run_id: &str) {
    let m = round.metrics.clone().unwrap_or_default();
    let change = round.change.clone().unwrap_or_default();
    match round.state {
        RoundState::Evaluated => info!(
            transform_id,
            round = round.number,
            series = round.series,
            task_run_id,
            label_count = round.label_count,
            area_under_pr_curve = m.area_under_pr_curve,
            precision = m.precision,
            recall = m.recall,
            f1 = m.f1,
            change_area_under_pr_curve = change.area_under_pr_curve,
            stopped = round.stopped.as_ref().map(Stop::to_string),
            "round evaluated"
        ),
        _ => error!(
            transform_id,
            round = round.number,
            task_run_id,
            status = round.evaluation.as_ref().and_then(|r| r.status.clone()),
            error_string = round.error_string,
            "round's evaluation did not succeed: it is not started again by itself; the next import makes a new round"
        ),
    }
}

/// A loop task run as Glue reports it; a lasting refusal (the run or the transform is gone)
/// reads as the run ended FAILED with it, so the round is recorded rather than asked about at
/// every tick.
async fn loop_run(
    state: &State,
    transform_id: &str,
    task_run_id: &str,
) -> Result<glue::RunReport, StepError> {
    match glue::task_run(state, transform_id, task_run_id).await {
        Ok(run) => Ok(run),
        Err(e) if !e.is_retryable() => Ok(glue::RunReport {
            status: "FAILED".into(),
            started_on: None,
            completed_on: None,
            error_string: Some(e.to_string()),
        }),
        Err(e) => Err(e.into()),
    }
}
