//! The programme's answers: claims with their reviews, parts and lines,
//! batches with their rows, city totals and recoveries, receivables and a
//! year's budget view — the core's state, selected for the reader and with
//! amounts as yuan strings like every other answer.

use super::settlements::StatementLine;
use super::yuan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use subsidy_core::programme::{BatchRow, BatchState, BudgetView, CityTotal, ClaimState, Figures, Forecast, Part, Receivable, ReceivableSource, Recovery, Review};
use utoipa::ToSchema;

/// A claim as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimSummary {
    /// `C-<sequence>`.
    #[schema(example = "C-1")]
    pub claim_id: String,
    /// The entity.
    pub credit_code: String,
    /// The city reviewing it.
    pub city: String,
    /// The months claimed, YYYY-MM, sorted.
    pub months: Vec<String>,
    /// `filed`, `city_approved`, `approved`, `paid` or `rejected`.
    pub status: String,
    /// Who filed it (the token's label).
    pub filed_by: String,
    /// When it was filed (RFC 3339).
    pub filed_at: String,
    /// Σ asked over its parts, yuan (0.00 before the bureau's approval).
    pub asked: String,
    /// Σ granted over its parts, yuan (a part waiting for its year's division counts nothing).
    pub granted: String,
    /// The batch paying it.
    pub batch_id: Option<String>,
}

/// A review as taken.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    /// Who (the token's label).
    pub label: String,
    /// When (RFC 3339).
    pub at: String,
    /// `approve` or `reject`.
    pub verdict: String,
    /// Why.
    pub reason: String,
}

/// What an approved claim asks and is granted for one calendar year.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartView {
    /// The year.
    pub year: i32,
    /// Σ subsidy of the lines taken for the year, yuan.
    pub asked: String,
    /// Granted under the year's budget, yuan (`null` while a `pro_rata` year is not divided).
    pub granted: Option<String>,
    /// The city's share of what is paid.
    pub city_share: String,
}

/// A claim with everything decided about it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimDetail {
    /// The claim.
    #[serde(flatten)]
    pub claim: ClaimSummary,
    /// The city's review.
    pub city_review: Option<ReviewView>,
    /// The bureau's review.
    pub bureau_review: Option<ReviewView>,
    /// At approval: the latest closed month, YYYY-MM.
    pub through: Option<String>,
    /// At approval: asked and granted per year.
    pub parts: Vec<PartView>,
    /// At approval: the statement lines taken.
    pub lines: Vec<StatementLine>,
}

/// Claims, in filing order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimList {
    /// The claims the reader may see that match.
    pub claims: Vec<ClaimSummary>,
}

/// What a step wrote.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepAnswer {
    /// The step's place in the programme's history.
    pub sequence: u64,
    /// What it made or acted on: a claim (`C-…`), a batch (`B-…`), a finding's case or a year.
    pub id: String,
    /// The latest closed month when it was taken.
    pub through: Option<String>,
}

/// One claim paid in a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchRowView {
    /// The claim.
    pub claim_id: String,
    /// The entity paid.
    pub credit_code: String,
    /// The claim's city.
    pub city: String,
    /// The province's part, yuan.
    pub province_part: String,
    /// The city's part, yuan.
    pub city_part: String,
    /// Granted: province part + city part, yuan.
    pub amount: String,
    /// Receivables netted against it, yuan.
    pub recovered: String,
    /// Transferred: amount − recovered, yuan.
    pub net_paid: String,
}

/// A batch's totals for one city.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CityTotalView {
    /// The city.
    pub city: String,
    /// Claims paid.
    pub claims: u64,
    /// Σ province parts, yuan.
    pub province_part: String,
    /// Σ city parts, yuan.
    pub city_part: String,
    /// Σ amounts, yuan.
    pub amount: String,
    /// Σ recovered, yuan.
    pub recovered: String,
    /// Σ net paid, yuan.
    pub net_paid: String,
}

/// What a batch recovered of one receivable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecoveryView {
    /// The receivable.
    pub receivable_id: String,
    /// The entity.
    pub credit_code: String,
    /// Recovered, yuan.
    pub amount: String,
}

/// A batch, as far as the reader may see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchView {
    /// `B-<sequence>`.
    #[schema(example = "B-5")]
    pub batch_id: String,
    /// The payout date, YYYY-MM-DD.
    pub payout_date: String,
    /// Who made it (the token's label).
    pub made_by: String,
    /// When (RFC 3339).
    pub made_at: String,
    /// Its rows the reader may see, by entity, then the months of the claim.
    pub rows: Vec<BatchRowView>,
    /// Totals of those rows per city.
    pub city_totals: Vec<CityTotalView>,
    /// What it recovered of the reader's entities' receivables.
    pub recoveries: Vec<RecoveryView>,
}

