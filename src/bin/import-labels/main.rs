//! `import-labels`: the command-line twin of the Lambda, for manual imports, re-drives and status.

mod chart;
mod import;
mod rounds;
mod runs;
mod start;
mod status;
mod teach;

use std::io::Write;
use std::process::ExitCode;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use clap::{Args, Parser, Subcommand, ValueEnum};
use glue_label_importer::handler::InvocationError;
use glue_label_importer::lifecycle::lane;
use glue_label_importer::lifecycle::ledger::{self, Ledger};
use glue_label_importer::upload::preflight;
use glue_label_importer::{config, Config, ConfigError, State};
use serde::Serialize;
use start::Skeleton;
use status::Import;

/// Import AWS Glue FindMatches label files by hand, re-drive failed uploads, follow imports.
#[derive(Debug, Parser)]
#[command(name = "import-labels", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options in the AWS CLI's spirit; credentials and region come from the standard AWS chain.
#[derive(Debug, Args)]
struct Global {
    /// AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Glue endpoint to call instead of the default (S3 follows AWS_ENDPOINT_URL_S3).
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Json)]
    output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Json,
    Table,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start an import, as `aws glue start-import-labels-task-run` does.
    StartImportLabelsTaskRun(StartArgs),
    /// Run the Lambda's pipeline for one object: route, HeadObject, duplicate check, start, receipt tag.
    Import(ImportArgs),
    /// Show the transform's import ledger (with --bucket or LABELS_BUCKET), one task run, or
    /// Glue's recent label imports of the transform.
    Status(StatusArgs),
    /// Check a label file as the Lambda's preflight does, before uploading it.
    Validate(ValidateArgs),
    /// Show the transform's teaching rounds (TEACHING_LOOP): labels, AUPRC, precision,
    /// recall, F1, the change, why the loop stopped; with --output table, a chart of AUPRC and
    /// F1 over the label count; with --chart, an SVG chart of the four figures.
    Rounds(RoundsArgs),
    /// Evaluate the transform now (the teaching loop's step by hand): open a round when its
    /// labels or parameters changed since the latest one and start StartMLEvaluationTaskRun
    /// exactly once, or follow the round under way; with --wait, until the round is recorded.
    Evaluate(LoopArgs),
    /// Generate the labeling set after the latest round (a new transform's first one) with
    /// StartMLLabelingSetGenerationTaskRun, exactly once; with --wait, until its files are
    /// listed, with where to download them and where the labeled file goes back.
    Generate(LoopArgs),
}

#[derive(Debug, Args)]
struct LoopArgs {
    #[arg(long)]
    transform_id: String,
    /// The labels bucket whose ledger holds the rounds.
    #[arg(long, env = "LABELS_BUCKET")]
    bucket: String,
    /// Follow it to its end (one tick's worth at each look); exit non-zero unless it
    /// succeeded.
    #[arg(long)]
    wait: bool,
    /// Seconds between looks with --wait.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    poll_interval: f64,
}

#[derive(Debug, Args)]
struct RoundsArgs {
    #[arg(long)]
    transform_id: String,
    /// The labels bucket whose ledger holds the rounds.
    #[arg(long, env = "LABELS_BUCKET")]
    bucket: String,
    /// Also draw AUPRC, precision, recall and F1 over the label count into this SVG file
    /// (each point labeled with its round; replaces and the loop's stop marked).
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// A local file, or s3://<bucket>/<key>.
    file: String,
    /// The label-file quota in bytes (default: MAX_LABEL_FILE_BYTES, else 10 MB).
    #[arg(long)]
    max_bytes: Option<u64>,
}

#[derive(Debug, Args)]
struct StartArgs {
    /// The unique identifier of the machine learning transform.
    #[arg(long)]
    transform_id: Option<String>,
    /// The Amazon S3 path from where you import the labels.
    #[arg(long)]
    input_s3_path: Option<String>,
    /// Overwrite the transform's existing labels.
    #[arg(long, conflicts_with = "no_replace_all_labels")]
    replace_all_labels: bool,
    /// Add to the transform's existing labels.
    #[arg(long)]
    no_replace_all_labels: bool,
    /// The request as JSON, or file://path to a JSON file.
    #[arg(long, value_name = "JSON", conflicts_with = "cli_input_yaml")]
    cli_input_json: Option<String>,
    /// The request as YAML, or file://path to a YAML file.
    #[arg(long, value_name = "YAML")]
    cli_input_yaml: Option<String>,
    /// Print a request skeleton (input, yaml-input) or a sample response (output); calls nothing.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "input", value_name = "KIND")]
    generate_cli_skeleton: Option<Skeleton>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The label file: s3://<bucket>/<prefix><transform-id>/<name>.csv
    uri: String,
    /// Replace the transform's labels, whatever the object's metadata says.
    #[arg(long, conflicts_with = "no_replace_all_labels")]
    replace_all_labels: bool,
    /// Append to the transform's labels, whatever the object's metadata says.
    #[arg(long)]
    no_replace_all_labels: bool,
    /// Start the import even if this upload was imported before (skips the duplicate check).
    #[arg(long)]
    force: bool,
    /// Follow the upload through its lane to its import's end (doing the tick's work for the
    /// bucket meanwhile); exit non-zero unless it SUCCEEDED.
    #[arg(long)]
    wait: bool,
    /// Seconds between looks with --wait.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    poll_interval: f64,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[arg(long)]
    transform_id: String,
    /// The labels bucket whose import ledger to list (one row per upload: state, task run,
    /// times, Glue's error); without it, Glue's own history of the transform's imports.
    #[arg(long, env = "LABELS_BUCKET")]
    bucket: Option<String>,
    /// One task run; without it, the most recent label imports, newest first.
    #[arg(long)]
    task_run_id: Option<String>,
    /// Wait until the task run ends; exit non-zero unless it SUCCEEDED.
    #[arg(long, requires = "task_run_id")]
    wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    poll_interval: f64,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=1000))]
    max_items: i32,
}

