//! Request counters, kept by the server itself as requests arrive (before any fault or handler
//! runs), so a test that got its answer always sees its request counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::faults::Endpoint;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    endpoints: [AtomicUsize; Endpoint::ALL.len()],
    paths: Mutex<HashMap<String, usize>>,
    introspected: Mutex<HashMap<String, usize>>,
}

fn bump(map: &Mutex<HashMap<String, usize>>, key: &str) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

fn read(map: &Mutex<HashMap<String, usize>>, key: &str) -> usize {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .copied()
        .unwrap_or(0)
}

impl Counters {
    pub(crate) fn count_path(&self, path: &str) {
        bump(&self.paths, path);
    }

    pub(crate) fn count_endpoint(&self, endpoint: Endpoint) {
        self.endpoints[endpoint.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_introspected(&self, token: &str) {
        bump(&self.introspected, token);
    }

    pub(crate) fn path(&self, path: &str) -> usize {
        read(&self.paths, path)
    }

    pub(crate) fn endpoint(&self, endpoint: Endpoint) -> usize {
        self.endpoints[endpoint.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn introspected(&self, token: &str) -> usize {
        read(&self.introspected, token)
    }

    pub(crate) fn reset(&self) {
        for counter in &self.endpoints {
            counter.store(0, Ordering::SeqCst);
        }
        self.paths.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.introspected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
