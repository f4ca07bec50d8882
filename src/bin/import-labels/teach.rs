//! `evaluate` and `generate`: the teaching loop's steps by hand for one transform, through the
//! same exactly-once path as the tick (the library's `teaching::by_hand`), and with `--wait`
//! followed to their end as the tick would (one tick's worth per look).

use std::time::Duration;

use glue_label_importer::lifecycle::ledger::Ledger;
use glue_label_importer::teaching::by_hand::{self, Asked};
use glue_label_importer::teaching::rounds::{is_final, Generation, Round, RoundState, Rounds};
use glue_label_importer::{Config, State};
use serde::Serialize;

use crate::{glue_client, print_json, sdk_config, CliError, Global, LoopArgs, Output};

/// What a step by hand printed: what it found, and the round or labeling set as it stands.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step<'a, T: Serialize> {
    asked: &'static str,
    transform_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    round: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_round: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labeling_set: Option<&'a T>,
}

fn asked_word(asked: Asked) -> &'static str {
    match asked {
        Asked::Started(_) => "started",
        Asked::Following(_) => "following",
        Asked::Unchanged(_) => "unchanged",
    }
}

async fn state(global: &Global) -> Result<State, CliError> {
    let sdk = sdk_config(global).await;
    let mut state = State::from_sdk_config(Config::from_env()?, &sdk);
    state.glue = glue_client(global, &sdk);
    Ok(state)
}

fn ledger_error(e: by_hand::ByHandError) -> CliError {
    CliError::ByHand(e.to_string())
}

fn poll(args: &LoopArgs) -> Duration {
    Duration::from_secs_f64(args.poll_interval.max(0.05))
}

/// `evaluate`: the round's evaluation now (or the one under way), exactly once.
pub async fn evaluate(global: &Global, args: LoopArgs) -> Result<(), CliError> {
    let state = state(global).await?;
    let ledger = Ledger::new(&state.s3, &args.bucket, &state.config.ledger_prefix);
    let tfm = args.transform_id.as_str();
    let asked = by_hand::evaluate(&state, &ledger, tfm)
        .await
        .map_err(ledger_error)?;
    let number = asked.number();
    let mut told = None;
    let round = loop {
        let round = by_hand::advance_round(&state, &ledger, tfm, number)
            .await
            .map_err(ledger_error)?;
        let Some(round) = round else {
            return Err(CliError::ByHand(format!(
                "{tfm} has no round {number} in its rounds document"
            )));
        };
        let said = describe_round(&round);
        if told.as_ref() != Some(&said) {
            eprintln!("{} {said}", glue_label_importer::now().to_rfc3339());
            told = Some(said);
        }
        if round.state != RoundState::Evaluating {
            by_hand::settle(&state, &ledger, tfm)
                .await
                .map_err(ledger_error)?;
            break round;
        }
        if !args.wait {
            break round;
        }
        tokio::time::sleep(poll(&args)).await;
    };
    if let Asked::Unchanged(_) = asked {
        eprintln!(
            "round {number} measured the transform's current labels and parameters already: nothing new to evaluate (import more labels, or change the transform's parameters)"
        );
    } else if round.state == RoundState::Evaluating && !args.wait {
        eprintln!(
            "follow it with `import-labels evaluate --transform-id {tfm} --bucket {} --wait` (a tick follows it too when TEACHING_LOOP is on)",
            args.bucket
        );
    }
    print_step(
        global,
        &ledger,
        tfm,
        asked,
        Some(&round),
        None::<&Generation>,
    )
    .await?;
    round_outcome(tfm, &round)
}

fn describe_round(round: &Round) -> String {
    let run = round.evaluation.clone().unwrap_or_default();
    let state = match round.state {
        RoundState::Evaluating => "EVALUATING",
        RoundState::Evaluated => "EVALUATED",
        RoundState::NotReady => "NOT_READY",
        RoundState::Failed => "FAILED",
    };
    let detail = match (&run.task_run_id, &run.last_error) {
        (Some(id), _) => format!(
            "task run {id} {}",
            run.status.as_deref().unwrap_or_default()
        ),
        (None, Some(e)) if round.state == RoundState::Evaluating => {
            format!("deferred: {e}")
        }
        _ => String::new(),
    };
    format!("round {} {state} {detail}", round.number)
        .trim_end()
        .to_string()
}

