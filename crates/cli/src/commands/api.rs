//! `serve`, `token new`, `accruals` and `ledger`: the accruals API and the
//! commands that print what it answers, from a running API or the store.

use crate::cli::{AccrualsArgs, LedgerArgs, ReadFrom, ServeArgs, TokenCommand};
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use subsidy_api::cursor::Scope;
use subsidy_api::params;
use subsidy_api::views::accruals::AccrualsView;
use subsidy_api::views::ledger::LedgerPage;
use subsidy_api::{ApiMetrics, ApiState, Role, TokenStore};

/// Serves the API until Ctrl-C or SIGTERM. SIGHUP is watched before anything else: one that
/// comes while the store and the book are read asks for a re-read, never ends the process.
pub async fn serve(args: &ServeArgs) -> Result<()> {
    let hangups = subsidy_api::Hangups::watch().context("cannot watch for SIGHUP")?;
    let mut limits = args.limits.limits().context("serve's limits")?;
    if let Ok(text) = std::env::var("SUBSIDY_API_CURSOR_KEY") {
        limits.cursor_key = Some(subsidy_api::cursor::Cursors::parse_key(&text).ok_or_else(|| anyhow!("SUBSIDY_API_CURSOR_KEY must be 64 hex digits (32 random bytes)"))?);
    }
    let tokens = TokenStore::open(&args.tokens)?;
    for key in &args.witness_keys {
        subsidy_core::tlog::witness_name(key).with_context(|| format!("--witness-key {key}"))?;
    }
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    // The ledger's document (the book follows later changes); the given one only for a ledger that holds none.
    let policy = crate::ledger_policy::for_reading(store.as_ref(), args.policy.as_deref()).await?.0.set;
    let registry = prometheus::Registry::new();
    let metrics = ApiMetrics::new(&registry)?;
    let step_log = match crate::commands::programme::step_log(store.as_ref(), &args.store, &args.log).await {
        Ok(log) => log,
        Err(e) => {
            // Reads go on; a programme step is refused, naming the missing log, until a restart finds it.
            tracing::warn!(error = %e, "serving without the log of closes: programme steps are refused on this ledger");
            eprintln!("serve: {e:#}; programme steps (claims, reviews, batches) are refused until serve starts with the log");
            None
        }
    };
    let state = ApiState::open_with(store, policy, tokens, metrics, limits)
        .await
        .map_err(|e| anyhow!("cannot read the registry: {e}"))?
        .with_secure_cookie(args.cookie_secure)
        .with_step_log(step_log)
        .with_witness_keys(args.witness_keys.clone());
    let shutdown = crate::shutdown::token();
    // Its refreshes end with the token; the thread ends with the process.
    subsidy_api::state::spawn_refresh(state.clone(), shutdown.clone()).context("cannot start the book's refresh thread")?;
    subsidy_api::reload_tokens_on_sighup(hangups, state.clone(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr()?;
    tracing::info!(listen = %bound, tokens = state.tokens.current().len(), "accruals API serving");
    eprintln!("serve: listening on http://{bound}");
    subsidy_api::serve(listener, state, registry, shutdown).await?;
    Ok(())
}

/// Prints a fresh token and its file entry.
pub fn token(command: &TokenCommand) -> Result<()> {
    let TokenCommand::New(args) = command;
    let role = Role::from_parts(&args.role, args.credit_code.as_deref(), args.city.as_deref())?;
    let (token, entry) = subsidy_api::new_token(&role);
    eprintln!("token (give it to its holder; it is not kept anywhere):");
    println!("{token}");
    eprintln!("\nadd to the token file, then send SIGHUP to `serve`:");
    println!("{entry}");
    Ok(())
}

/// Reads one API path: over HTTP with `--api`, or answered from the store by `local`.
async fn read<T, F>(from: &ReadFrom, path: &str, local: F) -> Result<T>
where
    T: DeserializeOwned,
    F: AsyncFnOnce(&ApiState) -> Result<T, subsidy_api::ApiError>,
{
    if let Some(base) = &from.api {
        return fetch(base, path).await;
    }
    let state = local_state(from).await?;
    local(&state).await.map_err(|e| anyhow!("{e}"))
}

/// The API's state over the store, to answer without a server.
async fn local_state(from: &ReadFrom) -> Result<ApiState> {
    let store = crate::store::open(&from.store).await?;
    let metrics = ApiMetrics::new(&prometheus::Registry::new())?;
    let policy = crate::ledger_policy::for_reading(store.as_ref(), from.policy.as_deref()).await?.0.set;
    ApiState::open(store, policy, TokenStore::empty(), metrics).await.map_err(|e| anyhow!("cannot read the registry: {e}"))
}

async fn fetch<T: DeserializeOwned>(base: &str, path: &str) -> Result<T> {
    let token = std::env::var("SUBSIDY_API_TOKEN").map_err(|_| anyhow!("--api needs the token in SUBSIDY_API_TOKEN"))?;
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response = reqwest::Client::new().get(&url).bearer_auth(token).send().await.with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["message"].as_str().map(str::to_string)).unwrap_or(body);
        bail!("the API answered {status}: {message}");
    }
    serde_json::from_str(&body).with_context(|| format!("the API's answer to {path} does not read"))
}

