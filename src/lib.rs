//! glue-label-importer: an S3 upload under the labels prefix starts exactly one AWS Glue
//! FindMatches label import, in upload order, followed to its end.
//!
//! # Code map
//!
//! The flows, kept apart, and the adapters they share:
//!
//! - **One upload inside one invocation** ([`upload`]): [`intake`](upload::intake) (event →
//!   records, key decoding) and their [`order`](upload::order) → [`route`](upload::route) (key →
//!   transform ID) → [`pipeline`](upload::pipeline): *admit* (HeadObject, the replace flag from
//!   [`metadata`](upload::metadata), the duplicate check, the [`preflight`](upload::preflight)),
//!   *start in lane*, *report* ([`outcome`](upload::outcome), tags).
//! - **An import's life across invocations** ([`lifecycle`]): its [`entry`](lifecycle::entry)
//!   (the model and its transitions, pure) in the [`ledger`](lifecycle::ledger), its
//!   transform's [`lane`](lifecycle::lane) (turn [`rules`](lifecycle::lane::rules), pure), its
//!   [`start`](lifecycle::start) (mark → send once → classify) and the scheduled
//!   [`tick`](lifecycle::tick) (visit → reconcile the lane → start turns).
//! - **The AWS adapters** ([`aws`]), the only modules that name SDK types: the compare-and-set
//!   seam for documents kept with conditional writes ([`documents`](aws::documents)), the label
//!   object ([`s3`](aws::s3)), Glue's ML task runs and error policy ([`glue`](aws::glue)), the
//!   object's tags ([`tags`](aws::tags)).
//!
//! - **The teaching loop, per transform** ([`teaching`]): its [`rounds`](teaching::rounds)
//!   (the rounds document's model, the round rule and the stop rule, pure).
//!
//! At the top: [`handler`] dispatches each invocation (records, or the tick) and builds the
//! response; [`config`], [`logging`], [`metrics`]; [`State`] holds the configuration and the SDK
//! clients, built once; [`now`] is the one clock and [`CLOCK_SKEW`] the one allowance for
//! Glue's clock.

pub mod aws;
pub mod config;
pub mod handler;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod teaching;
pub mod upload;

pub use config::{Config, ConfigError};

/// Glue's clock and ours may differ a little: every comparison of Glue's times with ours
/// allows this much.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(1);

/// The clock: the current time, to the millisecond.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A token unique to one call in this deployment: process, time and sequence.
pub fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The HTTP status of an AWS call's error, when a response arrived (both SDKs share the type).
pub(crate) fn http_status<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// What every invocation uses: configuration and SDK clients, built once at start-up.
#[derive(Debug, Clone)]
pub struct State {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    /// Publishes the notifications (used only with `NOTIFY_TOPIC_ARN`).
    pub sns: aws_sdk_sns::Client,
}

impl State {
    /// Reads the configuration and builds the clients (region, credentials and endpoint
    /// overrides such as `AWS_ENDPOINT_URL_S3` come from the standard AWS sources).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(config::retry_config())
            .timeout_config(config::timeout_config())
            .load()
            .await;
        Ok(State::from_sdk_config(config, &sdk))
    }

    /// Builds the clients from an SDK configuration (S3 path-style as configured).
    pub fn from_sdk_config(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.s3_force_path_style)
            .build();
        State {
            s3: aws_sdk_s3::Client::from_conf(s3),
            glue: aws_sdk_glue::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            config,
        }
    }
}