/// Batches, in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchList {
    /// The batches with rows the reader may see.
    pub batches: Vec<BatchView>,
}

/// Money an entity owes, netted against its next payouts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceivableView {
    /// `adjustment:<credit code>:<payout month>:<month>` or `finding:<case id>`.
    pub id: String,
    /// Who owes it.
    pub credit_code: String,
    /// `adjustment` or `finding`.
    pub source: String,
    /// The claim that had covered the month (adjustments).
    pub claim_id: Option<String>,
    /// The month corrected (adjustments), YYYY-MM.
    pub for_period: Option<String>,
    /// The audit case (findings).
    pub case_id: Option<String>,
    /// Why (findings).
    pub reason: Option<String>,
    /// The closed month by which it arose, YYYY-MM.
    pub arose: String,
    /// Owed, yuan.
    pub amount: String,
    /// Recovered by batches so far, yuan.
    pub recovered: String,
    /// Still owed, yuan.
    pub outstanding: String,
    /// Whether it can be recovered yet.
    pub due: bool,
}

/// Receivables, oldest first per entity.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceivableList {
    /// The receivables the reader may see.
    pub receivables: Vec<ReceivableView>,
}

/// Money of a year in each state, yuan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FiguresView {
    /// Granted to claims in batches.
    pub paid: String,
    /// Granted to approved claims not yet in a batch.
    pub approved_unpaid: String,
    /// Fixed for months of claims still in review.
    pub under_review: String,
    /// Fixed for closed months no claim holds, and later adjustments not yet claimed.
    pub claimable: String,
    /// Settled so far for open months.
    pub accrued: String,
    /// All of the above.
    pub committed: String,
}

/// When the budget runs out at the current rate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForecastView {
    /// The last day with figures, YYYY-MM-DD.
    pub as_of: String,
    /// Committed per day so far, yuan.
    pub per_day: String,
    /// The day the committed money reaches the budget, YYYY-MM-DD.
    pub runs_out_on: Option<String>,
    /// Whether it has reached the budget already.
    pub reached: bool,
}

/// One year of the programme.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetAnswer {
    /// The calendar year.
    pub year: i32,
    /// The province or the city the figures are for.
    pub scope: String,
    /// The year's budget, yuan (`null`: none set, every approved claim is paid).
    pub budget: Option<String>,
    /// `first_come` or `pro_rata`.
    pub over_budget: Option<String>,
    /// Whether the bureau closed the year's claims.
    pub claims_closed: bool,
    /// The figures of the scope.
    pub figures: FiguresView,
    /// Budget − committed, yuan (province only).
    pub headroom: Option<String>,
    /// The burn-down forecast (province only).
    pub forecast: Option<ForecastView>,
    /// Figures per city.
    pub by_city: BTreeMap<String, FiguresView>,
    /// Figures per policy version covering the months (province only; `claimable` holds
    /// every statement line's subsidy).
    pub by_version: BTreeMap<String, FiguresView>,
}

fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl ClaimSummary {
    /// A claim as listed.
    pub fn of(c: &ClaimState) -> ClaimSummary {
        ClaimSummary {
            claim_id: c.claim_id.clone(),
            credit_code: c.credit_code.to_string(),
            city: c.city.clone(),
            months: c.months.iter().map(ToString::to_string).collect(),
            status: c.status.as_str().to_string(),
            filed_by: c.filed_by.clone(),
            filed_at: at(c.filed_at),
            asked: yuan(c.asked()),
            granted: yuan(c.granted()),
            batch_id: c.batch_id.clone(),
        }
    }
}

fn review(r: &Review) -> ReviewView {
    ReviewView { label: r.label.clone(), at: at(r.at), verdict: if r.approved { "approve" } else { "reject" }.to_string(), reason: r.reason.clone() }
}

fn part(p: &Part) -> PartView {
    PartView { year: p.year, asked: yuan(p.asked), granted: p.granted.map(yuan), city_share: p.city_share.normalize().to_string() }
}

impl ClaimDetail {
    /// A claim with its reviews, parts and lines.
    pub fn of(c: &ClaimState) -> ClaimDetail {
        ClaimDetail {
            claim: ClaimSummary::of(c),
            city_review: c.city_review.as_ref().map(review),
            bureau_review: c.bureau_review.as_ref().map(review),
            through: c.through.map(|t| t.to_string()),
            parts: c.parts.iter().map(part).collect(),
            lines: c.lines.iter().map(StatementLine::of).collect(),
        }
    }
}

