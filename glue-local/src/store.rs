//! ML transforms and their task runs, in memory, with Glue's documented behaviour.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::findmatches::{self, Table, TableRequest};
use crate::labels::count_labels;

/// Settings of a glue-local instance.
#[derive(Debug, Clone)]
pub struct Settings {
    pub account_id: String,
    /// Glue's label-file quota (10 MB by default).
    pub label_file_limit_mb: u64,
    /// How long an import task run takes, from STARTING to its final status.
    pub task_run_duration: Duration,
    /// How long a labeling-set generation task run takes (they are long in Glue: minutes).
    pub generation_run_duration: Duration,
    /// How long an evaluation task run takes.
    pub evaluation_run_duration: Duration,
    /// The `LabelCount` from which a transform is `READY` ([`crate::findmatches`]).
    pub ready_label_count: i64,
    /// Glue's quota of concurrent ML task runs per transform, every task type counted
    /// (L-E15CE20A, 3 by default); 0 turns the check off.
    pub max_runs_per_transform: u32,
    /// The error a start beyond the quota gets (Glue's documents name
    /// `ConcurrentRunsExceededException`; `ResourceNumberLimitExceededException` is also seen).
    pub quota_error: String,
}

/// The error codes a start beyond the per-transform quota may get.
pub const QUOTA_ERRORS: [&str; 2] = [
    "ConcurrentRunsExceededException",
    "ResourceNumberLimitExceededException",
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            account_id: "123456789012".into(),
            label_file_limit_mb: 10,
            task_run_duration: Duration::from_millis(600),
            generation_run_duration: Duration::from_secs(5),
            evaluation_run_duration: Duration::from_secs(2),
            ready_label_count: 10,
            max_runs_per_transform: 3,
            quota_error: QUOTA_ERRORS[0].into(),
        }
    }
}

/// The quota as the admin endpoint sets it at run time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Quota {
    pub max_runs_per_transform: u32,
    #[serde(default = "default_quota_error")]
    pub error: String,
}

fn default_quota_error() -> String {
    QUOTA_ERRORS[0].into()
}

/// Tag that pins a new transform's ID, so sample events can name it (glue-local only).
pub const PIN_ID_TAG: &str = "glue-local:transform-id";

/// An error as Glue sends it: `__type` code and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueError {
    pub code: String,
    pub message: String,
}

impl GlueError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        GlueError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidInputException", message)
    }

    /// HTTP status: 500 for InternalServiceException, 503 for ServiceUnavailableException, else 400.
    pub fn status(&self) -> u16 {
        match self.code.as_str() {
            "InternalServiceException" => 500,
            "ServiceUnavailableException" => 503,
            _ => 400,
        }
    }
}

type Result<T> = std::result::Result<T, GlueError>;

#[derive(Debug, Clone)]
struct Transform {
    id: String,
    created_on: f64,
    last_modified_on: f64,
    label_count: i64,
    /// The latest evaluation's `FindMatchesMetrics`.
    evaluation_metrics: Option<Map<String, Value>>,
    /// Labeling-set generations that ended SUCCEEDED: where the next file starts.
    generations: usize,
    /// The CreateMLTransform request, echoed by GetMLTransform.
    request: Map<String, Value>,
}

impl Transform {
    fn find_matches_parameter(&self, member: &str) -> Option<&Value> {
        self.request
            .get("Parameters")
            .and_then(|p| p.get("FindMatchesParameters"))
            .and_then(|p| p.get(member))
    }

