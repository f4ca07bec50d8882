//! `start-import-labels-task-run`: the AWS CLI command, option for option — input from the
//! command line, `--cli-input-json` or `--cli-input-yaml` (command-line values win), and
//! `--generate-cli-skeleton`.

use serde_json::{json, Map, Value};

use crate::UsageError;

const MEMBERS: [&str; 3] = ["TransformId", "InputS3Path", "ReplaceAllLabels"];

/// The request, once every source is merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInput {
    pub transform_id: String,
    pub input_s3_path: String,
    pub replace_all_labels: Option<bool>,
}

/// What `--generate-cli-skeleton` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Skeleton {
    Input,
    YamlInput,
    Output,
}

/// The request's members in the model's order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request<'a> {
    pub transform_id: &'a str,
    pub input_s3_path: &'a str,
    pub replace_all_labels: bool,
}

/// `--generate-cli-skeleton input`, as AWS CLI v2 prints it.
pub fn input_skeleton() -> Request<'static> {
    Request {
        transform_id: "",
        input_s3_path: "",
        replace_all_labels: true,
    }
}

/// `--generate-cli-skeleton yaml-input`: the members with their documentation as comments.
pub const YAML_SKELETON: &str = "\
TransformId: '' # [REQUIRED] The unique identifier of the machine learning transform.
InputS3Path: '' # [REQUIRED] The Amazon Simple Storage Service (Amazon S3) path from where you import the labels.
ReplaceAllLabels: true # Indicates whether to overwrite your existing labels.
";

/// `--generate-cli-skeleton output`.
pub fn output_skeleton() -> Value {
    json!({"TaskRunId": "TaskRunId"})
}

/// Reads a `--cli-input-json`/`--cli-input-yaml` value: the document itself or `file://path`.
pub fn read_input(option: &str, value: &str, yaml: bool) -> Result<Map<String, Value>, UsageError> {
    let text = match value.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "Error parsing parameter '{option}': Unable to load paramfile {value}: {e}"
            ))
        })?,
        None => value.to_string(),
    };
    let parsed: Result<Value, String> = if yaml {
        serde_norway::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    };
    let kind = if yaml { "YAML" } else { "JSON" };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(UsageError(format!(
            "Error parsing parameter '{option}': expected a {kind} object, got {other}"
        ))),
        Err(e) => Err(UsageError(format!(
            "Error parsing parameter '{option}': Invalid {kind} received: {e}"
        ))),
    }
}

/// Merges the input document with the command line; the command line wins.
pub fn merge(
    document: Map<String, Value>,
    transform_id: Option<String>,
    input_s3_path: Option<String>,
    replace_all_labels: Option<bool>,
) -> Result<StartInput, UsageError> {
    if let Some(unknown) = document.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(UsageError(format!(
            "Parameter validation failed: Unknown parameter in input: \"{unknown}\", must be one of: {}",
            MEMBERS.join(", ")
        )));
    }
    let text = |member: &str| -> Result<Option<String>, UsageError> {
        match document.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid_type(member, other, "string")),
        }
    };
    let from_document = match document.get("ReplaceAllLabels") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => return Err(invalid_type("ReplaceAllLabels", other, "boolean")),
    };
    let transform_id = transform_id
        .or(text("TransformId")?)
        .filter(|s| !s.is_empty());
    let input_s3_path = input_s3_path
        .or(text("InputS3Path")?)
        .filter(|s| !s.is_empty());
    match (transform_id, input_s3_path) {
        (Some(transform_id), Some(input_s3_path)) => Ok(StartInput {
            transform_id,
            input_s3_path,
            replace_all_labels: replace_all_labels.or(from_document),
        }),
        (t, p) => {
            let missing: Vec<&str> = [
                (t.is_none(), "--transform-id"),
                (p.is_none(), "--input-s3-path"),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
            Err(UsageError(format!(
                "the following arguments are required: {}",
                missing.join(", ")
            )))
        }
    }
}

