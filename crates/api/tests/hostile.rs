//! Hostile clients against the server on a real TCP port: oversized heads,
//! bodies and query strings, forged and foreign cursors, repeated
//! parameters, wrong methods, path tricks, bytes that are not UTF-8, bad
//! months, codes and ids, and bad tokens — each answered with its status —
//! and clients that send slowly or hold every turn, cut off or refused while
//! others are served. Everything the server logs (every level) is captured,
//! and no token appears in it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use subsidy_api::{ApiMetrics, ApiState, ServerLimits, TokenStore};
use subsidy_core::PolicySet;
use support::*;
use tokio_util::sync::CancellationToken;

/// Longest a test waits for any one answer or close.
const WAIT: Duration = Duration::from_secs(20);

/// Everything logged by this test binary.
fn log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let writer = move || Sink(sink.clone());
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(writer).with_ansi(false).init();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_token_logged(secrets: &[&str]) {
    let log = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
    assert!(!log.is_empty(), "the server's log is captured");
    for s in secrets {
        assert!(!log.contains(s), "a token reached the log");
    }
}

/// A server on 127.0.0.1 over the small province, with its tokens.
struct Server {
    addr: SocketAddr,
    tokens: Tokens,
    state: ApiState,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Server {
    fn secrets(&self) -> Vec<&str> {
        vec![&self.tokens.bureau, &self.tokens.fuyang, &self.tokens.a, &self.tokens.b]
    }
}

fn limits() -> ServerLimits {
    ServerLimits { header_read_timeout: Duration::from_secs(1), request_timeout: Duration::from_secs(2), max_header_bytes: 8 << 10, max_uri_bytes: 2048, max_body_bytes: 4096, ..ServerLimits::default() }
}

async fn start(limits: ServerLimits) -> Server {
    let _ = log();
    let store: Arc<dyn subsidy_store::LedgerStore> = Arc::new(subsidy_store::SqliteStore::open_in_memory().unwrap());
    load(store.as_ref()).await;
    let tokens = tokens();
    let registry = prometheus::Registry::new();
    let state = ApiState::open_with(store, PolicySet::builtin(), TokenStore::open(tokens.file.path()).unwrap(), ApiMetrics::new(&registry).unwrap(), limits).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(subsidy_api::serve(listener, state.clone(), registry, stop.clone()));
    Server { addr, tokens, state, stop }
}

/// An answer read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: HashMap<String, String> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.get("transfer-encoding").is_some_and(|t| t == "chunked") {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + n]);
        raw = &raw[eol + 2 + n + 2..];
    }
    out
}

/// Opens a connection and writes `bytes` on it.
async fn open(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(&bytes).unwrap();
        stream
    })
    .await
    .unwrap()
}

/// Whether the server has answered (or closed) a connection that is still waiting to send.
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting = matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    !waiting
}

/// Sends `request` as bytes and reads until the server closes.
async fn send(addr: SocketAddr, request: &[u8]) -> Reply {
    let stream = open(addr, request).await;
    let (_, raw) = until_closed(stream, WAIT).await;
    parse(&raw.expect("the server answers and closes"))
}

fn get_request(target: &str, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    format!("GET {target} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n").into_bytes()
}

async fn get(server: &Server, target: &str, token: &str) -> Reply {
    send(server.addr, &get_request(target, Some(&format!("Bearer {token}")))).await
}

