//! How a [`PolicyTable`](super::PolicyTable) reads a request path: the spellings it refuses,
//! and the readings (as sent, percent-decoded, normalized) it judges the rest by.
//!
//! Servers disagree about paths. axum's router and hand-written hyper services dispatch on the
//! path exactly as sent; other routers decode percent-escapes first, ignore a trailing slash,
//! resolve `.` and `..` (RFC 3986 §5.2.4), cut a segment at `;`, or read `\` as `/`. A spelling
//! that two such servers read as two different paths is refused; one that they read as the same
//! path spelled two ways is judged under each reading.

/// The description of a path with a `.` or `..` segment, in any spelling.
pub(super) const DOT_SEGMENT: &str = "the request path contains a . or .. segment";
/// ... with an encoded `/` or a `\` in any spelling.
pub(super) const SEPARATOR: &str = "the request path contains an encoded slash or a backslash";
/// ... with an encoded control character (NUL included).
pub(super) const CONTROL: &str = "the request path contains an encoded control character";
/// ... with a malformed percent-escape, or escapes that do not decode to UTF-8.
pub(super) const ESCAPE: &str = "the request path contains an invalid percent-escape";
/// ... with an escape of an escape (`%252e`).
pub(super) const DOUBLE: &str = "the request path is percent-encoded twice";
/// ... with a `;`.
pub(super) const PARAMETER: &str = "the request path contains a semicolon";
/// ... with an empty segment (`//`).
pub(super) const EMPTY_SEGMENT: &str = "the request path contains an empty segment";
/// ... whose readings select rules none of which is at least as strict as the others.
pub(super) const AMBIGUOUS: &str =
    "the request path can be read as routes with incompatible requirements";

/// What the scan of a path found that calls for more than the reading as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Scan {
    /// A percent-escape: the decoded reading may differ.
    pub(super) escapes: bool,
    /// An encoded `/` or `\`, or a literal `\` (lenient only): splitting before and after
    /// decoding may differ.
    pub(super) separators: bool,
    /// A dot segment or an empty segment (lenient only): the normalized reading may differ.
    pub(super) unusual: bool,
}

/// The value of a hexadecimal digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte of the escape `%XY` starting at `bytes[i]`, if it is one (RFC 3986 §2.1).
pub(super) fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i..i + 3)? {
        [b'%', h, l] => Some(hex(*h)? * 16 + hex(*l)?),
        _ => None,
    }
}

/// The decoded byte at `bytes[i]` and the index after it; `None` at the end or at a malformed
/// escape.
fn decoded_at(bytes: &[u8], i: usize) -> Option<(u8, usize)> {
    match *bytes.get(i)? {
        b'%' => escape_at(bytes, i).map(|b| (b, i + 3)),
        b => Some((b, i + 1)),
    }
}

/// Whether the `%` just decoded, followed by the bytes from `bytes[i]` on, decodes to another
/// escape: `%252e`, or `%25%32%65`, which a server that decodes twice reads as `.`.
pub(super) fn escapes_an_escape(bytes: &[u8], i: usize) -> bool {
    let Some((first, next)) = decoded_at(bytes, i) else {
        return false;
    };
    let Some((second, _)) = decoded_at(bytes, next) else {
        return false;
    };
    first.is_ascii_hexdigit() && second.is_ascii_hexdigit()
}

