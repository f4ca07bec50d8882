//! Configuration from the environment, read once at start-up.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::teaching::rounds::StopRule;
use crate::teaching::TeachingLoop;
use crate::upload::metadata::parse_bool;

/// Connect timeout for every AWS call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Limit for one HTTP attempt of an AWS call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Limit for one AWS call, retries included. A fresh upload makes 11 requests in 5 round trips
/// (docs/design/upload-path.md, "Requests and round trips"), plus one per extra page of Glue history, so the function
/// timeout should be at least 120 s.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The SDK's standard retry mode (3 attempts, exponential backoff with jitter).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
}

/// Explicit timeouts, so a hung call fails the record instead of the whole function.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The function's settings (docs/operators/configuration.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Keys must start with it; always ends with `/`.
    pub labels_prefix: String,
    /// User-metadata key of the replace flag, lower-case, without `x-amz-meta-`.
    pub replace_metadata_key: String,
    pub default_replace_all_labels: bool,
    pub max_concurrency: usize,
    pub s3_force_path_style: bool,
    /// Check each label file before starting its import (`PREFLIGHT=on|off`).
    pub preflight: bool,
    /// Label-file size quota in bytes (Glue's default is 10 MB; it can be raised).
    pub max_label_file_bytes: u64,
    /// CloudWatch namespace of the per-invocation metrics (`METRICS_NAMESPACE`).
    pub metrics_namespace: String,
    /// The metrics' `FunctionName` dimension (`AWS_LAMBDA_FUNCTION_NAME`, set by Lambda).
    pub function_name: String,
    /// Where the import ledger lives in each upload's bucket (`LEDGER_PREFIX`); ends with `/`
    /// and never overlaps the labels prefix.
    pub ledger_prefix: String,
    /// The bucket whose ledger a tick reads (`LABELS_BUCKET`); without it ticks do nothing.
    pub labels_bucket: Option<String>,
    /// A start marked longer ago than this, with no answer recorded, was abandoned by its
    /// process (`START_LEASE_SECONDS`); the next delivery or tick resolves it.
    pub start_lease: Duration,
    /// How many appends of one transform may run side by side (`MAX_IMPORTS_PER_TRANSFORM`,
    /// 1–3); a replace always runs alone.
    pub max_imports_per_transform: usize,
    /// What the tick does once a round's imports are in (`TEACHING_LOOP`).
    pub teaching_loop: TeachingLoop,
    /// A round closes once no upload of the transform came for this long
    /// (`LOOP_QUIET_SECONDS`): a burst of uploads makes one round.
    pub loop_quiet: Duration,
    /// When a round says the loop stops (`TARGET_AUPRC`, `PLATEAU_DELTA`, `PLATEAU_ROUNDS`).
    pub stop_rule: StopRule,
    /// Where generated labeling sets go (`LABELING_SETS_PREFIX`); ends with `/`, outside the
    /// labels prefix (an unlabeled file there would be imported) and the ledger.
    pub labeling_sets_prefix: String,
    /// The SNS topic that gets one message per event a person acts on (`NOTIFY_TOPIC_ARN`);
    /// none: nothing is sent.
    pub notify_topic_arn: Option<String>,
}

