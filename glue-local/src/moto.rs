//! moto's S3 server on a loopback port, for tests: started from the project's virtualenv,
//! reset between tests, stopped when dropped — or when this process ends, whichever is first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Runs moto on `$1` and stops it as soon as its standard input closes, so the server never
/// outlives the process that started it, even one that is killed.
const WRAPPER: &str = r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!
read -r _ignored
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null"#;

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
        let child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg(moto_server)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.request("GET", "/moto-api/").await.is_err() {
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

    /// Forgets every bucket and object (`POST /moto-api/reset`).
    pub async fn reset(&self) -> std::io::Result<()> {
        match self.request("POST", "/moto-api/reset").await? {
            200 => Ok(()),
            status => Err(std::io::Error::other(format!(
                "moto reset answered {status}"
            ))),
        }
    }

    async fn request(&self, method: &str, path: &str) -> std::io::Result<u16> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port))
            .body(Empty::<Bytes>::new())
            .map_err(std::io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok(status)
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