fn row(r: &BatchRow) -> BatchRowView {
    BatchRowView {
        claim_id: r.claim_id.clone(),
        credit_code: r.credit_code.to_string(),
        city: r.city.clone(),
        province_part: yuan(r.province_part),
        city_part: yuan(r.city_part),
        amount: yuan(r.amount),
        recovered: yuan(r.recovered),
        net_paid: yuan(r.net_paid),
    }
}

fn city_total(t: &CityTotal) -> CityTotalView {
    CityTotalView {
        city: t.city.clone(),
        claims: t.claims,
        province_part: yuan(t.province_part),
        city_part: yuan(t.city_part),
        amount: yuan(t.amount),
        recovered: yuan(t.recovered),
        net_paid: yuan(t.net_paid),
    }
}

fn recovery(r: &Recovery) -> RecoveryView {
    RecoveryView { receivable_id: r.receivable_id.clone(), credit_code: r.credit_code.to_string(), amount: yuan(r.amount) }
}

impl BatchView {
    /// A batch with only the rows (and recoveries) `sees` keeps; totals over those rows.
    pub fn of(b: &BatchState, sees: impl Fn(&BatchRow) -> bool) -> BatchView {
        let rows: Vec<BatchRow> = b.rows.iter().filter(|r| sees(r)).cloned().collect();
        let codes: Vec<_> = rows.iter().map(|r| r.credit_code).collect();
        let shown = BatchState { rows, ..b.clone() };
        BatchView {
            batch_id: b.batch_id.clone(),
            payout_date: b.payout_date.to_string(),
            made_by: b.made_by.clone(),
            made_at: at(b.made_at),
            rows: shown.rows.iter().map(row).collect(),
            city_totals: shown.city_totals().iter().map(city_total).collect(),
            recoveries: b.recoveries.iter().filter(|r| codes.contains(&r.credit_code)).map(recovery).collect(),
        }
    }
}

impl ReceivableView {
    /// A receivable with what is still owed.
    pub fn of(r: &Receivable) -> ReceivableView {
        let (source, claim_id, for_period, case_id, reason) = match &r.source {
            ReceivableSource::Adjustment { for_period, claim_id, .. } => ("adjustment", Some(claim_id.clone()), Some(for_period.to_string()), None, None),
            ReceivableSource::Finding { case_id, reason, .. } => ("finding", None, None, Some(case_id.clone()), Some(reason.clone())),
        };
        ReceivableView {
            id: r.id.clone(),
            credit_code: r.credit_code.to_string(),
            source: source.to_string(),
            claim_id,
            for_period,
            case_id,
            reason,
            arose: r.arose.to_string(),
            amount: yuan(r.amount),
            recovered: yuan(r.recovered),
            outstanding: yuan(r.outstanding()),
            due: r.due,
        }
    }
}

/// Figures as yuan strings.
pub fn figures(f: &Figures) -> FiguresView {
    FiguresView {
        paid: yuan(f.paid),
        approved_unpaid: yuan(f.approved_unpaid),
        under_review: yuan(f.under_review),
        claimable: yuan(f.claimable),
        accrued: yuan(f.accrued),
        committed: yuan(f.committed()),
    }
}

fn forecast(f: &Forecast) -> ForecastView {
    ForecastView { as_of: f.as_of.to_string(), per_day: yuan(f.per_day), runs_out_on: f.runs_out_on.map(|d| d.to_string()), reached: f.reached }
}

impl BudgetAnswer {
    /// The province's view.
    pub fn province(v: &BudgetView) -> BudgetAnswer {
        BudgetAnswer {
            year: v.year,
            scope: "province".to_string(),
            budget: v.budget.map(yuan),
            over_budget: v.over_budget.map(str::to_string),
            claims_closed: v.claims_closed,
            figures: figures(&v.figures),
            headroom: v.headroom.map(yuan),
            forecast: v.forecast.as_ref().map(forecast),
            by_city: v.by_city.iter().map(|(c, f)| (c.clone(), figures(f))).collect(),
            by_version: v.by_version.iter().map(|(k, f)| (k.clone(), figures(f))).collect(),
        }
    }

    /// One city's part of the view: its figures only.
    pub fn city(v: &BudgetView, city: &str) -> BudgetAnswer {
        let own = v.by_city.get(city).cloned().unwrap_or_default();
        BudgetAnswer {
            scope: city.to_string(),
            figures: figures(&own),
            headroom: None,
            forecast: None,
            by_city: BTreeMap::from([(city.to_string(), figures(&own))]),
            by_version: BTreeMap::new(),
            ..BudgetAnswer::province(&BudgetView { by_city: BTreeMap::new(), by_version: BTreeMap::new(), forecast: None, ..v.clone() })
        }
    }
}
