//! template.yaml, in each TriggerMode: the function's IAM permissions are exactly the ones it
//! needs (scoped to the labels prefix, the allowed transforms, its log group, its queues and its
//! notification topic), every reference names something the mode creates, each mode wires its
//! trigger, and the dashboard draws only metrics the function emits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::{json, Map, Value};
use serde_norway::Value as Yaml;

/// The template with CloudFormation's short tags turned into their long JSON forms.
pub(crate) fn template() -> Value {
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

const MODES: [&str; 3] = ["S3Notification", "EventBridge", "SQS"];

/// The parameter values a deployment in `mode` uses in these tests.
fn parameters(mode: &str) -> HashMap<&'static str, String> {
    let bucket = if mode == "EventBridge" {
        "team-labels"
    } else {
        ""
    };
    HashMap::from([
        ("TriggerMode", mode.to_string()),
        ("ExistingBucketName", bucket.to_string()),
        ("TransformRoleArn", String::new()),
        ("TeachingLoop", "off".to_string()),
        ("TargetAuprc", String::new()),
        ("NotificationEmail", String::new()),
        ("NotificationTopicArn", String::new()),
    ])
}

/// [`parameters`], with some set to other values.
fn parameters_with(mode: &str, set: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
    let mut params = parameters(mode);
    for (name, value) in set {
        params.insert(name, value.to_string());
    }
    params
}

/// The template as CloudFormation sees it in `mode`: conditions evaluated, resources and
/// outputs whose condition is false removed, `Fn::If` resolved, `AWS::NoValue` dropped.
fn template_in(mode: &str) -> Value {
    template_with(mode, &[])
}

/// As [`template_in`], with some parameters set to other values.
fn template_with(mode: &str, set: &[(&'static str, &str)]) -> Value {
    let mut template = template();
    let params = parameters_with(mode, set);
    let definitions = template["Conditions"].clone();
    let mut conditions = HashMap::new();
    for name in definitions.as_object().expect("conditions").keys() {
        let value = condition(&definitions, name, &params);
        conditions.insert(name.clone(), value);
    }
    for section in ["Resources", "Outputs"] {
        let kept: Map<String, Value> = template[section]
            .as_object()
            .expect("section")
            .iter()
            .filter(|(_, item)| item["Condition"].as_str().is_none_or(|c| conditions[c]))
            .map(|(name, item)| (name.clone(), item.clone()))
            .collect();
        template[section] = Value::Object(kept);
    }
    resolve(template, &conditions).expect("the template is not AWS::NoValue")
}

fn condition(definitions: &Value, name: &str, params: &HashMap<&str, String>) -> bool {
    evaluate(&definitions[name], definitions, params)
}

fn evaluate(expr: &Value, definitions: &Value, params: &HashMap<&str, String>) -> bool {
    let operand = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            other => {
                let name = other["Ref"].as_str().expect("Ref or string in a condition");
                params
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("no test value for parameter {name}"))
            }
        }
    };
    let (function, args) = expr
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("condition function");
    let list = || args.as_array().expect("condition arguments");
    match function.as_str() {
        "Fn::Equals" => operand(&list()[0]) == operand(&list()[1]),
        "Fn::Not" => !evaluate(&list()[0], definitions, params),
        "Fn::And" => list().iter().all(|a| evaluate(a, definitions, params)),
        "Fn::Or" => list().iter().any(|a| evaluate(a, definitions, params)),
        "Condition" => condition(definitions, args.as_str().expect("name"), params),
        other => panic!("condition function {other} is not supported here"),
    }
}