/// Prints an entity's months.
pub async fn accruals(args: &AccrualsArgs) -> Result<()> {
    let code = params::credit_code(&args.entity).map_err(|e| anyhow!("--entity: {e}"))?;
    let period = params::opt_month("period", args.period.as_deref()).map_err(|e| anyhow!("--{e}"))?;
    let range = period.map(|p| format!("?from={p}&to={p}")).unwrap_or_default();
    let view: AccrualsView = read(&args.from, &format!("/v1/entities/{code}/accruals{range}"), async |s| Ok(subsidy_api::views::accruals::accruals(&s.book(), &code, period, period))).await?;
    if args.from.json {
        println!("{}", crate::terminal::safe_json(&serde_json::to_string_pretty(&view)?));
        return Ok(());
    }
    print!("{}", crate::commands::api_tables::accruals(&view));
    Ok(())
}

/// Most pages `ledger` reads (of [`params::MAX_LIMIT`] lines each) before giving up on
/// an answer that never ends.
const MAX_PAGES: usize = 100_000;

/// Every page of one month of an entity: from the API, passing back the cursors it
/// issues as they are, or from the store through one state, whose cursors it opens.
async fn ledger_pages(from: &ReadFrom, code: &subsidy_core::CreditCode, period: subsidy_core::Period) -> Result<Vec<LedgerPage>> {
    let local = match &from.api {
        Some(_) => None,
        None => Some(local_state(from).await?),
    };
    let mut pages: Vec<LedgerPage> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page: LedgerPage = match (&local, &from.api) {
            (Some(state), _) => {
                let after = state.cursors.open(Scope::Ledger(code, period), cursor.as_deref()).map_err(|e| anyhow!("{e}"))?;
                subsidy_api::views::ledger::page(state, code, period, after.as_deref(), params::MAX_LIMIT).await.map_err(|e| anyhow!("{e}"))?
            }
            (None, Some(base)) => {
                let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                fetch(base, &format!("/v1/entities/{code}/ledger?period={period}&limit={}{after}", params::MAX_LIMIT)).await?
            }
            (None, None) => bail!("nothing to read from"),
        };
        cursor.clone_from(&page.next_cursor);
        pages.push(page);
        if cursor.is_none() {
            return Ok(pages);
        }
    }
    bail!("the ledger of {code} in {period} did not end within {MAX_PAGES} pages")
}

/// Prints every line of one month of an entity.
pub async fn ledger(args: &LedgerArgs) -> Result<()> {
    let code = params::credit_code(&args.entity).map_err(|e| anyhow!("--entity: {e}"))?;
    let period = params::month("period", &args.period).map_err(|e| anyhow!("--{e}"))?;
    let pages = ledger_pages(&args.from, &code, period).await?;
    if args.from.json {
        let lines: Vec<_> = pages.iter().flat_map(|p| &p.lines).collect();
        let first = &pages[0];
        let out = serde_json::json!({"credit_code": first.credit_code, "period": first.period, "status": first.status, "subsidy": first.subsidy, "total_lines": first.total_lines, "lines": lines});
        println!("{}", crate::terminal::safe_json(&serde_json::to_string_pretty(&out)?));
        return Ok(());
    }
    print!("{}", crate::commands::api_tables::ledger(&pages));
    Ok(())
}
