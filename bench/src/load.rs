//! A small closed-loop HTTP/1.1 load generator: a fixed number of keep-alive connections, each
//! sending its next request as soon as the previous answer is read.
//!
//! It writes pre-built request bytes and reads just enough of each response to find its end
//! (`Content-Length`, or a chunked body's last chunk), so it spends far less CPU per request
//! than a general client: on a 2-core machine it shares with the server, that leaves more of
//! the machine to the server under test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request or answer slower than this counts as an error (and the connection is renewed).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A `GET` with a bearer token (or none), as bytes on the wire.
pub fn request(addr: SocketAddr, path: &str, token: Option<&str>) -> Arc<[u8]> {
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}\r\n")
        .into_bytes()
        .into()
}

/// How long connections send.
#[derive(Clone, Copy)]
pub enum Plan {
    /// Warm up, then measure, each for a fixed time.
    Timed { warmup: Duration, measure: Duration },
    /// Send each connection's requests once, at most one per `pace` (zero: no pause).
    Once { pace: Duration },
}

/// What one run measured (only requests that completed inside the measurement window).
pub struct Outcome {
    pub completed: u64,
    /// Answers whose status was not the expected one.
    pub unexpected: u64,
    /// Failed exchanges: I/O errors, timeouts, unparsable answers.
    pub errors: u64,
    /// Latency in nanoseconds.
    pub latency: Histogram<u64>,
    pub window: Duration,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64()
    }
}

/// Drives `addr` with one connection per entry of `requests`; each connection sends its own
/// requests in turn (cycling for a timed plan).
pub async fn drive(
    addr: SocketAddr,
    requests: Vec<Vec<Arc<[u8]>>>,
    expect: u16,
    plan: Plan,
) -> Outcome {
    let start = Instant::now();
    let (measure_from, end) = match plan {
        Plan::Timed { warmup, measure } => (start + warmup, Some(start + warmup + measure)),
        Plan::Once { .. } => (start, None),
    };
    let pace = match plan {
        Plan::Once { pace } => pace,
        Plan::Timed { .. } => Duration::ZERO,
    };
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|reqs| tokio::spawn(connection(addr, reqs, expect, measure_from, end, pace)))
        .collect();
    let mut total = Outcome {
        completed: 0,
        unexpected: 0,
        errors: 0,
        latency: histogram(),
        window: Duration::ZERO,
    };
    for task in tasks {
        let one = task.await.expect("connection task");
        total.completed += one.completed;
        total.unexpected += one.unexpected;
        total.errors += one.errors;
        total
            .latency
            .add(&one.latency)
            .expect("same histogram bounds");
    }
    total.window = match end {
        Some(end) => end - measure_from,
        None => start.elapsed(),
    };
    total
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("valid histogram bounds")
}

async fn connection(
    addr: SocketAddr,
    requests: Vec<Arc<[u8]>>,
    expect: u16,
    measure_from: Instant,
    end: Option<Instant>,
    pace: Duration,
) -> Outcome {
    let mut out = Outcome {
        completed: 0,
        unexpected: 0,
        errors: 0,
        latency: histogram(),
        window: Duration::ZERO,
    };
    let mut stream: Option<TcpStream> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut ticker = (!pace.is_zero()).then(|| {
        let mut t = tokio::time::interval(pace);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    for (i, request) in requests.iter().cycle().enumerate() {
        if end.is_none() && i == requests.len() {
            break;
        }
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        let sent = Instant::now();
        if end.is_some_and(|end| sent >= end) {
            break;
        }
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    out.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let s = stream.as_mut().expect("connected");
        buf.clear();
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange(s, request, &mut buf)).await {
            Ok(Ok((status, keep_alive))) => {
                let done = Instant::now();
                if done >= measure_from && end.is_none_or(|end| done <= end) {
                    out.completed += 1;
                    if status != expect {
                        out.unexpected += 1;
                    }
                    let nanos = u64::try_from((done - sent).as_nanos()).unwrap_or(u64::MAX);
                    out.latency.saturating_record(nanos);
                }
                if !keep_alive {
                    stream = None;
                }
            }
            _ => {
                out.errors += 1;
                stream = None;
            }
        }
    }
    out
}

/// Sends one request and reads its whole answer: the status and whether the connection stays
/// open.
pub async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, bool)> {
    stream.write_all(request).await?;
    loop {
        if let Some(parsed) = parse(buf)? {
            return Ok(parsed);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// `Some((status, keep_alive))` once `buf` holds a complete response.
fn parse(buf: &[u8]) -> std::io::Result<Option<(u16, bool)>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "unparsable response");
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad())?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = true;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad())?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }
    let body = &buf[head_end + 4..];
    let complete = match (length, chunked) {
        (_, true) => body.ends_with(b"0\r\n\r\n"),
        (Some(n), false) => body.len() >= n,
        (None, false) => true,
    };
    Ok(complete.then_some((status, keep_alive)))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn responses() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap(),
            Some((200, true))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{").unwrap(),
            None
        );
        assert_eq!(
            parse(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").unwrap(),
            Some((401, true))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
                .unwrap(),
            Some((200, true))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").unwrap(),
            Some((200, false))
        );
    }
}