/// Resolves `Fn::If`; `None` stands for `AWS::NoValue`.
fn resolve(value: Value, conditions: &HashMap<String, bool>) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::Array(args)) = map.get("Fn::If") {
                    let name = args[0].as_str().expect("condition name");
                    let chosen = if conditions[name] { &args[1] } else { &args[2] };
                    return resolve(chosen.clone(), conditions);
                }
                if map.get("Ref") == Some(&json!("AWS::NoValue")) {
                    return None;
                }
            }
            Some(Value::Object(
                map.into_iter()
                    .filter_map(|(k, v)| resolve(v, conditions).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .filter_map(|v| resolve(v, conditions))
                .collect(),
        )),
        other => Some(other),
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
fn the_function_is_granted_exactly_what_it_needs_in_every_mode() {
    let transform =
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:mlTransform/${TransformId}";
    for mode in MODES {
        let template = template_in(mode);
        let bucket = if mode == "EventBridge" {
            json!({"Ref": "ExistingBucketName"})
        } else {
            json!({"Fn::Sub": "${AWS::StackName}-labels-${AWS::AccountId}-${AWS::Region}"})
        };
        let labels = json!({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/${LabelsPrefix}*", {"Bucket": bucket}]});
        let ledger = json!({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/${LedgerPrefix}*", {"Bucket": bucket}]});
        let whole_bucket =
            json!({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": bucket}]});
        let mut expected = vec![
            json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": {"Fn::GetAtt": ["ImportFunctionLogGroup", "Arn"]}}),
            // Label files are read and tagged, never written.
            json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging",
                                                 "s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging"],
                   "Resource": labels}),
            // The ledger: written only under its own prefix, listed only there.
            json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"],
                   "Resource": ledger}),
            json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": whole_bucket,
                   "Condition": {"StringLike": {"s3:prefix": {"Fn::Sub": "${LedgerPrefix}*"}}}}),
            json!({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}),
        ];
        if mode == "SQS" {
            expected.push(json!({"Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": {"Fn::GetAtt": ["LabelsQueue", "Arn"]}}));
        }
        expected.push(json!({"Effect": "Allow", "Action": ["glue:StartImportLabelsTaskRun", "glue:GetMLTaskRuns", "glue:GetMLTaskRun"],
                             "Resource": {"Fn::Sub": transform}}));
        assert_eq!(
            granted_statements(&template),
            expected,
            "TriggerMode {mode}"
        );
    }
    // With the teaching loop on, and only then, the loop's calls on the same transforms.
    for mode in MODES {
        let on = granted_statements(&template_with(mode, &[("TeachingLoop", "evaluate")]));
        let off = granted_statements(&template_in(mode));
        assert_eq!(on.len(), off.len() + 1, "TriggerMode {mode}");
        assert_eq!(
            on.last(),
            Some(&json!({"Effect": "Allow",
                         "Action": ["glue:StartMLEvaluationTaskRun", "glue:GetMLTransform"],
                         "Resource": {"Fn::Sub": transform}})),
            "TriggerMode {mode}"
        );
    }
    // Generating: the generation start too, and the labeling sets listed beside the ledger.
    let generating = granted_statements(&template_with(
        "SQS",
        &[("TeachingLoop", "evaluate-and-generate")],
    ));
    assert_eq!(
        generating.last().map(|s| &s["Action"]),
        Some(&json!([
            "glue:StartMLEvaluationTaskRun",
            "glue:GetMLTransform",
            "glue:StartMLLabelingSetGenerationTaskRun"
        ]))
    );
    let listing = generating
        .iter()
        .find(|s| s["Action"] == "s3:ListBucket")
        .expect("s3:ListBucket");
    assert_eq!(
        listing["Condition"]["StringLike"]["s3:prefix"],
        json!([{"Fn::Sub": "${LedgerPrefix}*"}, {"Fn::Sub": "${LabelingSetsPrefix}*"}])
    );
    // The Glue statement is repeated once per allowed transform ID.
    let template = template();
    let foreach = &template["Resources"]["Fn::ForEach::GlueImportPolicies"];
    assert_eq!(foreach[0], "TransformId");
    assert_eq!(foreach[1], json!({"Ref": "TransformIds"}));
    assert_eq!(template["Parameters"]["TransformIds"]["Default"], "*");
}

/// Every Ref, GetAtt, DependsOn and ${…} in a mode names a parameter, a pseudo parameter, a
/// resource of that mode, a Sub variable or the ForEach identifier.
#[test]
fn every_reference_exists_in_every_mode() {
    for mode in MODES {
        let template = template_in(mode);
        let mut known: HashSet<String> = template["Parameters"]
            .as_object()
            .unwrap()
            .keys()
            .chain(template["Resources"].as_object().unwrap().keys())
            .cloned()
            .collect();
        known.insert("TransformId".into());
        let mut missing = Vec::new();
        check_references(&template["Resources"], &known, &mut missing);
        check_references(&template["Outputs"], &known, &mut missing);
        for (name, r) in template["Resources"].as_object().unwrap() {
            if let Some(dep) = r["DependsOn"].as_str() {
                if !known.contains(dep) {
                    missing.push(format!("{name} DependsOn {dep}"));
                }
            }
        }
        assert!(missing.is_empty(), "TriggerMode {mode}: {missing:?}");
    }
}

