//! A transform's rounds: the rounds document's model and the loop's rules, without I/O.
//!
//! One document per transform, `<LEDGER_PREFIX>rounds/<transform-id>.json`, kept through the
//! compare-and-set seam like entries and lanes. Imports that SUCCEEDED wait in `pending`
//! until a round covers them; a round is due when nothing of the transform is importing and
//! no upload came for the quiet period ([`Rounds::round_due`]). Glue keeps only the latest
//! `EvaluationMetrics`, so each round keeps its own, every member optional as in Glue's model.
//!
//! ```text
//!  pending imports ──► round N (series S) ──► EVALUATING ──► EVALUATED (metrics, change)
//!  (SUCCEEDED, none      a replace among          │             └─► stop rule? ─► generate
//!   covered yet)         them: series S + 1        ├──► NOT_READY (LabelCount; no evaluation)
//!                                                  └──► FAILED (ErrorString; not retried)
//! ```

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aws::documents::Document;

/// The rounds-document format this build writes and reads; a newer one is left alone.
pub const FORMAT: u32 = 1;

/// An import a round covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoveredImport {
    pub key: String,
    pub task_run_id: String,
    pub replace_all_labels: bool,
    pub completed_on: Option<DateTime<Utc>>,
}

/// Where a round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoundState {
    /// Its evaluation is marked or running.
    Evaluating,
    /// Its evaluation SUCCEEDED: the metrics are kept.
    Evaluated,
    /// The transform was `NOT_READY`: no evaluation was started.
    NotReady,
    /// Its evaluation ended FAILED, STOPPED or TIMEOUT; it is not started again by itself.
    Failed,
}

/// A loop task run of a round (its evaluation): the start is **marked** before it is sent, sent
/// once, and its task run ID recorded, as imports are. Marked without a task run ID: a start
/// in flight (or one whose process died: the mark's lease tells). Neither: a start deferred
/// (Glue's quota), tried again at a later tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LoopRun {
    pub task_run_id: Option<String>,
    pub marked_at: Option<DateTime<Utc>>,
    /// Who marked it (one token per attempt): a writer recognises its own mark.
    pub marked_by: Option<String>,
    /// When the first attempt was marked: Glue's history since then tells whether any
    /// attempt started a run, even after a later one was deferred (its mark cleared).
    #[serde(default)]
    pub first_marked_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// Glue's status word, once started.
    pub status: Option<String>,
    pub started_on: Option<DateTime<Utc>>,
    pub completed_on: Option<DateTime<Utc>>,
    /// Why the last attempt did not start it.
    pub last_error: Option<String>,
}

impl LoopRun {
    /// Marked by `token` at `now`: the next attempt.
    pub fn mark(&mut self, token: &str, now: DateTime<Utc>) {
        self.marked_at = Some(now);
        self.marked_by = Some(token.to_string());
        self.first_marked_at.get_or_insert(now);
        self.attempts += 1;
    }

    /// Not started, and free to be (never marked, deferred, or a mark older than `lease`).
    pub fn startable(&self, lease: Duration, now: DateTime<Utc>) -> bool {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        self.task_run_id.is_none() && self.marked_at.is_none_or(|at| now - at >= lease)
    }
}

/// Whether a loop run's status word is an end (Glue's, or `REFUSED` for a start Glue refused).
pub fn is_final(status: &str) -> bool {
    matches!(
        status,
        "SUCCEEDED" | "FAILED" | "STOPPED" | "TIMEOUT" | "REFUSED"
    )
}

/// A figure to 4 decimals, or `-` when Glue gave none (tables and messages).
pub fn figure(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"))
}

/// A change to 4 decimals with its sign, or `-`.
pub fn signed(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{x:+.4}"))
}

/// The labeling set generated after a round, for the labeler's next round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// `s3://<bucket>/<labeling-sets prefix><transform-id>/round-<next>/`
    pub output_s3_path: String,
    pub run: LoopRun,
    /// Every object Glue wrote under the output path: its file names there are undocumented,
    /// so they are listed, never assumed.
    pub objects: Vec<String>,
    /// Where the labeled file goes back: `s3://<bucket>/<labels prefix><transform-id>/round-<next>.csv`
    pub upload_to: String,
}