/// Checks a path (which starts with `/`) in one pass over its bytes, without allocating, and
/// says which readings it needs.
///
/// Refused in every mode, because no reading covers what servers do with them: malformed
/// escapes, encoded control characters, escapes of escapes and `;` (servlet containers cut a
/// segment there, `/admin;x` being `/admin`; RFC 3986 §3.3 leaves its meaning to the server).
/// Refused unless `lenient`: dot segments in any spelling, encoded slashes, backslashes in
/// either spelling, and empty segments other than a trailing slash.
pub(super) fn scan(path: &str, lenient: bool) -> Result<Scan, &'static str> {
    let bytes = path.as_bytes();
    let mut found = Scan::default();
    // The current segment's length and number of dots, both counted after decoding.
    let (mut length, mut dots) = (0usize, 0usize);
    let mut i = 1;
    loop {
        let Some(&b) = bytes.get(i) else {
            // The last segment may be empty: a trailing slash, judged with and without it.
            if length > 0 && length == dots && length <= 2 {
                if !lenient {
                    return Err(DOT_SEGMENT);
                }
                found.unusual = true;
            }
            return Ok(found);
        };
        let decoded = match b {
            b'/' => {
                if length == 0 || (length == dots && length <= 2) {
                    if !lenient {
                        return Err(if length == 0 {
                            EMPTY_SEGMENT
                        } else {
                            DOT_SEGMENT
                        });
                    }
                    found.unusual = true;
                }
                (length, dots) = (0, 0);
                i += 1;
                continue;
            }
            b';' => return Err(PARAMETER),
            b'\\' => {
                if !lenient {
                    return Err(SEPARATOR);
                }
                found.separators = true;
                b
            }
            b'%' => {
                let Some(decoded) = escape_at(bytes, i) else {
                    return Err(ESCAPE);
                };
                found.escapes = true;
                i += 2;
                match decoded {
                    0x00..=0x1f | 0x7f => return Err(CONTROL),
                    b';' => return Err(PARAMETER),
                    b'%' if escapes_an_escape(bytes, i + 1) => return Err(DOUBLE),
                    b'/' | b'\\' if !lenient => return Err(SEPARATOR),
                    b'/' | b'\\' => found.separators = true,
                    _ => {}
                }
                decoded
            }
            _ => b,
        };
        length += 1;
        if decoded == b'.' {
            dots += 1;
        }
        i += 1;
    }
}

/// Decodes every escape of a path that [`scan`] accepted, so every `%` starts a well-formed
/// escape (RFC 3986 §2.1).
pub(super) fn decode(text: &str) -> Result<String, &'static str> {
    // This also refuses overlong forms (`%c0%ae` for `.`) and lone surrogates: RFC 3629 §3.
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| ESCAPE)
}

/// The segments of `text` (a path starting with `/`), split on `/`; `trimmed` drops one
/// trailing slash. The root `/` has no segments.
pub(super) fn segments(text: &str, trimmed: bool) -> impl Iterator<Item = &str> + Clone {
    let body = text.get(1..).unwrap_or_default();
    let body = if trimmed {
        body.strip_suffix('/').unwrap_or(body)
    } else {
        body
    };
    body.split('/')
        .take(if body.is_empty() { 0 } else { usize::MAX })
}

/// How many segments [`split_onto`] holds: more than nearly every API path has.
pub(super) const STACK_SEGMENTS: usize = 16;

/// The segments of `text` (as [`segments`] without trimming) in `stack`, or `None` if there are
/// more than it holds.
pub(super) fn split_onto<'a, 's>(
    text: &'a str,
    stack: &'s mut [&'a str; STACK_SEGMENTS],
) -> Option<&'s [&'a str]> {
    let mut count = 0;
    for segment in segments(text, false) {
        *stack.get_mut(count)? = segment;
        count += 1;
    }
    stack.get(..count)
}

