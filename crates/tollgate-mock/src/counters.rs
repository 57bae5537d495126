//! Request counters, kept by the server itself as requests arrive (before any fault or handler
//! runs), so a test that got its answer always sees its request counted; and the in-flight
//! gauges, which follow each request of an endpoint until its answer is ready.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::faults::Endpoint;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    endpoints: [AtomicUsize; Endpoint::ALL.len()],
    in_flight: [AtomicUsize; Endpoint::ALL.len()],
    max_in_flight: [AtomicUsize; Endpoint::ALL.len()],
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

    /// Counts a request of `endpoint` as in flight until the guard is dropped: when the answer
    /// is ready, or when the connection went away and the request with it.
    pub(crate) fn enter(&self, endpoint: Endpoint) -> InFlight<'_> {
        let index = endpoint.index();
        let now = self.in_flight[index].fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight[index].fetch_max(now, Ordering::SeqCst);
        InFlight {
            gauge: &self.in_flight[index],
        }
    }

    pub(crate) fn in_flight(&self, endpoint: Endpoint) -> usize {
        self.in_flight[endpoint.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn max_in_flight(&self, endpoint: Endpoint) -> usize {
        self.max_in_flight[endpoint.index()].load(Ordering::SeqCst)
    }

    /// Counters back to zero; each maximum back to what is in flight now (those requests are
    /// still counted when they end).
    pub(crate) fn reset(&self) {
        for counter in &self.endpoints {
            counter.store(0, Ordering::SeqCst);
        }
        for (max, now) in self.max_in_flight.iter().zip(&self.in_flight) {
            max.store(now.load(Ordering::SeqCst), Ordering::SeqCst);
        }
        self.paths.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.introspected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// One request of an endpoint in flight; dropping it ends it.
pub(crate) struct InFlight<'a> {
    gauge: &'a AtomicUsize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gauge.fetch_sub(1, Ordering::SeqCst);
    }
}
