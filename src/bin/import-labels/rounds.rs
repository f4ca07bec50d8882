//! `import-labels rounds`: a transform's teaching rounds from its rounds document, as a table
//! and a text chart of AUPRC and F1 over the label count.

use glue_label_importer::teaching::rounds::{figure, signed, Round, RoundState, Rounds};

use crate::status::render;

fn state(round: &Round) -> &'static str {
    match round.state {
        RoundState::Evaluating => "EVALUATING",
        RoundState::Evaluated => "EVALUATED",
        RoundState::NotReady => "NOT_READY",
        RoundState::Failed => "FAILED",
    }
}

/// One row per round: labels, the four figures, the change in AUPRC, and why the loop stopped
/// (or Glue's error).
pub fn table(rounds: &Rounds) -> String {
    let header = [
        "ROUND",
        "SERIES",
        "STATE",
        "LABELS",
        "AUPRC",
        "PRECISION",
        "RECALL",
        "F1",
        "CHANGE",
        "STOPPED / ERROR",
    ];
    let rows: Vec<Vec<String>> = rounds
        .rounds
        .iter()
        .map(|r| {
            let m = r.metrics.clone().unwrap_or_default();
            vec![
                r.number.to_string(),
                r.series.to_string(),
                state(r).to_string(),
                r.label_count
                    .map_or_else(|| "-".to_string(), |n| n.to_string()),
                figure(m.area_under_pr_curve),
                figure(m.precision),
                figure(m.recall),
                figure(m.f1),
                signed(r.change.as_ref().and_then(|c| c.area_under_pr_curve)),
                r.stopped
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| r.error_string.clone())
                    .unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// Width of a bar for the figure 1.0.
const BAR: usize = 40;

fn bar(x: Option<f64>) -> String {
    let Some(x) = x else {
        return format!("{:BAR$}", "");
    };
    let filled = (x.clamp(0.0, 1.0) * BAR as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(BAR - filled))
}

/// AUPRC and F1 of each evaluated round over its label count, as bars from 0 to 1.
pub fn chart(rounds: &Rounds) -> String {
    let evaluated: Vec<&Round> = rounds
        .rounds
        .iter()
        .filter(|r| r.state == RoundState::Evaluated)
        .collect();
    if evaluated.is_empty() {
        return "no evaluated round yet".to_string();
    }
    let mut out = format!("AUPRC (█) and F1 (▓) by label count, 0 to 1 in {BAR} steps\n");
    for r in evaluated {
        let m = r.metrics.clone().unwrap_or_default();
        let labels = r
            .label_count
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        out.push_str(&format!(
            "round {:>3}  {labels:>6} labels  AUPRC {} {}\n",
            r.number,
            bar(m.area_under_pr_curve),
            figure(m.area_under_pr_curve)
        ));
        out.push_str(&format!(
            "{:26}F1    {} {}\n",
            "",
            bar(m.f1).replace('█', "▓"),
            figure(m.f1)
        ));
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use glue_label_importer::teaching::rounds::{CoveredImport, Metrics, Parameters, StopRule};

    fn rounds() -> Rounds {
        let mut rounds = Rounds::new("tfm-1");
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for (n, (labels, auprc, f1)) in [(100, 0.719, Some(0.7144)), (200, 0.8314, None)]
            .into_iter()
            .enumerate()
        {
            rounds.note_import(
                CoveredImport {
                    key: format!("labels/tfm-1/{n}.csv"),
                    task_run_id: format!("tsk-{n}"),
                    replace_all_labels: false,
                    completed_on: None,
                },
                at,
            );
            let number = rounds.open_round(at);
            let metrics = Metrics {
                area_under_pr_curve: Some(auprc),
                f1,
                ..Metrics::default()
            };
            rounds.record_evaluated(
                number,
                Some(labels),
                Parameters::default(),
                metrics,
                &StopRule::default(),
            );
        }
        rounds.note_import(
            CoveredImport {
                key: "labels/tfm-1/x.csv".into(),
                task_run_id: "tsk-x".into(),
                replace_all_labels: true,
                completed_on: None,
            },
            at,
        );
        let number = rounds.open_round(at);
        rounds.record_failed(number, "FAILED", Some("Dependency failure.".into()));
        rounds
    }

    #[test]
    fn the_table_has_a_row_per_round_with_dashes_for_what_glue_did_not_give() {
        assert_eq!(
            table(&rounds()),
            "ROUND  SERIES  STATE      LABELS  AUPRC   PRECISION  RECALL  F1      CHANGE   STOPPED / ERROR\n\
             -----  ------  ---------  ------  ------  ---------  ------  ------  -------  -------------------\n\
             1      1       EVALUATED  100     0.7190  -          -       0.7144  -        -\n\
             2      1       EVALUATED  200     0.8314  -          -       -       +0.1124  -\n\
             3      2       FAILED     -       -       -          -       -       -        Dependency failure."
        );
    }

    #[test]
    fn the_chart_draws_each_evaluated_round_from_0_to_1() {
        let drawn = chart(&rounds());
        let lines: Vec<&str> = drawn.lines().collect();
        assert_eq!(lines.len(), 5, "{drawn}");
        assert_eq!(
            lines[1],
            format!(
                "round   1     100 labels  AUPRC {}{} 0.7190",
                "█".repeat(29),
                "·".repeat(11)
            )
        );
        assert_eq!(
            lines[2],
            format!("{:26}F1    {}{} 0.7144", "", "▓".repeat(29), "·".repeat(11))
        );
        assert!(
            lines[4].ends_with(&format!("{:40} -", "")),
            "{:?}",
            lines[4]
        );
        assert_eq!(chart(&Rounds::new("t")), "no evaluated round yet");
    }
}
