//! A tiny HTTP server on 127.0.0.1 whose answers the tests change at will, and which counts
//! the requests it gets per path.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

/// One canned answer.
#[derive(Clone)]
pub(super) struct Route {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    pub(super) headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub(super) delay: Duration,
    /// Send the body in chunks without a `Content-Length`.
    pub(super) chunked: bool,
}

impl Route {
    pub(super) fn json(value: &Value) -> Self {
        Self {
            status: 200,
            body: serde_json::to_vec(value).unwrap(),
            headers: vec![("content-type".into(), "application/json".into())],
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    pub(super) fn status(status: u16) -> Self {
        Self {
            status,
            body: Vec::new(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    pub(super) fn raw(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::status(200)
        }
    }

    pub(super) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(super) fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub(super) fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }
}

#[derive(Default)]
struct Routes {
    answers: Mutex<HashMap<String, Route>>,
    hits: Mutex<HashMap<String, usize>>,
}

pub(super) struct TestServer {
    pub(super) addr: SocketAddr,
    routes: Arc<Routes>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(super) async fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().unwrap()).await
    }

    pub(super) async fn start_at(addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(Routes::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&routes));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, routes, task }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(super) fn set(&self, path: &str, route: Route) {
        self.routes
            .answers
            .lock()
            .unwrap()
            .insert(path.to_owned(), route);
    }

    pub(super) fn hits(&self, path: &str) -> usize {
        self.routes
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(routes): State<Arc<Routes>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    *routes.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let route = routes.answers.lock().unwrap().get(&path).cloned();
    let Some(route) = route else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    let body = if route.chunked {
        let chunks: Vec<Result<Bytes, Infallible>> = route
            .body
            .chunks(1024)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(route.body)
    };
    let mut response = Response::builder().status(route.status);
    for (name, value) in &route.headers {
        response = response.header(name, value);
    }
    response.body(body).unwrap()
}
