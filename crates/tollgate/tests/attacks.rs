//! The attack corpus: crafted tokens and requests, each with the exact status and `error` code
//! it must get (README, "Behaviour"), drawn from RFC 8725 (JWT best current practices), RFC 9068 §4 (JWT
//! access token validation), RFC 7515 (JWS) and RFC 6750 (bearer token usage).
//!
//! Every case is sent in process to an axum app behind tollgate, exactly as built here (no HTTP
//! client or server tidies the request on the way, e.g. trims the spaces after `Bearer`); the
//! authorization server is tollgate-mock over real loopback HTTP. The path cases at the end go
//! over raw TCP, since the bytes of the request target are the point. The expected values come
//! from the RFCs and the README, not from the code: where the two disagreed, the library was fixed
//! (see the cases marked "finding").

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Answer, InProcess, builder, hybrid_builder, ready, serve};
use http::HeaderValue;
use http::header::AUTHORIZATION;
use serde_json::{Value, json};
use tollgate::{Requirement, Tollgate};
use tollgate_mock::Algorithm;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::{b64, b64_json, non_canonical, raw_request, segments, unix_now};

/// What a case must get: one row of the table in README, "Behaviour".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200: the request reaches the handler (the corpus's positive controls).
    Pass,
    /// 401 with a bare `Bearer realm=...` challenge and no error code (RFC 6750 §3.1).
    NoToken,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope`.
    InsufficientScope,
}

impl Expect {
    fn status(self) -> u16 {
        match self {
            Self::Pass => 200,
            Self::NoToken | Self::InvalidToken => 401,
            Self::InvalidRequest => 400,
            Self::InsufficientScope => 403,
        }
    }

    fn error(self) -> Option<&'static str> {
        match self {
            Self::Pass | Self::NoToken => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
        }
    }
}

/// Which tollgate serves the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Introspection configured (opaque-shaped tokens are asked about).
    Hybrid,
    /// Local validation only.
    Local,
}

/// Makes a token from the time it is sent at (seconds since the epoch).
type Timed = Arc<dyn Fn(i64) -> String + Send + Sync>;

/// A time-claim case: its name, the claims as a function of the time of sending, the answer.
type TimeCase = (&'static str, fn(i64) -> Value, Expect);

/// How the request carries (or fails to carry) its credentials.
#[derive(Clone)]
enum Carry {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Bearer <token>`, the token made when the request goes out: cases near a
    /// time limit must not drift across it while the corpus runs.
    Timed(Timed),
    /// These exact `Authorization` field values, one header line each.
    Headers(Vec<Vec<u8>>),
    /// `Authorization: Bearer <token>` and `?access_token=<token>`.
    HeaderAndQuery(String),
    /// `?access_token=<token>` only.
    Query(String),
    /// No credentials at all.
    Nothing,
}

struct Case {
    name: String,
    gate: Gate,
    path: &'static str,
    carry: Carry,
    expect: Expect,
}

/// The corpus under construction, with the material to craft tokens.
struct Corpus {
    mock: MockAuthServer,
    cases: Vec<Case>,
    /// The payload of a valid token, to sign in crafted variants.
    payload: Value,
    rsa: String,
    rsa2: String,
}

impl Corpus {
    fn add(&mut self, name: impl Into<String>, carry: Carry, expect: Expect) {
        self.add_on(name, Gate::Hybrid, "/whoami", carry, expect);
    }

    fn add_on(
        &mut self,
        name: impl Into<String>,
        gate: Gate,
        path: &'static str,
        carry: Carry,
        expect: Expect,
    ) {
        self.cases.push(Case {
            name: name.into(),
            gate,
            path,
            carry,
            expect,
        });
    }

    /// A Bearer token on the routine route of the hybrid gate.
    fn token(&mut self, name: impl Into<String>, token: String, expect: Expect) {
        self.add(name, Carry::Bearer(token), expect);
    }

    /// A Bearer token on the routine route of both gates, with the same expectation.
    fn token_both(&mut self, name: &str, token: String, expect: Expect) {
        self.add_on(
            format!("{name} (hybrid)"),
            Gate::Hybrid,
            "/whoami",
            Carry::Bearer(token.clone()),
            expect,
        );
        self.add_on(
            format!("{name} (local only)"),
            Gate::Local,
            "/whoami",
            Carry::Bearer(token),
            expect,
        );
    }

    /// The default header for key `kid` with `alg`.
    fn header(alg: &str, kid: &str) -> Value {
        json!({"alg": alg, "typ": "at+jwt", "kid": kid})
    }

    /// The valid payload with `changes` applied (`null` removes a claim).
    fn payload_with(&self, changes: Value) -> Value {
        let mut payload = self.payload.clone();
        let map = payload.as_object_mut().expect("object");
        for (name, value) in changes.as_object().expect("object") {
            if value.is_null() {
                map.remove(name);
            } else {
                map.insert(name.clone(), value.clone());
            }
        }
        payload
    }

    /// Signs `payload` under the RSA key's default header.
    fn rsa_signed(&self, payload: &Value) -> String {
        self.mock
            .sign_raw(&Self::header("RS256", &self.rsa), payload, &self.rsa)
    }

    /// Signs these exact bytes with the RSA key (RS256).
    fn rsa_signed_bytes(&self, header: &[u8], payload: &[u8]) -> String {
        self.mock
            .sign_raw_bytes(header, payload, &self.rsa, Algorithm::RS256)
    }
}

/// The P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `n - s` for a big-endian 32-byte `s < n`: the other half of an ECDSA signature that
/// verifies just as well (ECDSA signatures are malleable).
fn negate_mod_n(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route("/whoami", get(|| async { "ok" }))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(gate.sensitive()),
        )
        .route(
            "/photos",
            get(|| async { "photos" })
                .route_layer(gate.require(Requirement::routine().all_scopes(["photos"]))),
        )
        .layer(gate.layer())
}

/// Sends the case's request; returns the answer and the token the case is about, if any (the
/// response must never echo it).
async fn run(app: &InProcess<Router>, case: &Case) -> (Answer, Option<String>) {
    let target = case.path;
    let token = match &case.carry {
        Carry::Bearer(t) | Carry::HeaderAndQuery(t) | Carry::Query(t) => Some(t.clone()),
        Carry::Timed(make) => Some(make(unix_now())),
        Carry::Headers(_) | Carry::Nothing => None,
    };
    let request = match &case.carry {
        Carry::Bearer(_) | Carry::Timed(_) => {
            let token = token.as_deref().unwrap_or_default();
            http::Request::get(target).header(AUTHORIZATION, bearer(token))
        }
        Carry::Headers(values) => {
            values
                .iter()
                .fold(http::Request::get(target), |request, value| {
                    request.header(
                        AUTHORIZATION,
                        HeaderValue::from_bytes(value).expect("a field value"),
                    )
                })
        }
        Carry::HeaderAndQuery(token) => {
            http::Request::get(format!("{target}?access_token={token}"))
                .header(AUTHORIZATION, bearer(token))
        }
        Carry::Query(token) => http::Request::get(format!("{target}?access_token={token}")),
        Carry::Nothing => http::Request::get(target),
    };
    let request = request.body(Body::empty()).expect("a request");
    (app.send(request).await, token)
}

/// `Bearer <token>` as raw bytes: the corpus sends tokens no well-behaved client would.
fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_bytes(format!("Bearer {token}").as_bytes()).expect("a field value")
}

