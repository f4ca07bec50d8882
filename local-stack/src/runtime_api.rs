//! A Lambda Runtime API on loopback: hands events to the function process one at a time and
//! collects its responses and errors, as Lambda does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

struct Shared {
    /// When the function first asked for an event (its start-up is over).
    first_poll: std::sync::OnceLock<std::time::Instant>,
    polled: tokio::sync::Notify,
    /// Function processes waiting in `GET /runtime/invocation/next` right now.
    pollers: std::sync::atomic::AtomicUsize,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    init_errors: Mutex<Vec<String>>,
}

/// The emulator. Dropping it stops the server.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<(String, Bytes)>,
    next_id: Mutex<u64>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime API");
        let addr = listener.local_addr().expect("runtime API address");
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            first_poll: std::sync::OnceLock::new(),
            polled: tokio::sync::Notify::new(),
            pollers: std::sync::atomic::AtomicUsize::new(0),
            events: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_errors: Mutex::new(Vec::new()),
        });
        let state = Arc::clone(&shared);
        let task = tokio::spawn(glue_local::serve(listener, move |parts, body| {
            handle(Arc::clone(&state), parts, body)
        }));
        RuntimeApi {
            addr,
            shared,
            sender,
            next_id: Mutex::new(0),
            task,
        }
    }

    /// Sends one event (any bytes) and waits for the function's reply.
    pub async fn invoke_raw(&self, payload: Bytes) -> Reply {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("00000000-0000-4000-8000-{:012}", *next)
        };
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.sender
            .send((id.clone(), payload))
            .expect("runtime API is running");
        match tokio::time::timeout(Duration::from_secs(90), rx).await {
            Ok(Ok(reply)) => reply,
            _ => panic!(
                "no reply to invocation {id} within 90 s (init errors: {:?})",
                self.shared.init_errors.lock().unwrap()
            ),
        }
    }

    pub async fn invoke(&self, payload: &Value) -> Reply {
        self.invoke_raw(Bytes::from(payload.to_string())).await
    }

    /// Waits for the function's first `GET /runtime/invocation/next`; when it arrived.
    pub async fn first_poll(&self) -> std::time::Instant {
        loop {
            let notified = self.shared.polled.notified();
            if let Some(at) = self.shared.first_poll.get() {
                return *at;
            }
            notified.await;
        }
    }

    /// Waits until `n` function processes are waiting for an event (so `n` invocations sent
    /// together run at the same time).
    pub async fn wait_for_pollers(&self, n: usize) {
        for _ in 0..3000 {
            if self
                .shared
                .pollers
                .load(std::sync::atomic::Ordering::SeqCst)
                >= n
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} function processes did not poll within 30 s");
    }

    /// The request ID the next invocation will get.
    pub fn next_request_id(&self) -> String {
        format!(
            "00000000-0000-4000-8000-{:012}",
            *self.next_id.lock().unwrap() + 1
        )
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

async fn handle(shared: Arc<Shared>, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
    let path = parts.uri.path().to_string();
    let segments: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/")
        .split('/')
        .collect();
    let accepted = || reply(StatusCode::ACCEPTED, Bytes::from_static(b"{}"));
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => {
            if shared.first_poll.set(std::time::Instant::now()).is_ok() {
                shared.polled.notify_waiters();
            }
            shared
                .pollers
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let next = shared.events.lock().await.recv().await;
            shared
                .pollers
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            let Some((id, payload)) = next else {
                return reply(StatusCode::GONE, Bytes::new());
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + Duration::from_secs(90);
            let mut response = reply(StatusCode::OK, payload);
            let headers = response.headers_mut();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:glue-label-importer"
                    .parse()
                    .unwrap(),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".parse().unwrap(),
            );
            response
        }
        (&Method::POST, ["invocation", id, "response"]) => {
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if let Some(tx) = shared.waiting.lock().unwrap().remove(*id) {
                let _ = tx.send(Reply::Response(value));
            }
            accepted()
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let text = |k: &str| value[k].as_str().unwrap_or_default().to_string();
            if let Some(tx) = shared.waiting.lock().unwrap().remove(*id) {
                let _ = tx.send(Reply::Error {
                    error_type: text("errorType"),
                    error_message: text("errorMessage"),
                });
            }
            accepted()
        }
        (&Method::POST, ["init", "error"]) => {
            shared
                .init_errors
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).to_string());
            accepted()
        }
        _ => reply(StatusCode::NOT_FOUND, Bytes::new()),
    }
}
