//! `glue-local`: serve Glue's ML-transform API on loopback until interrupted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use glue_local::{s3_client, Server, Settings};

/// A local AWS Glue ML-transform endpoint (awsJson1_1) for tests and demos.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one; the address is printed on start-up).
    #[arg(long, default_value_t = 4599)]
    port: u16,
    /// S3 endpoint that label files are read from (e.g. moto's server).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL_S3",
        default_value = "http://127.0.0.1:5000"
    )]
    s3_endpoint_url: String,
    /// Region of the S3 client that reads label files.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Account ID used in Glue's messages.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// Glue's label-file quota in MB.
    #[arg(long, default_value_t = 10)]
    label_file_limit_mb: u64,
    /// How long an import task run takes from STARTING to SUCCEEDED or FAILED, in milliseconds.
    #[arg(long, default_value_t = 600)]
    task_run_millis: u64,
    /// How long a labeling-set generation task run takes, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    generation_run_millis: u64,
    /// How long an evaluation task run takes, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    evaluation_run_millis: u64,
    /// The LabelCount from which a transform is READY.
    #[arg(long, default_value_t = 10)]
    ready_label_count: i64,
    /// Glue's quota of concurrent ML task runs per transform, every task type counted (0: off).
    #[arg(long, default_value_t = 3)]
    max_runs_per_transform: u32,
    /// The error a start beyond the quota gets.
    #[arg(long, default_value = "ConcurrentRunsExceededException",
          value_parser = clap::builder::PossibleValuesParser::new(glue_local::QUOTA_ERRORS))]
    quota_error: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !args.host.is_loopback() {
        return Err(format!(
            "--host {}: glue-local accepts any signature, so it only listens on loopback addresses",
            args.host
        )
        .into());
    }
    let settings = Settings {
        account_id: args.account_id,
        label_file_limit_mb: args.label_file_limit_mb,
        task_run_duration: Duration::from_millis(args.task_run_millis),
        generation_run_duration: Duration::from_millis(args.generation_run_millis),
        evaluation_run_duration: Duration::from_millis(args.evaluation_run_millis),
        ready_label_count: args.ready_label_count,
        max_runs_per_transform: args.max_runs_per_transform,
        quota_error: args.quota_error,
    };
    let s3 = s3_client(&args.s3_endpoint_url, &args.region).await;
    let server = Server::start(SocketAddr::new(args.host, args.port), settings, s3).await?;
    println!(
        "glue-local listening on {} (label files from {})",
        server.url(),
        args.s3_endpoint_url
    );
    shutdown_signal().await;
    drop(server);
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