#[tokio::test]
async fn the_attack_corpus_gets_exactly_the_expected_answers() {
    let mock = MockAuthServer::start().await;
    let rsa = mock.signing_kid();
    let es = mock.add_key(Algorithm::ES256);
    let ed = mock.add_key(Algorithm::EdDSA);
    // A second RSA key: a token without `kid` then has two candidate keys.
    let rsa2 = mock.add_key(Algorithm::RS256);
    // The attacker runs an authorization server of their own, with their own key material.
    let evil = MockAuthServer::start().await;
    let evil_kid = evil.add_key(Algorithm::RS256);

    let hybrid = ready(hybrid_builder(&mock)).await;
    let local = ready(builder(&mock)).await;
    let hybrid_app = InProcess::new(app(&hybrid));
    let local_app = InProcess::new(app(&local));
    let jwks_fetches_at_start = mock.jwks_fetches();

    let payload = mock.token().claims();
    let mut c = Corpus {
        mock: mock.clone(),
        cases: Vec::new(),
        payload,
        rsa: rsa.clone(),
        rsa2,
    };
    let now = unix_now();
    use Expect::*;

    // ---- positive controls: the corpus must not pass because everything fails -----------
    let valid = mock.token().sign();
    c.token("control: a valid RS256 token", valid.clone(), Pass);
    c.token(
        "control: a valid ES256 token",
        mock.token().kid(&es).sign(),
        Pass,
    );
    c.token(
        "control: a valid EdDSA token",
        mock.token().kid(&ed).sign(),
        Pass,
    );
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        c.add(
            format!("control: scheme {scheme} (case-insensitive, RFC 9110 §11.1)"),
            Carry::Headers(vec![format!("{scheme} {valid}").into_bytes()]),
            Pass,
        );
    }
    c.add_on(
        "control: sensitive route, active token",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(valid.clone()),
        Pass,
    );
    c.add_on(
        "control: the scope the route requires",
        Gate::Hybrid,
        "/photos",
        Carry::Bearer(mock.token().scope("read photos").sign()),
        Pass,
    );
    // Without `kid`, the one key of the header's algorithm is used.
    let no_kid = mock.sign_raw(&json!({"alg": "ES256", "typ": "at+jwt"}), &c.payload, &es);
    c.token("control: no kid, one key for the algorithm", no_kid, Pass);

    // ---- alg: none, and algorithms the keys are not bound to (RFC 8725 §2.1, §3.1) -------
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = format!(
            "{}.{}.",
            b64_json(&json!({"alg": alg, "typ": "at+jwt", "kid": rsa})),
            b64_json(&c.payload)
        );
        c.token(
            format!("alg {alg:?}, empty signature"),
            unsigned.clone(),
            InvalidToken,
        );
        c.token(
            format!("alg {alg:?}, with a signature"),
            format!("{unsigned}c2lnbmF0dXJl"),
            InvalidToken,
        );
    }
    let without_alg = c.rsa_signed_bytes(
        json!({"typ": "at+jwt", "kid": rsa}).to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
    );
    c.token("no alg at all", without_alg, InvalidToken);
    let empty_alg = mock.sign_raw(
        &json!({"alg": "", "typ": "at+jwt", "kid": rsa}),
        &c.payload,
        &rsa,
    );
    c.token("alg empty", empty_alg, InvalidToken);
    let array_alg = mock.sign_raw(
        &json!({"alg": ["RS256"], "typ": "at+jwt", "kid": rsa}),
        &c.payload,
        &rsa,
    );
    c.token("alg an array", array_alg, InvalidToken);
    let header = Corpus::header("HS256", &rsa);
    let confused = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
        &rsa,
        Algorithm::HS256,
    );
    c.token(
        "HS256 signed with the RSA public key (PEM) as secret",
        confused,
        InvalidToken,
    );
    let header = json!({"alg": "HS512", "typ": "at+jwt"});
    let confused = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
        &es,
        Algorithm::HS512,
    );
    c.token(
        "HS512 without kid, signed with the EC public key (PEM)",
        confused,
        InvalidToken,
    );
    let mismatch = mock.sign_raw(&Corpus::header("ES256", &rsa), &c.payload, &es);
    c.token("ES256 header naming the RSA key", mismatch, InvalidToken);
    let mismatch = mock.sign_raw(&Corpus::header("RS256", &es), &c.payload, &rsa);
    c.token("RS256 header naming the EC key", mismatch, InvalidToken);
    let mismatch = mock.sign_raw(&Corpus::header("EdDSA", &es), &c.payload, &ed);
    c.token("EdDSA header naming the EC key", mismatch, InvalidToken);
    let mismatch = mock.sign_raw(&Corpus::header("ES384", &es), &c.payload, &es);
    c.token("ES384 header naming the P-256 key", mismatch, InvalidToken);
    // The JWK says RS256; the RSA key could technically verify PS256 and RS512 signatures too.
    let header = Corpus::header("PS256", &rsa);
    let pss = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
        &rsa,
        Algorithm::PS256,
    );
    c.token(
        "PS256 by the RSA key whose JWK says alg RS256",
        pss,
        InvalidToken,
    );
    let header = Corpus::header("RS512", &rsa);
    let rs512 = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
        &rsa,
        Algorithm::RS512,
    );
    c.token(
        "RS512 by the RSA key whose JWK says alg RS256",
        rs512,
        InvalidToken,
    );

    // ---- kid ---------------------------------------------------------------------------
    let hostile_kids = [
        ("a kid of 4000 characters", "k".repeat(4000)),
        (
            "a kid with path traversal",
            "../../../../etc/passwd".to_owned(),
        ),
        ("a kid with SQL", "' OR '1'='1' --".to_owned()),
        ("a kid that is a path on the AS", "/attacker/kid".to_owned()),
        (
            "a kid that is a URL on the AS",
            format!("{}/attacker/kid-url", mock.base_url()),
        ),
        ("a kid with a NUL", "rs\u{0}256".to_owned()),
        ("an empty kid", String::new()),
    ];
    for (name, kid) in hostile_kids {
        let token = mock.sign_raw(&Corpus::header("RS256", &kid), &c.payload, &rsa);
        c.token(name, token, InvalidToken);
    }
    let numeric_kid = mock.sign_raw(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": 1}),
        &c.payload,
        &rsa,
    );
    c.token("a numeric kid", numeric_kid, InvalidToken);
    // RFC 8725 §3.1: with several candidate keys, refuse rather than try each.
    let ambiguous = mock.sign_raw(
        &json!({"alg": "RS256", "typ": "at+jwt"}),
        &c.payload,
        &c.rsa2,
    );
    c.token(
        "no kid with two RSA keys published",
        ambiguous,
        InvalidToken,
    );

    // ---- headers that point at keys: never fetched, never trusted (RFC 8725 §3.10) -------
    // The attacker signs with their own key and says where to find it.
    let evil_jwk = evil.jwks()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == evil_kid.as_str())
        .expect("the evil key")
        .clone();
    let key_headers = [
        (
            "jku at the attacker's JWKS",
            json!({"jku": evil.jwks_uri()}),
        ),
        (
            "jku at a path of the AS",
            json!({"jku": format!("{}/attacker/jku", mock.base_url())}),
        ),
        (
            "x5u at the attacker",
            json!({"x5u": format!("{}/attacker/x5u", evil.base_url())}),
        ),
        (
            "x5u at a path of the AS",
            json!({"x5u": format!("{}/attacker/x5u", mock.base_url())}),
        ),
        ("jwk embedding the attacker's key", json!({"jwk": evil_jwk})),
        (
            "x5c with the attacker's certificate",
            json!({"x5c": [STANDARD.encode(evil.public_key_der(&evil_kid))]}),
        ),
    ];
    for (name, extra) in &key_headers {
        for (which, kid) in [
            ("the attacker's kid", evil_kid.as_str()),
            ("the AS's kid", rsa.as_str()),
        ] {
            let mut header = Corpus::header("RS256", kid);
            for (k, v) in extra.as_object().expect("object") {
                header[k] = v.clone();
            }
            let forged = evil.sign_raw(&header, &c.payload, &evil_kid);
            c.token(
                format!("{name}, signed by the attacker under {which}"),
                forged,
                InvalidToken,
            );
        }
    }
    // A genuine token that merely carries `jku`: the header is ignored, the token stands.
    let mut header = Corpus::header("RS256", &rsa);
    header["jku"] = json!(format!("{}/attacker/jku-genuine", mock.base_url()));
    c.token(
        "control: genuine token carrying jku (ignored)",
        mock.sign_raw(&header, &c.payload, &rsa),
        Pass,
    );

    // ---- crit and b64 (RFC 7515 §4.1.11, RFC 7797) --------------------------------------
    let crit_headers = [
        ("unknown crit", json!({"crit": ["exp-ext"], "exp-ext": 1})),
        ("empty crit", json!({"crit": []})),
        ("crit a string", json!({"crit": "b64"})),
        (
            "b64 false with crit",
            json!({"b64": false, "crit": ["b64"]}),
        ),
        ("b64 false without crit", json!({"b64": false})),
        // RFC 7515 §4.1.11: `crit` is an array; `null` is no header a producer may send.
        ("crit null", json!({"crit": null})),
        ("b64 null", json!({"b64": null})),
    ];
    for (name, extra) in crit_headers {
        let mut header = Corpus::header("RS256", &rsa);
        for (k, v) in extra.as_object().expect("object") {
            header[k] = v.clone();
        }
        c.token(name, mock.sign_raw(&header, &c.payload, &rsa), InvalidToken);
    }
    // RFC 7797 §3: with b64 false the payload is signed unencoded.
    let header =
        json!({"alg": "RS256", "typ": "at+jwt", "kid": rsa, "b64": false, "crit": ["b64"]});
    let mut unencoded = format!("{}.{}", b64_json(&header), c.payload);
    let signed = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        c.payload.to_string().as_bytes(),
        &rsa,
        Algorithm::RS256,
    );
    unencoded.push('.');
    unencoded.push_str(&segments(&signed)[2]);
    c.token(
        "b64 false, payload unencoded (not a b64token)",
        unencoded,
        InvalidRequest,
    );

    // ---- typ (RFC 9068 §2.1, §4; RFC 8725 §3.11) ----------------------------------------
    let typ_cases = [
        (
            "typ AT+JWT (media types are case-insensitive)",
            json!("AT+JWT"),
            Pass,
        ),
        ("typ application/at+jwt", json!("application/at+jwt"), Pass),
        // Finding: the `application/` prefix was matched case-sensitively.
        ("typ APPLICATION/AT+JWT", json!("APPLICATION/AT+JWT"), Pass),
        ("typ JWT", json!("JWT"), InvalidToken),
        ("typ JOSE", json!("JOSE"), InvalidToken),
        (
            "typ application/jwt",
            json!("application/jwt"),
            InvalidToken,
        ),
        (
            "typ at+jwt with a trailing space",
            json!("at+jwt "),
            InvalidToken,
        ),
        ("typ a number", json!(9068), InvalidToken),
    ];
    for (name, typ, expect) in typ_cases {
        let header = json!({"alg": "RS256", "typ": typ, "kid": rsa});
        c.token(name, mock.sign_raw(&header, &c.payload, &rsa), expect);
    }
    c.token(
        "typ absent",
        mock.sign_raw(&json!({"alg": "RS256", "kid": rsa}), &c.payload, &rsa),
        InvalidToken,
    );
    let id_token = mock.sign_raw(
        &json!({"alg": "RS256", "typ": "JWT", "kid": rsa}),
        &c.payload_with(json!({"nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"})),
        &rsa,
    );
    c.token(
        "an ID token (typ JWT, nonce, at_hash)",
        id_token,
        InvalidToken,
    );

    // ---- RFC 9068 §2.2 required claims, each missing in turn ----------------------------
    for claim in ["iss", "aud", "exp", "sub", "client_id", "iat", "jti"] {
        let token = c.rsa_signed(&c.payload_with(json!({ claim: null })));
        c.token(format!("{claim} missing"), token, InvalidToken);
    }

    // ---- time claims around the 60 s leeway (RFC 7519 §4.1.4, §4.1.5, §4.1.6) -----------
    // Margins of 10 s on the side a slow clock tick could cross; the exact edges are placed
    // where a tick only moves the token further from the other answer.
    let times: [TimeCase; 24] = [
        (
            "exp 50 s ago (inside the leeway)",
            |now| json!({"exp": now - 50}),
            Pass,
        ),
        (
            "exp exactly leeway ago",
            |now| json!({"exp": now - 60}),
            InvalidToken,
        ),
        ("exp 70 s ago", |now| json!({"exp": now - 70}), InvalidToken),
        (
            "exp as a string",
            |now| json!({"exp": (now + 300).to_string()}),
            InvalidToken,
        ),
        (
            "exp as a float (NumericDate allows fractions)",
            |now| json!({"exp": now as f64 + 300.5}),
            Pass,
        ),
        ("exp negative", |_| json!({"exp": -1}), InvalidToken),
        ("exp huge (1e300)", |_| json!({"exp": 1e300}), InvalidToken),
        (
            "exp beyond 64 bits",
            |_| json!({"exp": u64::MAX}),
            InvalidToken,
        ),
        // Far-future expiries parse, and are refused for their lifetime: a token may live no
        // longer than `longest_token_lifetime` (24 h), or revocation rules would expire under
        // it (README, "Several instances").
        (
            "exp the largest i64 (lives too long)",
            |_| json!({"exp": i64::MAX}),
            InvalidToken,
        ),
        (
            "exp year 9999 (lives too long)",
            |_| json!({"exp": 253_402_300_799_i64}),
            InvalidToken,
        ),
        (
            "exp 23 h after iat",
            |now| json!({"iat": now - 60, "exp": now + 23 * 3600}),
            Pass,
        ),
        ("exp a boolean", |_| json!({"exp": true}), InvalidToken),
        (
            "exp an array",
            |now| json!({"exp": [now + 300]}),
            InvalidToken,
        ),
        (
            "nbf exactly leeway ahead",
            |now| json!({"nbf": now + 60}),
            Pass,
        ),
        (
            "nbf 70 s ahead",
            |now| json!({"nbf": now + 70}),
            InvalidToken,
        ),
        (
            "nbf as a string",
            |now| json!({"nbf": now.to_string()}),
            InvalidToken,
        ),
        ("nbf huge (1e300)", |_| json!({"nbf": 1e300}), InvalidToken),
        ("nbf negative", |_| json!({"nbf": -1}), Pass),
        (
            "iat exactly leeway ahead",
            |now| json!({"iat": now + 60}),
            Pass,
        ),
        (
            "iat 70 s ahead",
            |now| json!({"iat": now + 70}),
            InvalidToken,
        ),
        (
            "iat as a string",
            |now| json!({"iat": now.to_string()}),
            InvalidToken,
        ),
        (
            "iat as a float",
            |now| json!({"iat": now as f64 - 0.5}),
            Pass,
        ),
        ("iat null", |_| json!({"iat": Value::Null}), InvalidToken),
        (
            "iat the smallest i64 (lives too long)",
            |_| json!({"iat": i64::MIN}),
            InvalidToken,
        ),
    ];
    for (name, changes, expect) in times {
        let (mock, rsa, base) = (mock.clone(), rsa.clone(), c.payload.clone());
        let make: Timed = Arc::new(move |now| {
            let mut payload = base.clone();
            let map = payload.as_object_mut().expect("object");
            for (claim, value) in changes(now).as_object().expect("object") {
                // A JSON null is sent as such ("iat null"), not removed.
                map.insert(claim.clone(), value.clone());
            }
            mock.sign_raw(&Corpus::header("RS256", &rsa), &payload, &rsa)
        });
        c.add(name, Carry::Timed(make), expect);
    }
    c.token(
        "expired (10 minutes ago)",
        mock.token().expired().sign(),
        InvalidToken,
    );
    c.token(
        "not yet valid (10 minutes ahead)",
        mock.token().not_yet_valid().sign(),
        InvalidToken,
    );

    // ---- iss and aud (RFC 9068 §4 steps 3 and 4; StringOrURI compares case-sensitively) --
    let issuer = mock.issuer();
    let audience = mock.audience();
    let claims = [
        (
            "iss with a trailing slash",
            json!({"iss": format!("{issuer}/")}),
            InvalidToken,
        ),
        (
            "iss in upper case",
            json!({"iss": issuer.to_uppercase()}),
            InvalidToken,
        ),
        (
            "iss with a trailing space",
            json!({"iss": format!("{issuer} ")}),
            InvalidToken,
        ),
        ("iss an array", json!({"iss": [issuer]}), InvalidToken),
        (
            "iss of the attacker",
            json!({"iss": evil.issuer()}),
            InvalidToken,
        ),
        ("aud empty string", json!({"aud": ""}), InvalidToken),
        ("aud empty array", json!({"aud": []}), InvalidToken),
        ("aud numeric", json!({"aud": 443}), InvalidToken),
        (
            "aud an array without ours",
            json!({"aud": ["https://other.test", "https://api.tollgate.test/"]}),
            InvalidToken,
        ),
        (
            "aud in upper case",
            json!({"aud": audience.to_uppercase()}),
            InvalidToken,
        ),
        (
            "aud ours and a number",
            json!({"aud": [audience, 7]}),
            InvalidToken,
        ),
        (
            "aud an object",
            json!({"aud": {"aud": audience}}),
            InvalidToken,
        ),
        (
            "control: aud an array with ours",
            json!({"aud": ["https://other.test", audience]}),
            Pass,
        ),
        (
            "scope an array (RFC 9068 §2.2.3: a string)",
            json!({"scope": ["read"]}),
            InvalidToken,
        ),
        ("sub a number", json!({"sub": 42}), InvalidToken),
        (
            "client_id an object",
            json!({"client_id": {"id": "x"}}),
            InvalidToken,
        ),
    ];
    for (name, changes, expect) in claims {
        let token = c.rsa_signed(&c.payload_with(changes));
        c.token(name, token, expect);
    }

    // ---- scope on a route that requires one -------------------------------------------
    let scope_cases = [
        ("scope lacking the route's", "read", InsufficientScope),
        (
            "scope with the route's as a prefix only",
            "photosX read",
            InsufficientScope,
        ),
        ("scope in another case", "PHOTOS", InsufficientScope),
    ];
    for (name, scope, expect) in scope_cases {
        let token = mock.token().scope(scope).sign();
        c.add_on(name, Gate::Hybrid, "/photos", Carry::Bearer(token), expect);
    }

    // ---- the compact serialization and its segments (RFC 7515 §3.1, §7.1, §2) -----------
    let [h, p, s] = segments(&valid);
    // A JWE (RFC 7516 §7.1) has five segments: not a JWS. It is refused locally, without
    // asking the AS, unless the gate opts in to introspecting encrypted tokens.
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": rsa})),
        b64("encrypted key"),
        b64("iv"),
        b64("ciphertext"),
        b64("tag")
    );
    c.token_both("a JWE (five segments)", jwe, InvalidToken);
    c.token_both("two segments", format!("{h}.{p}"), InvalidToken);
    // The AS just called `header.payload` inactive; that must not stick to the real token.
    c.token(
        "control: the token whose signed part was just refused as opaque",
        valid.clone(),
        Pass,
    );
    c.token_both("four segments", format!("{h}.{p}.{s}.{s}"), InvalidToken);
    c.token_both(
        "a valid token plus a trailing dot",
        format!("{valid}."),
        InvalidToken,
    );
    c.token_both("one segment", h.clone(), InvalidToken);
    c.token_both("three empty segments", "..".to_owned(), InvalidToken);
    // RFC 7515 §7.2: the JSON serialization is not a b64token at all.
    let json_serialization = json!({"payload": p, "protected": h, "signature": s}).to_string();
    c.token(
        "JWS JSON serialization",
        json_serialization.clone(),
        InvalidRequest,
    );
    c.token_both(
        "JWS JSON serialization, base64url-encoded",
        b64(&json_serialization),
        InvalidToken,
    );
    c.token(
        "padding on the signature (allowed by b64token)",
        format!("{valid}=="),
        InvalidToken,
    );
    c.token(
        "padding inside the token",
        format!("{h}=.{p}.{s}"),
        InvalidRequest,
    );
    c.token(
        "+ in a segment (base64, not base64url)",
        format!(
            "{h}.{p}.{}",
            s.replacen(|ch: char| ch.is_ascii_alphabetic(), "+", 1)
        ),
        InvalidToken,
    );
    c.token("/ in a segment", format!("{h}/.{p}.{s}"), InvalidToken);
    c.token("~ in a segment", format!("{h}.{p}~.{s}"), InvalidToken);
    c.add(
        "whitespace inside the token",
        Carry::Headers(vec![format!("Bearer {h}. {p}.{s}").into_bytes()]),
        InvalidRequest,
    );
    c.add(
        "a tab inside the token",
        Carry::Headers(vec![format!("Bearer {h}.\t{p}.{s}").into_bytes()]),
        InvalidRequest,
    );
    let mut non_ascii = format!("Bearer {h}.{p}.").into_bytes();
    non_ascii.extend_from_slice(&[0xc3, 0xa9]);
    non_ascii.extend_from_slice(s.as_bytes());
    c.add(
        "non-ASCII bytes in a segment",
        Carry::Headers(vec![non_ascii]),
        InvalidRequest,
    );
    c.add(
        "a quote in the token",
        Carry::Headers(vec![format!("Bearer {h}.\"{p}\".{s}").into_bytes()]),
        InvalidRequest,
    );
    // Finding candidate: the same signature bytes spelled another way make another token
    // string; caches keyed by the token's hash must not be fooled (RFC 4648 §3.5).
    c.token(
        "non-canonical base64url in the signature",
        format!("{h}.{p}.{}", non_canonical(&s)),
        InvalidToken,
    );
    let [h2, p2, s2] = segments(&mock.token().subject("mallory").sign());
    c.token(
        "signature transplanted from another token",
        format!("{h}.{p2}.{s}"),
        InvalidToken,
    );
    c.token(
        "payload of one token, signature of another",
        format!("{h2}.{p}.{s2}"),
        InvalidToken,
    );
    c.token("no signature", format!("{h}.{p}."), InvalidToken);

    // ---- JSON inside the segments (RFC 7515 §5.2, RFC 8725 §3.11) -----------------------
    let header = Corpus::header("RS256", &rsa).to_string();
    let dup_header = format!(r#"{{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"{rsa}"}}"#);
    c.token(
        "duplicate alg in the header",
        c.rsa_signed_bytes(dup_header.as_bytes(), c.payload.to_string().as_bytes()),
        InvalidToken,
    );
    // A header is parsed before any key is looked up, so its cost is the attacker's to choose:
    // more than 32 members (real headers have three to six) refuse it, which keeps the check
    // for repeated names linear.
    let members = |n: usize| {
        let mut header = format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{rsa}""#);
        for i in 3..n {
            header.push_str(&format!(r#","x-{i}":{i}"#));
        }
        header.push('}');
        header
    };
    c.token(
        "control: a header with 32 members",
        c.rsa_signed_bytes(members(32).as_bytes(), c.payload.to_string().as_bytes()),
        Pass,
    );
    c.token(
        "a header with 33 members",
        c.rsa_signed_bytes(members(33).as_bytes(), c.payload.to_string().as_bytes()),
        InvalidToken,
    );
    let body = c.payload.to_string();
    let dup_sub = format!(r#"{{"sub":"admin",{}"#, &body[1..]);
    c.token(
        "duplicate sub in the payload",
        c.rsa_signed_bytes(header.as_bytes(), dup_sub.as_bytes()),
        InvalidToken,
    );
    let dup_iss = format!(r#"{},"iss":"{}"}}"#, &body[..body.len() - 1], evil.issuer());
    c.token(
        "duplicate iss in the payload",
        c.rsa_signed_bytes(header.as_bytes(), dup_iss.as_bytes()),
        InvalidToken,
    );
    let payloads: [(&str, &[u8]); 8] = [
        ("payload a JSON array", b"[1,2,3]"),
        ("payload a JSON string", b"\"sub\""),
        ("payload a number", b"42"),
        ("payload null", b"null"),
        ("payload not UTF-8", b"{\"sub\":\"\xff\xfe\"}"),
        ("payload with a byte-order mark", b"\xef\xbb\xbf{}"),
        ("payload empty", b""),
        ("payload not JSON", b"sub=alice"),
    ];
    for (name, bytes) in payloads {
        c.token(
            name,
            c.rsa_signed_bytes(header.as_bytes(), bytes),
            InvalidToken,
        );
    }
    let trailing = format!("{body} {{}}");
    c.token(
        "payload with a second JSON value",
        c.rsa_signed_bytes(header.as_bytes(), trailing.as_bytes()),
        InvalidToken,
    );
    c.token(
        "header a JSON array",
        c.rsa_signed_bytes(br#"["RS256"]"#, body.as_bytes()),
        InvalidToken,
    );
    c.token(
        "header not JSON",
        c.rsa_signed_bytes(b"alg=RS256", body.as_bytes()),
        InvalidToken,
    );
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let nested = format!(r#"{},"deep":{deep}}}"#, &body[..body.len() - 1]);
    c.token(
        "payload nested 3000 deep",
        c.rsa_signed_bytes(header.as_bytes(), nested.as_bytes()),
        InvalidToken,
    );

    // ---- size (docs/ARCHITECTURE.md, "Local validation": oversized tokens reject before any decoding) -------------------
    let mut filler = 5000;
    let near_limit = loop {
        let token = mock.token().claim("filler", "x".repeat(filler)).sign();
        if token.len() > 8192 - 40 {
            assert!(token.len() <= 8192, "overshot the limit: {}", token.len());
            break token;
        }
        filler += (8192 - token.len()) * 3 / 4 / 2 + 1;
    };
    c.token(
        "control: a valid token just under the 8 KiB limit",
        near_limit,
        Pass,
    );
    c.token(
        "a valid token over the 8 KiB limit",
        mock.token().claim("filler", "x".repeat(8192)).sign(),
        InvalidToken,
    );
    c.token("64 KiB of base64url", "A".repeat(64 * 1024), InvalidToken);

    // ---- signatures that are not signatures ------------------------------------------
    let [eh, ep, es_sig] = segments(&mock.token().kid(&es).sign());
    c.token(
        "ECDSA r = s = 0",
        format!("{eh}.{ep}.{}", b64([0u8; 64])),
        InvalidToken,
    );
    let mut r_s_n = P256_N.to_vec();
    r_s_n.extend_from_slice(&P256_N);
    c.token(
        "ECDSA r = s = n",
        format!("{eh}.{ep}.{}", b64(&r_s_n)),
        InvalidToken,
    );
    let mut der = vec![0x30, 0x44, 0x02, 0x20];
    let raw = URL_SAFE_NO_PAD.decode(&es_sig).expect("b64");
    der.extend_from_slice(&raw[..32]);
    der.extend_from_slice(&[0x02, 0x20]);
    der.extend_from_slice(&raw[32..]);
    c.token(
        "ECDSA signature DER-encoded (RFC 7518 §3.4 wants R || S)",
        format!("{eh}.{ep}.{}", b64(&der)),
        InvalidToken,
    );
    c.token(
        "ECDSA signature one byte short",
        format!("{eh}.{ep}.{}", b64(&raw[..63])),
        InvalidToken,
    );
    let [rh, rp, _] = segments(&valid);
    c.token(
        "RSA signature of 256 zero bytes",
        format!("{rh}.{rp}.{}", b64([0u8; 256])),
        InvalidToken,
    );
    let [dh, dp, _] = segments(&mock.token().kid(&ed).sign());
    c.token(
        "Ed25519 signature of zeros",
        format!("{dh}.{dp}.{}", b64([0u8; 64])),
        InvalidToken,
    );
    c.token(
        "a signature by an unpublished key under the AS's kid",
        mock.token().unpublished_key().sign(),
        InvalidToken,
    );
    c.token(
        "a signature by an unpublished key under an unknown kid",
        mock.token().unpublished_kid().sign(),
        InvalidToken,
    );

    // ---- the request: where the token is, and how many (RFC 6750 §2, §3.1) -------------
    c.add("no Authorization header", Carry::Nothing, NoToken);
    c.add(
        "Basic credentials",
        Carry::Headers(vec![b"Basic dXNlcjpwYXNz".to_vec()]),
        NoToken,
    );
    c.add(
        "scheme Token",
        Carry::Headers(vec![format!("Token {valid}").into_bytes()]),
        NoToken,
    );
    c.add(
        "scheme DPoP",
        Carry::Headers(vec![format!("DPoP {valid}").into_bytes()]),
        NoToken,
    );
    c.add(
        "scheme and token run together",
        Carry::Headers(vec![format!("Bearer{valid}").into_bytes()]),
        NoToken,
    );
    c.add(
        "Bearer without a token",
        Carry::Headers(vec![b"Bearer".to_vec()]),
        InvalidRequest,
    );
    c.add(
        "Bearer and spaces",
        Carry::Headers(vec![b"Bearer    ".to_vec()]),
        InvalidRequest,
    );
    c.add(
        "Bearer with two tokens",
        Carry::Headers(vec![format!("Bearer {valid} {valid}").into_bytes()]),
        InvalidRequest,
    );
    c.add(
        "two Authorization headers",
        Carry::Headers(vec![
            format!("Bearer {valid}").into_bytes(),
            format!("Bearer {valid}").into_bytes(),
        ]),
        InvalidRequest,
    );
    c.add(
        "Basic and Bearer Authorization headers",
        Carry::Headers(vec![
            b"Basic dXNlcjpwYXNz".to_vec(),
            format!("Bearer {valid}").into_bytes(),
        ]),
        InvalidRequest,
    );
    c.add(
        "token in the header and the query",
        Carry::HeaderAndQuery(valid.clone()),
        InvalidRequest,
    );
    // RFC 6750 §3.1: a query parameter this resource server does not support.
    c.add(
        "token in the query only",
        Carry::Query(valid.clone()),
        InvalidRequest,
    );

    // ---- the introspection answer must agree with the JWT (docs/ARCHITECTURE.md, "Introspection") --------------------
    let disagreements = [
        ("sub", json!("mallory")),
        ("iss", json!(evil.issuer())),
        ("client_id", json!("another-client")),
        ("aud", json!(["https://other.test"])),
        ("exp", json!(now + 7200)),
        ("scope", json!("read admin")),
        ("jti", json!("another-token-id")),
    ];
    for (claim, value) in disagreements {
        let token = mock
            .token()
            .scope("read")
            .introspection_claim(claim, value)
            .sign();
        c.add_on(
            format!("introspection answer with another {claim}"),
            Gate::Hybrid,
            "/admin",
            Carry::Bearer(token),
            InvalidToken,
        );
    }
    let token = mock
        .token()
        .scope("read photos")
        .introspection_claim("scope", "photos read photos")
        .sign();
    c.add_on(
        "control: introspection answer with the same scopes in another order",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(token),
        Pass,
    );

    // ---- only access tokens pass (RFC 7662 §2.2 `token_type`) ----------------------------
    // A JWT the AS calls something else than an access token.
    for (name, member, value) in [
        (
            "token_type refresh_token",
            "token_type",
            json!("refresh_token"),
        ),
        ("Keycloak's typ Refresh", "typ", json!("Refresh")),
        (
            "Hydra's token_use refresh_token",
            "token_use",
            json!("refresh_token"),
        ),
    ] {
        let token = mock.token().introspection_claim(member, value).sign();
        c.add_on(
            format!("a JWT whose introspection answer has {name}"),
            Gate::Hybrid,
            "/admin",
            Carry::Bearer(token),
            InvalidToken,
        );
    }
    // The JWT's own `token_type` claim must agree with the answer's.
    let token = mock.token().claim("token_type", "refresh_token").sign();
    c.add_on(
        "a JWT whose token_type claim disagrees with the answer's",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(token),
        InvalidToken,
    );
    let token = mock.token().claim("token_type", "bearer").sign();
    c.add_on(
        "control: a JWT whose token_type claim matches the answer's but for case",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(token),
        Pass,
    );
    // Opaque tokens: the answer alone says what the token is, on every route.
    c.token(
        "control: an opaque access token",
        mock.opaque_token().issue(),
        Pass,
    );
    let refresh = mock.refresh_token().issue();
    c.token("an opaque refresh token", refresh.clone(), InvalidToken);
    c.add_on(
        "an opaque refresh token, sensitive route",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(refresh),
        InvalidToken,
    );
    let markers = [
        (
            "token_type refresh_token",
            "token_type",
            json!("refresh_token"),
        ),
        (
            "token_type Refresh (Keycloak)",
            "token_type",
            json!("Refresh"),
        ),
        ("token_type id_token", "token_type", json!("id_token")),
        ("token_type N_A", "token_type", json!("N_A")),
        (
            "token_type DPoP (RFC 9449 §6.2)",
            "token_type",
            json!("DPoP"),
        ),
        ("token_type an empty string", "token_type", json!("")),
        (
            "Hydra's token_use refresh_token",
            "token_use",
            json!("refresh_token"),
        ),
        (
            "cnf.jkt: bound to a DPoP key",
            "cnf",
            json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ),
    ];
    for (name, member, value) in markers {
        let token = mock
            .opaque_token()
            .introspection_claim(member, value)
            .issue();
        c.token(
            format!("an opaque token whose answer has {name}"),
            token,
            InvalidToken,
        );
    }
    // Sender-constrained tokens presented as bearer tokens: the token is good only with the
    // key or certificate it is bound to (RFC 9449 §7.2, RFC 8705 §3). A stolen bound token
    // must not work with the Bearer scheme. Findings: all of these reached the handler before
    // the engine checked bindings.
    let dpop_key = tollgate_mock::dpop::DpopKey::generate();
    c.token_both(
        "a DPoP-bound JWT as a bearer token (RFC 9449 §7.2)",
        mock.token().dpop_bound(&dpop_key).sign(),
        InvalidToken,
    );
    c.add_on(
        "a DPoP-bound JWT as a bearer token, sensitive route",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(mock.token().dpop_bound(&dpop_key).sign()),
        InvalidToken,
    );
    c.token_both(
        "a certificate-bound JWT without its certificate (RFC 8705 §3)",
        mock.token()
            .certificate_bound(b"the client's certificate")
            .sign(),
        InvalidToken,
    );
    c.token(
        "a certificate-bound opaque token without its certificate (RFC 8705 §3.2)",
        mock.opaque_token()
            .certificate_bound(b"the client's certificate")
            .issue(),
        InvalidToken,
    );
    c.token(
        "a DPoP-bound opaque token as a bearer token (RFC 9449 §6.2, §7.2)",
        mock.opaque_token().dpop_bound(&dpop_key).issue(),
        InvalidToken,
    );
    c.token_both(
        "a JWT bound by a confirmation method tollgate cannot check (cnf.jwk, RFC 7800 §3.2)",
        mock.token()
            .claim("cnf", json!({"jwk": {"kty": "EC", "crv": "P-256"}}))
            .sign(),
        InvalidToken,
    );
    c.token_both(
        "a JWT with a malformed cnf.jkt",
        mock.token().claim("cnf", json!({"jkt": 7})).sign(),
        InvalidToken,
    );
    c.token_both(
        "control: a JWT with an empty cnf",
        mock.token().claim("cnf", json!({})).sign(),
        Pass,
    );
    let keycloak_refresh = mock
        .opaque_token()
        .introspection_claim("typ", "Refresh")
        .introspection_claim("token_type", Value::Null)
        .issue();
    c.token(
        "an opaque token whose answer has Keycloak's typ Refresh and no token_type",
        keycloak_refresh,
        InvalidToken,
    );
    for (name, member, value) in [
        (
            "token_type access_token",
            "token_type",
            json!("access_token"),
        ),
        (
            "token_type urn:ietf:params:oauth:token-type:access_token",
            "token_type",
            json!("urn:ietf:params:oauth:token-type:access_token"),
        ),
        ("token_type BEARER", "token_type", json!("BEARER")),
        (
            "Hydra's token_use access_token",
            "token_use",
            json!("access_token"),
        ),
        ("Keycloak's typ Bearer", "typ", json!("Bearer")),
        ("no token_type", "token_type", Value::Null),
    ] {
        let token = mock
            .opaque_token()
            .introspection_claim(member, value)
            .issue();
        c.token(
            format!("control: an opaque token whose answer has {name}"),
            token,
            Pass,
        );
    }
    // The audience of an opaque token is the answer's `aud`: required, and this API's.
    c.token(
        "an opaque token whose answer has no aud",
        mock.opaque_token().claim("aud", Value::Null).issue(),
        InvalidToken,
    );
    c.token(
        "an opaque token for another audience",
        mock.opaque_token().audience("https://other.test").issue(),
        InvalidToken,
    );

    // ---- revocation, and a revoked token in disguise (docs/ARCHITECTURE.md, "Introspection") ------------------------
    let revoked = mock.token().kid(&es).sign();
    mock.revoke(&revoked);
    c.add_on(
        "a revoked token on the sensitive route",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(revoked.clone()),
        InvalidToken,
    );
    c.add_on(
        "the revoked token afterwards, routine route",
        Gate::Hybrid,
        "/whoami",
        Carry::Bearer(revoked.clone()),
        InvalidToken,
    );
    // ECDSA signatures are malleable: (r, n - s) verifies as well as (r, s). The same token with
    // the other signature must not slip past the memory of its revocation.
    let [vh, vp, vs] = segments(&revoked);
    let sig = URL_SAFE_NO_PAD.decode(&vs).expect("b64");
    let mut twin_sig = sig[..32].to_vec();
    twin_sig.extend_from_slice(&negate_mod_n(&sig[32..]));
    let twin = format!("{vh}.{vp}.{}", b64(&twin_sig));
    c.add_on(
        "the revoked token with its malleated ECDSA signature, routine route",
        Gate::Hybrid,
        "/whoami",
        Carry::Bearer(twin.clone()),
        InvalidToken,
    );
    c.add_on(
        "the revoked token with its malleated ECDSA signature, sensitive route",
        Gate::Hybrid,
        "/admin",
        Carry::Bearer(twin),
        InvalidToken,
    );

    // ---- run them all ------------------------------------------------------------------
    let count = c.cases.len();
    assert!(count >= 40, "the corpus has only {count} cases");
    let mut failures = Vec::new();
    let mut sent: Vec<(String, &str, String)> = Vec::new();
    for case in &c.cases {
        let app = match case.gate {
            Gate::Hybrid => &hybrid_app,
            Gate::Local => &local_app,
        };
        let (answer, token) = run(app, case).await;
        if let Some(token) = &token {
            sent.push((case.name.clone(), case.path, token.clone()));
        }
        let got = (answer.status, answer.error());
        let want = (case.expect.status(), case.expect.error().map(str::to_owned));
        if got != want {
            failures.push(format!(
                "{}: expected {want:?}, got {got:?} ({:?})",
                case.name,
                answer.param("error_description")
            ));
            continue;
        }
        if let Some(token) = &token {
            let echoed = answer.body.contains(token)
                || answer
                    .challenge
                    .as_deref()
                    .is_some_and(|ch| ch.contains(token));
            if token.len() > 16 && echoed {
                failures.push(format!("{}: the response echoes the token", case.name));
            }
        }
        match case.expect {
            Expect::NoToken => {
                if answer.challenge.as_deref() != Some(r#"Bearer realm="tollgate-test""#) {
                    failures.push(format!("{}: challenge {:?}", case.name, answer.challenge));
                }
            }
            Expect::InvalidRequest | Expect::InvalidToken | Expect::InsufficientScope => {
                if answer.param("error_description").is_none() {
                    failures.push(format!("{}: no error_description", case.name));
                }
            }
            Expect::Pass => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // ---- and what the servers saw ------------------------------------------------------
    // Nothing a header pointed at was fetched, neither on the attacker's server nor the AS.
    for path in [
        "/attacker/jku",
        "/attacker/x5u",
        "/attacker/kid",
        "/attacker/kid-url",
        "/attacker/jku-genuine",
        "/etc/passwd",
    ] {
        assert_eq!(mock.requests_to(path), 0, "{path} was fetched");
    }
    assert_eq!(evil.jwks_fetches(), 0, "the attacker's JWKS was fetched");
    assert_eq!(
        evil.requests_to("/attacker/x5u"),
        0,
        "the attacker's x5u was fetched"
    );
    assert_eq!(evil.discovery_fetches(), 0);
    // Unknown kids cost at most one refetch per gate in the (60 s) cooldown.
    assert!(
        mock.jwks_fetches() <= jwks_fetches_at_start + 2,
        "{} JWKS fetches",
        mock.jwks_fetches() - jwks_fetches_at_start
    );
    // Local validation answered every JWT-shaped token without asking the AS; only the
    // sensitive-route cases and the opaque-shaped tokens were introspected.
    let sensitive: Vec<&str> = sent
        .iter()
        .filter(|(_, path, _)| *path == "/admin")
        .map(|(_, _, token)| token.as_str())
        .collect();
    for (name, _, token) in &sent {
        let jwt_shaped = token.matches('.').count() == 2;
        if jwt_shaped && !sensitive.contains(&token.as_str()) {
            assert_eq!(
                mock.introspection_count_for(token),
                0,
                "{name} was introspected"
            );
        }
        // RFC 7516 §9: four dots make a JWE, refused locally at no cost to the AS.
        if token.matches('.').count() == 4 {
            assert_eq!(
                mock.introspection_count_for(token),
                0,
                "{name} (JWE-shaped) was introspected"
            );
        }
    }
}

// ---- the policy table and the router must judge the same path ------------------------------
//
// A `PolicyTable` in front of an axum router: the router dispatches on the path exactly as
// sent (matchit compares raw bytes), so the table must never pick a rule less strict than the
// route that will serve the request. The spellings are sent over a raw TCP connection: an HTTP
// client library would resolve the dot segments (WHATWG URL) before they reach the server.

/// A path case: method, target as sent, token, expected answer, and the handler that must
/// answer a pass.
type PathCase<'a> = (&'a str, &'a str, Option<&'a str>, Expect, &'a str);

/// The policy table in front of an axum router with a catch-all under `/admin` and one for
/// everything else; returns its URL and the count of handler calls.
async fn behind_a_router(
    mock: &MockAuthServer,
    lenient: bool,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::routing::any;
    use tollgate::PolicyTable;

    let gate = ready(hybrid_builder(mock)).await;
    let policy = PolicyTable::builder()
        .rule("GET", "/health", Requirement::public())
        .rule(
            "*",
            "/admin/{*rest}",
            Requirement::sensitive(Duration::ZERO).all_scopes(["admin"]),
        )
        .lenient_paths(lenient)
        .build()
        .expect("valid table");
    // Every handler counts its calls: a refused request must not reach any of them.
    let reached = Arc::new(AtomicUsize::new(0));
    let handler = |name: &'static str| {
        let reached = Arc::clone(&reached);
        move || {
            reached.fetch_add(1, Ordering::SeqCst);
            async move { name }
        }
    };
    let app = Router::new()
        .route("/health", get(handler("health")))
        .route("/admin/{*rest}", any(handler("admin")))
        .route("/{*rest}", any(handler("anything")))
        .layer(gate.layer_with_policy(policy));
    (serve(app).await, reached)
}

/// Sends every case and asserts the exact status and `error`, which handler answered a pass,
/// that a refusal reached no handler, and that a 400 does not echo the path.
async fn assert_path_cases(
    url: &str,
    reached: &std::sync::atomic::AtomicUsize,
    cases: &[PathCase<'_>],
) {
    use Expect::*;
    use std::sync::atomic::Ordering;

    let mut failures = Vec::new();
    for (method, target, token, expect, handler) in cases {
        let before = reached.load(Ordering::SeqCst);
        let answer = raw_request(url, method, target, *token).await;
        let calls = reached.load(Ordering::SeqCst) - before;
        let name = format!(
            "{method} {target} ({})",
            token.map_or("no token", |_| "token")
        );
        let got = (answer.status, answer.error());
        let want = (expect.status(), expect.error().map(str::to_owned));
        if got != want {
            failures.push(format!(
                "{name}: expected {want:?}, got {got:?} ({:?}; handlers reached: {calls})",
                answer.param("error_description")
            ));
            continue;
        }
        let echoed = answer.body.contains(target)
            || answer
                .challenge
                .as_deref()
                .is_some_and(|c| c.contains(target));
        if calls != usize::from(*expect == Pass) {
            failures.push(format!("{name}: {calls} handlers reached"));
        } else if *expect == Pass && *method != "HEAD" && answer.body != *handler {
            failures.push(format!("{name}: answered by {:?}", answer.body));
        } else if *expect == InvalidRequest
            && (echoed || answer.param("error_description").is_none())
        {
            failures.push(format!("{name}: {answer:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_policy_table_judges_every_spelling_of_a_path_as_strictly_as_the_router() {
    let mock = MockAuthServer::start().await;
    let (url, reached) = behind_a_router(&mock, false).await;
    let reader = mock.token().scope("read").sign();
    let admin = mock.token().scope("read admin").sign();
    use Expect::*;
    let cases: Vec<PathCase<'_>> = vec![
        // Controls.
        ("GET", "/health", None, Pass, "health"),
        ("HEAD", "/health", None, Pass, ""),
        ("GET", "/photos", Some(&reader), Pass, "anything"),
        ("GET", "/admin/users", None, NoToken, ""),
        (
            "DELETE",
            "/admin/users/7",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        ("DELETE", "/admin/users/7", Some(&admin), Pass, "admin"),
        // The issue: a dot segment that the table resolved and the router did not.
        ("GET", "/admin/%2e%2e/health", None, InvalidRequest, ""),
        ("GET", "/admin/%2E%2E/health", None, InvalidRequest, ""),
        ("GET", "/admin/%2e%2E/health", None, InvalidRequest, ""),
        ("GET", "/admin/.%2e/health", None, InvalidRequest, ""),
        ("GET", "/admin/%2e./health", None, InvalidRequest, ""),
        ("GET", "/admin/../health", None, InvalidRequest, ""),
        ("GET", "/admin/./../health", None, InvalidRequest, ""),
        ("GET", "/admin/%2e/%2e%2e/health", None, InvalidRequest, ""),
        ("GET", "/admin/x/..", None, InvalidRequest, ""),
        (
            "GET",
            "/admin/%2e%2e/health",
            Some(&admin),
            InvalidRequest,
            "",
        ),
        (
            "DELETE",
            "/admin/users/7/%2e%2e/%2e%2e/%2e%2e/x",
            Some(&reader),
            InvalidRequest,
            "",
        ),
        (
            "DELETE",
            "/admin/users/7/../../../x",
            Some(&reader),
            InvalidRequest,
            "",
        ),
        // Encoded slashes, backslashes, NUL and other control characters.
        ("GET", "/admin%2f..%2fhealth", None, InvalidRequest, ""),
        (
            "GET",
            "/admin/x%2F..%2F..%2Fhealth",
            None,
            InvalidRequest,
            "",
        ),
        ("GET", "/admin\\..\\health", None, InvalidRequest, ""),
        ("GET", "/admin/%5c..%5chealth", None, InvalidRequest, ""),
        ("GET", "/admin/%5C..%5Chealth", None, InvalidRequest, ""),
        ("GET", "/health%00/admin", None, InvalidRequest, ""),
        ("GET", "/health%0a", None, InvalidRequest, ""),
        // Double encoding, overlong and invalid UTF-8, malformed escapes.
        ("GET", "/admin/%252e%252e/health", None, InvalidRequest, ""),
        (
            "GET",
            "/admin/%25%32%65%25%32%65/health",
            None,
            InvalidRequest,
            "",
        ),
        (
            "GET",
            "/admin/%c0%ae%c0%ae/health",
            None,
            InvalidRequest,
            "",
        ),
        ("GET", "/admin/%e0%80%ae/health", None, InvalidRequest, ""),
        ("GET", "/admin/%ff", None, InvalidRequest, ""),
        ("GET", "/admin/%zz", None, InvalidRequest, ""),
        ("GET", "/admin/%2", None, InvalidRequest, ""),
        // Path parameters, which some servers cut off (`/admin;x/..;/` is a classic).
        ("GET", "/admin;x/users", None, InvalidRequest, ""),
        ("GET", "/health;/../admin/users", None, InvalidRequest, ""),
        ("GET", "/health%3b/x", None, InvalidRequest, ""),
        // Empty segments.
        ("GET", "//admin/users", None, InvalidRequest, ""),
        ("GET", "/admin//users", None, InvalidRequest, ""),
        // Spellings the router reads differently from the table: judged by the stricter
        // reading. The router sends `/health/` and `/%68ealth` to the catch-all.
        ("GET", "/health/", None, NoToken, ""),
        ("GET", "/health/", Some(&reader), Pass, "anything"),
        ("GET", "/%68ealth", None, NoToken, ""),
        ("GET", "/%68ealth", Some(&reader), Pass, "anything"),
        // `/%61dmin/...` reaches the catch-all, but the table still asks for the admin scope.
        (
            "GET",
            "/%61dmin/users",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        ("GET", "/%61dmin/users", Some(&admin), Pass, "anything"),
        ("GET", "/admin/", None, NoToken, ""),
        ("GET", "/admin", None, NoToken, ""),
        // Characters that are not ambiguous pass as they are.
        ("GET", "/photos/caf%C3%A9", Some(&reader), Pass, "anything"),
        ("GET", "/photos/caf\u{e9}", Some(&reader), Pass, "anything"),
        ("GET", "/photos/a%20b", Some(&reader), Pass, "anything"),
        ("GET", "/.well-known/x", Some(&reader), Pass, "anything"),
        ("GET", "/photos/...", Some(&reader), Pass, "anything"),
    ];
    assert_path_cases(&url, &reached, &cases).await;
}

/// With `lenient_paths`, the spellings the strict table refuses get the strictest of their
/// readings, never a public or routine rule that the router does not serve them from.
#[tokio::test]
async fn a_lenient_policy_table_holds_every_spelling_to_its_strictest_reading() {
    let mock = MockAuthServer::start().await;
    let (url, reached) = behind_a_router(&mock, true).await;
    let reader = mock.token().scope("read").sign();
    let admin = mock.token().scope("read admin").sign();
    use Expect::*;
    let cases: Vec<PathCase<'_>> = vec![
        ("GET", "/health", None, Pass, "health"),
        // The router serves these from the admin catch-all: the admin rule applies.
        ("GET", "/admin/%2e%2e/health", None, NoToken, ""),
        ("GET", "/admin/../health", None, NoToken, ""),
        (
            "GET",
            "/admin/%2E%2E/health",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        ("GET", "/admin/%2e%2e/health", Some(&admin), Pass, "admin"),
        (
            "DELETE",
            "/admin/users/7/%2e%2e/%2e%2e/%2e%2e/x",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        ("GET", "/admin/x\\..\\..\\health", None, NoToken, ""),
        ("GET", "/admin//users", Some(&reader), InsufficientScope, ""),
        // The catch-all serves these; read normalized, they are `/health` (public) or
        // `/admin/...`: the stricter rule applies.
        ("GET", "/x/../health", None, NoToken, ""),
        ("GET", "/x/../health", Some(&reader), Pass, "anything"),
        ("GET", "//health", None, NoToken, ""),
        ("GET", "/health/.", None, NoToken, ""),
        (
            "GET",
            "/x/%2e%2e/admin/users",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        ("GET", "/admin%2f..%2fhealth", None, NoToken, ""),
        (
            "GET",
            "/admin%2fusers",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        (
            "GET",
            "/x%5c..%5cadmin%5cusers",
            Some(&reader),
            InsufficientScope,
            "",
        ),
        // No reading covers these: still refused.
        ("GET", "/health;/../admin/users", None, InvalidRequest, ""),
        ("GET", "/health%00", None, InvalidRequest, ""),
        ("GET", "/admin/%252e%252e/health", None, InvalidRequest, ""),
        (
            "GET",
            "/admin/%c0%ae%c0%ae/health",
            None,
            InvalidRequest,
            "",
        ),
        ("GET", "/admin/%zz", None, InvalidRequest, ""),
    ];
    assert_path_cases(&url, &reached, &cases).await;
}

/// Distinct junk opaque tokens, `count` of them, `at_once` concurrently; the rejections.
async fn send_junk(
    gate: &Tollgate,
    tag: &str,
    count: usize,
    at_once: usize,
) -> Vec<tollgate::Rejection> {
    let mut rejections = Vec::new();
    for batch in 0..count.div_ceil(at_once) {
        let tasks: Vec<_> = (batch * at_once..((batch + 1) * at_once).min(count))
            .map(|i| {
                let gate = gate.clone();
                let token = format!("{tag}-{i:06}-{}", "q".repeat(30));
                tokio::spawn(async move { gate.validate(&token).await })
            })
            .collect();
        for task in tasks {
            rejections.push(task.await.expect("task").expect_err("junk passed"));
        }
    }
    rejections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_junk_opaque_tokens_is_rate_limited_before_the_as() {
    const JUNK: usize = 1_500;
    let mock = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let started = std::time::Instant::now();
    let rejections = send_junk(&gate, "flood", JUNK, 50).await;
    let elapsed = started.elapsed().as_secs_f64();

    // The default bucket: a burst of 200 lookups, then 100 per second.
    let bound = 200 + (100.0 * elapsed).ceil() as usize + 10;
    let calls = mock.introspection_count();
    assert!(
        calls <= bound,
        "{calls} introspections for {JUNK} junk tokens in {elapsed:.1} s (bound {bound})"
    );
    // Beyond the bucket: 503 with Retry-After, never a pass; the others are inactive.
    let limited = rejections
        .iter()
        .filter(|r| {
            matches!(
                r,
                tollgate::Rejection::Unavailable { retry_after, .. } if !retry_after.is_zero()
            )
        })
        .count();
    let inactive = rejections
        .iter()
        .filter(|r| **r == tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Inactive))
        .count();
    assert_eq!(limited + inactive, JUNK, "{rejections:?}");
    assert!(limited >= JUNK - bound, "{limited} rate-limited of {JUNK}");
    assert_eq!(
        gate.diagnostics().introspection_rate_limited as usize,
        limited
    );
    // A sensitive check never spends the bucket: a valid JWT passes at once.
    let token = mock.token().sign();
    assert!(
        gate.validate_with(&token, &Requirement::sensitive(std::time::Duration::ZERO))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn junk_outside_the_opaque_token_shape_never_reaches_the_as() {
    use tollgate::introspection::OpaqueShape;
    let mock = MockAuthServer::start().await;
    // tollgate-mock's opaque tokens: 32 random bytes in base64url, 43 characters.
    let shape = OpaqueShape::new().min_len(43).max_len(43);
    let gate = ready(
        builder(&mock).introspection(
            tollgate::Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
                .opaque_token_shape(shape),
        ),
    )
    .await;
    let app = InProcess::new(app(&gate));
    let junk = [
        "x".to_owned(),
        "a".repeat(42),
        "a".repeat(44),
        "b".repeat(4_000),
        "random-junk-of-the-wrong-length".to_owned(),
    ];
    for token in &junk {
        let answer = app.get("/whoami", token).await;
        assert_eq!(
            (answer.status, answer.error().as_deref()),
            (401, Some("invalid_token")),
            "{answer:?}"
        );
    }
    assert_eq!(mock.introspection_count(), 0, "junk was introspected");
    assert_eq!(
        gate.diagnostics().opaque_tokens_refused_by_shape,
        junk.len() as u64
    );
    // Genuine tokens have the shape and pass as before; a JWT is not an opaque token.
    let genuine = mock.opaque_token().issue();
    assert!(gate.validate(&genuine).await.is_ok());
    assert!(gate.validate(&mock.token().sign()).await.is_ok());
    assert_eq!(mock.introspection_count(), 1);
}
