//! Log set-up: the level from `AWS_LAMBDA_LOG_LEVEL` (or a `RUST_LOG` filter such as
//! `info,aws_smithy_runtime=debug`), JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (what Lambda's
//! `LoggingConfig` sets), plain text otherwise.
//!
//! The filter is `tracing_subscriber`'s `Targets` (targets and levels), not `EnvFilter`: it
//! needs no regex engine, which keeps the deployment package small.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let filter = filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Lambda time-stamps every line itself.
    let _ = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_target(false)
            .without_time();
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .without_time();
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    };
}

/// Lambda's level (`FATAL` counts as `error`) wins over `RUST_LOG`; `info` when neither parses.
fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let lambda = lambda_level.and_then(|l| match l.to_ascii_lowercase().as_str() {
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse::<LevelFilter>().ok(),
    });
    match (lambda, rust_log.and_then(|f| f.parse::<Targets>().ok())) {
        (Some(level), _) => Targets::new().with_default(level),
        (None, Some(targets)) => targets,
        (None, None) => Targets::new().with_default(LevelFilter::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn lambda_level_wins_then_rust_log_then_info() {
        let level = |t: &Targets, target: &str, l: Level| t.would_enable(target, &l);
        let t = filter(Some("DEBUG"), Some("error"));
        assert!(level(&t, "glue_label_importer", Level::DEBUG));
        assert!(!level(&t, "glue_label_importer", Level::TRACE));
        let t = filter(Some("FATAL"), None);
        assert!(level(&t, "x", Level::ERROR) && !level(&t, "x", Level::WARN));
        let t = filter(None, Some("warn,aws_smithy_runtime=debug"));
        assert!(level(&t, "aws_smithy_runtime::client", Level::DEBUG));
        assert!(!level(&t, "glue_label_importer", Level::INFO));
        let t = filter(Some("loud"), None);
        assert_eq!(t.default_level(), Some(LevelFilter::INFO));
    }
}
