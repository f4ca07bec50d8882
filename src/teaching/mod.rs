//! FindMatches' teaching loop, per transform: after a round's imports, evaluate the transform
//! once, keep what the evaluation measured, and say when quality stopped improving
//! ([`rounds`]: the model and its rules, pure), as a step of the tick ([`follow`]), or by hand
//! for one transform ([`by_hand`]: `import-labels evaluate` / `generate`).

pub mod by_hand;
pub mod follow;
pub mod rounds;

/// What the tick does once a round's imports are in (`TEACHING_LOOP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeachingLoop {
    /// Nothing: imports only (the default; evaluations are billable Glue compute).
    Off,
    /// Evaluate the transform once per round and keep the round's quality.
    Evaluate,
    /// Evaluate, then generate the next labeling set until the loop stops.
    EvaluateAndGenerate,
}

impl TeachingLoop {
    pub fn parse(value: &str) -> Result<TeachingLoop, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(TeachingLoop::Off),
            "evaluate" => Ok(TeachingLoop::Evaluate),
            "evaluate-and-generate" => Ok(TeachingLoop::EvaluateAndGenerate),
            _ => Err("expected off, evaluate or evaluate-and-generate".into()),
        }
    }

    pub fn is_on(self) -> bool {
        self != TeachingLoop::Off
    }

    pub fn generates(self) -> bool {
        self == TeachingLoop::EvaluateAndGenerate
    }
}