impl Generation {
    /// The generation after round `number`: the next round's output path and upload key.
    pub fn after(
        bucket: &str,
        labeling_sets_prefix: &str,
        labels_prefix: &str,
        transform_id: &str,
        number: u32,
    ) -> Generation {
        let next = number + 1;
        Generation {
            output_s3_path: format!(
                "s3://{bucket}/{labeling_sets_prefix}{transform_id}/round-{next}/"
            ),
            run: LoopRun::default(),
            objects: Vec::new(),
            upload_to: format!("s3://{bucket}/{labels_prefix}{transform_id}/round-{next}.csv"),
        }
    }
}

/// The FindMatches parameters a round was measured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    pub precision_recall_tradeoff: Option<f64>,
    pub accuracy_cost_tradeoff: Option<f64>,
}

/// Glue's `ConfusionMatrix`, every member optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConfusionMatrix {
    pub num_true_positives: Option<i64>,
    pub num_false_positives: Option<i64>,
    pub num_true_negatives: Option<i64>,
    pub num_false_negatives: Option<i64>,
}

/// One of Glue's `ColumnImportances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnImportance {
    pub column_name: Option<String>,
    pub importance: Option<f64>,
}

/// Glue's `FindMatchesMetrics` as the round keeps them: nulls stay nulls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[serde(rename = "areaUnderPRCurve")]
    pub area_under_pr_curve: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub confusion_matrix: Option<ConfusionMatrix>,
    pub column_importances: Vec<ColumnImportance>,
}

/// The change from the series' previous evaluated round (`None` where either lacks the figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The round it is measured from.
    pub from_round: u32,
    #[serde(rename = "areaUnderPRCurve")]
    pub area_under_pr_curve: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub label_count: Option<i64>,
}

/// Why the loop stopped generating after a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Stop {
    /// The round's AUPRC reached `TARGET_AUPRC`.
    #[serde(rename_all = "camelCase")]
    TargetReached { auprc: f64, target: f64 },
    /// The last `rounds` rounds improved on the best AUPRC before them by less than `delta`.
    #[serde(rename_all = "camelCase")]
    Plateau {
        rounds: u32,
        delta: f64,
        gain: f64,
        best: f64,
    },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::TargetReached { auprc, target } => write!(
                f,
                "AreaUnderPRCurve {auprc} reached TARGET_AUPRC {target}"
            ),
            Stop::Plateau {
                rounds,
                delta,
                gain,
                best,
            } => write!(
                f,
                "AreaUnderPRCurve improved by {gain:.4} (less than PLATEAU_DELTA {delta}) over the last {rounds} rounds; best {best}"
            ),
        }
    }
}

/// When the loop stops generating labeling sets (`TARGET_AUPRC`, `PLATEAU_DELTA`,
/// `PLATEAU_ROUNDS`).
#[derive(Debug, Clone, PartialEq)]
pub struct StopRule {
    pub target_auprc: Option<f64>,
    pub plateau_delta: f64,
    pub plateau_rounds: u32,
}

impl Default for StopRule {
    fn default() -> Self {
        StopRule {
            target_auprc: None,
            plateau_delta: 0.005,
            plateau_rounds: 2,
        }
    }
}