/// A command that cannot run as given (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}\nRun `import-labels <command> --help` for the options.")]
    Usage(#[from] UsageError),
    #[error("{0}; fix the environment variable and run again")]
    Config(#[from] ConfigError),
    #[error("An error occurred ({code}) when calling the {operation} operation: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("{error_type}: {error}", error_type = error.error_type())]
    Import { error: InvocationError },
    #[error("{file}: {summary}")]
    InvalidFile { file: String, summary: String },
    #[error("cannot read {file}: {error}")]
    Read { file: String, error: String },
    #[error("task run {task_run_id} ended {status}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    RunEnded {
        task_run_id: String,
        status: String,
        error: Option<String>,
    },
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("cannot list the import ledger: {0}")]
    Ledger(String),
    #[error("{0}")]
    ByHand(String),
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
    #[error("round {round} of {transform_id} was not evaluated: the transform is NOT_READY with {label_count} labels. Label more (`import-labels generate --transform-id {transform_id}` makes a labeling set), import them, and run this again")]
    NotReady {
        transform_id: String,
        round: u32,
        label_count: i64,
    },
}

fn aws_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    err: SdkError<E, aws_sdk_glue::config::http::HttpResponse>,
) -> CliError {
    let code = err.code().unwrap_or("Unknown").to_string();
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    CliError::Aws {
        operation,
        code,
        message,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ CliError::Usage(_)) => {
            eprintln!("import-labels: error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::StartImportLabelsTaskRun(args) => start_task_run(&cli.global, args).await,
        Command::Import(args) => import::import(&cli.global, args).await,
        Command::Status(args) => show_status(&cli.global, args).await,
        Command::Validate(args) => validate(&cli.global, args).await,
        Command::Rounds(args) => show_rounds(&cli.global, args).await,
        Command::Evaluate(args) => teach::evaluate(&cli.global, args).await,
        Command::Generate(args) => teach::generate(&cli.global, args).await,
    }
}

async fn show_rounds(global: &Global, args: RoundsArgs) -> Result<(), CliError> {
    if let Some(path) = &args.chart {
        chart::check(path).map_err(|e| UsageError(e.to_string()))?;
    }
    let state = State::from_sdk_config(Config::from_env()?, &sdk_config(global).await);
    let ledger = Ledger::new(&state.s3, &args.bucket, &state.config.ledger_prefix);
    let key = ledger.rounds_key(&args.transform_id);
    let rounds = ledger
        .documents()
        .get::<glue_label_importer::teaching::rounds::Rounds>(&key)
        .await
        .map_err(|e| CliError::Ledger(e.to_string()))?
        .map(|held| held.value)
        .unwrap_or_else(|| glue_label_importer::teaching::rounds::Rounds::new(&args.transform_id));
    match global.output {
        Output::Json => print_json(&rounds)?,
        Output::Table => println!("{}\n\n{}", rounds::table(&rounds), rounds::chart(&rounds)),
    }
    if let Some(path) = &args.chart {
        let written = chart::write(&rounds, path)?;
        // JSON keeps standard output to itself.
        match global.output {
            Output::Json => eprintln!("{written}"),
            Output::Table => println!("{written}"),
        }
    }
    Ok(())
}

fn flag(yes: bool, no: bool) -> Option<bool> {
    (yes || no).then_some(yes)
}

async fn sdk_config(global: &Global) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(config::retry_config())
        .timeout_config(config::timeout_config());
    if let Some(region) = &global.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

fn glue_client(global: &Global, sdk: &SdkConfig) -> aws_sdk_glue::Client {
    let mut config = aws_sdk_glue::config::Builder::from(sdk);
    config.set_endpoint_url(global.endpoint_url.clone());
    let config = config.build();
    aws_sdk_glue::Client::from_conf(config)
}

/// Pretty JSON with 4-space indents, as the AWS CLI prints it.
fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value
        .serialize(&mut serializer)
        .map_err(std::io::Error::other)?;
    out.push(b'\n');
    std::io::stdout().write_all(&out)?;
    Ok(())
}

