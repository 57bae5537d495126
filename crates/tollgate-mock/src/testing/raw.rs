//! Requests written byte for byte on a TCP connection.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Answer;

/// Sends `method target` over a fresh connection to the server at `url` (`http://host:port`),
/// byte for byte, with `Authorization: Bearer token` when a token is given, and reads the whole
/// answer (the request says `Connection: close`).
///
/// For request targets that an HTTP client library would change before they leave: it
/// resolves dot segments (WHATWG URL), escapes a backslash or refuses a bad escape, and the
/// test would then judge another path than the one it meant.
///
/// # Panics
/// If the connection fails, or the answer is not an HTTP/1.1 response (no status line, no end
/// of headers, a broken chunked body).
pub async fn raw_request(url: &str, method: &str, target: &str, token: Option<&str>) -> Answer {
    let addr = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("writing {method} {target}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .unwrap_or_else(|e| panic!("reading the answer to {method} {target}: {e}"));
    parse(&raw).unwrap_or_else(|why| {
        panic!(
            "the answer to {method} {target} is not an HTTP/1.1 response ({why}): {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// Reads a whole HTTP/1.1 response: status line, headers, and a body delimited by the end of
/// the connection or in chunks (RFC 9112 §7.1).
fn parse(raw: &[u8]) -> Result<Answer, &'static str> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or("no status line")?;
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    };
    let rest = &raw[end + 4..];
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status,
        challenge: header("www-authenticate"),
        retry_after: header("retry-after"),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The data of a chunked body (chunk extensions and trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let size = size.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| "a chunk size that is not hex")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk cut short")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk without its line end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_with_a_length_or_in_chunks() {
        let plain = b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm=\"x\"\r\ncontent-length: 2\r\n\r\nno";
        let answer = parse(plain).unwrap();
        assert_eq!(answer.status, 401);
        assert_eq!(answer.challenge.as_deref(), Some("Bearer realm=\"x\""));
        assert_eq!((answer.retry_after, answer.body.as_str()), (None, "no"));

        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let answer = parse(chunked).unwrap();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.retry_after.as_deref(), Some("5"));
        assert_eq!(answer.body, "abcde");
    }

    #[test]
    fn what_is_not_a_response_says_why() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n"), Err("no end of the headers"));
        assert_eq!(parse(b"SSH-2.0\r\n\r\n"), Err("no status line"));
        let cut = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nabc";
        assert_eq!(parse(cut), Err("a chunk cut short"));
        let bad = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(parse(bad), Err("a chunk size that is not hex"));
    }
}
