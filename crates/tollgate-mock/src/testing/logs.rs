//! What the code under test logs through `tracing`, captured as text.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

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
/// Only the current thread: that keeps the tests of one binary apart, each with its own lines,
/// and it covers everything a `#[tokio::test]` runs, since its runtime runs every task it
/// spawns on the test's thread. A multi-threaded runtime's workers are other threads: test
/// logs on a current-thread runtime.
///
/// The first capture installs a process-wide `tracing` subscriber that hands each event to the
/// capture of the thread it happens on (and drops it on a thread without one). A subscriber per
/// thread would not do: `tracing` caches whether a log statement is wanted at all by asking the
/// subscriber of the thread that reaches it first, and another test's thread would answer no
/// for everyone. So a test binary that installs a global subscriber of its own cannot use this.
///
/// ```
/// use tollgate_mock::testing::LogCapture;
///
/// let logs = LogCapture::start("my_crate=debug");
/// tracing::warn!(target: "my_crate::keys", kid = "k1", "keeping the last good keys");
/// tracing::info!(target: "elsewhere", "not captured: another target");
/// std::thread::spawn(|| tracing::warn!(target: "my_crate", "not captured: another thread"))
///     .join()
///     .unwrap();
/// assert_eq!(logs.count("WARN", "keeping the last good keys"), 1);
/// assert!(logs.text().contains(r#"kid="k1""#), "{}", logs.text());
/// assert_eq!(logs.lines().len(), 1);
/// ```
#[derive(Debug)]
pub struct LogCapture {
    buffer: LogBuffer,
    /// The capture this one replaced on its thread, put back when it ends.
    previous: Option<Capturing>,
}

/// What the current thread captures: which events, and where they go.
#[derive(Debug, Clone)]
struct Capturing {
    targets: Targets,
    buffer: LogBuffer,
}

thread_local! {
    static CAPTURING: RefCell<Option<Capturing>> = const { RefCell::new(None) };
}

impl LogCapture {
    /// Captures the events that `filter` lets through: comma-separated `target=level`
    /// directives, a target matching by prefix (`"tollgate=debug,protected_api=info"`), or a
    /// bare level for every target.
    ///
    /// # Panics
    /// If `filter` is not a valid list of directives, or another global `tracing` subscriber
    /// was installed in this process.
    pub fn start(filter: &str) -> LogCapture {
        let targets: Targets = filter
            .parse()
            .unwrap_or_else(|e| panic!("the log filter {filter:?}: {e}"));
        install();
        let buffer = LogBuffer::default();
        let capturing = Capturing {
            targets,
            buffer: buffer.clone(),
        };
        let previous = CAPTURING.with(|current| current.replace(Some(capturing)));
        LogCapture { buffer, previous }
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

impl Drop for LogCapture {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: a capture dropped while its thread ends has nothing left to restore.
        let _ = CAPTURING.try_with(|current| current.replace(previous));
    }
}

/// Installs the process-wide subscriber, once.
fn install() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let format = tracing_subscriber::fmt::layer()
            .with_writer(ThreadWriter)
            .with_ansi(false)
            .without_time();
        let subscriber = tracing_subscriber::registry()
            .with(ThreadFilter)
            .with(format);
        tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
    });
    if let Err(e) = installed {
        panic!("LogCapture needs to install the global tracing subscriber: {e}");
    }
}

/// Lets an event through when the capture of the thread it happens on wants it.
struct ThreadFilter;

impl<S: Subscriber> Layer<S> for ThreadFilter {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Which captures want a log statement changes from thread to thread and over time:
        // ask on every event.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        CAPTURING
            .try_with(|current| {
                current.borrow().as_ref().is_some_and(|capturing| {
                    capturing
                        .targets
                        .would_enable(metadata.target(), metadata.level())
                })
            })
            .unwrap_or(false)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
}

/// Writes to the buffer of the current thread's capture; nowhere without one.
struct ThreadWriter;

impl<'a> MakeWriter<'a> for ThreadWriter {
    type Writer = Box<dyn io::Write>;

    fn make_writer(&'a self) -> Self::Writer {
        match CAPTURING.try_with(|current| current.borrow().as_ref().map(|c| c.buffer.clone())) {
            Ok(Some(buffer)) => Box::new(buffer),
            _ => Box::new(io::sink()),
        }
    }
}
