//! The portal in headless Chromium (driven through chromedriver): sign in
//! with an entity token, see the months, open a month's ledger, read why a
//! line earned nothing, follow a record to its revisions, sign out and find
//! the old session cookie refused; the bureau sees the overview. Screenshots of each page, at a phone's width, are kept in
//! `target/tmp/portal-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_store::{LedgerStore, SqliteStore};
use support::*;
use tokio_util::sync::CancellationToken;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn chromedriver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver is required (bash deploy/dev/services.sh install puts it in place): {e}"));
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Driver(child), url)
}

async fn browser(driver: &str) -> Client {
    // The workspace builds rustls with more than one crypto provider; name the one to use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    let opts = serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=412,915"]});
    caps.insert("goog:chromeOptions".to_string(), opts);
    ClientBuilder::rustls().unwrap().capabilities(caps).connect(driver).await.expect("start headless Chromium")
}

async fn shot(client: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

/// Waits for a navigation (a click does not wait for the page it leads to).
async fn wait_for_path(client: &Client, suffix: &str) {
    let start = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        if url.path().ends_with(suffix) && client.find(Locator::Css("main")).await.is_ok() {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "still at {url}, waiting for …{suffix}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A GET over a plain HTTP/1.1 connection with only `cookie`: the status line and the headers,
/// lowercase, one a line.
async fn raw_get(base: &str, path: &str, cookie: &str) -> Vec<String> {
    let (base, path, cookie) = (base.to_string(), path.to_string(), cookie.to_string());
    tokio::task::spawn_blocking(move || raw_get_blocking(&base, &path, &cookie)).await.unwrap()
}

fn raw_get_blocking(base: &str, path: &str, cookie: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split("\r\n\r\n").next().unwrap().to_ascii_lowercase().lines().map(str::to_string).collect()
}

async fn sign_in(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/portal")).await.unwrap();
    client.find(Locator::Css("#token")).await.unwrap().send_keys(token).await.unwrap();
    client.find(Locator::Css("#sign-in")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_university_and_the_bureau_use_the_portal() {
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    load(store.as_ref()).await;
    let api = api(store).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(subsidy_api::serve(listener, api.state.clone(), api.metrics.clone(), stop.clone()));
    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;

    // A wrong token is refused on the sign-in page.
    sign_in(&client, &base, "not-a-token").await;
    wait_for_path(&client, "/portal/sign-in").await;
    assert!(text(&client, "#sign-in-error").await.contains("not valid"));
    shot(&client, "0-sign-in-refused").await;

    // The university signs in and sees its months.
    sign_in(&client, &base, &api.tokens.a).await;
    wait_for_path(&client, &a().to_string()).await;
    let months = text(&client, "#months").await;
    assert!(months.contains("2025-09") && months.contains("240.00") && months.contains("已结算"), "{months}");
    shot(&client, "1-months").await;

    // Another entity's page is refused.
    client.goto(&format!("{base}/portal/entities/{}", b())).await.unwrap();
    assert!(client.source().await.unwrap().contains("Not yours to see"));

    // Its October ledger, then a record's revisions.
    client.goto(&format!("{base}/portal/entities/{}", a())).await.unwrap();
    client.find(Locator::LinkText("2025-10")).await.unwrap().click().await.unwrap();
    wait_for_path(&client, "/ledger").await;
    let ledger = text(&client, "#ledger").await;
    assert!(ledger.contains("r-a2") && ledger.contains("Ascend-910B"), "{ledger}");
    shot(&client, "2-ledger").await;
    client.goto(&format!("{base}/portal/entities/{}/ledger?period=2025-09", a())).await.unwrap();
    client.find(Locator::LinkText("r-a1")).await.unwrap().click().await.unwrap();
    wait_for_path(&client, "/portal/records/r-a1").await;
    let copies = text(&client, "#copies").await;
    assert!(copies.contains("first") && copies.contains("replaces") && copies.contains("1200.00"), "{copies}");
    shot(&client, "3-record").await;
    client.goto(&format!("{base}/portal/entities/{}", a())).await.unwrap();
    let href = client.find(Locator::Css("#csv")).await.unwrap().attr("href").await.unwrap();
    assert_eq!(href.as_deref(), Some(format!("/portal/entities/{}/settlements.csv", a()).as_str()));
    // The stylesheet is the page's own, so the content security policy lets it apply.
    let header = client.execute("return getComputedStyle(document.querySelector('header')).backgroundColor", vec![]).await.unwrap();
    assert_eq!(header, "rgb(18, 67, 107)");

    // Signing out ends the session on the server: the old cookie, sent again, is refused.
    let session = client.get_named_cookie("subsidy_session").await.unwrap();
    assert!(session.http_only() == Some(true) && session.value() != api.tokens.a, "the cookie holds a session id, not the token");
    let pair = format!("subsidy_session={}", session.value());
    let months = format!("/portal/entities/{}", a());
    assert_eq!(raw_get(&base, &months, &pair).await[0], "http/1.1 200 ok", "the cookie works before sign-out");
    client.find(Locator::Css("#sign-out")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("#token")).await.unwrap();
    let refused = raw_get(&base, &months, &pair).await;
    assert!(refused[0] == "http/1.1 303 see other" && refused.iter().any(|h| h == "location: /portal"), "{refused:?}");
    client.add_cookie(session.into_owned()).await.unwrap();
    client.goto(&format!("{base}{months}")).await.unwrap();
    wait_for_path(&client, "/portal").await;
    client.wait().for_element(Locator::Css("#token")).await.unwrap();
    shot(&client, "3b-signed-out").await;

    // C's self-built use: the bureau reads why it earned nothing.
    sign_in(&client, &base, &api.tokens.bureau).await;
    wait_for_path(&client, "/portal/overview").await;
    client.goto(&format!("{base}/portal/overview?period=2025-09")).await.unwrap();
    let by_city = text(&client, "#by-city").await;
    assert!(by_city.contains("阜阳市") && by_city.contains("120.00"), "{by_city}");
    assert!(text(&client, "#city-months").await.contains("2025-10"));
    shot(&client, "4-overview").await;
    client.goto(&format!("{base}/portal/entities/{}", c())).await.unwrap();
    let excluded = text(&client, "#excluded").await;
    assert!(excluded.contains("self_built_self_used") && excluded.contains("owns the compute center"), "{excluded}");
    shot(&client, "5-excluded").await;

    client.close().await.unwrap();
    stop.cancel();
    server.await.unwrap().unwrap();
}

/// Signs out through the header's button and waits for the sign-in form.
async fn sign_out(client: &Client) {
    client.find(Locator::Css("#sign-out")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("#token")).await.unwrap();
}

/// Waits until the element at `css` holds `needle`.
async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            let got = e.text().await.unwrap_or_default();
            if got.contains(needle) {
                return got;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "{css} does not show {needle:?}: {got}");
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{css} not found");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reviews claim `id` on the claims page: a reason, then the approve button.
async fn approve(client: &Client, base: &str, id: &str, reason: &str) {
    client.goto(&format!("{base}/portal/claims")).await.unwrap();
    client.find(Locator::Css(&format!("#claim-{id} input[name=reason]"))).await.unwrap().send_keys(reason).await.unwrap();
    client.find(Locator::Css(&format!("#claim-{id} button[value=approve]"))).await.unwrap().click().await.unwrap();
}

/// The portal has one page per view with both languages on it: the labels of each step are
/// checked in Chinese and in English while a claim walks from the university to a batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_walks_from_the_university_to_a_batch() {
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    load(store.as_ref()).await;
    let api = api(store).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(subsidy_api::serve(listener, api.state.clone(), api.metrics.clone(), stop.clone()));
    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;

    // The university: its kind in both languages, its chart, then its closed months to claim.
    sign_in(&client, &base, &api.tokens.a).await;
    wait_for_path(&client, &a().to_string()).await;
    let kind = text(&client, "#kind").await;
    assert!(kind.contains("高校") && kind.contains("university"), "{kind}");
    let chart = text(&client, "#entity-chart").await;
    assert!(chart.contains("已确定") && chart.contains("fixed") && chart.contains("2025-09"), "{chart}");
    client.find(Locator::Css("#nav-claims")).await.unwrap().click().await.unwrap();
    wait_for_path(&client, "/portal/claims").await;
    let form = text(&client, "#claim-2025").await;
    assert!(form.contains("2025-09") && form.contains("2025-10") && form.contains("提交申领") && form.contains("Claim"), "{form}");
    shot(&client, "6-claimable").await;
    client.find(Locator::Css("#claim-2025 button")).await.unwrap().click().await.unwrap();
    let row = wait_for_text(&client, "#claim-C-1", "已提交").await;
    assert!(row.contains("filed") && row.contains("合肥市"), "{row}");
    assert!(text(&client, "#claimable").await.contains("No closed month"), "both months are claimed");
    shot(&client, "7-claimed").await;
    sign_out(&client).await;

    // 合肥市 reviews first; a review without a reason is not sent (the field is required).
    sign_in(&client, &base, &api.tokens.hefei).await;
    wait_for_path(&client, "/portal/overview").await;
    assert!(text(&client, "#scope-chart").await.contains("已核算"), "the city's chart");
    client.goto(&format!("{base}/portal/claims")).await.unwrap();
    client.find(Locator::Css("#claim-C-1 button[value=approve]")).await.unwrap().click().await.unwrap();
    assert!(text(&client, "#claim-C-1").await.contains("已提交"), "not reviewed without a reason");
    approve(&client, &base, "C-1", "与平台发票一致 · matches the invoices").await;
    let row = wait_for_text(&client, "#claim-C-1", "市级已通过").await;
    assert!(row.contains("city approved"), "{row}");
    shot(&client, "8-city-approved").await;
    sign_out(&client).await;

    // The bureau approves and pays it in a batch.
    sign_in(&client, &base, &api.tokens.bureau).await;
    wait_for_path(&client, "/portal/overview").await;
    approve(&client, &base, "C-1", "checked").await;
    let row = wait_for_text(&client, "#claim-C-1", "省级已核准").await;
    assert!(row.contains("approved"), "{row}");
    client.find(Locator::Css("#nav-batches")).await.unwrap().click().await.unwrap();
    wait_for_path(&client, "/portal/batches").await;
    assert!(text(&client, "#make-batch").await.contains("C-1"));
    client.execute("document.querySelector('#make-batch input[name=payout_date]').value = '2025-11-20'", vec![]).await.unwrap();
    client.find(Locator::Css("#make-batch button")).await.unwrap().click().await.unwrap();
    let head = wait_for_text(&client, "#batch-B-4", "2025-11-20").await;
    assert!(head.contains("拨付日期") && head.contains("payout date"), "{head}");
    let href = client.find(Locator::Css("a.csv")).await.unwrap().attr("href").await.unwrap();
    assert_eq!(href.as_deref(), Some("/portal/batches/B-4/csv"));
    let claim = api.state.book().programme.as_ref().unwrap().programme.claim("C-1").unwrap().clone();
    assert_eq!(claim.batch_id.as_deref(), Some("B-4"));
    let rows = text(&client, "table.rows").await;
    assert!(rows.contains(&subsidy_api_money(claim.granted())), "{rows}");
    shot(&client, "9-batch").await;

    // The budget page: the year's figures with the batch paid, in both languages.
    client.find(Locator::Css("#nav-budget")).await.unwrap().click().await.unwrap();
    wait_for_path(&client, "/portal/budget").await;
    let figures = text(&client, "#budget-figures").await;
    assert!(figures.contains("已拨付") && figures.contains("Paid") && figures.contains(&subsidy_api_money(claim.granted())), "{figures}");
    assert!(text(&client, "#budget-chart").await.contains("已拨付"));
    shot(&client, "10-budget").await;

    client.close().await.unwrap();
    stop.cancel();
    server.await.unwrap().unwrap();
}

/// An amount as the portal shows it: two decimals, thousands separators.
fn subsidy_api_money(d: rust_decimal::Decimal) -> String {
    let text = subsidy_core::money::format_yuan(d);
    let (whole, fraction) = text.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{fraction}")
}
