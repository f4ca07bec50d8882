//! A loopback HTTP proxy in front of moto or glue-local. It can hold every request for a
//! delay before passing it on (one request's worth of network latency, as between Lambda and
//! S3 or Glue: the bench's modelled-latency pass), and it can lose the answer of the next PUT:
//! the write reaches the server and takes effect, the client gets S3's `500 InternalError`
//! instead (the compare-and-set seam's lost-answer case) — or of the next POST (an SNS
//! `Publish` that went out, answered `500 InternalError`). The proxy stops when dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::http::request::Parts;
use tokio::task::JoinHandle;

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`, to use as the endpoint instead of the upstream's.
    pub url: String,
    lose_next_put: Arc<AtomicBool>,
    lose_next_post: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) that holds each request for `delay`
    /// (zero: passes it on at once).
    pub async fn start(upstream: &str, delay: Duration) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let lose_next_put = Arc::new(AtomicBool::new(false));
        let lose_next_post = Arc::new(AtomicBool::new(false));
        let (lose_put, lose_post) = (Arc::clone(&lose_next_put), Arc::clone(&lose_next_post));
        let task = tokio::spawn(glue_local::serve(listener, move |parts, body| {
            let upstream = upstream.clone();
            let (lose_put, lose_post) = (Arc::clone(&lose_put), Arc::clone(&lose_post));
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let lost = match parts.method {
                    hyper::Method::PUT => lose_put.swap(false, Ordering::SeqCst),
                    hyper::Method::POST => lose_post.swap(false, Ordering::SeqCst),
                    _ => false,
                };
                let answer = forward(&upstream, parts, body).await;
                if lost {
                    return hyper::Response::builder()
                        .status(500)
                        .body(Full::new(Bytes::from(s3_error_body("InternalError"))))
                        .expect("a 500 response");
                }
                answer
            }
        }));
        Proxy {
            url,
            lose_next_put,
            lose_next_post,
            task,
        }
    }

    /// The switch that, when set, makes the proxy lose the answer of the next PUT (then it
    /// clears itself).
    pub fn lose_next_put(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.lose_next_put)
    }
}

impl Proxy {
    /// The switch that, when set, makes the proxy lose the answer of the next POST (then it
    /// clears itself).
    pub fn lose_next_post(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.lose_next_post)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Passes one request on to `upstream` and returns its answer, body collected.
async fn forward(upstream: &str, parts: Parts, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .expect("connect upstream");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = hyper::Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(body)).expect("request");
    let answer = sender.send_request(request).await.expect("upstream answer");
    let (head, body) = answer.into_parts();
    let body = body.collect().await.expect("upstream body").to_bytes();
    hyper::Response::from_parts(head, Full::new(body))
}

/// An S3 error document with `code` as its code and message.
pub fn s3_error_body(code: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    )
}
