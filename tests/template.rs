//! template.yaml: the function's IAM permissions are exactly the ones it needs, scoped to the
//! labels prefix, the allowed transforms, its log group and its failure queue.

use std::path::Path;

use serde_json::{json, Map, Value};
use serde_norway::Value as Yaml;

/// The template with CloudFormation's short tags turned into their long JSON forms.
fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    to_json(serde_norway::from_str(&text).expect("valid YAML"))
}

fn to_json(yaml: Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => json!(b),
        Yaml::Number(n) => serde_json::to_value(n).expect("number"),
        Yaml::String(s) => json!(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').expect("Resource.Attribute");
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    &template["Resources"][name]
}

/// Every statement the function's role grants, wherever it is written.
fn granted_statements(template: &Value) -> Vec<Value> {
    let role = resource(template, "ImportFunctionRole");
    let mut statements: Vec<Value> = role["Properties"]["Policies"]
        .as_array()
        .expect("inline policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    for (key, value) in template["Resources"].as_object().expect("resources") {
        let fragments: Vec<&Value> = if key.starts_with("Fn::ForEach::") {
            value[2]
                .as_object()
                .expect("ForEach fragment")
                .values()
                .collect()
        } else {
            vec![value]
        };
        for r in fragments
            .into_iter()
            .filter(|r| r["Type"] == "AWS::IAM::RolePolicy" || r["Type"] == "AWS::IAM::Policy")
        {
            let attached = r["Properties"]["RoleName"] == json!({"Ref": "ImportFunctionRole"})
                || r["Properties"]["Roles"]
                    .as_array()
                    .is_some_and(|roles| roles.contains(&json!({"Ref": "ImportFunctionRole"})));
            if attached {
                statements.extend(
                    r["Properties"]["PolicyDocument"]["Statement"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
    statements
}

#[test]
fn the_function_is_granted_exactly_what_it_needs() {
    let template = template();
    let labels = "arn:${AWS::Partition}:s3:::${AWS::StackName}-labels-${AWS::AccountId}-${AWS::Region}/${LabelsPrefix}*";
    let transform =
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:mlTransform/${TransformId}";
    assert_eq!(
        granted_statements(&template),
        [
            json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": {"Fn::GetAtt": ["ImportFunctionLogGroup", "Arn"]}}),
            json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
                   "Resource": {"Fn::Sub": labels}}),
            json!({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}),
            json!({"Effect": "Allow", "Action": ["glue:StartImportLabelsTaskRun", "glue:GetMLTaskRuns"],
                   "Resource": {"Fn::Sub": transform}}),
        ]
    );
    // The Glue statement is repeated once per allowed transform ID.
    let foreach = &template["Resources"]["Fn::ForEach::GlueImportPolicies"];
    assert_eq!(foreach[0], "TransformId");
    assert_eq!(foreach[1], json!({"Ref": "TransformIds"}));
    assert_eq!(template["Parameters"]["TransformIds"]["Default"], "*");
}

#[test]
fn the_role_is_the_functions_only_source_of_permissions() {
    let template = template();
    let role = &resource(&template, "ImportFunctionRole")["Properties"];
    assert!(
        role.get("ManagedPolicyArns").is_none(),
        "no managed policies"
    );
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
    let function = &resource(&template, "ImportFunction")["Properties"];
    assert_eq!(
        function["Role"],
        json!({"Fn::GetAtt": ["ImportFunctionRole", "Arn"]})
    );
    assert!(
        function.get("Policies").is_none(),
        "SAM must not add policies"
    );
    // Every policy attached to the role is one of the reviewed ones above.
    for (key, value) in template["Resources"].as_object().unwrap() {
        let text = value.to_string();
        if key != "ImportFunctionRole"
            && key != "ImportFunction"
            && text.contains("ImportFunctionRole")
        {
            assert!(
                key.starts_with("Fn::ForEach::GlueImportPolicies"),
                "{key} also references the role"
            );
        }
    }
}

#[test]
fn the_policy_and_the_bucket_agree_on_names_without_referencing_the_bucket() {
    let template = template();
    let bucket_name = &resource(&template, "LabelsBucket")["Properties"]["BucketName"]["Fn::Sub"];
    assert_eq!(
        bucket_name,
        "${AWS::StackName}-labels-${AWS::AccountId}-${AWS::Region}"
    );
    let role = resource(&template, "ImportFunctionRole").to_string();
    assert!(role.contains(&format!(":s3:::{}/", bucket_name.as_str().unwrap())));
    for name in ["ImportFunctionRole", "ImportFunction"] {
        let text = resource(&template, name)["Properties"]["Environment"].to_string()
            + &resource(&template, name)["Properties"]["Policies"].to_string();
        assert!(
            !text.contains("LabelsBucket"),
            "{name} must not reference the bucket (circular dependency)"
        );
    }
    assert!(!resource(&template, "ImportFunctionRole")
        .to_string()
        .contains("\"LabelsBucket"));
}

#[test]
fn the_function_is_wired_as_documented() {
    let template = template();
    let function = &resource(&template, "ImportFunction");
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "glue-label-importer"
    );
    let p = &function["Properties"];
    assert_eq!(
        (
            &p["Runtime"],
            &p["Handler"],
            &p["Architectures"],
            &p["MemorySize"]
        ),
        (
            &json!("provided.al2023"),
            &json!("bootstrap"),
            &json!(["arm64"]),
            &json!(128)
        )
    );
    assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(
        p["Environment"]["Variables"],
        json!({"LABELS_PREFIX": {"Ref": "LabelsPrefix"}, "DEFAULT_REPLACE_ALL_LABELS": {"Ref": "DefaultReplaceAllLabels"}})
    );
    let event = &p["Events"]["LabelFileUploaded"]["Properties"];
    assert_eq!(event["Bucket"], json!({"Ref": "LabelsBucket"}));
    assert_eq!(event["Events"], "s3:ObjectCreated:*");
    assert_eq!(
        event["Filter"]["S3Key"]["Rules"],
        json!([{"Name": "prefix", "Value": {"Ref": "LabelsPrefix"}}, {"Name": "suffix", "Value": {"Ref": "LabelsSuffix"}}])
    );
    let invoke = &p["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"], 2);
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"],
        json!({"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}})
    );
    // The function timeout leaves room for the SDK's per-call timeouts (15 s each, ~5 calls).
    assert!(p["Timeout"].as_u64().unwrap() >= 90);
}