async fn start_task_run(global: &Global, args: StartArgs) -> Result<(), CliError> {
    let document = match (&args.cli_input_json, &args.cli_input_yaml) {
        (Some(json), _) => start::read_input("cli-input-json", json, false)?,
        (_, Some(yaml)) => start::read_input("cli-input-yaml", yaml, true)?,
        _ => Default::default(),
    };
    let replace = flag(args.replace_all_labels, args.no_replace_all_labels);
    match args.generate_cli_skeleton {
        Some(Skeleton::Input) => return print_json(&start::input_skeleton()),
        Some(Skeleton::YamlInput) => {
            print!("{}", start::YAML_SKELETON);
            return Ok(());
        }
        _ => {}
    }
    let input = start::merge(document, args.transform_id, args.input_s3_path, replace)?;
    if args.generate_cli_skeleton == Some(Skeleton::Output) {
        return print_json(&start::output_skeleton());
    }
    let glue = glue_client(global, &sdk_config(global).await);
    let out = glue
        .start_import_labels_task_run()
        .transform_id(&input.transform_id)
        .input_s3_path(&input.input_s3_path)
        .set_replace_all_labels(input.replace_all_labels)
        .send()
        .await
        .map_err(|e| aws_error("StartImportLabelsTaskRun", e))?;
    let task_run_id = out.task_run_id().unwrap_or_default();
    match global.output {
        Output::Json => print_json(&serde_json::json!({ "TaskRunId": task_run_id })),
        Output::Table => {
            println!("TaskRunId  {task_run_id}");
            Ok(())
        }
    }
}

fn parse_s3_uri(uri: &str) -> Result<(String, String), UsageError> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .map(|(bucket, key)| (bucket.to_string(), key.to_string()))
        .ok_or_else(|| {
            UsageError(format!(
                "{uri:?} is not an S3 object URI; expected s3://<bucket>/<key>"
            ))
        })
}

async fn show_status(global: &Global, args: StatusArgs) -> Result<(), CliError> {
    let sdk = sdk_config(global).await;
    if let (Some(bucket), None) = (args.bucket.as_deref(), &args.task_run_id) {
        return show_ledger(global, &sdk, bucket, &args.transform_id).await;
    }
    let glue = glue_client(global, &sdk);
    let Some(task_run_id) = &args.task_run_id else {
        let runs = runs::recent(&glue, &args.transform_id, args.max_items).await?;
        return match global.output {
            Output::Json => print_json(&serde_json::json!({ "TaskRuns": runs })),
            Output::Table => {
                println!("{}", status::table(&runs));
                Ok(())
            }
        };
    };
    let run = runs::one(
        &glue,
        &args.transform_id,
        task_run_id,
        args.wait,
        args.poll_interval,
    )
    .await?;
    match global.output {
        Output::Json => print_json(&run)?,
        Output::Table => println!("{}", status::table(std::slice::from_ref(&run))),
    }
    if args.wait && run.status != "SUCCEEDED" {
        return Err(CliError::RunEnded {
            task_run_id: run.task_run_id,
            status: run.status,
            error: run.error,
        });
    }
    Ok(())
}

async fn show_ledger(
    global: &Global,
    sdk: &SdkConfig,
    bucket: &str,
    transform_id: &str,
) -> Result<(), CliError> {
    let state = State::from_sdk_config(Config::from_env()?, sdk);
    let ledger = Ledger::new(&state.s3, bucket, &state.config.ledger_prefix);
    let entries = ledger
        .entries(transform_id)
        .await
        .map_err(|e| CliError::Ledger(e.to_string()))?;
    let mut lane = lane::load(&ledger, transform_id)
        .await
        .map_err(|e| CliError::Ledger(e.to_string()))?;
    // The lane learns task runs at the tick; the entries know them now.
    for stored in entries.iter().flatten() {
        lane.note_task_run(ledger::upload_id(&stored.key), &stored.value);
    }
    let imports: Vec<Import> = entries
        .into_iter()
        .map(|e| Import::from_entry(bucket, e, &lane))
        .collect();
    match global.output {
        Output::Json => print_json(&serde_json::json!({ "Imports": imports })),
        Output::Table => {
            println!("{}", status::imports_table(&imports));
            Ok(())
        }
    }
}

async fn validate(global: &Global, args: ValidateArgs) -> Result<(), CliError> {
    let config = Config::from_env()?;
    let max_bytes = args.max_bytes.unwrap_or(config.max_label_file_bytes);
    let read_error = |error: String| CliError::Read {
        file: args.file.clone(),
        error,
    };
    let report = match args.file.strip_prefix("s3://") {
        Some(_) => {
            let (bucket, key) = parse_s3_uri(&args.file)?;
            let state = State::from_sdk_config(config, &sdk_config(global).await);
            glue_label_importer::aws::s3::validate_object(&state.s3, &bucket, &key, None, max_bytes)
                .await
                .map_err(|e| read_error(e.to_string()))?
        }
        None => {
            let file = std::fs::File::open(&args.file).map_err(|e| read_error(e.to_string()))?;
            preflight::validate(std::io::BufReader::new(file), max_bytes)
        }
    };
    print_json(&report)?;
    match report.summary() {
        None => Ok(()),
        Some(summary) => Err(CliError::InvalidFile {
            file: args.file,
            summary,
        }),
    }
}
