//! The messages, written for a person: a subject and a body per event, with the commands to
//! paste. Pure: no I/O.

use std::fmt::Write as _;

use crate::aws::sns::SUBJECT_MAX;
use crate::lifecycle::entry::Entry;
use crate::teaching::rounds::{figure, signed, Generation, Round, RoundState, Rounds};

use super::{Event, Notice};

/// One line of printable ASCII of at most [`SUBJECT_MAX`] characters (SNS's rule for email
/// subjects): other characters become `?`, a longer subject ends with `...`.
pub fn subject(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() <= SUBJECT_MAX {
        return clean;
    }
    format!("{}...", &clean[..SUBJECT_MAX - 3])
}

fn count(x: Option<i64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// An import Glue ran and ended FAILED or TIMEOUT, or refused to start: the upload, Glue's
/// ErrorString, what to do, and the re-drive command. `upload_id` names the upload's ledger
/// entry (one message per upload).
pub fn import_failed(entry: &Entry, upload_id: &str) -> Notice {
    let (bucket, key, tfm) = (&entry.bucket, &entry.key, &entry.transform_id);
    let object = format!("s3://{bucket}/{key}");
    let file = key.rsplit('/').next().unwrap_or(key);
    let status = entry.state.as_str();
    let error = entry
        .error_string
        .as_deref()
        .or(entry.last_error.as_deref())
        .unwrap_or("(Glue gave no ErrorString)");
    let mut body =
        format!("The label file {object} was not imported into FindMatches transform {tfm}.\n\n");
    match &entry.task_run_id {
        Some(run) => {
            let _ = writeln!(body, "Glue's import task run {run} ended {status}:");
        }
        None => body.push_str("Glue refused to start its import:\n"),
    }
    let _ = writeln!(body, "    {error}\n");
    let replace = if entry.replace_all_labels {
        " --replace-all-labels"
    } else {
        ""
    };
    let metadata = if entry.replace_all_labels {
        " --metadata replace-all-labels=true"
    } else {
        ""
    };
    let _ = write!(
        body,
        "What to do:\n\
         - If the file is wrong (a column, a label, the transform), fix it, check it and upload it again:\n    \
         import-labels validate {file}\n    \
         aws s3 cp {file} {object}{metadata}\n\
         - If the file was right and the import failed for another reason (the transform, its role, Glue),\n  \
         fix that, then import the same file again (an operator's command):\n    \
         import-labels import {object}{replace} --force\n"
    );
    Notice {
        event: Event::ImportFailed,
        transform_id: tfm.clone(),
        name: format!("import-failed-{upload_id}"),
        subject: subject(&format!("Label import {status} ({tfm}): {file}")),
        body,
    }
}

/// An import Glue refused to start (`error`: its refusal), as [`import_failed`] tells it.
pub fn import_refused(entry: &Entry, error: &str, upload_id: &str) -> Notice {
    let mut refused = entry.clone();
    refused.state = crate::lifecycle::entry::ImportState::Failed;
    refused.task_run_id = None;
    refused.error_string = Some(error.to_string());
    import_failed(&refused, upload_id)
}

/// A labeling set whose generation SUCCEEDED: where to download it, where to upload it
/// labeled (the exact commands), the round number.
pub fn labeling_set_ready(
    transform_id: &str,
    after_round: u32,
    generation: &Generation,
    task_run_id: &str,
) -> Notice {
    let next = after_round + 1;
    let local = format!("round-{next}.csv");
    let mut body = format!(
        "The next labeling set of FindMatches transform {transform_id} is ready: round {next}.\n\n"
    );
    match generation.objects.as_slice() {
        [only] => {
            let _ = write!(
                body,
                "1. Download it:\n    aws s3 cp {only} {local}\n\
                 2. Fill in the label column of every row (rows of one labeling_set_id that match get the same label).\n\
                 3. Check it and upload it labeled:\n    \
                 import-labels validate {local}\n    \
                 aws s3 cp {local} {}\n",
                generation.upload_to
            );
        }
        objects => {
            let _ = writeln!(
                body,
                "Glue wrote {} files under {}:",
                objects.len(),
                generation.output_s3_path
            );
            let upload = generation.upload_to.trim_end_matches(".csv");
            for (i, object) in objects.iter().enumerate() {
                let part = format!("round-{next}-{}.csv", i + 1);
                let _ = writeln!(
                    body,
                    "- download: aws s3 cp {object} {part}\n  label it, check it (import-labels validate {part}), then upload it labeled:\n  aws s3 cp {part} {upload}-{}.csv",
                    i + 1
                );
            }
        }
    }
    let _ = write!(
        body,
        "\nThe file is imported as soon as it arrives; you get a message only if the import fails.\n\
         (Generation task run {task_run_id}.)\n"
    );
    Notice {
        event: Event::LabelingSetReady,
        transform_id: transform_id.to_string(),
        name: format!("labeling-set-ready-{task_run_id}"),
        subject: subject(&format!(
            "Labeling set ready: round {next} of {transform_id}"
        )),
        body,
    }
}

/// A round whose evaluation SUCCEEDED: its metrics, the change from the series' previous
/// round, the label count.
pub fn round_evaluated(
    bucket: &str,
    transform_id: &str,
    round: &Round,
    task_run_id: &str,
    generates: bool,
) -> Notice {
    let m = round.metrics.clone().unwrap_or_default();
    let change = round.change.clone();
    let c = change.clone().unwrap_or_default();
    let number = round.number;
    let mut body = format!(
        "Round {number} of FindMatches transform {transform_id} was evaluated: {} labels (series {}).\n\n",
        count(round.label_count),
        round.series
    );
    let since = change.as_ref().map_or_else(
        || "change".to_string(),
        |c| format!("change from round {}", c.from_round),
    );
    let _ = writeln!(body, "{:<18}{:>10}  {since}", "", "round");
    let rows = [
        (
            "AreaUnderPRCurve",
            m.area_under_pr_curve,
            c.area_under_pr_curve,
        ),
        ("Precision", m.precision, c.precision),
        ("Recall", m.recall, c.recall),
        ("F1", m.f1, c.f1),
    ];
    for (name, now, diff) in rows {
        let diff = if change.is_some() {
            signed(diff)
        } else {
            "-".into()
        };
        let _ = writeln!(body, "{name:<18}{:>10}  {diff}", figure(now));
    }
    let labels = if change.is_some() {
        c.label_count
            .map_or_else(|| "-".into(), |n| format!("{n:+}"))
    } else {
        "-".into()
    };
    let _ = writeln!(
        body,
        "{:<18}{:>10}  {labels}",
        "Labels",
        count(round.label_count)
    );
    if change.is_none() {
        body.push_str("\n(The first evaluated round of its series: nothing to compare with.)\n");
    }
    match (&round.stopped, generates) {
        (Some(stop), _) => {
            let _ = writeln!(body, "\nThe loop stops here: {stop}.");
        }
        (None, true) => body.push_str(
            "\nThe next labeling set is being generated; a message says when it is ready.\n",
        ),
        (None, false) => {}
    }
    let _ = write!(
        body,
        "\nEvery round: import-labels rounds --transform-id {transform_id} --bucket {bucket}\n\
         (Evaluation task run {task_run_id}.)\n"
    );
    Notice {
        event: Event::RoundEvaluated,
        transform_id: transform_id.to_string(),
        name: format!("round-evaluated-{task_run_id}"),
        subject: subject(&format!(
            "Round {number} of {transform_id}: AUPRC {} ({})",
            figure(m.area_under_pr_curve),
            if change.is_some() {
                signed(c.area_under_pr_curve)
            } else {
                "first".into()
            }
        )),
        body,
    }
}

/// The loop stopped after `round` (the first round of its series that stopped it): why, with
/// the series' last rounds. `None` when the round did not stop it, or an earlier one had (a
/// stop is told once per series). `generates`: the loop generates labeling sets.
pub fn loop_stopped(
    bucket: &str,
    transform_id: &str,
    rounds: &Rounds,
    round: &Round,
    task_run_id: &str,
    generates: bool,
) -> Option<Notice> {
    let stop = round.stopped.as_ref()?;
    let series: Vec<&Round> = rounds
        .rounds
        .iter()
        .filter(|r| r.series == round.series && r.number <= round.number)
        .collect();
    let earlier_stop = series
        .iter()
        .any(|r| r.number < round.number && r.stopped.is_some());
    if earlier_stop {
        return None;
    }
    let number = round.number;
    let what = if generates {
        "stopped generating labeling sets"
    } else {
        "met its stop rule (quality stopped improving; TEACHING_LOOP=evaluate generates no labeling sets)"
    };
    let mut body = format!(
        "The teaching loop of FindMatches transform {transform_id} {what} after round {number}:\n    {stop}\n\nThe last rounds of this series:\n"
    );
    let _ = writeln!(
        body,
        "{:>6} {:>7} {:>8} {:>9} {:>8} {:>8}",
        "ROUND", "LABELS", "AUPRC", "PRECISION", "RECALL", "F1"
    );
    let evaluated: Vec<&&Round> = series
        .iter()
        .filter(|r| r.state == RoundState::Evaluated)
        .collect();
    for r in evaluated.iter().rev().take(5).rev() {
        let m = r.metrics.clone().unwrap_or_default();
        let _ = writeln!(
            body,
            "{:>6} {:>7} {:>8} {:>9} {:>8} {:>8}",
            r.number,
            count(r.label_count),
            figure(m.area_under_pr_curve),
            figure(m.precision),
            figure(m.recall),
            figure(m.f1)
        );
    }
    let _ = write!(
        body,
        "\nUploads are still imported and evaluated. To teach it further, generate a labeling set by hand\n    \
         import-labels generate --transform-id {transform_id} --bucket {bucket}\n\
         or upload a file with replace-all-labels: true, which starts a new series.\n\
         (Evaluation task run {task_run_id}.)\n"
    );
    let why = match stop {
        crate::teaching::rounds::Stop::TargetReached { .. } => "target reached",
        crate::teaching::rounds::Stop::Plateau { .. } => "quality plateaued",
    };
    Some(Notice {
        event: Event::LoopStopped,
        transform_id: transform_id.to_string(),
        name: format!("loop-stopped-{task_run_id}"),
        subject: subject(&format!(
            "Loop stopped ({why}) after round {number} of {transform_id}"
        )),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_line_of_ascii_within_sns_limit() {
        assert_eq!(
            subject("Round 2: AUPRC ≥ 0.9\nok"),
            "Round 2: AUPRC ? 0.9?ok"
        );
        let long = subject(&"x".repeat(150));
        assert_eq!(long.len(), 99);
        assert!(long.ends_with("..."));
    }
}