impl StopRule {
    /// Whether the loop stops after the latest of a series' AUPRCs (oldest first, rounds
    /// without the figure left out). The plateau is early stopping's rule: the last
    /// `plateau_rounds` rounds did not improve on the best AUPRC before them by
    /// `plateau_delta` or more.
    pub fn check(&self, auprcs: &[f64]) -> Option<Stop> {
        let latest = *auprcs.last()?;
        if let Some(target) = self.target_auprc {
            if latest >= target {
                return Some(Stop::TargetReached {
                    auprc: latest,
                    target,
                });
            }
        }
        let n = self.plateau_rounds as usize;
        if n == 0 || auprcs.len() <= n {
            return None;
        }
        let (before, recent) = auprcs.split_at(auprcs.len() - n);
        let best_before = before.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let best_recent = recent.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let gain = best_recent - best_before;
        (gain < self.plateau_delta).then(|| Stop::Plateau {
            rounds: self.plateau_rounds,
            delta: self.plateau_delta,
            gain: (gain * 10_000.0).round() / 10_000.0,
            best: best_before.max(best_recent),
        })
    }
}

/// One round of teaching: the imports it covers and what its evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Round {
    /// 1, 2, … for the transform.
    pub number: u32,
    /// Raised by a round that covers a replace upload: the labels were reset.
    pub series: u32,
    pub state: RoundState,
    pub imports: Vec<CoveredImport>,
    /// When the round was closed.
    pub opened_at: DateTime<Utc>,
    /// Its evaluation (none for a NOT_READY round).
    pub evaluation: Option<LoopRun>,
    pub label_count: Option<i64>,
    pub parameters: Option<Parameters>,
    pub metrics: Option<Metrics>,
    pub change: Option<Change>,
    /// Glue's `ErrorString` of a failed evaluation, verbatim.
    pub error_string: Option<String>,
    pub stopped: Option<Stop>,
    /// The labeling set generated after it (`evaluate-and-generate`).
    #[serde(default)]
    pub generation: Option<Generation>,
}

/// A transform's rounds document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rounds {
    pub format: u32,
    /// Raised by every write: the bytes of two versions always differ.
    pub revision: u64,
    pub transform_id: String,
    /// Imports that SUCCEEDED and that no round covers yet.
    pub pending: Vec<CoveredImport>,
    /// The newest upload of the transform the loop has seen (for the quiet period).
    pub last_upload_at: Option<DateTime<Utc>>,
    pub rounds: Vec<Round>,
    /// The labeling set generated before the first round (by hand, `import-labels generate`
    /// on a new transform): "after round 0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_labeling_set: Option<Generation>,
}

impl Document for Rounds {
    const NAME: &'static str = "rounds document";
    const FORMAT: u32 = FORMAT;
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

impl Rounds {
    pub fn new(transform_id: &str) -> Rounds {
        Rounds {
            format: FORMAT,
            revision: 0,
            transform_id: transform_id.to_string(),
            pending: Vec::new(),
            last_upload_at: None,
            rounds: Vec::new(),
            first_labeling_set: None,
        }
    }

    /// Notes an import that SUCCEEDED (once: a second notice of the same run changes nothing)
    /// and when its upload came.
    pub fn note_import(&mut self, import: CoveredImport, uploaded_at: DateTime<Utc>) {
        self.last_upload_at = Some(
            self.last_upload_at
                .map_or(uploaded_at, |t| t.max(uploaded_at)),
        );
        let known = self
            .pending
            .iter()
            .chain(self.rounds.iter().flat_map(|r| r.imports.iter()))
            .any(|i| i.task_run_id == import.task_run_id);
        if !known {
            self.pending.push(import);
        }
    }

    /// Notes an upload of the transform (any state): the quiet period starts again.
    pub fn note_upload(&mut self, uploaded_at: DateTime<Utc>) {
        self.last_upload_at = Some(
            self.last_upload_at
                .map_or(uploaded_at, |t| t.max(uploaded_at)),
        );
    }

    /// The round in flight: its evaluation marked or running.
    pub fn evaluating(&self) -> Option<&Round> {
        self.rounds
            .iter()
            .rev()
            .find(|r| r.state == RoundState::Evaluating)
    }

    /// A new round is due: imports wait, nothing of the transform is importing
    /// (`importing`), no round is being evaluated, and the last upload is `quiet` old.
    pub fn round_due(&self, importing: bool, now: DateTime<Utc>, quiet: Duration) -> bool {
        let quiet = chrono::Duration::from_std(quiet).unwrap_or(chrono::Duration::MAX);
        !self.pending.is_empty()
            && !importing
            && self.evaluating().is_none()
            && self.last_upload_at.is_none_or(|t| now - t >= quiet)
    }

