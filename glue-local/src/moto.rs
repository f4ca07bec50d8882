//! moto's server (S3, and SQS for the queue trigger) on a loopback port, for tests: started
//! from the project's virtualenv (with S3's atomic conditional writes, see [`MOTO`]), reset
//! between tests, stopped when dropped — or when this process ends, whichever is first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Runs moto (`$2`, a Python program, under the Python `$0`) on port `$1` and stops it as soon
/// as its standard input closes, so the server never outlives the process that started it,
/// even one that is killed.
const WRAPPER: &str = r#""$0" -c "$2" "$1" >/dev/null 2>&1 & pid=$!
read -r _ignored
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null"#;

/// moto's server with one fidelity fix. S3 decides a conditional PutObject (`If-None-Match`,
/// `If-Match`) atomically; moto checks the condition and writes the object in two steps on a
/// threaded server, so two overlapping creates can both pass — under load, the ledger's races
/// then see two winners where S3 has one. Serializing moto's PutObject handler restores S3's
/// behaviour.
const MOTO: &str = r#"import sys, threading
from moto.s3.responses import S3Response
_lock, _put = threading.Lock(), S3Response.put_object
def put_object(self):
    with _lock:
        return _put(self)
S3Response.put_object = put_object
from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])"#;

/// A running moto server.
pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    /// Where the project keeps `moto_server`: `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`.
    pub fn default_path() -> PathBuf {
        std::env::var_os("MOTO_SERVER").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server"),
            PathBuf::from,
        )
    }

    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub async fn start(moto_server: &Path) -> std::io::Result<Moto> {
        if !moto_server.exists() {
            return Err(std::io::Error::other(format!(
                "{} not found: run `make venv` (or `make test`), or set MOTO_SERVER",
                moto_server.display()
            )));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // The virtualenv's Python, beside moto_server.
        let python = moto_server.with_file_name("python");
        let child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg(python)
            .arg(port.to_string())
            .arg(MOTO)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto
            .request("GET", "/moto-api/", &[], Bytes::new())
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(std::io::Error::other("moto did not answer within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(moto)
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every bucket, object and queue (`POST /moto-api/reset`).
    pub async fn reset(&self) -> std::io::Result<()> {
        match self
            .request("POST", "/moto-api/reset", &[], Bytes::new())
            .await?
        {
            (200, _) => Ok(()),
            (status, _) => Err(std::io::Error::other(format!(
                "moto reset answered {status}"
            ))),
        }
    }

    /// Calls one operation of a JSON-protocol service moto emulates besides S3, e.g.
    /// `("sqs", "AmazonSQS.ReceiveMessage", {...})`; the response body, or the error moto
    /// answered. moto picks the service from the credential scope and checks no signature.
    pub async fn aws_json(
        &self,
        service: &str,
        target: &str,
        input: &serde_json::Value,
    ) -> std::io::Result<serde_json::Value> {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
        );
        let headers = [
            ("x-amz-target", target),
            ("content-type", "application/x-amz-json-1.0"),
            ("authorization", authorization.as_str()),
        ];
        let (status, body) = self
            .request("POST", "/", &headers, Bytes::from(input.to_string()))
            .await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            return Err(std::io::Error::other(format!(
                "moto {target} answered {status}: {text}"
            )));
        }
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body).map_err(std::io::Error::other)
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> std::io::Result<(u16, Bytes)> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let request = headers
            .iter()
            .fold(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header("host", format!("127.0.0.1:{}", self.port)),
                |request, (name, value)| request.header(*name, *value),
            )
            .body(Full::new(body))
            .map_err(std::io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok((status, body))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing standard input makes the wrapper stop moto.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

static SHARED: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One test's turn on this process's moto server: started on first use, reset for each turn,
/// one turn at a time. The server stops when the process ends.
pub struct Lease {
    pub moto: &'static Moto,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Waits for this test's turn on the shared moto server, reset to empty.
pub async fn lease() -> std::io::Result<Lease> {
    let turn = TURN.lock().await;
    let moto = SHARED
        .get_or_try_init(|| async { Moto::start(&Moto::default_path()).await })
        .await?;
    moto.reset().await?;
    Ok(Lease { moto, _turn: turn })
}