/// The normalized reading of a decoded path: `\` read as `/`, empty and `.` segments dropped,
/// `..` resolved (RFC 3986 §5.2.4; above the root it stays at the root).
pub(super) fn normalize(decoded: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(8);
    for segment in decoded.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_need_only_the_reading_as_sent() {
        for path in [
            "/",
            "/health",
            "/admin/users/7",
            "/a.b/.well-known/...",
            "/x/",
        ] {
            assert_eq!(scan(path, false), Ok(Scan::default()), "{path}");
        }
        assert_eq!(
            scan("/caf%C3%A9", false),
            Ok(Scan {
                escapes: true,
                ..Scan::default()
            })
        );
    }

    #[test]
    fn every_spelling_of_a_dot_segment_is_refused() {
        for path in [
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/a/.",
            "/a/./",
            "/%2e",
            "/%2E",
            "/a/%2e%2e/b",
            "/a/%2E%2E/b",
            "/a/%2e%2E/b",
            "/a/.%2e/b",
            "/a/%2e./b",
            "/a/.%2E",
            "/a/%2e/",
        ] {
            assert_eq!(scan(path, false), Err(DOT_SEGMENT), "{path}");
        }
    }

    #[test]
    fn separators_controls_parameters_and_empty_segments_are_refused() {
        let cases = [
            ("/a%2fb", SEPARATOR),
            ("/a%2Fb", SEPARATOR),
            ("/a\\b", SEPARATOR),
            ("/a%5cb", SEPARATOR),
            ("/a%5Cb", SEPARATOR),
            ("/a%00", CONTROL),
            ("/a%0a", CONTROL),
            ("/a%0D%0Ab", CONTROL),
            ("/a%1f", CONTROL),
            ("/a%7F", CONTROL),
            ("/a;b", PARAMETER),
            ("/a;/b", PARAMETER),
            ("/a%3bb", PARAMETER),
            ("/a%3B", PARAMETER),
            ("//a", EMPTY_SEGMENT),
            ("/a//b", EMPTY_SEGMENT),
            ("/a//", EMPTY_SEGMENT),
            ("/a%", ESCAPE),
            ("/a%2", ESCAPE),
            ("/a%zz", ESCAPE),
            ("/a%%32%65", ESCAPE),
            ("/a%252e", DOUBLE),
            ("/a%252E%252E", DOUBLE),
            ("/a%25%32%65", DOUBLE),
            ("/a%25%32e", DOUBLE),
            ("/a%252%65", DOUBLE),
        ];
        for (path, why) in cases {
            assert_eq!(scan(path, false), Err(why), "{path}");
        }
        // A percent sign that is not followed by an escape is just a percent sign.
        assert!(scan("/100%25", false).is_ok());
        assert!(scan("/100%25x", false).is_ok());
        assert!(scan("/100%25%7E", false).is_ok());
    }

    #[test]
    fn lenient_accepts_what_it_can_read_and_refuses_the_rest() {
        let unusual = Scan {
            unusual: true,
            ..Scan::default()
        };
        assert_eq!(scan("/a/../b", true), Ok(unusual));
        assert_eq!(scan("//a", true), Ok(unusual));
        assert_eq!(
            scan("/a%2Fb", true),
            Ok(Scan {
                escapes: true,
                separators: true,
                unusual: false
            })
        );
        assert_eq!(
            scan("/a\\b", true),
            Ok(Scan {
                separators: true,
                ..Scan::default()
            })
        );
        for (path, why) in [
            ("/a%00", CONTROL),
            ("/a;b", PARAMETER),
            ("/a%252e", DOUBLE),
            ("/a%zz", ESCAPE),
        ] {
            assert_eq!(scan(path, true), Err(why), "{path}");
        }
    }

    #[test]
    fn decoding_refuses_what_is_not_utf8() {
        assert_eq!(decode("/caf%C3%A9").as_deref(), Ok("/café"));
        assert_eq!(decode("/%7Euser").as_deref(), Ok("/~user"));
        for path in [
            "/%ff",
            "/%c0%ae",
            "/%e0%80%ae",
            "/%ed%a0%80",
            "/%C3",
            "/%C3a",
        ] {
            assert_eq!(decode(path), Err(ESCAPE), "{path}");
        }
    }

    #[test]
    fn segments_and_normalization() {
        let all = |text, trimmed| segments(text, trimmed).collect::<Vec<_>>();
        assert_eq!(all("/", false), Vec::<&str>::new());
        assert_eq!(all("/", true), Vec::<&str>::new());
        assert_eq!(all("/a/b", false), ["a", "b"]);
        assert_eq!(all("/a/b/", false), ["a", "b", ""]);
        assert_eq!(all("/a/b/", true), ["a", "b"]);
        assert_eq!(normalize("/a/./b/../../c\\d//e/"), ["c", "d", "e"]);
        let mut stack = [""; STACK_SEGMENTS];
        assert_eq!(split_onto("/a/b/", &mut stack), Some(&["a", "b", ""][..]));
        assert_eq!(split_onto("/", &mut stack), Some(&[][..]));
        let long = "/x".repeat(STACK_SEGMENTS);
        assert_eq!(
            split_onto(&long, &mut stack).map(<[_]>::len),
            Some(STACK_SEGMENTS)
        );
        assert_eq!(split_onto(&format!("{long}/"), &mut stack), None);
        assert_eq!(normalize("/../../a"), ["a"]);
    }
}