    /// Opens the next round over the pending imports (a replace among them starts a new
    /// series) and returns its number.
    pub fn open_round(&mut self, now: DateTime<Utc>) -> u32 {
        let number = self.rounds.last().map_or(1, |r| r.number + 1);
        let previous_series = self.rounds.last().map_or(0, |r| r.series);
        let replaced = self.pending.iter().any(|i| i.replace_all_labels);
        let series = if replaced || previous_series == 0 {
            previous_series + 1
        } else {
            previous_series
        };
        self.rounds.push(Round {
            number,
            series,
            state: RoundState::Evaluating,
            imports: std::mem::take(&mut self.pending),
            opened_at: now,
            evaluation: Some(LoopRun::default()),
            label_count: None,
            parameters: None,
            metrics: None,
            change: None,
            error_string: None,
            stopped: None,
            generation: None,
        });
        number
    }

    /// The round after which a labeling set is due: the latest round, when it was evaluated
    /// and the loop has not stopped in its series, or when the transform was NOT_READY (a new
    /// transform needs labels before it can be evaluated); never twice for one round.
    pub fn generation_due(&self) -> Option<u32> {
        let latest = self.rounds.last()?;
        let due = match latest.state {
            RoundState::Evaluated => self.stopped_in_series().is_none(),
            RoundState::NotReady => true,
            RoundState::Evaluating | RoundState::Failed => false,
        };
        (due && latest.generation.is_none()).then_some(latest.number)
    }

    pub fn round(&self, number: u32) -> Option<&Round> {
        self.rounds.iter().find(|r| r.number == number)
    }

    pub fn round_mut(&mut self, number: u32) -> Option<&mut Round> {
        self.rounds.iter_mut().find(|r| r.number == number)
    }

    /// Round `number`'s evaluation, while the round is being evaluated.
    pub fn evaluation_mut(&mut self, number: u32) -> Option<&mut LoopRun> {
        self.round_mut(number)
            .filter(|r| r.state == RoundState::Evaluating)
            .and_then(|r| r.evaluation.as_mut())
    }

    /// Records a round that was not evaluated because the transform was `NOT_READY`.
    pub fn record_not_ready(&mut self, number: u32, label_count: i64) {
        if let Some(round) = self.round_mut(number) {
            round.state = RoundState::NotReady;
            round.label_count = Some(label_count);
            round.evaluation = None;
        }
    }

    /// Records a round whose evaluation ended FAILED, STOPPED or TIMEOUT (or was refused).
    pub fn record_failed(&mut self, number: u32, status: &str, error_string: Option<String>) {
        if let Some(round) = self.round_mut(number) {
            round.state = RoundState::Failed;
            round.error_string = error_string;
            if let Some(run) = round.evaluation.as_mut() {
                run.status = Some(status.to_string());
            }
        }
    }

    /// The number of the latest round; 0 before the first.
    pub fn latest_number(&self) -> u32 {
        self.rounds.last().map_or(0, |r| r.number)
    }

    /// The labeling set generated after round `number` (0: before the first round).
    pub fn generation(&self, number: u32) -> Option<&Generation> {
        match number {
            0 => self.first_labeling_set.as_ref(),
            n => self.round(n).and_then(|r| r.generation.as_ref()),
        }
    }

    /// The round after which a labeling set is being generated (marked, deferred or
    /// running); 0: the first labeling set.
    pub fn generating(&self) -> Option<u32> {
        let in_flight = |g: &Generation| !g.run.status.as_deref().is_some_and(is_final);
        self.rounds
            .iter()
            .rev()
            .find(|r| r.generation.as_ref().is_some_and(in_flight))
            .map(|r| r.number)
            .or_else(|| {
                self.first_labeling_set
                    .as_ref()
                    .filter(|g| in_flight(g))
                    .map(|_| 0)
            })
    }