fn check_references(value: &Value, known: &HashSet<String>, missing: &mut Vec<String>) {
    let exists = |name: &str, local: &HashSet<String>| {
        name.starts_with("AWS::") || known.contains(name) || local.contains(name)
    };
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                if !exists(name, &HashSet::new()) {
                    missing.push(format!("Ref {name}"));
                }
            }
            if let Some(Value::Array(args)) = map.get("Fn::GetAtt") {
                let name = args[0].as_str().unwrap_or_default();
                if !exists(name, &HashSet::new()) {
                    missing.push(format!("GetAtt {name}"));
                }
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let (text, vars) = match sub {
                    Value::String(text) => (text.as_str(), HashSet::new()),
                    Value::Array(args) => (
                        args[0].as_str().unwrap_or_default(),
                        args[1]
                            .as_object()
                            .map(|m| m.keys().cloned().collect())
                            .unwrap_or_default(),
                    ),
                    _ => ("", HashSet::new()),
                };
                for var in text.split("${").skip(1).filter_map(|s| s.split('}').next()) {
                    let name = var.split('.').next().unwrap_or_default();
                    if !var.starts_with('!') && !exists(name, &vars) {
                        missing.push(format!("Sub ${{{var}}}"));
                    }
                }
            }
            map.values()
                .for_each(|v| check_references(v, known, missing));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| check_references(v, known, missing)),
        _ => {}
    }
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
fn the_policies_and_the_bucket_agree_on_names_without_referencing_the_bucket() {
    let template = template();
    let bucket_name = &resource(&template, "LabelsBucket")["Properties"]["BucketName"]["Fn::Sub"];
    assert_eq!(
        bucket_name,
        "${AWS::StackName}-labels-${AWS::AccountId}-${AWS::Region}"
    );
    let bucket_arn = format!(
        "arn:${{AWS::Partition}}:s3:::{}",
        bucket_name.as_str().unwrap()
    );
    for mode in ["S3Notification", "SQS"] {
        let template = template_in(mode);
        let role = resource(&template, "ImportFunctionRole").to_string();
        assert!(
            role.contains(&json!({"Bucket": {"Fn::Sub": bucket_name}}).to_string()),
            "{mode}"
        );
        let source = if mode == "SQS" {
            &resource(&template, "LabelsQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
                [0]["Condition"]["ArnEquals"]["aws:SourceArn"]
        } else {
            &resource(&template, "S3InvokePermission")["Properties"]["SourceArn"]
        };
        assert_eq!(source, &json!({"Fn::Sub": bucket_arn}), "{mode}");
    }
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
        json!({"LABELS_PREFIX": {"Ref": "LabelsPrefix"}, "DEFAULT_REPLACE_ALL_LABELS": {"Ref": "DefaultReplaceAllLabels"},
               "METRICS_NAMESPACE": {"Ref": "MetricsNamespace"}, "LEDGER_PREFIX": {"Ref": "LedgerPrefix"},
               "MAX_IMPORTS_PER_TRANSFORM": {"Ref": "MaxImportsPerTransform"},
               "TEACHING_LOOP": {"Ref": "TeachingLoop"}, "LOOP_QUIET_SECONDS": {"Ref": "LoopQuietSeconds"},
               "TARGET_AUPRC": {"Fn::If": ["HasTargetAuprc", {"Ref": "TargetAuprc"}, {"Ref": "AWS::NoValue"}]},
               "PLATEAU_DELTA": {"Ref": "PlateauDelta"}, "PLATEAU_ROUNDS": {"Ref": "PlateauRounds"},
               "LABELING_SETS_PREFIX": {"Ref": "LabelingSetsPrefix"},
               "NOTIFY_TOPIC_ARN": {"Fn::If": ["CreatesNotificationTopic", {"Ref": "NotificationTopic"}, {"Ref": "NotificationTopicArn"}]},
               "LABELS_BUCKET": {"Fn::If": ["UsesEventBridge", {"Ref": "ExistingBucketName"},
                                             {"Fn::Sub": "${AWS::StackName}-labels-${AWS::AccountId}-${AWS::Region}"}]}})
    );
    assert!(
        p.get("Events").is_none(),
        "triggers are explicit resources, one set per TriggerMode"
    );
    let invoke = &p["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"], 2);
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"],
        json!({"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}})
    );
    // The function timeout leaves room for the SDK's per-call timeouts (15 s each, ~5 calls).
    assert!(p["Timeout"].as_u64().unwrap() >= 90);
    assert_eq!(
        template["Parameters"]["TriggerMode"]["Default"],
        "S3Notification"
    );
}

fn names(template: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|n| !n.starts_with("Fn::ForEach"))
        .collect();
    names.sort_unstable();
    names
}

const COMMON: [&str; 12] = [
    "Dashboard",
    "FailureQueue",
    "FailureQueueAlarm",
    "ImportFailuresAlarm",
    "ImportFunction",
    "ImportFunctionLogGroup",
    "ImportFunctionRole",
    "ImportRunFailedAlarm",
    "LabelsBucketPolicy",
    "QueuedTooLongAlarm",
    "TickInvokePermission",
    "TickRule",
];

fn key_filter() -> Value {
    json!({"S3Key": {"Rules": [{"Name": "prefix", "Value": {"Ref": "LabelsPrefix"}},
                               {"Name": "suffix", "Value": {"Ref": "LabelsSuffix"}}]}})
}

#[test]
fn s3_notification_mode_invokes_the_function_from_a_new_bucket() {
    let template = template_in("S3Notification");
    let mut want: Vec<&str> = COMMON.to_vec();
    want.extend([
        "LabelsBucket",
        "NotificationDestinationReady",
        "S3InvokePermission",
    ]);
    want.sort_unstable();
    assert_eq!(names(&template), want);
    let bucket = resource(&template, "LabelsBucket");
    assert_eq!(bucket["DependsOn"], "NotificationDestinationReady");
    assert_eq!(
        resource(&template, "NotificationDestinationReady")["Metadata"]["Destination"],
        json!({"Ref": "S3InvokePermission"})
    );
    assert_eq!(
        bucket["Properties"]["NotificationConfiguration"],
        json!({"LambdaConfigurations": [{"Event": "s3:ObjectCreated:*",
            "Function": {"Fn::GetAtt": ["ImportFunction", "Arn"]}, "Filter": key_filter()}]})
    );
    let permission = &resource(&template, "S3InvokePermission")["Properties"];
    assert_eq!(
        (
            &permission["Principal"],
            &permission["Action"],
            &permission["SourceAccount"]
        ),
        (
            &json!("s3.amazonaws.com"),
            &json!("lambda:InvokeFunction"),
            &json!({"Ref": "AWS::AccountId"})
        )
    );
}