/// A variable is set to something the function cannot use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}={value:?}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub problem: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            labels_prefix: "labels/".into(),
            replace_metadata_key: "replace-all-labels".into(),
            default_replace_all_labels: false,
            max_concurrency: 4,
            s3_force_path_style: false,
            preflight: true,
            max_label_file_bytes: crate::upload::preflight::DEFAULT_MAX_BYTES,
            metrics_namespace: "GlueLabelImporter".into(),
            function_name: "glue-label-importer".into(),
            ledger_prefix: "glue-label-importer/".into(),
            labels_bucket: None,
            start_lease: Duration::from_secs(60),
            max_imports_per_transform: 1,
            teaching_loop: TeachingLoop::Off,
            loop_quiet: Duration::from_secs(300),
            stop_rule: StopRule::default(),
            labeling_sets_prefix: "labeling-sets/".into(),
            notify_topic_arn: None,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads settings through `lookup` (a variable name → its value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Config::default();
        let lookup = &lookup;
        let config = Config {
            labels_prefix: var(
                lookup,
                "LABELS_PREFIX",
                parse_prefix,
                defaults.labels_prefix,
            )?,
            replace_metadata_key: var(
                lookup,
                "REPLACE_METADATA_KEY",
                parse_metadata_key,
                defaults.replace_metadata_key,
            )?,
            default_replace_all_labels: var(
                lookup,
                "DEFAULT_REPLACE_ALL_LABELS",
                parse_flag,
                defaults.default_replace_all_labels,
            )?,
            max_concurrency: var(
                lookup,
                "MAX_CONCURRENCY",
                parse_concurrency,
                defaults.max_concurrency,
            )?,
            s3_force_path_style: var(
                lookup,
                "S3_FORCE_PATH_STYLE",
                parse_flag,
                defaults.s3_force_path_style,
            )?,
            preflight: var(lookup, "PREFLIGHT", parse_on_off, defaults.preflight)?,
            max_label_file_bytes: var(
                lookup,
                "MAX_LABEL_FILE_BYTES",
                parse_bytes,
                defaults.max_label_file_bytes,
            )?,
            metrics_namespace: var(
                lookup,
                "METRICS_NAMESPACE",
                parse_namespace,
                defaults.metrics_namespace,
            )?,
            function_name: lookup("AWS_LAMBDA_FUNCTION_NAME")
                .filter(|name| !name.is_empty())
                .unwrap_or(defaults.function_name),
            ledger_prefix: var(
                lookup,
                "LEDGER_PREFIX",
                parse_prefix,
                defaults.ledger_prefix,
            )?,
            labels_bucket: lookup("LABELS_BUCKET").filter(|b| !b.is_empty()),
            start_lease: var(
                lookup,
                "START_LEASE_SECONDS",
                parse_lease,
                defaults.start_lease,
            )?,
            max_imports_per_transform: var(
                lookup,
                "MAX_IMPORTS_PER_TRANSFORM",
                parse_imports_per_transform,
                defaults.max_imports_per_transform,
            )?,
            teaching_loop: var(
                lookup,
                "TEACHING_LOOP",
                TeachingLoop::parse,
                defaults.teaching_loop,
            )?,
            loop_quiet: var(
                lookup,
                "LOOP_QUIET_SECONDS",
                parse_quiet,
                defaults.loop_quiet,
            )?,
            stop_rule: StopRule {
                target_auprc: var(
                    lookup,
                    "TARGET_AUPRC",
                    parse_target,
                    defaults.stop_rule.target_auprc,
                )?,
                plateau_delta: var(
                    lookup,
                    "PLATEAU_DELTA",
                    parse_delta,
                    defaults.stop_rule.plateau_delta,
                )?,
                plateau_rounds: var(
                    lookup,
                    "PLATEAU_ROUNDS",
                    parse_plateau_rounds,
                    defaults.stop_rule.plateau_rounds,
                )?,
            },
            labeling_sets_prefix: var(
                lookup,
                "LABELING_SETS_PREFIX",
                parse_prefix,
                defaults.labeling_sets_prefix,
            )?,
            notify_topic_arn: var(
                lookup,
                "NOTIFY_TOPIC_ARN",
                parse_topic_arn,
                defaults.notify_topic_arn,
            )?,
        };
        let (ledger, labels) = (&config.ledger_prefix, &config.labels_prefix);
        if ledger.starts_with(labels.as_str()) || labels.starts_with(ledger.as_str()) {
            return Err(ConfigError {
                var: "LEDGER_PREFIX",
                value: ledger.clone(),
                problem: format!("the ledger must live outside the labels prefix {labels:?} (and the labels prefix outside it), e.g. glue-label-importer/"),
            });
        }
        if config.teaching_loop.generates() {
            config.check_labeling_sets_prefix()?;
        }
        Ok(config)
    }

    /// Generated labeling sets live outside the labels prefix (an unlabeled file there would
    /// be imported) and the ledger: checked at start-up when the loop generates, and before a
    /// generation by hand.
    pub fn check_labeling_sets_prefix(&self) -> Result<(), ConfigError> {
        let (sets, labels, ledger) = (
            &self.labeling_sets_prefix,
            &self.labels_prefix,
            &self.ledger_prefix,
        );
        let overlaps = |other: &str| sets.starts_with(other) || other.starts_with(sets.as_str());
        if overlaps(labels) || overlaps(ledger) {
            return Err(ConfigError {
                var: "LABELING_SETS_PREFIX",
                value: sets.clone(),
                problem: format!("generated labeling sets must live outside the labels prefix {labels:?} (an unlabeled file there would be imported) and the ledger {ledger:?}, e.g. labeling-sets/"),
            });
        }
        Ok(())
    }
}