    /// The input record table, `(DatabaseName, TableName)`.
    fn table_name(&self) -> (String, String) {
        let table = self.request.get("InputRecordTables").and_then(|t| t.get(0));
        let member = |name: &str| {
            table
                .and_then(|t| t.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        (member("DatabaseName"), member("TableName"))
    }
}

#[derive(Debug, Clone)]
struct TaskRun {
    id: String,
    transform_id: String,
    /// `IMPORT_LABELS`, `EVALUATION` or `LABELING_SET_GENERATION`.
    task_type: &'static str,
    status: &'static str,
    /// The label file (import) or the output path (labeling-set generation); empty for an
    /// evaluation.
    input_s3_path: String,
    replace: bool,
    started_on: f64,
    last_modified_on: f64,
    completed_on: Option<f64>,
    error_string: Option<String>,
}

impl TaskRun {
    /// A new run of `task_type`, STARTING now (`path`: the label file, or the output path).
    fn starting(transform_id: String, task_type: &'static str, path: &str) -> TaskRun {
        let at = now();
        TaskRun {
            id: new_id("tsk-"),
            transform_id,
            task_type,
            status: "STARTING",
            input_s3_path: path.to_string(),
            replace: false,
            started_on: at,
            last_modified_on: at,
            completed_on: None,
            error_string: None,
        }
    }
}

/// A fault to inject: the next `count` calls of `operation` (any when `None`) fail. With
/// `lost_answer` the call takes effect first and only its answer is the error (a start that
/// began a run but answered 500, say).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub operation: Option<String>,
    pub error: String,
    #[serde(default = "one")]
    pub count: u32,
    pub message: Option<String>,
    #[serde(default)]
    pub lost_answer: bool,
}

/// How the next run(s) of `task_type` end, whatever their input holds: `status` FAILED or
/// TIMEOUT with Glue's `error_string`, or, for an evaluation, SUCCEEDED with these `metrics`
/// (a `FindMatchesMetrics` object; members left out stay absent). The run is picked by its
/// label file (`input_s3_path`, imports), its `output_s3_path` (generations) or its
/// `transform_id`; a member left out matches any.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunOutcome {
    #[serde(default = "import_labels")]
    pub task_type: String,
    pub transform_id: Option<String>,
    pub input_s3_path: Option<String>,
    pub output_s3_path: Option<String>,
    pub status: String,
    pub error_string: Option<String>,
    pub metrics: Option<Map<String, Value>>,
    #[serde(default = "one")]
    pub count: u32,
}

impl RunOutcome {
    /// A FAILED or TIMEOUT end of the next import of `input_s3_path` (any file when `None`).
    pub fn import(
        input_s3_path: Option<String>,
        status: &str,
        error_string: Option<String>,
    ) -> Self {
        RunOutcome {
            task_type: import_labels(),
            transform_id: None,
            input_s3_path,
            output_s3_path: None,
            status: status.to_string(),
            error_string,
            metrics: None,
            count: one(),
        }
    }

    fn matches(&self, run: &TaskRun) -> bool {
        let path = match run.task_type {
            "IMPORT_LABELS" => &self.input_s3_path,
            "LABELING_SET_GENERATION" => &self.output_s3_path,
            _ => &None,
        };
        self.count > 0
            && self.task_type == run.task_type
            && self
                .transform_id
                .as_ref()
                .is_none_or(|t| *t == run.transform_id)
            && path.as_ref().is_none_or(|p| *p == run.input_s3_path)
    }
}

/// How a run ends when an outcome is forced on it.
#[derive(Debug, Clone)]
struct Forced {
    status: &'static str,
    error_string: Option<String>,
    metrics: Option<Map<String, Value>>,
}

fn one() -> u32 {
    1
}

fn import_labels() -> String {
    "IMPORT_LABELS".into()
}

/// As the admin endpoint reads an object of `{"error"}` alone: one call, no message, the
/// call itself not taken.
impl Default for Fault {
    fn default() -> Self {
        Fault {
            operation: None,
            error: String::new(),
            count: one(),
            message: None,
            lost_answer: false,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    transforms: BTreeMap<String, Transform>,
    runs: BTreeMap<String, TaskRun>,
    faults: Vec<Fault>,
    outcomes: Vec<RunOutcome>,
    calls: BTreeMap<String, u64>,
    /// The quota in force (from the settings, changed by the admin endpoint).
    quota: Option<Quota>,
    /// Starts refused for the quota.
    refused: u64,
    /// Source records per `(DatabaseName, TableName)`, as `POST /_glue-local/tables` set them.
    tables: BTreeMap<(String, String), Table>,
}

/// The endpoint's state: shared by the server and the task-run timers.
pub struct Store {
    pub settings: Settings,
    s3: aws_sdk_s3::Client,
    inner: Mutex<Inner>,
}

/// Timestamps travel as epoch seconds in a double; compare them to the millisecond, so a time
/// read back from a response and sent in a filter equals the original.
fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0)
}

/// `prefix` + 40 random lower-case hex digits, the shape of Glue's IDs.
fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 20];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => format!(
            "{prefix}{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        Err(_) => format!("{prefix}{:040x}", now().to_bits()),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a Value) -> Result<T> {
    T::deserialize(body).map_err(|e| GlueError::new("SerializationException", e.to_string()))
}