#[test]
fn eventbridge_mode_matches_uploads_to_the_existing_bucket() {
    let template = template_in("EventBridge");
    let mut want: Vec<&str> = COMMON
        .iter()
        .copied()
        .filter(|n| *n != "LabelsBucketPolicy")
        .collect();
    want.extend([
        "EventBridgeInvokePermission",
        "FailureQueuePolicy",
        "LabelsRule",
    ]);
    want.sort_unstable();
    assert_eq!(names(&template), want, "no bucket is created");
    let rule = &resource(&template, "LabelsRule")["Properties"];
    assert_eq!(
        rule["EventPattern"],
        json!({"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": [{"Ref": "ExistingBucketName"}]},
                          "object": {"key": [{"wildcard": {"Fn::Sub": "${LabelsPrefix}*${LabelsSuffix}"}}]}}})
    );
    let target = &rule["Targets"][0];
    assert_eq!(
        target["Arn"],
        json!({"Fn::GetAtt": ["ImportFunction", "Arn"]})
    );
    assert_eq!(
        target["DeadLetterConfig"]["Arn"],
        json!({"Fn::GetAtt": ["FailureQueue", "Arn"]})
    );
    let permission = &resource(&template, "EventBridgeInvokePermission")["Properties"];
    assert_eq!(
        (&permission["Principal"], &permission["SourceArn"]),
        (
            &json!("events.amazonaws.com"),
            &json!({"Fn::GetAtt": ["LabelsRule", "Arn"]})
        )
    );
    let dead_letters =
        &resource(&template, "FailureQueuePolicy")["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        dead_letters["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(
        dead_letters["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Fn::GetAtt": ["LabelsRule", "Arn"]})
    );
    assert_eq!(
        template["Outputs"]["LabelsBucketName"]["Value"],
        json!({"Ref": "ExistingBucketName"})
    );
}

#[test]
fn sqs_mode_buffers_uploads_in_a_queue_with_a_dead_letter_queue() {
    let template = template_in("SQS");
    let mut want: Vec<&str> = COMMON.to_vec();
    want.extend([
        "LabelsBucket",
        "LabelsQueue",
        "LabelsQueueMapping",
        "LabelsQueuePolicy",
        "NotificationDestinationReady",
    ]);
    want.sort_unstable();
    assert_eq!(names(&template), want);
    let function_timeout = resource(&template, "ImportFunction")["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    let queue = &resource(&template, "LabelsQueue")["Properties"];
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * function_timeout);
    assert!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap() >= 5);
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["FailureQueue", "Arn"]})
    );
    let mapping = &resource(&template, "LabelsQueueMapping")["Properties"];
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        mapping["EventSourceArn"],
        json!({"Fn::GetAtt": ["LabelsQueue", "Arn"]})
    );
    assert_eq!(
        resource(&template, "LabelsBucket")["Properties"]["NotificationConfiguration"],
        json!({"QueueConfigurations": [{"Event": "s3:ObjectCreated:*",
            "Queue": {"Fn::GetAtt": ["LabelsQueue", "Arn"]}, "Filter": key_filter()}]})
    );
    assert_eq!(
        resource(&template, "NotificationDestinationReady")["Metadata"]["Destination"],
        json!({"Ref": "LabelsQueuePolicy"})
    );
    let statement =
        &resource(&template, "LabelsQueuePolicy")["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        (&statement["Principal"], &statement["Action"]),
        (
            &json!({"Service": "s3.amazonaws.com"}),
            &json!("sqs:SendMessage")
        )
    );
}