/// A 400 naming `parameter`.
fn bad(reply: &Reply, parameter: &str, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {reply:?}");
    let body = reply.json();
    assert_eq!((body["error"].as_str(), body["parameter"].as_str()), (Some("bad_parameter"), Some(parameter)), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_status_and_no_token_is_logged() {
    let server = start(limits()).await;
    let bureau = server.tokens.bureau.clone();
    let (a, b) = (a().to_string(), b().to_string());
    let mut kinds = std::collections::BTreeSet::new();
    let mut kind = |k: &'static str| assert!(kinds.insert(k), "{k} twice");

    kind("oversized head");
    let pad = "a".repeat(10 << 10);
    let r = send(server.addr, format!("GET /v1/overview?period=2025-09 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bureau}\r\nX-Pad: {pad}\r\n\r\n").as_bytes()).await;
    assert_eq!(r.status, 431, "{r:?}");

    kind("oversized body");
    let r = send(server.addr, b"POST /portal/sign-in HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\nConnection: close\r\n\r\ntoken=x").await;
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some("too_large")), "{r:?}");
    let r = send(server.addr, format!("GET /v1/overview?period=2025-09 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bureau}\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert_eq!(r.status, 413, "{r:?}");

    kind("oversized query string");
    let r = get(&server, &format!("/v1/overview?period=2025-09&x={}", "q".repeat(3000)), &bureau).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (414, Some("uri_too_long")), "{r:?}");

    kind("malformed cursor");
    for c in ["zz", "00", "0", &"ab".repeat(145), "%FF%FE", &"0".repeat(34)] {
        bad(&get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&cursor={c}"), &bureau).await, "cursor", c);
        bad(&get(&server, &format!("/v1/settlements?period=2025-09&cursor={c}"), &bureau).await, "cursor", c);
    }

    kind("forged or foreign cursor");
    let first = get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&limit=1"), &bureau).await.json();
    let issued = first["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&limit=1&cursor={issued}"), &bureau).await.status, 200);
    let forged = format!("{}{}", &issued[..32], hex_of("r-a3"));
    let flipped = format!("{}{}", if issued.starts_with('0') { "1" } else { "0" }, &issued[1..]);
    for (target, what) in [
        (format!("/v1/entities/{a}/ledger?period=2025-09&cursor={issued}"), "another month"),
        (format!("/v1/entities/{b}/ledger?period=2025-10&cursor={issued}"), "another entity"),
        (format!("/v1/entities/{a}/ledger?period=2025-10&cursor={forged}"), "a forged key"),
        (format!("/v1/entities/{a}/ledger?period=2025-10&cursor={flipped}"), "an altered tag"),
        (format!("/v1/settlements?period=2025-10&cursor={issued}"), "a ledger cursor for settlements"),
    ] {
        bad(&get(&server, &target, &bureau).await, "cursor", what);
    }
    let r = get(&server, &format!("/v1/entities/{b}/ledger?period=2025-10&cursor={issued}"), &server.tokens.b).await;
    assert_eq!(r.status, 400, "B's own ledger with A's cursor");
    let r = get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&cursor={issued}"), &server.tokens.b).await;
    assert_eq!(r.status, 403, "A's ledger is not B's, cursor or not");

    kind("repeated parameter");
    bad(&get(&server, "/v1/overview?period=2025-09&period=2025-10", &bureau).await, "period", "period twice");
    bad(&get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&limit=1&limit=2"), &bureau).await, "limit", "limit twice");

    kind("wrong method");
    for (method, target) in [("POST", "/v1/overview?period=2025-09"), ("DELETE", "/v1/records/r-a1"), ("PUT", "/openapi.json"), ("GET", "/portal/sign-out")] {
        let r = send(server.addr, format!("{method} {target} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bureau}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await;
        assert_eq!(r.status, 405, "{method} {target}: {r:?}");
        assert!(r.headers.get("allow").is_some_and(|v| !v.is_empty()), "{method} {target}: Allow names the methods: {r:?}");
    }

    kind("path tricks");
    for target in ["/v1/../v1/overview?period=2025-09", "/v1/%2e%2e/v1/overview?period=2025-09", "//v1/overview?period=2025-09", "/v1//overview?period=2025-09", &format!("/v1/entities/{a}%2Faccruals"), "/v1/records/..%2F..%2Fetc%2Fpasswd"] {
        let r = get(&server, target, &bureau).await;
        assert_eq!((r.status, r.json()["error"].as_str()), (404, Some("not_found")), "{target}: {r:?}");
    }
    bad(&get(&server, &format!("/v1/entities/{}%2F/statements", &a[..17]), &bureau).await, "credit_code", "an encoded slash in a code");

    kind("non-UTF-8 path");
    bad(&get(&server, "/v1/records/%FF%FE", &bureau).await, "record_id", "percent-encoded bytes that are not UTF-8");
    let r = send(server.addr, &[b"GET /v1/records/\xff\xfe HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ".as_slice(), bureau.as_bytes(), b"\r\nConnection: close\r\n\r\n"].concat()).await;
    assert_eq!(r.status, 400, "raw bytes that are not UTF-8: {r:?}");

    kind("non-UTF-8 query");
    let r = get(&server, "/v1/overview?period=%FF", &bureau).await;
    assert_eq!(r.status, 400, "{r:?}");

    kind("month 0000-01");
    bad(&get(&server, "/v1/overview?period=0000-01", &bureau).await, "period", "year 0");
    bad(&get(&server, &format!("/v1/entities/{a}/accruals?from=0000-12"), &bureau).await, "from", "year 0");

    kind("bad check character");
    let last = if a.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &a[..17]);
    bad(&get(&server, &format!("/v1/entities/{wrong}/accruals"), &bureau).await, "credit_code", "wrong check character");

    kind("control characters in a record id");
    for id in ["a%07b", "%00", "r%0Aa1", "r%7Fa", "r%C2%85a"] {
        bad(&get(&server, &format!("/v1/records/{id}"), &bureau).await, "record_id", id);
    }

    kind("bad bearer");
    let long = "t".repeat(4000);
    for auth in [None, Some("Bearer ".to_string()), Some("Bearer    ".to_string()), Some("Bearer not-a-token".to_string()), Some(format!("Basic {bureau}")), Some(format!("bearer {bureau}x")), Some(format!("Bearer {long}"))] {
        let r = send(server.addr, &get_request(&format!("/v1/entities/{a}/accruals"), auth.as_deref())).await;
        assert_eq!((r.status, r.headers.get("www-authenticate").map(String::as_str)), (401, Some("Bearer")), "{auth:?}");
    }
    let r = send(server.addr, &[format!("GET /v1/entities/{a}/accruals HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ").as_bytes(), b"\xc3\x28\xff", b"\r\nConnection: close\r\n\r\n"].concat()).await;
    assert_eq!(r.status, 401, "a token that is not text");

    kind("bad page size");
    for l in ["0", "1001", "-1", "99999999999999999999"] {
        bad(&get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&limit={l}"), &bureau).await, "limit", l);
    }

    kind("malformed request line");
    let r = send(server.addr, b"GET\x01 / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(r.status, 400, "{r:?}");

    kind("portal with a garbage cookie");
    let r = send(server.addr, format!("GET /portal/entities/{a} HTTP/1.1\r\nHost: t\r\nCookie: subsidy_token=garbage\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert_eq!((r.status, r.headers.get("location").map(String::as_str)), (303, Some("/portal")), "{r:?}");

    kind("token in the query, not the header");
    let r = send(server.addr, &get_request(&format!("/v1/entities/{a}/accruals?token={bureau}"), None)).await;
    assert_eq!(r.status, 401);

    assert!(kinds.len() >= 15, "{} kinds", kinds.len());
    let mut secrets = server.secrets();
    secrets.push(&long);
    assert_no_token_logged(&secrets);
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Reads what the server sends on `stream` until it closes it: the bytes, or `None` when
/// nothing came for `within` while it stayed open.
async fn until_closed(mut stream: TcpStream, within: Duration) -> (TcpStream, Option<Vec<u8>>) {
    tokio::task::spawn_blocking(move || {
        stream.set_read_timeout(Some(within)).unwrap();
        let mut raw = Vec::new();
        let closed = stream.read_to_end(&mut raw).is_ok();
        (stream, closed.then_some(raw))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let server = start(limits()).await;
    let bureau = server.tokens.bureau.clone();
    // Part of the headers, then nothing.
    let slow_head = open(server.addr, format!("GET /v1/overview?period=2025-09 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bureau}\r\n").as_bytes()).await;
    // A whole head and part of the body it announces, then nothing.
    let slow_body = open(server.addr, b"POST /portal/sign-in HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ntoken=").await;
    // Meanwhile others are served.
    for _ in 0..3 {
        assert_eq!(get(&server, "/v1/overview?period=2025-09", &bureau).await.status, 200);
    }
    let head = until_closed(slow_head, WAIT).await.1.expect("a client that never finishes its headers is cut off");
    assert!(head.is_empty() || head.starts_with(b"HTTP/1.1 408"), "nothing is answered to a head never finished: {:?}", String::from_utf8_lossy(&head));
    let body = until_closed(slow_body, WAIT).await.1.expect("a client that never finishes its body is cut off");
    let r = parse(&body);
    assert_eq!((r.status, r.json()["error"].as_str()), (408, Some("timeout")), "{r:?}");
    assert_eq!(get(&server, "/v1/overview?period=2025-09", &bureau).await.status, 200, "and the server still serves");
    let metrics = server.state.metrics.clone();
    assert!(metrics.connections_failed.with_label_values(&["header_timeout"]).get() >= 1, "the header timeout is counted");
    assert_eq!(metrics.limited.with_label_values(&["request_timeout"]).get(), 1, "the request timeout is counted");
    assert_no_token_logged(&server.secrets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_limit_are_shed_with_retry_after() {
    let server = start(ServerLimits { max_in_flight: 1, request_timeout: Duration::from_secs(30), ..limits() }).await;
    let bureau = server.tokens.bureau.clone();
    // A sign-in whose body never ends holds the one turn (the portal counts too). A holder
    // that arrived while another request had the turn was shed itself: another one is sent.
    let sign_in = b"POST /portal/sign-in HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ntoken=";
    let mut holder = None;
    let mut shed = None;
    for _ in 0..100 {
        if holder.as_ref().is_none_or(answered) {
            holder = Some(open(server.addr, sign_in).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = get(&server, "/v1/overview?period=2025-09", &bureau).await;
        if r.status == 503 {
            shed = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shed = shed.expect("a request past the limit is refused, not queued");
    assert_eq!((shed.json()["error"].as_str(), shed.headers.get("retry-after").map(String::as_str)), (Some("overloaded"), Some("1")));
    let portal = send(server.addr, &get_request("/portal", None)).await;
    assert_eq!(portal.status, 503, "the portal is behind the same limit");
    drop(holder);
    let mut served = false;
    for _ in 0..100 {
        if get(&server, "/v1/overview?period=2025-09", &bureau).await.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the turn comes back once the holder is gone");
    assert!(server.state.metrics.limited.with_label_values(&["in_flight"]).get() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_one_to_close() {
    let server = start(ServerLimits { max_connections: 1, header_read_timeout: Duration::from_secs(30), ..limits() }).await;
    let bureau = server.tokens.bureau.clone();
    let first = open(server.addr, b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = tokio::spawn({
        let addr = server.addr;
        let request = get_request("/v1/overview?period=2025-09", Some(&format!("Bearer {bureau}")));
        async move { send(addr, &request).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "the second connection waits while the first is open");
    assert_eq!(server.state.metrics.connections_waited.get(), 1);
    drop(first);
    let r = tokio::time::timeout(WAIT, second).await.expect("served once the first closes").unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_cache_stays_within_its_byte_budget() {
    let budget = 64 << 10;
    let server = start(ServerLimits { cache_bytes: budget, ..limits() }).await;
    let bureau = server.tokens.bureau.clone();
    let a = a().to_string();
    let mut pages = 0;
    for limit in 1..=300 {
        for period in ["2025-09", "2025-10"] {
            let r = get(&server, &format!("/v1/entities/{a}/ledger?period={period}&limit={limit}"), &bureau).await;
            assert_eq!(r.status, 200);
            pages += 1;
            assert!(server.state.cache.bytes() <= budget, "{} bytes cached after {pages} pages", server.state.cache.bytes());
        }
    }
    for _ in 0..100 {
        let forged = format!("{:032x}{}", rand::random::<u128>(), hex_of("r-a2"));
        assert_eq!(get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10&cursor={forged}"), &bureau).await.status, 400);
    }
    let m = &server.state.metrics;
    assert!(m.cache_evictions.get() > 0, "older pages were evicted");
    assert!(m.cache_bytes.get() as usize <= budget && m.cache_bytes.get() > 0);
}

/// Signs in to the portal with `token`: the cookie to send back.
async fn sign_in(server: &Server, token: &str) -> String {
    let form = format!("token={token}");
    let r = send(server.addr, format!("POST /portal/sign-in HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}", form.len()).as_bytes()).await;
    assert_eq!(r.status, 303, "{r:?}");
    r.headers["set-cookie"].split(';').next().unwrap().to_string()
}

async fn page(server: &Server, target: &str, cookie: &str) -> Reply {
    send(server.addr, format!("GET {target} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_reads_wait_for_a_turn_and_are_cached() {
    let server = start(limits()).await;
    let (bureau, a) = (server.tokens.bureau.clone(), a().to_string());
    let cookie = sign_in(&server, &bureau).await;
    let targets = [
        (format!("/portal/entities/{a}/ledger?period=2025-10"), true),
        ("/portal/overview?period=2025-09".to_string(), true),
        ("/v1/overview?period=2025-10".to_string(), false),
    ];
    let fetch = |target: String, portal: bool| {
        let (server, cookie, bureau) = (&server, cookie.clone(), bureau.clone());
        async move { if portal { page(server, &target, &cookie).await } else { get(server, &target, &bureau).await } }
    };
    // With every turn to read the store taken, nothing is read: each waits, and is cut
    // off by the request timeout.
    let turns = server.state.computing.clone();
    let all = turns.clone().acquire_many_owned(u32::try_from(subsidy_api::state::COMPUTING).unwrap()).await.unwrap();
    for (target, portal) in &targets {
        let r = fetch(target.clone(), *portal).await;
        assert_eq!(r.status, 503, "{target} reads the store only in a turn: {r:?}");
    }
    drop(all);
    for (target, portal) in &targets {
        assert_eq!(fetch(target.clone(), *portal).await.status, 200, "{target}");
    }
    // Once computed, the answers come from the cache without a turn.
    let all = turns.acquire_many_owned(u32::try_from(subsidy_api::state::COMPUTING).unwrap()).await.unwrap();
    for (target, portal) in &targets {
        assert_eq!(fetch(target.clone(), *portal).await.status, 200, "{target} is cached");
    }
    drop(all);
    let api_page = get(&server, &format!("/v1/entities/{a}/ledger?period=2025-10"), &bureau).await;
    assert_eq!(api_page.status, 200, "the API's page of the default size is the portal's, cached");
    assert_no_token_logged(&server.secrets());
}
