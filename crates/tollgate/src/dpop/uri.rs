//! The `htu` comparison of RFC 9449 §4.3: both sides normalised as RFC 3986 §6.2.2
//! (syntax-based) and §6.2.3 (scheme-based) describe, query and fragment dropped.

/// Longest URI normalised; anything longer is refused (a proof is at most 8 KiB anyway).
pub(crate) const MAX_URI_LEN: usize = 8 * 1024;

/// An `http`/`https` target URI in normal form, without query and fragment: what a proof's
/// `htu` must match.
///
/// The caller builds the request's URI from configuration (the external scheme and authority,
/// which behind a proxy differ from what the service sees) and the request's path; forwarded
/// headers are not trusted for it by default. The request's query may stay in: it is dropped
/// here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetUri(String);

impl TargetUri {
    /// Normalises `uri`; `None` when it is not an absolute `http` or `https` URI with a host.
    pub(crate) fn parse(uri: &str) -> Option<Self> {
        normalize(uri).map(Self)
    }

    #[cfg(test)]
    /// The normal form.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `scheme://host[:port]/path` in normal form. Userinfo is refused: RFC 9110 §4.2.4 forbids
/// it in `http` URIs.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    if uri.len() > MAX_URI_LEN || !uri.bytes().all(is_uri_byte) {
        return None;
    }
    // RFC 9449 §4.2: `htu` is compared without query and fragment.
    let uri = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
    let (scheme, rest) = uri.split_once("://")?;
    // RFC 3986 §6.2.2.1: the scheme is case-insensitive.
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        return None;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return None;
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() {
        return None;
    }

    let mut out = String::with_capacity(uri.len() + 1);
    out.push_str(if default_port == 443 { "https" } else { "http" });
    out.push_str("://");
    // RFC 3986 §6.2.2.1: the host is case-insensitive; percent-encodings are normalised first,
    // so that `%41` and `A` both end as `a`.
    let host_start = out.len();
    push_percent_normalized(&mut out, host)?;
    lowercase_outside_escapes(&mut out, host_start);
    // RFC 3986 §6.2.3: an empty port, or the scheme's default, is the same as none.
    if let Some(port) = port
        && !port.is_empty()
    {
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = port.trim_start_matches('0');
        let number: u16 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        if number != default_port {
            out.push(':');
            out.push_str(&number.to_string());
        }
    }
    // RFC 3986 §6.2.3: an empty path is `/`; §6.2.2.2, then §6.2.2.3 (dot segments, removed
    // after decoding so that `%2E%2E` counts as `..`).
    let mut normalized_path = String::with_capacity(path.len() + 1);
    if path.is_empty() {
        normalized_path.push('/');
    } else {
        push_percent_normalized(&mut normalized_path, path)?;
    }
    remove_dot_segments(&normalized_path, &mut out);
    Some(out)
}

/// Splits `host[:port]`, with IPv6 literals in brackets (RFC 3986 §3.2.2).
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, rest) = authority.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    Some(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// RFC 3986 §6.2.2.1 and §6.2.2.2: decodes percent-encoded unreserved characters and writes
/// the hex digits of the other encodings in upper case. A `%` not followed by two hex digits
/// makes the URI invalid.
fn push_percent_normalized(out: &mut String, input: &str) -> Option<()> {
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'%' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let hi = hex_value(*bytes.get(i + 1)?)?;
        let lo = hex_value(*bytes.get(i + 2)?)?;
        let decoded = (hi << 4) | lo;
        if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(decoded));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(hi)]));
            out.push(char::from(HEX[usize::from(lo)]));
        }
        i += 3;
    }
    Some(())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lower-cases `out[from..]` except the hex digits of percent-encodings, which stay upper case.
