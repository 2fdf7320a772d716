//! The OpenAPI document served at `/openapi.json`, generated from the
//! handlers and the response types so it cannot drift from them.

use crate::error::ErrorBody;
use crate::routes;
use crate::views::accruals::{Adjustment, AccrualsView, Fixed, MonthAccrual};
use crate::views::ledger::{LedgerLine, LedgerPage};
use crate::views::overview::{Group, Overview, ReasonCount, TopEntity};
use crate::views::record::{CopyView, RecordHistory, StandingLine};
use crate::views::settlements::{SettlementRow, SettlementsPage, StatementLine, StatementsView};
use crate::views::{EntityInfo, Exclusion, MonthStatus};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Compute-subsidy accruals API", description = "What entities have accrued under Anhui's AI-compute subsidy, what was fixed for payment, and why."),
    paths(routes::get_accruals, routes::get_ledger, routes::get_statements, routes::get_record, routes::get_settlements, routes::get_overview),
    components(schemas(ErrorBody, AccrualsView, MonthAccrual, Fixed, Adjustment, LedgerPage, LedgerLine, RecordHistory, StandingLine, CopyView,
        SettlementsPage, SettlementRow, StatementsView, StatementLine, Overview, Group, TopEntity, ReasonCount, EntityInfo, Exclusion, MonthStatus)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