fn round_outcome(tfm: &str, round: &Round) -> Result<(), CliError> {
    match round.state {
        RoundState::Evaluated | RoundState::Evaluating => Ok(()),
        RoundState::NotReady => Err(CliError::NotReady {
            transform_id: tfm.to_string(),
            round: round.number,
            label_count: round.label_count.unwrap_or_default(),
        }),
        RoundState::Failed => {
            let run = round.evaluation.clone().unwrap_or_default();
            Err(CliError::RunEnded {
                task_run_id: run.task_run_id.unwrap_or_default(),
                status: run.status.unwrap_or_else(|| "FAILED".into()),
                error: round.error_string.clone(),
            })
        }
    }
}

/// `generate`: the labeling set after the latest round (a new transform's first), exactly
/// once.
pub async fn generate(global: &Global, args: LoopArgs) -> Result<(), CliError> {
    let state = state(global).await?;
    state.config.check_labeling_sets_prefix()?;
    let ledger = Ledger::new(&state.s3, &args.bucket, &state.config.ledger_prefix);
    let tfm = args.transform_id.as_str();
    let asked = by_hand::generate(&state, &ledger, tfm)
        .await
        .map_err(ledger_error)?;
    let number = asked.number();
    let mut told = None;
    let set = loop {
        let set = by_hand::advance_labeling_set(&state, &ledger, tfm, number)
            .await
            .map_err(ledger_error)?;
        let Some(set) = set else {
            return Err(CliError::ByHand(format!(
                "the labeling set after round {number} of {tfm} was not recorded: another process changed the rounds document; run this again"
            )));
        };
        let said = describe_set(&set);
        if told.as_ref() != Some(&said) {
            eprintln!("{} {said}", glue_label_importer::now().to_rfc3339());
            told = Some(said);
        }
        if ended(&set) {
            by_hand::settle(&state, &ledger, tfm)
                .await
                .map_err(ledger_error)?;
            break set;
        }
        if !args.wait {
            break set;
        }
        tokio::time::sleep(poll(&args)).await;
    };
    if let Asked::Unchanged(_) = asked {
        eprintln!("the labeling set after round {number} was generated already: label it (or import labels, so a new round begins) before asking for another");
    }
    if set.run.status.as_deref() == Some("SUCCEEDED") {
        for object in &set.objects {
            eprintln!("download: aws s3 cp {object} .");
        }
        eprintln!(
            "upload it labeled: aws s3 cp <labeled file> {}",
            set.upload_to
        );
    } else if !ended(&set) && !args.wait {
        eprintln!(
            "follow it with `import-labels generate --transform-id {tfm} --bucket {} --wait`",
            args.bucket
        );
    }
    print_step(global, &ledger, tfm, asked, None::<&Round>, Some(&set)).await?;
    match set.run.status.as_deref() {
        Some(status) if is_final(status) && status != "SUCCEEDED" => Err(CliError::RunEnded {
            task_run_id: set.run.task_run_id.clone().unwrap_or_default(),
            status: status.to_string(),
            error: set.run.last_error.clone(),
        }),
        _ => Ok(()),
    }
}

fn ended(set: &Generation) -> bool {
    set.run.status.as_deref().is_some_and(is_final)
}

fn describe_set(set: &Generation) -> String {
    let run = &set.run;
    match (&run.task_run_id, &run.status, &run.last_error) {
        (Some(id), status, _) => format!(
            "labeling set {} task run {id} {}",
            set.output_s3_path,
            status.as_deref().unwrap_or_default()
        ),
        (None, Some(status), Some(e)) => {
            format!("labeling set {} {status}: {e}", set.output_s3_path)
        }
        (None, _, Some(e)) => format!("labeling set {} deferred: {e}", set.output_s3_path),
        (None, _, None) => format!("labeling set {} being started", set.output_s3_path),
    }
}

async fn print_step<R: Serialize, G: Serialize>(
    global: &Global,
    ledger: &Ledger<'_>,
    tfm: &str,
    asked: Asked,
    round: Option<&R>,
    set: Option<&G>,
) -> Result<(), CliError> {
    match global.output {
        Output::Json => match (round, set) {
            (Some(round), _) => print_json(&Step {
                asked: asked_word(asked),
                transform_id: tfm,
                round: Some(round),
                after_round: None,
                labeling_set: None,
            }),
            (None, set) => print_json(&Step {
                asked: asked_word(asked),
                transform_id: tfm,
                round: None,
                after_round: Some(asked.number()),
                labeling_set: set,
            }),
        },
        Output::Table => {
            let key = ledger.rounds_key(tfm);
            let rounds = ledger
                .documents()
                .get::<Rounds>(&key)
                .await
                .map_err(|e| CliError::Ledger(e.to_string()))?
                .map_or_else(|| Rounds::new(tfm), |held| held.value);
            println!("{}", crate::rounds::table(&rounds));
            Ok(())
        }
    }
}
