//! The OpenAPI document served at `/openapi.json`, generated from the
//! handlers and the response types so it cannot drift from them. Each
//! parameter states the checks the server applies (patterns, lengths,
//! ranges); the two a pattern cannot state — a credit code's check
//! character, a record id's length in bytes — are named by a format
//! (`unified-social-credit-code`, `record-id`) and in the description.

use crate::error::ErrorBody;
use crate::routes;
use crate::{cursor, params, steps};
use crate::views::accruals::{Adjustment, AccrualsView, Fixed, MonthAccrual};
use crate::views::ledger::{LedgerLine, LedgerPage};
use crate::views::overview::{Group, Overview, ReasonCount, TopEntity};
use crate::views::record::{CopyView, RecordHistory, StandingLine};
use crate::views::settlements::{SettlementRow, SettlementsPage, StatementLine, StatementsView};
use crate::views::programme::{
    BatchList, BatchRowView, BatchView, BudgetAnswer, CityTotalView, ClaimDetail, ClaimList, ClaimSummary, FiguresView, ForecastView, PartView, ReceivableList, ReceivableView, RecoveryView, ReviewView,
    StepAnswer,
};
use crate::views::{EntityInfo, Exclusion, MonthStatus};
use crate::views::reconciliation::{ForcedCloseView, GapView, ReconciliationView};
use crate::programme::{self as prog, BatchRequest, ClaimRequest, FindingRequest, ReviewRequest};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Schema, SchemaFormat};
use utoipa::{Modify, OpenApi};

/// The API's document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Compute-subsidy accruals API", description = "What entities have accrued under Anhui's AI-compute subsidy, what was fixed for payment, and why."),
    paths(routes::get_accruals, routes::get_ledger, routes::get_statements, routes::get_record, routes::get_settlements, routes::get_overview, routes::get_reconciliation,
        prog::post_claim, prog::get_claims, prog::get_claim, prog::post_review, prog::post_batch, prog::get_batches, prog::get_batch, prog::get_batch_csv,
        prog::post_finding, prog::post_close_year, prog::get_receivables, prog::get_budget,
        crate::tlog::get_checkpoint, crate::tlog::get_consistency, crate::tlog::post_cosignature, crate::tlog::get_proof),
    components(schemas(ErrorBody, AccrualsView, MonthAccrual, Fixed, Adjustment, LedgerPage, LedgerLine, RecordHistory, StandingLine, CopyView,
        SettlementsPage, SettlementRow, StatementsView, StatementLine, Overview, Group, TopEntity, ReasonCount, EntityInfo, Exclusion, MonthStatus,
        ClaimRequest, ReviewRequest, BatchRequest, FindingRequest, StepAnswer, ClaimSummary, ClaimDetail, ClaimList, ReviewView, PartView,
        BatchView, BatchList, BatchRowView, CityTotalView, RecoveryView, ReceivableView, ReceivableList, BudgetAnswer, FiguresView, ForecastView,
        ReconciliationView, GapView, ForcedCloseView, crate::tlog::ConsistencyProof, crate::tlog::CosignatureRequest)),
    modifiers(&Bearer, &Formats)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// States the pattern (and, where a pattern cannot say it all, the format) of each
/// parameter from the constants the checks use.
struct Formats;

/// The pattern and format of a parameter named so.
fn constraint_of(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    match name {
        "credit_code" => Some((params::CREDIT_CODE_PATTERN, Some("unified-social-credit-code"))),
        "record_id" => Some((params::RECORD_ID_PATTERN, Some("record-id"))),
        "period" | "from" | "to" => Some((params::MONTH_PATTERN, None)),
        "cursor" => Some((cursor::CURSOR_PATTERN, None)),
        "claim_id" => Some((steps::CLAIM_ID_PATTERN, None)),
        "batch_id" => Some((steps::BATCH_ID_PATTERN, None)),
        _ => None,
    }
}

impl Modify for Formats {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operations = openapi.paths.paths.values_mut().flat_map(|item| item.get.iter_mut().chain(item.post.iter_mut()));
        for parameter in operations.flat_map(|op| op.parameters.iter_mut().flatten()) {
            let Some((pattern, format)) = constraint_of(&parameter.name) else { continue };
            if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() {
                object.pattern = Some(pattern.to_string());
                object.format = format.map(|f| SchemaFormat::Custom(f.to_string()));
            }
        }
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