fn lowercase_outside_escapes(out: &mut String, from: usize) {
    let tail = out.split_off(from);
    let mut escape = 0;
    for c in tail.chars() {
        if c == '%' {
            escape = 2;
            out.push(c);
        } else if escape > 0 {
            escape -= 1;
            out.push(c);
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
}

/// `remove_dot_segments` of RFC 3986 §5.2.4, appending the result to `out`.
fn remove_dot_segments(path: &str, out: &mut String) {
    let base = out.len();
    let mut input = path;
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            let cut = out[base..].rfind('/').map_or(base, |at| base + at);
            out.truncate(cut);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // The first segment, with its leading `/`, up to the next `/`.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..]
                .find('/')
                .map_or(input.len(), |at| start + at);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
}

/// The characters a URI may contain (RFC 3986 §2): unreserved, reserved and `%`.
fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_normalise_alike() {
        for (given, normal) in [
            ("HTTPS://Example.COM:443/a", "https://example.com/a"),
            ("https://example.com/a", "https://example.com/a"),
            // RFC 3986 §6.2.3's own examples.
            ("http://example.com", "http://example.com/"),
            ("http://example.com/", "http://example.com/"),
            ("http://example.com:/", "http://example.com/"),
            ("http://example.com:80/", "http://example.com/"),
            ("http://example.com:0080/", "http://example.com/"),
            ("https://example.com:8443/a", "https://example.com:8443/a"),
            ("http://example.com:443/", "http://example.com:443/"),
            // Query and fragment are not part of `htu`.
            ("https://example.com/a?b=c#d", "https://example.com/a"),
            ("https://example.com?x", "https://example.com/"),
            ("https://example.com#f", "https://example.com/"),
            // Percent-encoding: unreserved decoded, the rest in upper-case hex.
            ("https://example.com/%7euser", "https://example.com/~user"),
            (
                "https://example.com/%41%2f%2F",
                "https://example.com/A%2F%2F",
            ),
            ("https://ex%61mple.COM/", "https://example.com/"),
            ("https://ex%c3%a9.com/", "https://ex%C3%A9.com/"),
            // Dot segments, RFC 3986 §5.2.4, also when encoded.
            ("https://example.com/a/./b/../c", "https://example.com/a/c"),
            ("https://example.com/a/%2E%2E/c", "https://example.com/c"),
            ("https://example.com/../../a", "https://example.com/a"),
            ("https://example.com/a/..", "https://example.com/"),
            ("https://example.com/a/.", "https://example.com/a/"),
            // IP literals.
            ("https://[::1]:443/x", "https://[::1]/x"),
            ("http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080/"),
            ("http://127.0.0.1:80/x", "http://127.0.0.1/x"),
        ] {
            assert_eq!(normalize(given).as_deref(), Some(normal), "{given}");
        }
    }

    #[test]
    fn different_resources_stay_different() {
        let pairs = [
            // The path is case-sensitive; an empty query delimiter is dropped with the query.
            ("https://example.com/A", "https://example.com/a"),
            ("https://example.com/a", "https://example.com/a/"),
            ("http://example.com/a", "https://example.com/a"),
            ("https://example.com:8443/a", "https://example.com/a"),
            ("https://example.com/a%2Fb", "https://example.com/a/b"),
            ("https://example.com./a", "https://example.com/a"),
        ];
        for (a, b) in pairs {
            assert_ne!(normalize(a), normalize(b), "{a} vs {b}");
        }
    }

    #[test]
    fn invalid_uris_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URI_LEN));
        for bad in [
            "",
            "/a",
            "example.com/a",
            "ftp://example.com/a",
            "https:/example.com/a",
            "https://",
            "https:///a",
            "https://:443/a",
            "https://user@example.com/a",
            "https://user:pw@example.com/a",
            "https://example.com:x/a",
            "https://example.com:65536/a",
            "https://[::1/a",
            "https://[::1]x/a",
            "https://example.com/a%",
            "https://example.com/a%4",
            "https://example.com/a%zz",
            "https://example.com/a b",
            "https://example.com/é",
            "https://example.com/a\"b",
            "https://example.com/a\\b",
            long.as_str(),
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn target_uri_keeps_the_normal_form() {
        let target = TargetUri::parse("HTTPS://API.example.com:443/orders/./1?page=2").unwrap();
        assert_eq!(target.as_str(), "https://api.example.com/orders/1");
        assert_eq!(
            TargetUri::parse("https://api.example.com/orders/1"),
            Some(target)
        );
    }
}
