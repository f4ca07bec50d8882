//! The replace flag, read from the object's user metadata (`x-amz-meta-<key>: true|false`).

use std::collections::HashMap;

use crate::upload::outcome::ImportError;

/// Parses `true`/`false` in any letter case, ignoring surrounding spaces.
pub fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `ReplaceAllLabels` for an object: its metadata value under `meta_key` (S3 returns keys
/// lower-case), or `default` when the key is absent.
pub fn replace_all_labels(
    metadata: Option<&HashMap<String, String>>,
    meta_key: &str,
    default: bool,
) -> Result<bool, ImportError> {
    match metadata.and_then(|m| m.get(meta_key)) {
        None => Ok(default),
        Some(value) => parse_bool(value).ok_or_else(|| ImportError::BadReplaceFlag {
            meta_key: meta_key.to_string(),
            value: value.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_flag() {
        let key = "replace-all-labels";
        let cases = [
            ("true", true),
            ("TRUE", true),
            ("True", true),
            (" true ", true),
            ("false", false),
            ("False", false),
        ];
        for (value, want) in cases {
            let m = meta(&[(key, value)]);
            assert_eq!(
                replace_all_labels(Some(&m), key, !want).unwrap(),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn absent_flag_takes_the_default() {
        let other = meta(&[("owner", "ana")]);
        for default in [true, false] {
            assert_eq!(replace_all_labels(None, "r", default).unwrap(), default);
            assert_eq!(
                replace_all_labels(Some(&other), "r", default).unwrap(),
                default
            );
        }
    }

    #[test]
    fn bad_values_name_the_key_and_value() {
        for value in ["yes", "1", "", "truee", "on"] {
            let m = meta(&[("replace-all-labels", value)]);
            let err = replace_all_labels(Some(&m), "replace-all-labels", false)
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!("user metadata replace-all-labels={value:?} is neither true nor false; upload the file again with --metadata replace-all-labels=true (replace all labels) or replace-all-labels=false (append)")
            );
        }
    }
}
