//! What the code under test logs through `tracing`, captured as text.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// A shared buffer that a `tracing_subscriber::fmt` subscriber writes into ([`MakeWriter`]),
/// and that a test reads.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// Everything written so far, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A test that panicked while writing leaves the lines written so far: still worth
        // reading in the next assertion.
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures what the current thread logs through `tracing`, from [`start`](Self::start) until
/// it is dropped.
///
/// One line per event, in `tracing_subscriber::fmt`'s format without time or colours: the
/// level (right-aligned in five characters), the spans with their fields, the target, the
/// message and the fields, e.g. ` WARN tollgate::keys: keeping the last good keys ...`.
///
/// Only the current thread: events of other threads go to their own subscriber (or none).
/// That keeps the tests of one binary apart, each with its own lines, and it covers everything
/// a `#[tokio::test]` runs, since its runtime runs every task it spawns on the test's thread.
/// A multi-threaded runtime's workers are other threads: test logs on a current-thread runtime.
///
/// ```
/// use tollgate_mock::testing::LogCapture;
///
/// let logs = LogCapture::start("my_crate=debug");
/// tracing::warn!(target: "my_crate::keys", kid = "k1", "keeping the last good keys");
/// tracing::info!(target: "elsewhere", "not captured: another target");
/// assert_eq!(logs.count("WARN", "keeping the last good keys"), 1);
/// assert!(logs.text().contains(r#"kid="k1""#), "{}", logs.text());
/// assert_eq!(logs.lines().len(), 1);
/// ```
#[derive(Debug)]
pub struct LogCapture {
    buffer: LogBuffer,
    _guard: tracing::subscriber::DefaultGuard,
}

impl LogCapture {
    /// Captures the events that `filter` lets through: comma-separated `target=level`
    /// directives, a target matching by prefix (`"tollgate=debug,protected_api=info"`), or a
    /// bare level for every target.
    ///
    /// # Panics
    /// If `filter` is not a valid list of directives.
    pub fn start(filter: &str) -> LogCapture {
        let targets: Targets = filter
            .parse()
            .unwrap_or_else(|e| panic!("the log filter {filter:?}: {e}"));
        let buffer = LogBuffer::default();
        let format = tracing_subscriber::fmt::layer()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .without_time();
        let subscriber = tracing_subscriber::registry().with(format).with(targets);
        let guard = tracing::subscriber::set_default(subscriber);
        LogCapture {
            buffer,
            _guard: guard,
        }
    }

    /// The buffer the lines go to, to read from another task or thread.
    pub fn buffer(&self) -> &LogBuffer {
        &self.buffer
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        self.buffer.text()
    }

    /// Everything captured so far, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.buffer.lines()
    }

    /// How many lines of `level` (`"WARN"`, `"ERROR"`, ...) contain `needle`.
    pub fn count(&self, level: &str, needle: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.split_whitespace().next() == Some(level) && line.contains(needle))
            .count()
    }
}