#[test]
fn every_mode_ticks_and_keeps_its_ledger_apart_from_the_labels() {
    let template = template();
    let p = &template["Parameters"];
    assert_eq!(
        (
            &p["LedgerPrefix"]["Default"],
            &p["TickSchedule"]["Default"],
            &p["LedgerRetentionInDays"]["Default"]
        ),
        (
            &json!("glue-label-importer/"),
            &json!("rate(1 minute)"),
            &json!(90)
        )
    );
    assert_eq!(
        (
            &p["MaxImportsPerTransform"]["Default"],
            &p["MaxImportsPerTransform"]["AllowedValues"],
            &p["QueueAlarmMinutes"]["Default"]
        ),
        (&json!(1), &json!([1, 2, 3]), &json!(30))
    );
    for mode in MODES {
        let template = template_in(mode);
        let rule = &resource(&template, "TickRule")["Properties"];
        assert_eq!(
            rule["ScheduleExpression"],
            json!({"Ref": "TickSchedule"}),
            "{mode}"
        );
        assert_eq!(
            rule["Targets"][0]["Arn"],
            json!({"Fn::GetAtt": ["ImportFunction", "Arn"]}),
            "{mode}"
        );
        let permission = &resource(&template, "TickInvokePermission")["Properties"];
        assert_eq!(
            (&permission["Principal"], &permission["SourceArn"]),
            (
                &json!("events.amazonaws.com"),
                &json!({"Fn::GetAtt": ["TickRule", "Arn"]})
            ),
            "{mode}"
        );
        let alarm = &resource(&template, "ImportRunFailedAlarm")["Properties"];
        assert_eq!(
            (
                &alarm["MetricName"],
                &alarm["Namespace"],
                &alarm["Threshold"],
                &alarm["ComparisonOperator"]
            ),
            (
                &json!("ImportFailed"),
                &json!({"Ref": "MetricsNamespace"}),
                &json!(0),
                &json!("GreaterThanThreshold")
            ),
            "{mode}"
        );
        let queued = &resource(&template, "QueuedTooLongAlarm")["Properties"];
        assert_eq!(
            (
                &queued["Metrics"][0]["MetricStat"]["Metric"]["MetricName"],
                &queued["Metrics"][0]["MetricStat"]["Stat"],
                &queued["Metrics"][1]["Expression"],
                &queued["Threshold"],
            ),
            (
                &json!("OldestQueuedSeconds"),
                &json!("Maximum"),
                &json!("oldest / 60"),
                &json!({"Ref": "QueueAlarmMinutes"})
            ),
            "{mode}"
        );
        let env = &resource(&template, "ImportFunction")["Properties"]["Environment"]["Variables"];
        assert_eq!(
            env["MAX_IMPORTS_PER_TRANSFORM"],
            json!({"Ref": "MaxImportsPerTransform"}),
            "{mode}"
        );
        // No statement lets the function write under the labels prefix.
        for statement in granted_statements(&template) {
            let text = statement.to_string();
            if text.contains("s3:PutObject\"") {
                assert!(!text.contains("LabelsPrefix"), "{mode}: {statement}");
            }
        }
    }
    let rules =
        &resource(&template, "LabelsBucket")["Properties"]["LifecycleConfiguration"]["Rules"];
    let finished = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == "expire-finished-ledger-entries")
        .expect("a rule for finished entries");
    assert_eq!(
        (
            &finished["Prefix"],
            &finished["TagFilters"],
            &finished["ExpirationInDays"]
        ),
        (
            &json!({"Fn::Sub": "${LedgerPrefix}entries/"}),
            &json!([{"Key": "glue-label-importer-entry", "Value": "finished"}]),
            &json!({"Ref": "LedgerRetentionInDays"})
        )
    );
    let claims = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == "expire-notification-claims")
        .expect("a rule for the notifications' claims");
    assert_eq!(
        (&claims["Prefix"], &claims["ExpirationInDays"]),
        (
            &json!({"Fn::Sub": "${LedgerPrefix}notifications/"}),
            &json!({"Ref": "LedgerRetentionInDays"})
        )
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build(),
    );
    let ledger = glue_label_importer::lifecycle::ledger::Ledger::new(&s3, "bkt", "L/");
    assert!(
        ledger
            .notification_key("tfm", "x")
            .starts_with("L/notifications/"),
        "the function writes its claims where the rule expires them"
    );
    assert_eq!(
        glue_label_importer::lifecycle::entry::FINISHED_TAG,
        ("glue-label-importer-entry", "finished"),
        "the function tags what the rule expires"
    );
}

/// A deployment's values as the tests see them: the parameters (set, or the template's
/// defaults), pseudo parameters, and stand-ins for what only exists once deployed: `ref:<name>`
/// for a resource's `Ref`, `getatt:<name>.<attribute>` for its attributes.
struct Deployment {
    template: Value,
    params: HashMap<&'static str, String>,
}

