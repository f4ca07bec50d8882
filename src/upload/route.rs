//! From a decoded object key to the Glue transform it labels: `<prefix><transform-id>/<file>`.

use crate::upload::outcome::{ImportError, NotImported, SkipReason};

/// Glue's limit on `TransformId` (model shape `HashString`).
const MAX_TRANSFORM_ID_CHARS: usize = 255;

/// Returns the transform ID of a label-file key, or why the key is not one.
pub fn transform_id<'k>(prefix: &str, key: &'k str) -> Result<&'k str, NotImported> {
    if key.ends_with('/') {
        return Err(SkipReason::FolderMarker.into());
    }
    let Some(rest) = key.strip_prefix(prefix) else {
        return Err(SkipReason::OutsidePrefix {
            prefix: prefix.to_string(),
        }
        .into());
    };
    let Some((id, _file)) = rest.split_once('/') else {
        return Err(SkipReason::NoTransformSegment {
            prefix: prefix.to_string(),
        }
        .into());
    };
    validate_transform_id(id).map_err(|problem| ImportError::InvalidTransformId {
        id: id.to_string(),
        problem,
        prefix: prefix.to_string(),
    })?;
    Ok(id)
}

/// Glue's rule for IDs: 1–255 characters matching
/// `[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]` (no control characters).
fn validate_transform_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("it is empty");
    }
    if id.chars().count() > MAX_TRANSFORM_ID_CHARS {
        return Err("it is longer than 255 characters");
    }
    let allowed = |c: char| c == '\t' || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
    if !id.chars().all(allowed) {
        return Err("it contains control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn skip(r: Result<&str, NotImported>) -> SkipReason {
        match r {
            Err(NotImported::Skipped(reason)) => reason,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    fn invalid(r: Result<&str, NotImported>) -> String {
        match r {
            Err(NotImported::Failed(e @ ImportError::InvalidTransformId { .. })) => e.to_string(),
            other => panic!("expected an invalid transform ID, got {other:?}"),
        }
    }

    #[test]
    fn finds_the_transform_segment() {
        let cases = [
            ("labels/tfm-1/x.csv", "tfm-1"),
            ("labels/tfm-1/2024/x.csv", "tfm-1"),
            ("labels/tfm 1/x.csv", "tfm 1"),
            ("labels/tfm-ü/x.csv", "tfm-ü"),
            ("labels/tfm\t1/x.csv", "tfm\t1"),
        ];
        for (key, id) in cases {
            assert_eq!(transform_id("labels/", key).unwrap(), id, "{key}");
        }
        assert_eq!(
            transform_id("in/labels/", "in/labels/t/x.csv").unwrap(),
            "t"
        );
    }

    #[test]
    fn skips_keys_that_are_not_label_files() {
        let prefix = SkipReason::OutsidePrefix {
            prefix: "labels/".into(),
        };
        let no_segment = SkipReason::NoTransformSegment {
            prefix: "labels/".into(),
        };
        let cases = [
            ("other/tfm-1/x.csv", prefix.clone()),
            ("labels-archive/tfm-1/x.csv", prefix.clone()),
            ("Labels/tfm-1/x.csv", prefix.clone()),
            ("labels", prefix.clone()),
            ("labels/x.csv", no_segment.clone()),
            ("labels/tfm-1", no_segment),
            ("labels/", SkipReason::FolderMarker),
            ("labels/tfm-1/", SkipReason::FolderMarker),
            ("labels/tfm-1/2024/", SkipReason::FolderMarker),
        ];
        for (key, want) in cases {
            assert_eq!(skip(transform_id("labels/", key)), want, "{key}");
        }
    }

    #[test]
    fn rejects_ids_glue_would_reject() {
        let long = "t".repeat(256);
        let cases = [
            ("labels//x.csv".to_string(), "\"\": it is empty"),
            (
                format!("labels/{long}/x.csv"),
                "it is longer than 255 characters",
            ),
            (
                "labels/tfm\n1/x.csv".to_string(),
                "it contains control characters",
            ),
            (
                "labels/tfm\u{7}/x.csv".to_string(),
                "it contains control characters",
            ),
        ];
        for (key, want) in cases {
            let err = invalid(transform_id("labels/", &key));
            assert!(err.contains(want), "{err} should contain {want}");
            assert!(
                err.ends_with("put the file under labels/<transform-id>/ using an ID from `aws glue list-ml-transforms`"),
                "{err}"
            );
        }
        let max = "t".repeat(255);
        assert_eq!(
            transform_id("labels/", &format!("labels/{max}/x.csv")).unwrap(),
            max
        );
    }

    proptest! {
        #[test]
        fn any_valid_id_routes(id in "[^/\\p{Cc}\u{FFFE}\u{FFFF}]{1,255}", file in "[^/]{1,20}(/[^/]{1,20}){0,2}") {
            let key = format!("labels/{id}/{file}");
            prop_assert_eq!(transform_id("labels/", &key).ok(), Some(id.as_str()));
        }

        #[test]
        fn a_routed_key_is_prefix_id_slash_file(key in "(labels/)?\\PC{0,80}") {
            if let Ok(id) = transform_id("labels/", &key) {
                let file = key.strip_prefix(&format!("labels/{id}/"));
                prop_assert!(file.is_some_and(|f| !f.is_empty() && !f.ends_with('/')), "{key}");
            }
        }
    }
}