/// One variable: parsed when set, `default` when not.
fn var<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    parse: fn(&str) -> Result<T, String>,
    default: T,
) -> Result<T, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(value) => parse(&value).map_err(|problem| ConfigError {
            var: name,
            value,
            problem,
        }),
    }
}

/// 1–3: Glue runs at most 3 ML task runs of a transform at once, every task type counted.
fn parse_imports_per_transform(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n @ 1..=3) => Ok(n),
        _ => Err("expected 1, 2 or 3 (Glue runs at most 3 ML task runs of a transform at once; 1, the default, runs one import at a time)".into()),
    }
}

/// CloudWatch namespaces: 1–255 characters of letters, digits and `.-_/#:` (no `AWS/`).
fn parse_namespace(value: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if value.is_empty()
        || value.len() > 255
        || !value.chars().all(allowed)
        || value.starts_with("AWS/")
    {
        return Err("expected a CloudWatch namespace such as GlueLabelImporter (1-255 characters: letters, digits, . - _ / # : and spaces; not AWS/...)".into());
    }
    Ok(value.to_string())
}

fn parse_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("the labels prefix must not be empty (e.g. labels/)".into());
    }
    Ok(if value.ends_with('/') {
        value.to_string()
    } else {
        format!("{value}/")
    })
}

fn parse_metadata_key(value: &str) -> Result<String, String> {
    let lower = value.trim().to_ascii_lowercase();
    let key = lower.strip_prefix("x-amz-meta-").unwrap_or(&lower);
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || !key.chars().all(token) {
        return Err("expected an HTTP header name such as replace-all-labels".into());
    }
    Ok(key.to_string())
}

fn parse_flag(value: &str) -> Result<bool, String> {
    parse_bool(value).ok_or_else(|| "expected true or false".into())
}

fn parse_on_off(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err("expected on or off".into()),
    }
}

fn parse_bytes(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a positive number of bytes, e.g. 10485760".into()),
    }
}

fn parse_lease(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(n @ 1..=900) => Ok(Duration::from_secs(n)),
        _ => Err("expected a whole number of seconds from 1 to 900".into()),
    }
}

fn parse_quiet(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(n @ 0..=86_400) => Ok(Duration::from_secs(n)),
        _ => Err("expected a whole number of seconds from 0 to 86400".into()),
    }
}

/// An AUPRC to reach: above 0, at most 1.
fn parse_target(value: &str) -> Result<Option<f64>, String> {
    match value.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(Some(x)),
        _ => Err("expected an AreaUnderPRCurve above 0 and at most 1, e.g. 0.95".into()),
    }
}

fn parse_delta(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err("expected an AreaUnderPRCurve gain from 0 to below 1, e.g. 0.005".into()),
    }
}

fn parse_plateau_rounds(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n @ 0..=100) => Ok(n),
        _ => Err("expected a whole number of rounds from 0 (no plateau rule) to 100".into()),
    }
}

/// An SNS topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`), or empty for none.
fn parse_topic_arn(value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&str> = value.split(':').collect();
    let topic = |name: &str| {
        !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, name]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && topic(name)
                && !name.ends_with(".fifo") =>
        {
            Ok(Some(value.to_string()))
        }
        _ => Err("expected a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:glue-label-importer, or empty for no notifications".into()),
    }
}

