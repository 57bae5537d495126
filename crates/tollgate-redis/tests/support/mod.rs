//! Test support: a real `redis-server` on 127.0.0.1, started by the test and killed (by its
//! PID) when dropped; TLS material made at test time; a log capture.
#![allow(dead_code)] // each test binary uses a part

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use tollgate::store::{Fact, Notice};

/// Whether Redis tests run here. Without `redis-server` they fail, saying how to install it,
/// unless `TOLLGATE_SKIP_REDIS=1` asks to skip them (which is printed).
pub fn redis_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return true;
    }
    if std::env::var("TOLLGATE_SKIP_REDIS").is_ok_and(|value| value == "1") {
        eprintln!("SKIPPED: redis-server is not installed and TOLLGATE_SKIP_REDIS=1");
        return false;
    }
    panic!(
        "redis-server is not installed: these tests start a real one on 127.0.0.1. Install it \
         with `apt-get install -y redis-server redis-tools` (.ci/run does), or set \
         TOLLGATE_SKIP_REDIS=1 to skip them"
    );
}

/// Starts the tests of a file: `let Some(_) = support::begin() else { return };`.
pub fn begin() -> Option<()> {
    redis_available().then_some(())
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A `redis-server` child process.
pub struct RedisServer {
    port: u16,
    tls_port: Option<u16>,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// A plain server, no password.
    pub fn start() -> Self {
        Self::with_args(&[])
    }

    /// A plain server on a given port (one a test held free for it).
    pub fn start_on(port: u16) -> Self {
        Self::build(port, None, &[])
    }

    /// A server with more arguments (`--requirepass`, `--enable-debug-command` ...).
    pub fn with_args(args: &[&str]) -> Self {
        Self::build(free_port(), None, args)
    }

    /// A TLS-only server (`--port 0 --tls-port N`) with `cert` for `localhost`.
    pub fn with_tls(tls: &TlsFiles, args: &[&str]) -> Self {
        let mut all = vec![
            "--tls-cert-file".to_owned(),
            path(&tls.server_cert),
            "--tls-key-file".to_owned(),
            path(&tls.server_key),
            "--tls-ca-cert-file".to_owned(),
            path(&tls.ca_cert),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        Self::build(0, Some(free_port()), &all)
    }

    /// A cluster-enabled node.
    pub fn cluster_node() -> Self {
        let port = free_port();
        Self::build(
            port,
            None,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ],
        )
    }

    fn build(port: u16, tls_port: Option<u16>, args: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-redis-test-{}-{}",
            std::process::id(),
            tls_port.unwrap_or(port)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut server = Self {
            port,
            tls_port,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>/` (or `rediss://localhost:<tls port>/`), with `userinfo`
    /// (`":password@"`, `"user:password@"`) if given.
    pub fn url_with(&self, userinfo: &str) -> String {
        match self.tls_port {
            Some(port) => format!("rediss://{userinfo}localhost:{port}/"),
            None => format!("redis://{userinfo}127.0.0.1:{}/", self.port),
        }
    }

    /// The server's URL, without credentials.
    pub fn url(&self) -> String {
        self.url_with("")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL, by PID): no goodbye, as a crash or a pulled cable.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port(s), empty (no persistence), and waits until
    /// it answers.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("a log file");
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &path(&self.dir)]);
        if let Some(tls_port) = self.tls_port {
            command.args(["--tls-port", &tls_port.to_string()]);
        }
        let child = command
            .args(&self.args)
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                panic!("redis-server exited with {status}:\n{log}");
            }
            if self.answers() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A plain server answers `PING` (`+PONG`, or `-NOAUTH` with a password); a TLS one at
    /// least accepts connections.
    fn answers(&self) -> bool {
        if let Some(port) = self.tls_port {
            return TcpStream::connect(("127.0.0.1", port)).is_ok();
        }
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut first = [0u8; 1];
        matches!(stream.read(&mut first), Ok(1) if first[0] == b'+' || first[0] == b'-')
    }

    /// A raw connection for what tollgate never writes (garbage) or never does.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a URL")
            .get_multiplexed_async_connection()
            .await
            .expect("a raw connection")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Makes a Redis Cluster of three masters (no replicas) with `redis-cli --cluster create`.
pub fn cluster() -> Vec<RedisServer> {
    let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::cluster_node()).collect();
    let mut command = Command::new("redis-cli");
    command.args(["--cluster", "create"]);
    for node in &nodes {
        command.arg(format!("127.0.0.1:{}", node.port));
    }
    let output = command
        .args(["--cluster-yes"])
        .output()
        .expect("redis-cli (Debian's redis-tools) runs");
    assert!(
        output.status.success(),
        "redis-cli --cluster create failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Every node must agree that the cluster is up before it serves every slot.
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in &nodes {
        loop {
            let info = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "cluster", "info"])
                .output()
                .expect("redis-cli runs");
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not come up within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    nodes
}

/// A CA and a server certificate for `localhost` and 127.0.0.1, made with `openssl`.
pub struct TlsFiles {
    dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TlsFiles {
    pub fn make() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-redis-tls-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("openssl is installed (Debian's openssl package)");
            assert!(
                output.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=tollgate test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .expect("an extension file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ]);
        Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            dir,
        }
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("the CA certificate")
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The next notice, within a bound that only stops a broken test from hanging.
pub async fn next(notices: &mut BoxStream<'static, Notice>) -> Notice {
    tokio::time::timeout(Duration::from_secs(20), notices.next())
        .await
        .expect("a notice within 20 s")
        .expect("the stream goes on")
}

/// The next fact, skipping connection notices.
pub async fn next_fact(notices: &mut BoxStream<'static, Notice>) -> Fact {
    loop {
        if let Notice::Fact(fact) = next(notices).await {
            return fact;
        }
    }
}

/// Waits for a notice, skipping facts.
pub async fn wait_for(notices: &mut BoxStream<'static, Notice>, wanted: Notice) {
    loop {
        let notice = next(notices).await;
        if notice == wanted {
            return;
        }
        assert!(
            matches!(notice, Notice::Fact(_) | Notice::Reconnected),
            "{notice:?} while waiting for {wanted:?}"
        );
    }
}

/// Log lines written while a capture is the thread's default subscriber.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Captures this thread's logs (a current-thread runtime runs the store's tasks here too).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