    /// The generation after round `number`, while it is not ended.
    pub fn generation_mut(&mut self, number: u32) -> Option<&mut Generation> {
        let slot = match number {
            0 => self.first_labeling_set.as_mut(),
            n => self.round_mut(n).and_then(|r| r.generation.as_mut()),
        };
        slot.filter(|g| !g.run.status.as_deref().is_some_and(is_final))
    }

    /// Gives round `number` (0: none yet) its labeling set, when it is still the latest round
    /// and has none, or only one that ended without succeeding (of concurrent writers, one
    /// attaches it); whether it was attached.
    pub fn attach_generation(&mut self, number: u32, generation: Generation) -> bool {
        let taken = self.generation(number).is_some_and(|g| {
            g.run.status.as_deref() == Some("SUCCEEDED")
                || !g.run.status.as_deref().is_some_and(is_final)
        });
        if number != self.latest_number() || taken {
            return false;
        }
        match number {
            0 => self.first_labeling_set = Some(generation),
            n => match self.round_mut(n) {
                Some(round) => round.generation = Some(generation),
                None => return false,
            },
        }
        true
    }

    /// Whether an evaluation asked for by hand would measure something new: imports wait, no
    /// round was recorded yet, or the transform's labels or parameters changed since the latest
    /// round (a FAILED one is always measured again). Never while a round is being evaluated.
    pub fn evaluation_wanted(&self, label_count: i64, parameters: &Parameters) -> bool {
        if self.evaluating().is_some() {
            return false;
        }
        let Some(latest) = self.rounds.last() else {
            return true;
        };
        !self.pending.is_empty()
            || latest.state == RoundState::Failed
            || latest.label_count != Some(label_count)
            || latest
                .parameters
                .as_ref()
                .is_some_and(|recorded| recorded != parameters)
    }

    /// Nothing of the loop is left to do for now: no imports wait, no round is evaluated, and,
    /// when the loop generates, no labeling set is being generated or due.
    pub fn is_idle(&self, generates: bool) -> bool {
        self.pending.is_empty()
            && self.evaluating().is_none()
            && !(generates && (self.generating().is_some() || self.generation_due().is_some()))
    }

    /// Records a round's evaluation that SUCCEEDED: its figures, the change from the
    /// series' previous evaluated round, and whether the loop stops after it.
    pub fn record_evaluated(
        &mut self,
        number: u32,
        label_count: Option<i64>,
        parameters: Parameters,
        metrics: Metrics,
        rule: &StopRule,
    ) {
        let Some(index) = self.rounds.iter().position(|r| r.number == number) else {
            return;
        };
        let series = self.rounds[index].series;
        let earlier: Vec<&Round> = self.rounds[..index]
            .iter()
            .filter(|r| r.series == series && r.state == RoundState::Evaluated)
            .collect();
        let change = earlier.last().map(|previous| {
            let m = previous.metrics.clone().unwrap_or_default();
            let diff = |now: Option<f64>, then: Option<f64>| {
                now.zip(then)
                    .map(|(a, b)| ((a - b) * 10_000.0).round() / 10_000.0)
            };
            Change {
                from_round: previous.number,
                area_under_pr_curve: diff(metrics.area_under_pr_curve, m.area_under_pr_curve),
                precision: diff(metrics.precision, m.precision),
                recall: diff(metrics.recall, m.recall),
                f1: diff(metrics.f1, m.f1),
                label_count: label_count.zip(previous.label_count).map(|(a, b)| a - b),
            }
        });
        let mut auprcs: Vec<f64> = earlier
            .iter()
            .filter_map(|r| r.metrics.as_ref().and_then(|m| m.area_under_pr_curve))
            .collect();
        let stopped = metrics.area_under_pr_curve.and_then(|auprc| {
            auprcs.push(auprc);
            rule.check(&auprcs)
        });
        let round = &mut self.rounds[index];
        round.state = RoundState::Evaluated;
        round.label_count = label_count;
        round.parameters = Some(parameters);
        round.metrics = Some(metrics);
        round.change = change;
        round.stopped = stopped;
    }