fn parse_concurrency(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err("expected a whole number from 1 to 64".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|var| vars.get(var).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = read(&[]).unwrap();
        assert_eq!(config.labels_prefix, "labels/");
        assert_eq!(config.replace_metadata_key, "replace-all-labels");
        assert!(!config.default_replace_all_labels);
        assert_eq!(config.max_concurrency, 4);
        assert!(!config.s3_force_path_style);
        assert!(config.preflight);
        assert_eq!(config.max_label_file_bytes, 10_485_760);
        assert_eq!(config.ledger_prefix, "glue-label-importer/");
        assert_eq!(config.labels_bucket, None);
        assert_eq!(config.start_lease, Duration::from_secs(60));
        assert_eq!(config.teaching_loop, TeachingLoop::Off);
        assert_eq!(config.loop_quiet, Duration::from_secs(300));
        assert_eq!(config.stop_rule, StopRule::default());
    }

    #[test]
    fn reads_every_variable() {
        let config = read(&[
            ("LABELS_PREFIX", "incoming/labels"),
            ("REPLACE_METADATA_KEY", "X-Amz-Meta-Replace"),
            ("DEFAULT_REPLACE_ALL_LABELS", "TRUE"),
            ("MAX_CONCURRENCY", "16"),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("PREFLIGHT", "off"),
            ("MAX_LABEL_FILE_BYTES", "20971520"),
            ("METRICS_NAMESPACE", "Team/Labels"),
            ("AWS_LAMBDA_FUNCTION_NAME", "labels-importer"),
            ("LEDGER_PREFIX", "_ledger"),
            ("LABELS_BUCKET", "team-labels"),
            ("START_LEASE_SECONDS", "5"),
            ("MAX_IMPORTS_PER_TRANSFORM", "3"),
            ("TEACHING_LOOP", "Evaluate"),
            ("LOOP_QUIET_SECONDS", "0"),
            ("TARGET_AUPRC", "0.95"),
            ("PLATEAU_DELTA", "0.01"),
            ("PLATEAU_ROUNDS", "3"),
            ("LABELING_SETS_PREFIX", "to-label"),
            (
                "NOTIFY_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:labels-news",
            ),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                labels_prefix: "incoming/labels/".into(),
                replace_metadata_key: "replace".into(),
                default_replace_all_labels: true,
                max_concurrency: 16,
                s3_force_path_style: true,
                preflight: false,
                max_label_file_bytes: 20_971_520,
                metrics_namespace: "Team/Labels".into(),
                function_name: "labels-importer".into(),
                ledger_prefix: "_ledger/".into(),
                labels_bucket: Some("team-labels".into()),
                start_lease: Duration::from_secs(5),
                max_imports_per_transform: 3,
                teaching_loop: TeachingLoop::Evaluate,
                loop_quiet: Duration::ZERO,
                stop_rule: StopRule {
                    target_auprc: Some(0.95),
                    plateau_delta: 0.01,
                    plateau_rounds: 3,
                },
                labeling_sets_prefix: "to-label/".into(),
                notify_topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:labels-news".into()),
            }
        );
        assert_eq!(
            read(&[("NOTIFY_TOPIC_ARN", "")]).unwrap().notify_topic_arn,
            None
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases = [
            ("LABELS_PREFIX", "", "invalid configuration: LABELS_PREFIX=\"\": the labels prefix must not be empty (e.g. labels/)"),
            ("DEFAULT_REPLACE_ALL_LABELS", "maybe", "invalid configuration: DEFAULT_REPLACE_ALL_LABELS=\"maybe\": expected true or false"),
            ("S3_FORCE_PATH_STYLE", "1", "invalid configuration: S3_FORCE_PATH_STYLE=\"1\": expected true or false"),
            ("MAX_CONCURRENCY", "0", "invalid configuration: MAX_CONCURRENCY=\"0\": expected a whole number from 1 to 64"),
            ("MAX_IMPORTS_PER_TRANSFORM", "4", "invalid configuration: MAX_IMPORTS_PER_TRANSFORM=\"4\": expected 1, 2 or 3 (Glue runs at most 3 ML task runs of a transform at once; 1, the default, runs one import at a time)"),
            ("MAX_CONCURRENCY", "many", "invalid configuration: MAX_CONCURRENCY=\"many\": expected a whole number from 1 to 64"),
            ("REPLACE_METADATA_KEY", "replace all", "invalid configuration: REPLACE_METADATA_KEY=\"replace all\": expected an HTTP header name such as replace-all-labels"),
            ("REPLACE_METADATA_KEY", "x-amz-meta-", "invalid configuration: REPLACE_METADATA_KEY=\"x-amz-meta-\": expected an HTTP header name such as replace-all-labels"),
            ("PREFLIGHT", "maybe", "invalid configuration: PREFLIGHT=\"maybe\": expected on or off"),
            ("MAX_LABEL_FILE_BYTES", "10MB", "invalid configuration: MAX_LABEL_FILE_BYTES=\"10MB\": expected a positive number of bytes, e.g. 10485760"),
            ("METRICS_NAMESPACE", "", "invalid configuration: METRICS_NAMESPACE=\"\": expected a CloudWatch namespace such as GlueLabelImporter (1-255 characters: letters, digits, . - _ / # : and spaces; not AWS/...)"),
            ("METRICS_NAMESPACE", "AWS/Lambda", "invalid configuration: METRICS_NAMESPACE=\"AWS/Lambda\": expected a CloudWatch namespace such as GlueLabelImporter (1-255 characters: letters, digits, . - _ / # : and spaces; not AWS/...)"),
            ("START_LEASE_SECONDS", "0", "invalid configuration: START_LEASE_SECONDS=\"0\": expected a whole number of seconds from 1 to 900"),
            ("LEDGER_PREFIX", "labels/ledger/", "invalid configuration: LEDGER_PREFIX=\"labels/ledger/\": the ledger must live outside the labels prefix \"labels/\" (and the labels prefix outside it), e.g. glue-label-importer/"),
            ("TEACHING_LOOP", "on", "invalid configuration: TEACHING_LOOP=\"on\": expected off, evaluate or evaluate-and-generate"),
            ("LOOP_QUIET_SECONDS", "-1", "invalid configuration: LOOP_QUIET_SECONDS=\"-1\": expected a whole number of seconds from 0 to 86400"),
            ("TARGET_AUPRC", "1.5", "invalid configuration: TARGET_AUPRC=\"1.5\": expected an AreaUnderPRCurve above 0 and at most 1, e.g. 0.95"),
            ("PLATEAU_DELTA", "x", "invalid configuration: PLATEAU_DELTA=\"x\": expected an AreaUnderPRCurve gain from 0 to below 1, e.g. 0.005"),
            ("PLATEAU_ROUNDS", "101", "invalid configuration: PLATEAU_ROUNDS=\"101\": expected a whole number of rounds from 0 (no plateau rule) to 100"),
            ("NOTIFY_TOPIC_ARN", "labels-news", "invalid configuration: NOTIFY_TOPIC_ARN=\"labels-news\": expected a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:glue-label-importer, or empty for no notifications"),
            ("NOTIFY_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:news.fifo", "invalid configuration: NOTIFY_TOPIC_ARN=\"arn:aws:sns:eu-west-1:123456789012:news.fifo\": expected a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:glue-label-importer, or empty for no notifications"),
            ("NOTIFY_TOPIC_ARN", "arn:aws:sqs:eu-west-1:123456789012:q", "invalid configuration: NOTIFY_TOPIC_ARN=\"arn:aws:sqs:eu-west-1:123456789012:q\": expected a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:glue-label-importer, or empty for no notifications"),
            ("LEDGER_PREFIX", "labels", "invalid configuration: LEDGER_PREFIX=\"labels/\": the ledger must live outside the labels prefix \"labels/\" (and the labels prefix outside it), e.g. glue-label-importer/"),
        ];
        for (var, value, want) in cases {
            assert_eq!(read(&[(var, value)]).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn generated_labeling_sets_live_outside_the_labels_and_the_ledger() {
        let generating = ("TEACHING_LOOP", "evaluate-and-generate");
        let cases = [
            ("LABELING_SETS_PREFIX", "labels/sets/", "invalid configuration: LABELING_SETS_PREFIX=\"labels/sets/\": generated labeling sets must live outside the labels prefix \"labels/\" (an unlabeled file there would be imported) and the ledger \"glue-label-importer/\", e.g. labeling-sets/"),
            ("LABELING_SETS_PREFIX", "glue-label-importer/sets", "invalid configuration: LABELING_SETS_PREFIX=\"glue-label-importer/sets/\": generated labeling sets must live outside the labels prefix \"labels/\" (an unlabeled file there would be imported) and the ledger \"glue-label-importer/\", e.g. labeling-sets/"),
        ];
        for (var, value, want) in cases {
            assert_eq!(
                read(&[generating, (var, value)]).unwrap_err().to_string(),
                want
            );
            assert!(
                read(&[(var, value)]).is_ok(),
                "checked only when the loop generates"
            );
        }
    }
}
