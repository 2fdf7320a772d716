//! Runs the API's cases against both stores: SQLite in memory, and
//! ClickHouse (a fresh database per case, at `SUBSIDY_CLICKHOUSE_URL`,
//! default `http://127.0.0.1:8123`; the cases fail, never skip, without it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use subsidy_store::{ClickHouseConfig, ClickHouseStore};

async fn fresh_clickhouse(case: &str) -> Arc<ClickHouseStore> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string());
    let name = format!("subsidy_api_test_{case}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let store = ClickHouseStore::connect(&ClickHouseConfig::new(&url).with_database(name)).await;
    Arc::new(store.unwrap_or_else(|e| panic!("ClickHouse is required for the API tests but {url} does not answer: {e}")))
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let store: std::sync::Arc<dyn subsidy_store::LedgerStore> = std::sync::Arc::new(subsidy_store::SqliteStore::open_in_memory().unwrap());
                    crate::cases::$case(store).await;
                }
            )*
        }
        mod clickhouse {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = crate::fresh_clickhouse(stringify!($case)).await;
                    let outcome = tokio::spawn(crate::cases::$case(store.clone() as std::sync::Arc<dyn subsidy_store::LedgerStore>)).await;
                    store.drop_database().await.unwrap();
                    if let Err(e) = outcome {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            )*
        }
    };
}

cases!(
    the_bureau_reads_every_endpoint,
    an_entity_sees_only_its_own,
    a_city_sees_its_entities,
    the_bureau_gets_404_for_unknown_ids,
    hostile_parameters_get_400_naming_them,
    requests_without_a_valid_token_get_401,
    ledger_pages_cover_every_line_once,
    the_token_file_is_reloaded,
    the_openapi_document_lists_every_route,
    the_portal_signs_in_and_serves_pages_and_csv,
    answers_follow_the_store_once_its_generation_moves,
    the_uplift_part_is_the_core_s_rounded_down_once,
    the_uplift_is_explained_in_the_policy_s_words,
    the_ledger_page_shows_the_accruals_figure_of_a_capped_month,
    a_moved_record_is_seen_only_where_it_stands,
    the_portal_session_is_kept_by_the_server,
    empty_tokens_are_refused_everywhere,
    every_answer_carries_the_security_headers,
    double_funding_names_the_scheme_and_the_supplier,
);