fn required<'a>(value: &'a Option<String>, member: &str) -> Result<&'a str> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(GlueError::invalid(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransformRef {
    transform_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskRunRef {
    transform_id: Option<String>,
    task_run_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartImport {
    transform_id: Option<String>,
    input_s3_path: Option<String>,
    replace_all_labels: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartEvaluation {
    transform_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartGeneration {
    transform_id: Option<String>,
    output_s3_path: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Page {
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RunFilter {
    task_run_type: Option<String>,
    status: Option<String>,
    started_before: Option<f64>,
    started_after: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RunSort {
    column: String,
    sort_direction: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRuns {
    transform_id: Option<String>,
    #[serde(flatten)]
    page: Page,
    filter: Option<RunFilter>,
    sort: Option<RunSort>,
}

impl Store {
    pub fn new(settings: Settings, s3: aws_sdk_s3::Client) -> Arc<Self> {
        Arc::new(Store {
            settings,
            s3,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets every transform, task run, fault and call count (the quota goes back to the
    /// settings').
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// Changes the per-transform quota (0 turns it off) and the error a refused start gets.
    pub fn set_quota(&self, quota: Quota) -> Result<()> {
        if !QUOTA_ERRORS.contains(&quota.error.as_str()) {
            return Err(GlueError::invalid(format!(
                "quota error {} is none of {QUOTA_ERRORS:?}",
                quota.error
            )));
        }
        self.lock().quota = Some(quota);
        Ok(())
    }

    /// How many starts were refused for the quota.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    /// Refuses a start when the transform's active runs (STARTING, RUNNING, STOPPING; any task
    /// type) fill the quota. Called with the lock held, right before the run is added.
    fn check_quota(&self, inner: &mut Inner, transform_id: &str) -> Result<()> {
        let (limit, error) = match &inner.quota {
            Some(q) => (q.max_runs_per_transform, q.error.clone()),
            None => (
                self.settings.max_runs_per_transform,
                self.settings.quota_error.clone(),
            ),
        };
        let active = inner
            .runs
            .values()
            .filter(|r| r.transform_id == transform_id)
            .filter(|r| matches!(r.status, "STARTING" | "RUNNING" | "STOPPING"))
            .count();
        if limit == 0 || active < limit as usize {
            return Ok(());
        }
        inner.refused += 1;
        Err(GlueError::new(
            &error,
            format!(
                "ML Task Runs count {} has exceeded the transform limit of {limit} task runs.",
                active + 1
            ),
        ))
    }

    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Makes the next run(s) that `outcome` picks end as it says.
    pub fn add_outcome(&self, outcome: RunOutcome) -> Result<()> {
        if !matches!(
            outcome.task_type.as_str(),
            "IMPORT_LABELS" | "EVALUATION" | "LABELING_SET_GENERATION"
        ) {
            return Err(GlueError::invalid(format!(
                "taskType {} cannot be forced: use IMPORT_LABELS, EVALUATION or LABELING_SET_GENERATION",
                outcome.task_type
            )));
        }
        let succeeds = outcome.status == "SUCCEEDED" && outcome.task_type == "EVALUATION";
        if !(succeeds || matches!(outcome.status.as_str(), "FAILED" | "TIMEOUT")) {
            return Err(GlueError::invalid(format!(
                "status {} cannot be forced on {}: use FAILED or TIMEOUT{}",
                outcome.status,
                outcome.task_type,
                if outcome.task_type == "EVALUATION" {
                    ", or SUCCEEDED with metrics"
                } else {
                    ""
                }
            )));
        }
        if outcome.metrics.is_some() != succeeds {
            return Err(GlueError::invalid(
                "metrics go with status SUCCEEDED of an EVALUATION, and only there",
            ));
        }
        self.lock().outcomes.push(outcome);
        Ok(())
    }

    /// The forced end of `run`, if one is due.
    fn take_outcome(&self, run: &TaskRun) -> Option<Forced> {
        let mut inner = self.lock();
        let index = inner.outcomes.iter().position(|o| o.matches(run))?;
        let outcome = &mut inner.outcomes[index];
        outcome.count -= 1;
        let status = match outcome.status.as_str() {
            "TIMEOUT" => "TIMEOUT",
            "SUCCEEDED" => "SUCCEEDED",
            _ => "FAILED",
        };
        let error_string = (status != "SUCCEEDED").then(|| {
            outcome
                .error_string
                .clone()
                .unwrap_or_else(|| format!("Injected {status}."))
        });
        Some(Forced {
            status,
            error_string,
            metrics: outcome.metrics.clone(),
        })
    }

    /// Sets the source records of a catalog table (`POST /_glue-local/tables`).
    pub fn set_table(&self, request: TableRequest) -> Result<()> {
        let table = Table::from_csv(&request.csv).map_err(GlueError::invalid)?;
        self.lock()
            .tables
            .insert((request.database_name, request.table_name), table);
        Ok(())
    }

    /// A transform's source records: its table's, or the synthetic ones.
    fn table_of(inner: &Inner, transform: &Transform) -> Table {
        inner
            .tables
            .get(&transform.table_name())
            .cloned()
            .unwrap_or_else(findmatches::synthetic_table)
    }

    /// How many times each operation was called (faulted calls included).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// Counts the call and answers with an injected fault, if one is due (and whether the
    /// call takes effect before the fault is answered).
    pub fn take_fault(&self, operation: &str) -> Option<(GlueError, bool)> {
        let mut inner = self.lock();
        *inner.calls.entry(operation.to_string()).or_default() += 1;
        let index = inner
            .faults
            .iter()
            .position(|f| f.count > 0 && f.operation.as_deref().is_none_or(|op| op == operation))?;
        let fault = &mut inner.faults[index];
        fault.count -= 1;
        let message = fault
            .message
            .clone()
            .unwrap_or_else(|| match fault.error.as_str() {
                "ThrottlingException" => "Rate exceeded".into(),
                "InternalServiceException" => "Internal service error.".into(),
                other => format!("Injected {other}."),
            });
        Some((GlueError::new(&fault.error, message), fault.lost_answer))
    }

    /// Runs one operation of the Glue API ([`OPERATIONS`]).
    pub async fn call(self: &Arc<Self>, operation: &str, body: &Value) -> Result<Value> {
        match operation {
            "CreateMLTransform" => self.create_transform(body),
            "GetMLTransform" => self.get_transform(body),
            "ListMLTransforms" => self.list_transforms(body),
            "DeleteMLTransform" => self.delete_transform(body),
            "StartImportLabelsTaskRun" => self.start_import(body).await,
            "StartMLLabelingSetGenerationTaskRun" => self.start_generation(body),
            "StartMLEvaluationTaskRun" => self.start_evaluation(body),
            "GetMLTaskRun" => self.get_task_run(body),
            "GetMLTaskRuns" => self.get_task_runs(body),
            "CancelMLTaskRun" => self.cancel_task_run(body),
            other => Err(GlueError::new(
                "UnknownOperationException",
                format!("glue-local does not implement AWSGlue.{other}"),
            )),
        }
    }

    fn not_found(&self, transform_id: &str) -> GlueError {
        GlueError::new(
            "EntityNotFoundException",
            format!(
                "Cannot find MLTransform in account {} with handle {transform_id}.",
                self.settings.account_id
            ),
        )
    }

    fn transform_id<'a>(&self, inner: &Inner, id: &'a Option<String>) -> Result<&'a str> {
        let id = required(id, "transformId")?;
        if inner.transforms.contains_key(id) {
            Ok(id)
        } else {
            Err(self.not_found(id))
        }
    }

    fn create_transform(&self, body: &Value) -> Result<Value> {
        let request = body.as_object().cloned().unwrap_or_default();
        let text = |member: &str| request.get(member).and_then(Value::as_str).unwrap_or("");
        let name = text("Name").to_string();
        if name.is_empty() {
            return Err(GlueError::invalid(
                "A name is required for the ML transform.",
            ));
        }
        if text("Role").is_empty() {
            return Err(GlueError::invalid(
                "A role is required for the ML transform.",
            ));
        }
        let tables = request.get("InputRecordTables").and_then(Value::as_array);
        if tables.is_none_or(|t| t.len() != 1) {
            return Err(GlueError::invalid(
                "Exactly one input record table is required.",
            ));
        }
        let parameters = request.get("Parameters");
        if parameters
            .and_then(|p| p.get("TransformType"))
            .and_then(Value::as_str)
            != Some("FIND_MATCHES")
        {
            return Err(GlueError::invalid(
                "Parameters.TransformType must be FIND_MATCHES.",
            ));
        }
        let pinned = request
            .get("Tags")
            .and_then(|t| t.get(PIN_ID_TAG))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut inner = self.lock();
        if inner
            .transforms
            .values()
            .any(|t| t.request.get("Name").and_then(Value::as_str) == Some(&name))
        {
            return Err(GlueError::new(
                "AlreadyExistsException",
                format!("Transform with name {name} already exists."),
            ));
        }
        let id = pinned.unwrap_or_else(|| new_id("tfm-"));
        if inner.transforms.contains_key(&id) {
            return Err(GlueError::new(
                "AlreadyExistsException",
                format!("Transform with id {id} already exists."),
            ));
        }
        let at = now();
        inner.transforms.insert(
            id.clone(),
            Transform {
                id: id.clone(),
                created_on: at,
                last_modified_on: at,
                label_count: 0,
                evaluation_metrics: None,
                generations: 0,
                request,
            },
        );
        Ok(json!({ "TransformId": id }))
    }

    fn status(&self, t: &Transform) -> &'static str {
        if t.label_count >= self.settings.ready_label_count {
            "READY"
        } else {
            "NOT_READY"
        }
    }

    fn describe(&self, inner: &Inner, t: &Transform) -> Value {
        let mut out = t.request.clone();
        out.remove("Tags");
        out.insert("TransformId".into(), json!(t.id));
        out.insert("Status".into(), json!(self.status(t)));
        if let Some(metrics) = &t.evaluation_metrics {
            out.insert(
                "EvaluationMetrics".into(),
                findmatches::evaluation_metrics(metrics),
            );
        }
        out.insert("CreatedOn".into(), json!(t.created_on));
        out.insert("LastModifiedOn".into(), json!(t.last_modified_on));
        out.insert("LabelCount".into(), json!(t.label_count));
        out.entry("GlueVersion").or_insert(json!("1.0"));
        out.entry("MaxRetries").or_insert(json!(0));
        out.entry("Timeout").or_insert(json!(2880));
        let schema: Vec<Value> = Self::table_of(inner, t)
            .columns
            .iter()
            .map(|c| json!({"Name": c, "DataType": "string"}))
            .collect();
        out.insert("Schema".into(), json!(schema));
        Value::Object(out)
    }

    fn get_transform(&self, body: &Value) -> Result<Value> {
        let req: TransformRef = parse(body)?;
        let inner = self.lock();
        let id = self.transform_id(&inner, &req.transform_id)?;
        Ok(self.describe(&inner, &inner.transforms[id]))
    }

    fn list_transforms(&self, body: &Value) -> Result<Value> {
        let page: Page = parse(body)?;
        let inner = self.lock();
        let mut ids: Vec<(&f64, &String)> = inner
            .transforms
            .values()
            .map(|t| (&t.created_on, &t.id))
            .collect();
        ids.sort_by(|a, b| a.0.total_cmp(b.0).then(a.1.cmp(b.1)));
        let ids: Vec<&String> = ids.into_iter().map(|(_, id)| id).collect();
        let (items, next) = paginate(&ids, &page)?;
        Ok(with_token(json!({ "TransformIds": items }), next))
    }

    fn delete_transform(&self, body: &Value) -> Result<Value> {
        let req: TransformRef = parse(body)?;
        let mut inner = self.lock();
        let id = self.transform_id(&inner, &req.transform_id)?.to_string();
        inner.transforms.remove(&id);
        inner.runs.retain(|_, r| r.transform_id != id);
        Ok(json!({ "TransformId": id }))
    }

    async fn start_import(self: &Arc<Self>, body: &Value) -> Result<Value> {
        let req: StartImport = parse(body)?;
        let transform_id = {
            let inner = self.lock();
            self.transform_id(&inner, &req.transform_id)?.to_string()
        };
        let path = required(&req.input_s3_path, "inputS3Path")?;
        let run = TaskRun::starting(transform_id, "IMPORT_LABELS", path);
        let run = TaskRun {
            replace: req.replace_all_labels.unwrap_or(false),
            ..run
        };
        let labels = match self.take_outcome(&run) {
            Some(forced) => Err((forced.status, forced.error_string.unwrap_or_default())),
            None => self.read_label_file(path).await?.map_err(|e| ("FAILED", e)),
        };
        let id = self.add_run(run)?;
        tokio::spawn(Arc::clone(self).run_import(id.clone(), labels));
        Ok(json!({ "TaskRunId": id }))
    }

    /// Adds a run if the transform's quota has room.
    fn add_run(&self, run: TaskRun) -> Result<String> {
        let mut inner = self.lock();
        self.check_quota(&mut inner, &run.transform_id)?;
        let id = run.id.clone();
        inner.runs.insert(id.clone(), run);
        Ok(id)
    }

    /// A labeling-set generation run: it writes a labeling file ([`crate::findmatches`]) under
    /// `OutputS3Path` in the local S3 when it ends, `generation_run_duration` later; a file it
    /// cannot write makes it end FAILED, as Glue does when the transform's role may not write
    /// there.
    fn start_generation(self: &Arc<Self>, body: &Value) -> Result<Value> {
        let req: StartGeneration = parse(body)?;
        let transform_id = {
            let inner = self.lock();
            self.transform_id(&inner, &req.transform_id)?.to_string()
        };
        let output = required(&req.output_s3_path, "outputS3Path")?;
        let (bucket, prefix) = output
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
            .filter(|(b, _)| !b.is_empty())
            .ok_or_else(|| GlueError::invalid(format!("Invalid OutputS3Path {output}.")))?;
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        let run = TaskRun::starting(transform_id, "LABELING_SET_GENERATION", output);
        let probe = run.clone();
        let id = self.add_run(run)?;
        let forced = self.take_outcome(&probe);
        tokio::spawn(Arc::clone(self).run_generation(id.clone(), bucket, prefix, forced));
        Ok(json!({ "TaskRunId": id }))
    }

    /// STARTING → RUNNING → the file written and SUCCEEDED, or FAILED.
    async fn run_generation(
        self: Arc<Self>,
        id: String,
        bucket: String,
        prefix: String,
        forced: Option<Forced>,
    ) {
        let step = self.settings.generation_run_duration / 3;
        tokio::time::sleep(step).await;
        if !self.advance(&id, |run, _| run.status = "RUNNING") {
            return;
        }
        tokio::time::sleep(step * 2).await;
        if let Some(forced) = forced {
            self.advance(&id, |run, _| {
                run.status = forced.status;
                run.error_string = forced.error_string;
            });
            return;
        }
        let file = {
            let inner = self.lock();
            let Some(run) = inner.runs.get(&id) else {
                return;
            };
            let Some(transform) = inner.transforms.get(&run.transform_id) else {
                return;
            };
            let table = Self::table_of(&inner, transform);
            let set_ids: Vec<String> = (0..findmatches::SETS_PER_FILE)
                .map(|_| new_id("")[..32].to_string())
                .collect();
            findmatches::labeling_file(&table, transform.generations, &set_ids)
        };
        let key = if prefix.is_empty() || prefix.ends_with('/') {
            format!("{prefix}{}.csv", &id)
        } else {
            format!("{prefix}/{}.csv", &id)
        };
        let written = self
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type("text/csv")
            .body(file.into_bytes().into())
            .send()
            .await;
        self.advance(&id, |run, transform| match written {
            Ok(_) => {
                run.status = "SUCCEEDED";
                if let Some(t) = transform {
                    t.generations += 1;
                }
            }
            Err(e) => {
                run.status = "FAILED";
                run.error_string = Some(format!(
                    "Cannot write the labeling set to s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ));
            }
        });
    }

    /// An evaluation run: refused with `MLTransformNotReadyException` while the transform is
    /// `NOT_READY`; when it ends SUCCEEDED, `evaluation_run_duration` later, the transform's
    /// `EvaluationMetrics` are the model's figures for the labels it started with.
    fn start_evaluation(self: &Arc<Self>, body: &Value) -> Result<Value> {
        let req: StartEvaluation = parse(body)?;
        let (transform_id, metrics) = {
            let inner = self.lock();
            let id = self.transform_id(&inner, &req.transform_id)?;
            let t = &inner.transforms[id];
            if self.status(t) != "READY" {
                return Err(GlueError::new(
                    "MLTransformNotReadyException",
                    "This operation can only be applied to a transform that is in a READY state.",
                ));
            }
            let table = Self::table_of(&inner, t);
            let metrics = findmatches::metrics(
                t.label_count,
                t.find_matches_parameter("PrecisionRecallTradeoff")
                    .and_then(Value::as_f64),
                &table.columns,
                t.find_matches_parameter("PrimaryKeyColumnName")
                    .and_then(Value::as_str),
            );
            (id.to_string(), metrics)
        };
        let run = TaskRun::starting(transform_id, "EVALUATION", "");
        let probe = run.clone();
        let id = self.add_run(run)?;
        let forced = self.take_outcome(&probe);
        let store = Arc::clone(self);
        let run_id = id.clone();
        tokio::spawn(async move {
            let step = store.settings.evaluation_run_duration / 3;
            tokio::time::sleep(step).await;
            if !store.advance(&run_id, |run, _| run.status = "RUNNING") {
                return;
            }
            tokio::time::sleep(step * 2).await;
            store.advance(&run_id, |run, transform| {
                let (status, error_string, metrics) = match forced {
                    Some(f) => (f.status, f.error_string, f.metrics),
                    None => ("SUCCEEDED", None, metrics.as_object().cloned()),
                };
                run.status = status;
                run.error_string = error_string;
                if let (Some(t), "SUCCEEDED") = (transform, status) {
                    t.evaluation_metrics = metrics;
                }
            });
        });
        Ok(json!({ "TaskRunId": id }))
    }

    /// Glue's synchronous checks: path syntax, access, size; then the rows, or why the run
    /// will fail.
    async fn read_label_file(&self, path: &str) -> Result<std::result::Result<i64, String>> {
        let (bucket, key) = path
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| GlueError::invalid("Invalid label file path."))?;
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                let reason = match e.raw_response().map(|r| r.status().as_u16()) {
                    Some(404) => "The specified key does not exist".to_string(),
                    Some(403) => "Access Denied".to_string(),
                    _ => aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                };
                GlueError::invalid(format!("Cannot access the label file at {path}. {reason}."))
            })?;
        let size = object.content_length().unwrap_or(0);
        if size == 0 {
            return Err(GlueError::invalid("Invalid label file of size 0."));
        }
        let limit = self.settings.label_file_limit_mb;
        if size as u64 > limit * 1024 * 1024 {
            return Err(GlueError::new(
                "ResourceNumberLimitExceededException",
                format!("Label file has exceeded the limit of {limit} MB."),
            ));
        }
        let bytes = object.body.collect().await.map_err(|e| {
            GlueError::invalid(format!("Cannot access the label file at {path}. {e}."))
        })?;
        Ok(count_labels(&bytes.into_bytes()))
    }

    /// STARTING → RUNNING → SUCCEEDED (labels applied) or FAILED; a cancel ends it STOPPED.
    async fn run_import(
        self: Arc<Self>,
        id: String,
        labels: std::result::Result<i64, (&'static str, String)>,
    ) {
        let step = self.settings.task_run_duration / 3;
        tokio::time::sleep(step).await;
        if !self.advance(&id, |run, _| {
            run.status = "RUNNING";
        }) {
            return;
        }
        tokio::time::sleep(step * 2).await;
        self.advance(&id, |run, transform| match &labels {
            Ok(rows) => {
                run.status = "SUCCEEDED";
                if let Some(t) = transform {
                    t.label_count = if run.replace {
                        *rows
                    } else {
                        t.label_count + rows
                    };
                    t.last_modified_on = now();
                }
            }
            Err((status, reason)) => {
                run.status = status;
                run.error_string = Some(reason.clone());
            }
        });
    }

    /// Applies `change` to a run that is still active; a run being stopped becomes STOPPED.
    fn advance(&self, id: &str, change: impl FnOnce(&mut TaskRun, Option<&mut Transform>)) -> bool {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(run) = inner.runs.get_mut(id) else {
            return false;
        };
        let at = now();
        run.last_modified_on = at;
        match run.status {
            "STARTING" | "RUNNING" => {
                change(run, inner.transforms.get_mut(&run.transform_id));
                if matches!(run.status, "SUCCEEDED" | "FAILED" | "TIMEOUT") {
                    run.completed_on = Some(at);
                }
                true
            }
            "STOPPING" => {
                run.status = "STOPPED";
                run.completed_on = Some(at);
                false
            }
            _ => false,
        }
    }

    fn run_json(run: &TaskRun) -> Value {
        let properties = match run.task_type {
            "IMPORT_LABELS" => json!({
                "TaskType": "IMPORT_LABELS",
                "ImportLabelsTaskRunProperties": {"InputS3Path": run.input_s3_path, "Replace": run.replace}
            }),
            // An evaluation has no properties member of its own.
            "EVALUATION" => json!({"TaskType": "EVALUATION"}),
            other => json!({
                "TaskType": other,
                "LabelingSetGenerationTaskRunProperties": {"OutputS3Path": run.input_s3_path}
            }),
        };
        let mut out = json!({
            "TransformId": run.transform_id,
            "TaskRunId": run.id,
            "Status": run.status,
            "LogGroupName": "/aws-glue/ml-transforms",
            "Properties": properties,
            "StartedOn": run.started_on,
            "LastModifiedOn": run.last_modified_on,
            "ExecutionTime": (run.completed_on.unwrap_or(run.last_modified_on) - run.started_on).round() as i64,
        });
        if let Some(done) = run.completed_on {
            out["CompletedOn"] = json!(done);
        }
        if let Some(error) = &run.error_string {
            out["ErrorString"] = json!(error);
        }
        out
    }

    fn find_run<'a>(&self, inner: &'a Inner, req: &TaskRunRef) -> Result<&'a TaskRun> {
        let transform_id = self.transform_id(inner, &req.transform_id)?;
        let run_id = required(&req.task_run_id, "taskRunId")?;
        inner
            .runs
            .get(run_id)
            .filter(|r| r.transform_id == transform_id)
            .ok_or_else(|| {
                GlueError::new(
                    "EntityNotFoundException",
                    format!(
                        "No ML Task Run found for {run_id}: in account {} for transform {transform_id}.",
                        self.settings.account_id
                    ),
                )
            })
    }

    fn get_task_run(&self, body: &Value) -> Result<Value> {
        let req: TaskRunRef = parse(body)?;
        let inner = self.lock();
        Ok(Self::run_json(self.find_run(&inner, &req)?))
    }

    /// STARTING/RUNNING → STOPPING, and STOPPED a moment later (100 ms).
    fn cancel_task_run(self: &Arc<Self>, body: &Value) -> Result<Value> {
        let req: TaskRunRef = parse(body)?;
        let mut inner = self.lock();
        let id = self.find_run(&inner, &req)?.id.clone();
        let run = inner
            .runs
            .get_mut(&id)
            .ok_or_else(|| GlueError::invalid("task run vanished"))?;
        if matches!(run.status, "STARTING" | "RUNNING") {
            run.status = "STOPPING";
            run.last_modified_on = now();
            let store = Arc::clone(self);
            let run_id = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                store.advance(&run_id, |_, _| {});
            });
        }
        Ok(json!({"TransformId": run.transform_id, "TaskRunId": run.id, "Status": run.status}))
    }

    fn get_task_runs(&self, body: &Value) -> Result<Value> {
        let req: GetRuns = parse(body)?;
        let inner = self.lock();
        let transform_id = self.transform_id(&inner, &req.transform_id)?;
        let filter = req.filter.unwrap_or_default();
        if filter
            .task_run_type
            .as_deref()
            .is_some_and(|t| !TASK_TYPES.contains(&t))
        {
            return Err(GlueError::invalid(
                "Filter.TaskRunType is not a valid TaskType.",
            ));
        }
        let mut runs: Vec<&TaskRun> = inner
            .runs
            .values()
            .filter(|r| r.transform_id == transform_id)
            .filter(|r| {
                filter
                    .task_run_type
                    .as_deref()
                    .is_none_or(|t| t == r.task_type)
            })
            .filter(|r| filter.status.as_deref().is_none_or(|s| s == r.status))
            .filter(|r| {
                filter
                    .started_after
                    .is_none_or(|t| millis(r.started_on) > millis(t))
            })
            .filter(|r| {
                filter
                    .started_before
                    .is_none_or(|t| millis(r.started_on) < millis(t))
            })
            .collect();
        let (column, direction) = req
            .sort
            .map(|s| (s.column, s.sort_direction))
            .unwrap_or(("STARTED".into(), "DESCENDING".into()));
        runs.sort_by(|a, b| match column.as_str() {
            "STATUS" => a.status.cmp(b.status),
            _ => a.started_on.total_cmp(&b.started_on).then(a.id.cmp(&b.id)),
        });
        match direction.as_str() {
            "DESCENDING" => runs.reverse(),
            "ASCENDING" => {}
            other => {
                return Err(GlueError::invalid(format!(
                    "Invalid SortDirection {other}."
                )))
            }
        }
        let (items, next) = paginate(&runs, &req.page)?;
        let items: Vec<Value> = items.into_iter().map(Self::run_json).collect();
        Ok(with_token(json!({ "TaskRuns": items }), next))
    }
}

/// The operations of the Glue API that glue-local implements.
pub const OPERATIONS: [&str; 10] = [
    "CreateMLTransform",
    "GetMLTransform",
    "ListMLTransforms",
    "DeleteMLTransform",
    "StartImportLabelsTaskRun",
    "StartMLLabelingSetGenerationTaskRun",
    "StartMLEvaluationTaskRun",
    "GetMLTaskRun",
    "GetMLTaskRuns",
    "CancelMLTaskRun",
];

const TASK_TYPES: [&str; 5] = [
    "EVALUATION",
    "LABELING_SET_GENERATION",
    "IMPORT_LABELS",
    "EXPORT_LABELS",
    "FIND_MATCHES",
];

/// One page of `items` and the token of the next, if any. Tokens are offsets, opaque to clients.
fn paginate<T: Clone>(items: &[T], page: &Page) -> Result<(Vec<T>, Option<String>)> {
    let size = match page.max_results {
        None => 100,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(GlueError::invalid(format!(
                "MaxResults {n} is not between 1 and 1000."
            )))
        }
    };
    let start = match page.next_token.as_deref() {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| GlueError::invalid("Invalid NextToken."))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), next))
}

fn with_token(mut out: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        out["NextToken"] = json!(token);
    }
    out
}

/// A request ID in the UUID shape AWS uses.
pub fn request_id() -> String {
    let hex = new_id("");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
