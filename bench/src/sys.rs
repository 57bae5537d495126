//! What the benchmark reads from the operating system: CPU pinning, per-thread CPU time,
//! resident memory. Linux only (`/proc`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The threads of one runtime, recorded as they start, so their CPU time can be read.
#[derive(Clone, Default)]
pub struct Threads(Arc<Mutex<Vec<PathBuf>>>);

impl Threads {
    /// Records the calling thread (`/proc/<pid>/task/<tid>`).
    pub fn record_current(&self) {
        if let Ok(link) = std::fs::read_link("/proc/thread-self") {
            let path = PathBuf::from("/proc").join(link);
            self.0.lock().expect("not poisoned").push(path);
        }
    }

    /// CPU time used so far by all recorded threads (threads that ended are not counted).
    pub fn cpu(&self) -> Duration {
        self.0
            .lock()
            .expect("not poisoned")
            .iter()
            .filter_map(|path| thread_cpu(path))
            .sum()
    }
}

/// A thread's CPU time: `schedstat` (nanoseconds) where the kernel has it, else `stat`
/// (utime + stime in clock ticks).
fn thread_cpu(task: &std::path::Path) -> Option<Duration> {
    if let Ok(text) = std::fs::read_to_string(task.join("schedstat"))
        && let Some(ns) = text.split_whitespace().next().and_then(|v| v.parse().ok())
    {
        return Some(Duration::from_nanos(ns));
    }
    let text = std::fs::read_to_string(task.join("stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100);
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Pins the calling thread to CPU `core` (an index into the CPUs this process may use).
pub fn pin_current(core: usize) -> bool {
    core_affinity::get_core_ids()
        .and_then(|ids| ids.get(core).copied())
        .is_some_and(core_affinity::set_for_current)
}

/// How many CPUs this process may use.
pub fn cpus() -> usize {
    core_affinity::get_core_ids().map_or(1, |ids| ids.len())
}

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A tokio runtime with one worker thread, pinned to `core` when given, whose threads are
/// recorded for CPU accounting.
pub fn runtime(name: &str, core: Option<usize>) -> (tokio::runtime::Runtime, Threads) {
    let threads = Threads::default();
    let recorder = threads.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .on_thread_start(move || {
            if let Some(core) = core {
                pin_current(core);
            }
            recorder.record_current();
        })
        .build()
        .expect("tokio runtime");
    (runtime, threads)
}