impl Deployment {
    fn new(mode: &str, set: &[(&'static str, &str)]) -> Self {
        Self {
            template: template_with(mode, set),
            params: parameters_with(mode, set),
        }
    }

    fn reference(&self, name: &str) -> String {
        let pseudo = match name {
            "AWS::StackName" => Some("glue-labels"),
            "AWS::Region" => Some("eu-west-1"),
            "AWS::AccountId" => Some("123456789012"),
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return value.into();
        }
        if let Some(value) = self.params.get(name) {
            return value.clone();
        }
        let default = &self.template["Parameters"][name]["Default"];
        match default {
            Value::String(s) => return s.clone(),
            Value::Number(n) => return n.to_string(),
            _ => {}
        }
        assert!(
            self.template["Resources"].get(name).is_some(),
            "Ref {name}: no parameter, and no resource in this deployment"
        );
        format!("ref:{name}")
    }

    fn attribute(&self, resource: &str, attribute: &str) -> String {
        assert!(
            self.template["Resources"].get(resource).is_some(),
            "GetAtt {resource}.{attribute}: no such resource in this deployment"
        );
        format!("getatt:{resource}.{attribute}")
    }

    /// The string a `Ref`, `Fn::GetAtt`, `Fn::Sub` or plain string resolves to.
    fn string(&self, node: &Value) -> String {
        if let Some(s) = node.as_str() {
            return s.into();
        }
        if let Some(name) = node["Ref"].as_str() {
            return self.reference(name);
        }
        if let Some([resource, attribute]) = node["Fn::GetAtt"].as_array().map(Vec::as_slice) {
            return self.attribute(
                resource.as_str().expect("resource"),
                attribute.as_str().expect("attribute"),
            );
        }
        match &node["Fn::Sub"] {
            Value::String(text) => self.substitute(text, &Map::new()),
            Value::Array(args) => self.substitute(
                args[0].as_str().expect("Sub text"),
                args[1].as_object().expect("Sub variables"),
            ),
            _ => panic!("not a string this test can resolve: {node}"),
        }
    }

    fn substitute(&self, text: &str, variables: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            rest = &rest[at + 2..];
            if let Some(literal) = rest.strip_prefix('!') {
                out.push_str("${");
                rest = literal;
                continue;
            }
            let end = rest.find('}').expect("${ without }");
            let name = &rest[..end];
            rest = &rest[end + 1..];
            let value = match (variables.get(name), name.split_once('.')) {
                (Some(value), _) => self.string(value),
                (None, Some((resource, attribute))) if !name.starts_with("AWS::") => {
                    self.attribute(resource, attribute)
                }
                _ => self.reference(name),
            };
            out.push_str(&value);
        }
        out + rest
    }

    fn resources_of_type(&self, kind: &str) -> Vec<&str> {
        self.template["Resources"]
            .as_object()
            .expect("resources")
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:team-labeling-news";
const EMAIL: &str = "labelers@example.com";

/// NotificationEmail alone: a new topic with the email subscribed. NotificationTopicArn: that
/// topic (and the email subscribed to it, if given). Neither: no topic, NOTIFY_TOPIC_ARN empty.
/// The function may publish to that topic and nothing else, and only when there is one.
#[test]
fn notifications_go_to_one_topic_and_only_it_may_be_published_to() {
    for mode in MODES {
        let without = granted_statements(&template_in(mode));
        for (email, topic) in [("", ""), (EMAIL, ""), ("", TOPIC), (EMAIL, TOPIC)] {
            let case =
                format!("{mode}, NotificationEmail {email:?}, NotificationTopicArn {topic:?}");
            let d = Deployment::new(
                mode,
                &[
                    ("NotificationEmail", email),
                    ("NotificationTopicArn", topic),
                ],
            );
            let creates = !email.is_empty() && topic.is_empty();
            let arn = if creates {
                "ref:NotificationTopic".to_string()
            } else {
                topic.to_string()
            };

            let created: Vec<&str> = d.resources_of_type("AWS::SNS::Topic");
            assert_eq!(
                created,
                if creates {
                    vec!["NotificationTopic"]
                } else {
                    vec![]
                },
                "{case}"
            );
            if creates {
                assert_eq!(
                    resource(&d.template, "NotificationTopic")["Properties"]["KmsMasterKeyId"],
                    "alias/aws/sns",
                    "{case}: the topic is encrypted"
                );
            }
            let subscriptions: Vec<(String, String, String)> = d
                .resources_of_type("AWS::SNS::Subscription")
                .into_iter()
                .map(|name| {
                    let p = &resource(&d.template, name)["Properties"];
                    (
                        d.string(&p["Protocol"]),
                        d.string(&p["Endpoint"]),
                        d.string(&p["TopicArn"]),
                    )
                })
                .collect();
            let expected = if email.is_empty() {
                vec![]
            } else {
                vec![("email".to_string(), email.to_string(), arn.clone())]
            };
            assert_eq!(subscriptions, expected, "{case}");

            let env =
                &resource(&d.template, "ImportFunction")["Properties"]["Environment"]["Variables"];
            assert_eq!(d.string(&env["NOTIFY_TOPIC_ARN"]), arn, "{case}");

            let statements = granted_statements(&d.template);
            let (sns, others): (Vec<Value>, Vec<Value>) = statements
                .into_iter()
                .partition(|s| s.to_string().contains("\"sns:"));
            assert_eq!(
                others, without,
                "{case}: the other statements do not change"
            );
            if arn.is_empty() {
                assert!(
                    sns.is_empty(),
                    "{case}: no topic, no SNS permission: {sns:?}"
                );
            } else {
                assert_eq!(sns.len(), 1, "{case}: {sns:?}");
                let statement = &sns[0];
                assert_eq!(
                    (&statement["Effect"], &statement["Action"]),
                    (&json!("Allow"), &json!("sns:Publish")),
                    "{case}"
                );
                assert!(statement.get("Condition").is_none(), "{case}");
                assert_eq!(
                    d.string(&statement["Resource"]),
                    arn,
                    "{case}: that topic's ARN only"
                );
            }
            // No other SNS action anywhere (a topic policy, another role).
            let text = d.template.to_string();
            assert_eq!(
                text.matches("\"sns:").count(),
                usize::from(!arn.is_empty()),
                "{case}"
            );

            let output = &d.template["Outputs"]["NotifyTopicArn"];
            if arn.is_empty() {
                assert!(output.is_null(), "{case}");
            } else {
                assert_eq!(d.string(&output["Value"]), arn, "{case}");
            }
        }
    }
    let p = &template()["Parameters"];
    for name in ["NotificationEmail", "NotificationTopicArn"] {
        assert_eq!(p[name]["Default"], "", "{name} is off by default");
    }
}

/// Every parameter is in exactly one group of the console's parameter form.
#[test]
fn every_parameter_has_its_place_in_the_console_form() {
    let template = template();
    let mut grouped = Vec::new();
    for group in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        .as_array()
        .expect("parameter groups")
    {
        for name in group["Parameters"]
            .as_array()
            .expect("a group's parameters")
        {
            grouped.push(name.as_str().expect("a parameter name").to_string());
        }
    }
    let unique: BTreeSet<String> = grouped.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        grouped.len(),
        "a parameter in two groups: {grouped:?}"
    );
    let declared: BTreeSet<String> = template["Parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .cloned()
        .collect();
    assert_eq!(unique, declared);
}

/// A metric: its namespace, its name and its dimension names, sorted.
type MetricKey = (String, String, Vec<String>);

/// Every metric the function's EMF lines define, read from the real emitter with every
/// optional metric present: the invocation's line and a round's line.
fn emitted_metrics(namespace: &str, function_name: &str) -> BTreeSet<MetricKey> {
    use glue_label_importer::lifecycle::entry::ImportState;
    use glue_label_importer::metrics::{Metrics, RoundFigures};
    let mut metrics = Metrics::default();
    metrics.import_ended(ImportState::Succeeded, Some(1.0));
    metrics.queue(1, 2.0);
    metrics.round_evaluated(RoundFigures {
        transform_id: "tfm-1".into(),
        area_under_pr_curve: Some(0.9),
        precision: Some(0.9),
        recall: Some(0.9),
        f1: Some(0.9),
        label_count: Some(100),
    });
    let lines = std::iter::once(metrics.to_emf(namespace, function_name, 0))
        .chain(metrics.rounds_to_emf(namespace, 0));
    let mut emitted = BTreeSet::new();
    for line in lines {
        for directive in line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("metric directives")
        {
            let namespace = directive["Namespace"].as_str().expect("a namespace");
            for dimensions in directive["Dimensions"].as_array().expect("dimension sets") {
                let mut names: Vec<String> = dimensions
                    .as_array()
                    .expect("a dimension set")
                    .iter()
                    .map(|d| d.as_str().expect("a dimension name").to_string())
                    .collect();
                names.sort_unstable();
                for name in &names {
                    assert!(line.get(name).is_some(), "the line carries {name}'s value");
                }
                for metric in directive["Metrics"].as_array().expect("metric definitions") {
                    let name = metric["Name"].as_str().expect("a metric name");
                    emitted.insert((namespace.to_string(), name.to_string(), names.clone()));
                }
            }
        }
    }
    emitted
}

/// A metric a widget draws: fixed (with its dimension values) or found by a metric search.
#[derive(Debug)]
struct Drawn {
    widget: String,
    key: MetricKey,
    values: Vec<(String, String)>,
    search: bool,
}

/// The metrics one SEARCH('{namespace,dimensions} MetricName="name"', …) expression finds.
fn searched(widget: &str, expression: &str) -> Vec<Drawn> {
    let mut drawn = Vec::new();
    let mut rest = expression;
    while let Some(at) = rest.find("SEARCH(") {
        let query = rest[at + "SEARCH(".len()..]
            .trim_start()
            .strip_prefix('\'')
            .unwrap_or_else(|| panic!("{widget}: SEARCH's query is a '…' string: {expression}"));
        let end = query.find('\'').expect("the query's closing '");
        let (query, after) = (&query[..end], &query[end + 1..]);
        let open = query
            .find('{')
            .unwrap_or_else(|| panic!("{widget}: a search names its schema: {query}"));
        let close = open + query[open..].find('}').expect("the schema's }");
        let schema: Vec<&str> = query[open + 1..close].split(',').map(str::trim).collect();
        let namespace = schema[0]
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{widget}: the namespace is quoted: {query}"));
        let mut dimensions: Vec<String> = schema[1..]
            .iter()
            .map(|d| d.trim_matches('"').to_string())
            .collect();
        dimensions.sort_unstable();
        let terms = &query[close + 1..];
        let names: Vec<&str> = terms
            .match_indices("MetricName=\"")
            .map(|(i, m)| {
                let name = &terms[i + m.len()..];
                &name[..name.find('"').expect("the name's closing quote")]
            })
            .collect();
        assert_eq!(
            names.len(),
            1,
            "{widget}: a search names one metric: {query}"
        );
        drawn.push(Drawn {
            widget: widget.into(),
            key: (namespace.into(), names[0].into(), dimensions),
            values: Vec::new(),
            search: true,
        });
        rest = after;
    }
    drawn
}

/// Every metric the dashboard draws, and the alarms its alarm widgets show.
fn dashboard_contents(body: &Value) -> (Vec<Drawn>, Vec<String>) {
    let mut drawn = Vec::new();
    let mut alarms = Vec::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let p = &widget["properties"];
        let title = p["title"].as_str().unwrap_or_default().to_string();
        match widget["type"].as_str().expect("a widget type") {
            "metric" => {
                assert_eq!(p["region"], "eu-west-1", "{title}: the stack's region");
                for row in p["metrics"].as_array().expect("a metrics array") {
                    let row = row.as_array().expect("a metric row");
                    if let Some(expression) = row[0]["expression"].as_str() {
                        drawn.extend(searched(&title, expression));
                        continue;
                    }
                    let strings: Vec<String> = row
                        .iter()
                        .map_while(|v| v.as_str().map(String::from))
                        .collect();
                    assert!(
                        strings.len() >= 2 && strings.len().is_multiple_of(2),
                        "{title}: a metric row is namespace, name, then dimension pairs: {row:?}"
                    );
                    let values: Vec<(String, String)> = strings[2..]
                        .chunks(2)
                        .map(|pair| (pair[0].clone(), pair[1].clone()))
                        .collect();
                    let mut dimensions: Vec<String> =
                        values.iter().map(|(name, _)| name.clone()).collect();
                    dimensions.sort_unstable();
                    drawn.push(Drawn {
                        widget: title.clone(),
                        key: (strings[0].clone(), strings[1].clone(), dimensions),
                        values,
                        search: false,
                    });
                }
            }
            "alarm" => alarms.extend(
                p["alarms"]
                    .as_array()
                    .expect("an alarm list")
                    .iter()
                    .map(|a| a.as_str().expect("an alarm ARN").to_string()),
            ),
            "text" => {}
            other => panic!("a widget of type {other} is not checked here"),
        }
    }
    (drawn, alarms)
}

/// The dashboard draws only metrics the function emits, in `MetricsNamespace` and with the
/// same dimensions (the function's name; each transform through a search on `TransformId`),
/// draws every figure the issue asks for, and shows exactly the deployment's alarms.
#[test]
fn the_dashboard_draws_what_the_function_emits_and_shows_every_alarm() {
    let namespace = "Team/Glue labels";
    let mut checked = 0;
    for mode in MODES {
        for set in [
            vec![("MetricsNamespace", namespace)],
            vec![
                ("MetricsNamespace", namespace),
                ("TeachingLoop", "evaluate-and-generate"),
                ("NotificationEmail", EMAIL),
            ],
        ] {
            let d = Deployment::new(mode, &set);
            let dashboard = &resource(&d.template, "Dashboard")["Properties"];
            assert_eq!(
                d.string(&dashboard["DashboardName"]),
                "glue-labels-glue-label-importer"
            );
            let text = d.string(&dashboard["DashboardBody"]);
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{mode}: the body is not JSON ({e}):\n{text}"));
            let function_name =
                d.string(&resource(&d.template, "ImportFunction")["Properties"]["FunctionName"]);
            let emitted = emitted_metrics(namespace, &function_name);
            let (drawn, alarms) = dashboard_contents(&body);

            for metric in &drawn {
                assert!(
                    emitted.contains(&metric.key),
                    "{mode}: widget {:?} draws {:?}, which the function does not emit; it emits {emitted:?}",
                    metric.widget,
                    metric.key
                );
                for (dimension, value) in &metric.values {
                    assert_eq!(
                        (dimension.as_str(), value),
                        ("FunctionName", &function_name),
                        "{mode}: widget {:?} names the stack's function",
                        metric.widget
                    );
                }
                checked += 1;
            }

            let fixed: BTreeSet<&str> = drawn
                .iter()
                .filter(|m| !m.search && m.key.2 == ["FunctionName"])
                .map(|m| m.key.1.as_str())
                .collect();
            for name in [
                "Imported",
                "ImportQueued",
                "Failed",
                "Skipped",
                "ImportSucceeded",
                "ImportFailed",
                "ImportSeconds",
                "Queued",
                "OldestQueuedSeconds",
            ] {
                assert!(fixed.contains(name), "{mode}: the dashboard draws {name}");
            }
            // Each figure of a round, per transform: a search, never one fixed transform.
            let per_round: BTreeSet<&str> = emitted
                .iter()
                .filter(|(_, _, dimensions)| dimensions == &["TransformId"])
                .map(|(_, name, _)| name.as_str())
                .collect();
            assert_eq!(
                per_round,
                BTreeSet::from([
                    "AreaUnderPRCurve",
                    "Precision",
                    "Recall",
                    "F1",
                    "LabelCount"
                ])
            );
            let searched: BTreeSet<&str> = drawn
                .iter()
                .filter(|m| m.search && m.key.2 == ["TransformId"])
                .map(|m| m.key.1.as_str())
                .collect();
            assert_eq!(
                searched, per_round,
                "{mode}: every round figure per transform"
            );
            assert!(
                drawn.iter().all(|m| m.search || m.key.2 != ["TransformId"]),
                "{mode}: no widget is tied to one transform"
            );

            let mut shown: Vec<String> = alarms;
            shown.sort_unstable();
            let mut deployed: Vec<String> = d
                .resources_of_type("AWS::CloudWatch::Alarm")
                .into_iter()
                .map(|name| d.attribute(name, "Arn"))
                .collect();
            deployed.sort_unstable();
            assert!(deployed.len() >= 4, "{mode}: {deployed:?}");
            assert_eq!(
                shown, deployed,
                "{mode}: the alarm widget shows every alarm"
            );
        }
    }
    assert!(checked > 50, "{checked} metrics checked");
}