fn invalid_type(member: &str, value: &Value, valid: &str) -> UsageError {
    UsageError(format!(
        "Parameter validation failed: Invalid type for parameter {member}, value: {value}, valid types: {valid}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_command_line_overrides_the_input_document() {
        let document = doc(
            json!({"TransformId": "tfm-doc", "InputS3Path": "s3://b/doc.csv", "ReplaceAllLabels": true}),
        );
        assert_eq!(
            merge(document.clone(), Some("tfm-cli".into()), None, Some(false)).unwrap(),
            StartInput {
                transform_id: "tfm-cli".into(),
                input_s3_path: "s3://b/doc.csv".into(),
                replace_all_labels: Some(false)
            }
        );
        assert_eq!(
            merge(document, None, Some("s3://b/cli.csv".into()), None).unwrap(),
            StartInput {
                transform_id: "tfm-doc".into(),
                input_s3_path: "s3://b/cli.csv".into(),
                replace_all_labels: Some(true)
            }
        );
        assert_eq!(
            merge(Map::new(), Some("t".into()), Some("s3://b/k".into()), None)
                .unwrap()
                .replace_all_labels,
            None,
            "no flag anywhere: the request omits ReplaceAllLabels"
        );
    }

    #[test]
    fn bad_input_is_a_usage_error_that_says_what_is_wrong() {
        let cases = [
            (json!({"TransformId": "t", "InputS3Path": "p", "Replace": true}),
             "Parameter validation failed: Unknown parameter in input: \"Replace\", must be one of: TransformId, InputS3Path, ReplaceAllLabels"),
            (json!({"TransformId": "t", "InputS3Path": "p", "ReplaceAllLabels": "yes"}),
             "Parameter validation failed: Invalid type for parameter ReplaceAllLabels, value: \"yes\", valid types: boolean"),
            (json!({"TransformId": 7, "InputS3Path": "p"}),
             "Parameter validation failed: Invalid type for parameter TransformId, value: 7, valid types: string"),
            (json!({"InputS3Path": "p"}), "the following arguments are required: --transform-id"),
            (json!({"TransformId": "", "InputS3Path": ""}), "the following arguments are required: --transform-id, --input-s3-path"),
        ];
        for (document, want) in cases {
            assert_eq!(merge(doc(document), None, None, None).unwrap_err().0, want);
        }
    }

    #[test]
    fn reads_json_yaml_and_files() {
        let json = read_input("cli-input-json", r#"{"TransformId": "t"}"#, false).unwrap();
        assert_eq!(json["TransformId"], "t");
        let yaml = read_input("cli-input-yaml", YAML_SKELETON, true).unwrap();
        assert_eq!(
            Value::Object(yaml),
            serde_json::to_value(input_skeleton()).unwrap(),
            "the YAML skeleton reads back as the JSON one"
        );
        let path =
            std::env::temp_dir().join(format!("import-labels-input-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"InputS3Path": "s3://b/k.csv"}"#).unwrap();
        let from_file = read_input(
            "cli-input-json",
            &format!("file://{}", path.display()),
            false,
        )
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(from_file["InputS3Path"], "s3://b/k.csv");

        let err = read_input("cli-input-json", "{nope", false).unwrap_err().0;
        assert!(
            err.starts_with("Error parsing parameter 'cli-input-json': Invalid JSON received: "),
            "{err}"
        );
        let err = read_input("cli-input-json", "[1]", false).unwrap_err().0;
        assert_eq!(
            err,
            "Error parsing parameter 'cli-input-json': expected a JSON object, got [1]"
        );
        let err = read_input("cli-input-yaml", "file:///nonexistent/in.yaml", true)
            .unwrap_err()
            .0;
        assert!(err.starts_with("Error parsing parameter 'cli-input-yaml': Unable to load paramfile file:///nonexistent/in.yaml: "), "{err}");
    }
}
