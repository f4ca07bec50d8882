//! glue-local: AWS Glue's ML-transform API on loopback, for tests and demos.
//!
//! Speaks Glue's wire protocol (awsJson1_1: `POST /`, `X-Amz-Target: AWSGlue.<Operation>`,
//! errors as `{"__type", "Message"}` plus `X-Amzn-Errortype`), accepts any signature, reads label
//! files from the configured S3 endpoint, and keeps everything in memory. A small FindMatches
//! model ([`findmatches`]) makes a transform READY, measures it and writes labeling sets.
//! Admin endpoints under `/_glue-local/` reset the state, inject faults (also lost answers:
//! the call takes effect, the answer is an error), force how runs end (and an evaluation's
//! metrics), set a table's source records and the per-transform task-run quota, and report
//! call counts.

pub mod findmatches;
pub mod labels;
pub mod moto;
pub mod store;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tracing::info;

pub use store::{
    Fault, GlueError, Quota, RunOutcome, Settings, Store, OPERATIONS, PIN_ID_TAG, QUOTA_ERRORS,
};

/// A running endpoint. Dropping it stops the server and its open connections.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    pub async fn start(
        addr: SocketAddr,
        settings: Settings,
        s3: aws_sdk_s3::Client,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let store = Store::new(settings, s3);
        let shared = Arc::clone(&store);
        let task = tokio::spawn(serve(listener, move |parts, body| {
            handle(Arc::clone(&shared), parts, body)
        }));
        Ok(Server { addr, store, task })
    }

    /// `http://<addr>`, for `--endpoint-url` and `AWS_ENDPOINT_URL_GLUE`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An S3 client for reading label files from a local endpoint (path-style, any credentials).
pub async fn s3_client(endpoint_url: &str, region: &str) -> aws_sdk_s3::Client {
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key,
            secret,
            None,
            None,
            "glue-local",
        ))
        .endpoint_url(endpoint_url)
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Serves HTTP/1 connections from `listener` until the task is aborted, handing `handler` each
/// request's head and whole body (an unreadable body counts as empty); the connections live in
/// this task, so aborting it closes them too. Also used by the tests' Lambda Runtime API.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Parts, Bytes) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let handler = handler.clone();
        connections.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, Infallible>(handler(parts, body).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

type HttpResponse = Response<Full<Bytes>>;

async fn handle(store: Arc<Store>, parts: Parts, body: Bytes) -> HttpResponse {
    let path = parts.uri.path();
    if let Some(admin) = path.strip_prefix("/_glue-local/") {
        return handle_admin(&store, &parts.method, admin, &body);
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let result = match (parts.method == Method::POST && path == "/", target.strip_prefix("AWSGlue.")) {
        (true, Some(operation)) => call(&store, operation, &body).await,
        _ => Err(GlueError::new(
            "UnknownOperationException",
            format!("Expected POST / with X-Amz-Target: AWSGlue.<Operation>, got {} {path} with {target:?}", parts.method),
        )),
    };
    let status = result.as_ref().map_or_else(GlueError::status, |_| 200);
    info!(operation = target, status, "request");
    match result {
        Ok(out) => json_response(StatusCode::OK, &out),
        Err(e) => error_response(&e),
    }
}

async fn call(store: &Arc<Store>, operation: &str, body: &[u8]) -> Result<Value, GlueError> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| GlueError::new("SerializationException", e.to_string()))?
    };
    match store.take_fault(operation) {
        Some((fault, true)) => {
            let _ = store.call(operation, &input).await;
            Err(fault)
        }
        Some((fault, false)) => Err(fault),
        None => store.call(operation, &input).await,
    }
}

fn handle_admin(store: &Store, method: &Method, path: &str, body: &[u8]) -> HttpResponse {
    let bad =
        |message: String| json_response(StatusCode::BAD_REQUEST, &json!({"message": message}));
    match (method, path) {
        (&Method::GET, "health") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        (&Method::POST, "reset") => {
            store.reset();
            json_response(StatusCode::OK, &json!({}))
        }
        (&Method::POST, "faults") => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                store.add_fault(fault);
                json_response(StatusCode::OK, &json!({}))
            }
            Err(e) => bad(format!(
                "expected {{\"operation\"?, \"error\", \"count\"?, \"message\"?, \"lost_answer\"?}}: {e}"
            )),
        },
        (&Method::POST, "outcomes") => match serde_json::from_slice::<RunOutcome>(body) {
            Ok(outcome) => match store.add_outcome(outcome) {
                Ok(()) => json_response(StatusCode::OK, &json!({})),
                Err(e) => bad(e.message),
            },
            Err(e) => bad(format!(
                "expected {{\"taskType\"?, \"transformId\"?, \"inputS3Path\"?, \"outputS3Path\"?, \"status\": \"FAILED\"|\"TIMEOUT\"|\"SUCCEEDED\", \"errorString\"?, \"metrics\"?, \"count\"?}}: {e}"
            )),
        },
        (&Method::POST, "tables") => {
            match serde_json::from_slice::<findmatches::TableRequest>(body) {
                Ok(table) => match store.set_table(table) {
                    Ok(()) => json_response(StatusCode::OK, &json!({})),
                    Err(e) => bad(e.message),
                },
                Err(e) => bad(format!(
                    "expected {{\"databaseName\", \"tableName\", \"csv\"}}: {e}"
                )),
            }
        }
        (&Method::GET, "calls") => json_response(StatusCode::OK, &json!(store.calls())),
        (&Method::POST, "quota") => match serde_json::from_slice::<Quota>(body) {
            Ok(quota) => match store.set_quota(quota) {
                Ok(()) => json_response(StatusCode::OK, &json!({})),
                Err(e) => bad(e.message),
            },
            Err(e) => bad(format!(
                "expected {{\"maxRunsPerTransform\", \"error\"?: one of {QUOTA_ERRORS:?}}}: {e}"
            )),
        },
        (&Method::GET, "refused") => {
            json_response(StatusCode::OK, &json!({"refused": store.refused()}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("no admin endpoint {method} /_glue-local/{path}")}),
        ),
    }
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(id) = HeaderValue::from_str(&store::request_id()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn error_response(error: &GlueError) -> HttpResponse {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(
        status,
        &json!({"__type": error.code, "Message": error.message}),
    );
    if let Ok(code) = HeaderValue::from_str(&error.code) {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}
