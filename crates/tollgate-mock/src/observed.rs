//! What the server was asked, read through the handle: counters, in-flight gauges and the
//! record of the last requests per endpoint.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::faults::Endpoint;
use crate::server::MockAuthServer;

/// How many requests each endpoint's record keeps: the last ones, older ones are forgotten.
pub(crate) const KEPT: usize = 100;

/// One request to an endpoint, as it arrived: before any fault, authentication or parsing.
///
/// A test tool's record: it keeps everything, `Authorization` and any secret in the body
/// included, so that a test can check how a client sent its credentials. `Debug` shows header
/// names and the body's length only, so that a failing test does not print them.
#[derive(Clone)]
#[non_exhaustive]
pub struct SeenRequest {
    /// The method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// The query string, without `?`, if there was one.
    pub query: Option<String>,
    /// Every header line, as sent.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl SeenRequest {
    pub(crate) fn new(parts: &http::request::Parts, body: Bytes) -> SeenRequest {
        SeenRequest {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
            body,
        }
    }

    /// The first value of header `name` (case-insensitive), if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as UTF-8, invalid bytes replaced.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body read as `application/x-www-form-urlencoded`: every pair in order, decoded,
    /// repeated and empty ones included (whatever the `Content-Type` said). Empty when the body
    /// is no such form.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }
}

impl std::fmt::Debug for SeenRequest {
    // Header values and the body may hold credentials and tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|name| name.as_str()).collect();
        f.debug_struct("SeenRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The last [`KEPT`] requests of each endpoint.
#[derive(Debug, Default)]
pub(crate) struct Records {
    endpoints: Mutex<[VecDeque<SeenRequest>; Endpoint::ALL.len()]>,
}

impl Records {
    pub(crate) fn record(&self, endpoint: Endpoint, request: SeenRequest) {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let record = &mut endpoints[endpoint.index()];
        if record.len() == KEPT {
            record.pop_front();
        }
        record.push_back(request);
    }

    fn of(&self, endpoint: Endpoint) -> Vec<SeenRequest> {
        let endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints[endpoint.index()].iter().cloned().collect()
    }

    fn last(&self, endpoint: Endpoint) -> Option<SeenRequest> {
        let endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints[endpoint.index()].back().cloned()
    }

    fn clear(&self) {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints.iter_mut().for_each(VecDeque::clear);
    }
}

impl MockAuthServer {
    /// Requests to the introspection endpoint, whatever their outcome.
    pub fn introspection_count(&self) -> usize {
        self.shared().counters.endpoint(Endpoint::Introspection)
    }

    /// Requests to the introspection endpoint whose form named this `token`, whatever their
    /// outcome (faults and failed authentication included).
    pub fn introspection_count_for(&self, token: &str) -> usize {
        self.shared().counters.introspected(token)
    }

    /// Requests to the JWKS.
    pub fn jwks_fetches(&self) -> usize {
        self.shared().counters.endpoint(Endpoint::Jwks)
    }

    /// Requests to either metadata document.
    pub fn discovery_fetches(&self) -> usize {
        self.shared().counters.endpoint(Endpoint::Discovery)
    }

    /// Requests to the token endpoint.
    pub fn token_requests(&self) -> usize {
        self.shared().counters.endpoint(Endpoint::Token)
    }

    /// Requests to the revocation endpoint.
    pub fn revocation_requests(&self) -> usize {
        self.shared().counters.endpoint(Endpoint::Revocation)
    }

    /// Requests to this exact path (no query string), any method, known or not: a test can
    /// show that a `jku` or `x5u` URL pointing at the mock was never fetched.
    pub fn requests_to(&self, path: &str) -> usize {
        self.shared().counters.path(path)
    }

    /// The last 100 requests to `endpoint`, oldest first, as they arrived (faulted and refused
    /// ones included): method, path, every header and the body. Secrets are kept (see
    /// [`SeenRequest`]).
    ///
    /// A body over 64 KiB is not read: the request is answered 400 `invalid_request` and not
    /// recorded, though still counted.
    pub fn requests(&self, endpoint: Endpoint) -> Vec<SeenRequest> {
        self.shared().records.of(endpoint)
    }

    /// The last request to `endpoint`, if any: see [`requests`](Self::requests).
    pub fn last_request(&self, endpoint: Endpoint) -> Option<SeenRequest> {
        self.shared().records.last(endpoint)
    }

    /// Requests to `endpoint` being answered right now: from their arrival (body read) until
    /// their answer's head is ready, [`Fault::Latency`](crate::Fault::Latency) included. A
    /// body sent slowly afterwards ([`Fault::SlowDrip`](crate::Fault::SlowDrip)) no longer
    /// counts.
    pub fn in_flight(&self, endpoint: Endpoint) -> usize {
        self.shared().counters.in_flight(endpoint)
    }

    /// The most requests to `endpoint` ever in flight at once (see
    /// [`in_flight`](Self::in_flight)): how a test shows that a client bounds its concurrent
    /// calls.
    pub fn max_in_flight(&self, endpoint: Endpoint) -> usize {
        self.shared().counters.max_in_flight(endpoint)
    }

    /// Sets every counter back to zero, forgets the recorded requests, and sets each
    /// [`max_in_flight`](Self::max_in_flight) to what is in flight now.
    pub fn reset_counts(&self) {
        self.shared().counters.reset();
        self.shared().records.clear();
    }
}