    /// Whether the loop has stopped generating in the current series: a round of it stopped.
    pub fn stopped_in_series(&self) -> Option<&Stop> {
        let series = self.rounds.last()?.series;
        self.rounds
            .iter()
            .filter(|r| r.series == series)
            .find_map(|r| r.stopped.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn import(run: &str, replace: bool) -> CoveredImport {
        CoveredImport {
            key: format!("labels/tfm-1/{run}.csv"),
            task_run_id: run.to_string(),
            replace_all_labels: replace,
            completed_on: None,
        }
    }

    fn auprc(x: f64) -> Metrics {
        Metrics {
            area_under_pr_curve: Some(x),
            ..Metrics::default()
        }
    }

    #[test]
    fn the_stop_rule_is_a_target_or_a_plateau() {
        let rule = StopRule {
            target_auprc: Some(0.9),
            ..StopRule::default()
        };
        assert_eq!(rule.check(&[]), None);
        assert_eq!(rule.check(&[0.7, 0.8]), None);
        assert_eq!(
            rule.check(&[0.7, 0.9]),
            Some(Stop::TargetReached {
                auprc: 0.9,
                target: 0.9
            })
        );
        let plateau = StopRule::default();
        // Two rounds after the best: 0.8314 → 0.8330 → 0.8350 gained 0.0036 < 0.005.
        assert_eq!(
            plateau.check(&[0.719, 0.8314, 0.833, 0.835]),
            Some(Stop::Plateau {
                rounds: 2,
                delta: 0.005,
                gain: 0.0036,
                best: 0.835
            })
        );
        assert_eq!(plateau.check(&[0.719, 0.8314, 0.833, 0.8400]), None);
        // Fewer rounds than the rule looks back over: no plateau yet.
        assert_eq!(plateau.check(&[0.8, 0.8]), None);
        // A drop counts as no improvement.
        assert!(matches!(
            plateau.check(&[0.9, 0.85, 0.86]),
            Some(Stop::Plateau { .. })
        ));
        let off = StopRule {
            plateau_rounds: 0,
            ..StopRule::default()
        };
        assert_eq!(off.check(&[0.8, 0.8, 0.8]), None);
    }

    #[test]
    fn a_round_is_due_when_imports_wait_and_the_transform_is_quiet() {
        let quiet = Duration::from_secs(300);
        let mut rounds = Rounds::new("tfm-1");
        assert!(!rounds.round_due(false, at(1000), quiet), "nothing pending");
        rounds.note_import(import("tsk-a", false), at(0));
        rounds.note_import(import("tsk-a", false), at(0));
        assert_eq!(rounds.pending.len(), 1, "one notice per run");
        assert!(!rounds.round_due(false, at(299), quiet), "not quiet yet");
        assert!(!rounds.round_due(true, at(300), quiet), "still importing");
        assert!(rounds.round_due(false, at(300), quiet));
        rounds.note_upload(at(200));
        assert!(!rounds.round_due(false, at(300), quiet), "a new upload");
        assert_eq!(rounds.open_round(at(600)), 1);
        assert!(rounds.pending.is_empty());
        rounds.note_import(import("tsk-b", false), at(700));
        assert!(
            !rounds.round_due(false, at(2000), quiet),
            "round 1 is being evaluated"
        );
        rounds.note_import(import("tsk-a", false), at(0));
        assert_eq!(
            rounds.pending.len(),
            1,
            "a covered run is not pending again"
        );
    }

    #[test]
    fn a_replace_starts_a_new_series_and_changes_are_within_a_series() {
        let rule = StopRule::default();
        let mut rounds = Rounds::new("tfm-1");
        rounds.note_import(import("tsk-a", true), at(0));
        assert_eq!(rounds.open_round(at(1)), 1);
        rounds.record_evaluated(1, Some(100), Parameters::default(), auprc(0.719), &rule);
        rounds.note_import(import("tsk-b", false), at(2));
        rounds.open_round(at(3));
        rounds.record_evaluated(2, Some(200), Parameters::default(), auprc(0.8314), &rule);
        let second = &rounds.rounds[1];
        assert_eq!((second.series, second.state), (1, RoundState::Evaluated));
        assert_eq!(
            second.change,
            Some(Change {
                from_round: 1,
                area_under_pr_curve: Some(0.1124),
                label_count: Some(100),
                ..Change::default()
            })
        );
        rounds.note_import(import("tsk-c", true), at(4));
        rounds.open_round(at(5));
        rounds.record_evaluated(3, Some(50), Parameters::default(), auprc(0.6), &rule);
        let third = &rounds.rounds[2];
        assert_eq!((third.series, third.change.as_ref()), (2, None));
    }

    #[test]
    fn the_plateau_is_recorded_on_the_round_that_reached_it() {
        let rule = StopRule::default();
        let mut rounds = Rounds::new("tfm-1");
        for (n, (labels, x)) in [(100, 0.8), (200, 0.9), (300, 0.902), (400, 0.903)]
            .into_iter()
            .enumerate()
        {
            rounds.note_import(import(&format!("tsk-{n}"), false), at(n as i64));
            let number = rounds.open_round(at(n as i64));
            rounds.record_evaluated(number, Some(labels), Parameters::default(), auprc(x), &rule);
        }
        let stops: Vec<Option<&Stop>> = rounds.rounds.iter().map(|r| r.stopped.as_ref()).collect();
        assert_eq!(stops[..3], [None, None, None]);
        assert_eq!(
            stops[3].map(ToString::to_string).as_deref(),
            Some("AreaUnderPRCurve improved by 0.0030 (less than PLATEAU_DELTA 0.005) over the last 2 rounds; best 0.903")
        );
        assert!(rounds.stopped_in_series().is_some());
        // Metrics without an AUPRC never stop the loop.
        rounds.note_import(import("tsk-r", true), at(10));
        let number = rounds.open_round(at(10));
        rounds.record_evaluated(
            number,
            Some(10),
            Parameters::default(),
            Metrics::default(),
            &rule,
        );
        assert_eq!(rounds.stopped_in_series(), None, "a replace starts over");
    }

    #[test]
    fn a_labeling_set_is_due_after_the_latest_round_until_the_loop_stops() {
        let rule = StopRule {
            target_auprc: Some(0.9),
            ..StopRule::default()
        };
        let mut rounds = Rounds::new("tfm-1");
        assert_eq!(rounds.generation_due(), None, "no round yet");
        rounds.note_import(import("tsk-a", false), at(0));
        let first = rounds.open_round(at(1));
        assert_eq!(rounds.generation_due(), None, "being evaluated");
        rounds.record_not_ready(first, 5);
        assert_eq!(
            rounds.generation_due(),
            Some(1),
            "a NOT_READY transform gets one too"
        );
        let set = Generation::after("bkt", "labeling-sets/", "labels/", "tfm-1", 1);
        assert_eq!(set.output_s3_path, "s3://bkt/labeling-sets/tfm-1/round-2/");
        assert_eq!(set.upload_to, "s3://bkt/labels/tfm-1/round-2.csv");
        rounds.round_mut(1).unwrap().generation = Some(set);
        assert_eq!(rounds.generation_due(), None, "once per round");
        rounds.note_import(import("tsk-b", false), at(2));
        let second = rounds.open_round(at(3));
        rounds.record_evaluated(second, Some(100), Parameters::default(), auprc(0.8), &rule);
        assert_eq!(rounds.generation_due(), Some(2));
        rounds.note_import(import("tsk-c", false), at(4));
        let third = rounds.open_round(at(5));
        rounds.record_evaluated(third, Some(200), Parameters::default(), auprc(0.92), &rule);
        assert_eq!(
            rounds.generation_due(),
            None,
            "the target is reached: the loop stopped"
        );
        rounds.note_import(import("tsk-d", false), at(6));
        let fourth = rounds.open_round(at(7));
        rounds.record_failed(fourth, "FAILED", None);
        assert_eq!(rounds.generation_due(), None, "a failed round gets none");
    }

    #[test]
    fn the_document_keeps_nulls_as_nulls() {
        let mut rounds = Rounds::new("tfm-1");
        rounds.note_import(import("tsk-a", false), at(0));
        rounds.open_round(at(1));
        rounds.record_evaluated(
            1,
            None,
            Parameters::default(),
            Metrics::default(),
            &StopRule::default(),
        );
        let json = serde_json::to_value(&rounds).unwrap();
        assert_eq!(
            json["rounds"][0]["metrics"],
            serde_json::json!({"areaUnderPRCurve": null, "precision": null, "recall": null,
                               "f1": null, "confusionMatrix": null, "columnImportances": []})
        );
        let back: Rounds = crate::aws::documents::parse(json.to_string().as_bytes()).unwrap();
        assert_eq!(back, rounds);
    }

    fn set(number: u32) -> Generation {
        Generation::after("bkt", "labeling-sets/", "labels/", "tfm-1", number)
    }

    #[test]
    fn a_new_transforms_first_labeling_set_is_generation_zero_and_attached_once() {
        let mut rounds = Rounds::new("tfm-1");
        assert_eq!((rounds.latest_number(), rounds.generating()), (0, None));
        assert!(rounds.attach_generation(0, set(0)));
        assert_eq!(
            rounds.generation(0).map(|g| g.output_s3_path.as_str()),
            Some("s3://bkt/labeling-sets/tfm-1/round-1/")
        );
        assert_eq!(rounds.generating(), Some(0));
        assert!(!rounds.attach_generation(0, set(0)), "one per round");
        assert!(!rounds.is_idle(true));
        // It failed: asked again, it is made anew; once SUCCEEDED, never.
        rounds.generation_mut(0).unwrap().run.status = Some("FAILED".into());
        assert_eq!(rounds.generating(), None);
        assert!(rounds.generation_mut(0).is_none());
        assert!(rounds.attach_generation(0, set(0)));
        rounds.generation_mut(0).unwrap().run.status = Some("SUCCEEDED".into());
        assert!(!rounds.attach_generation(0, set(0)));
        // Only the latest round takes one.
        rounds.note_import(import("r1", false), at(0));
        rounds.open_round(at(1));
        assert!(!rounds.attach_generation(0, set(0)));
        assert!(rounds.attach_generation(1, set(1)));
        assert_eq!(rounds.generating(), Some(1));
    }

    #[test]
    fn an_evaluation_by_hand_is_wanted_only_for_something_new() {
        let params = Parameters {
            precision_recall_tradeoff: Some(0.5),
            accuracy_cost_tradeoff: None,
        };
        let mut rounds = Rounds::new("tfm-1");
        assert!(rounds.evaluation_wanted(0, &params), "no round yet");
        let n = rounds.open_round(at(0));
        assert!(
            !rounds.evaluation_wanted(10, &params),
            "one is being evaluated"
        );
        rounds.record_evaluated(
            n,
            Some(10),
            params.clone(),
            auprc(0.6),
            &StopRule::default(),
        );
        assert!(!rounds.evaluation_wanted(10, &params), "the same labels");
        assert!(rounds.evaluation_wanted(11, &params), "more labels");
        let other = Parameters {
            precision_recall_tradeoff: Some(0.9),
            ..params.clone()
        };
        assert!(rounds.evaluation_wanted(10, &other), "other parameters");
        rounds.note_import(import("r2", false), at(5));
        assert!(
            rounds.evaluation_wanted(10, &params),
            "an import no round covers"
        );
        let n = rounds.open_round(at(6));
        rounds.record_failed(n, "FAILED", None);
        assert!(rounds.evaluation_wanted(10, &params), "the latest FAILED");
    }
}
