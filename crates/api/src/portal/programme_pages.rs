//! The programme's pages: claims (an entity's closed months to claim and where
//! each claim stands; a city's and the bureau's reviews), batches (made from
//! approved payable claims, each with its rows, city totals and CSV),
//! receivables with the bureau's finding form, and a year's budget. Every
//! form posts to the portal, which takes the step the API takes.

use super::shell::{label, money_text, page};
use crate::auth::Role;
use crate::views::programme::{BatchView, BudgetAnswer, ClaimSummary, FiguresView, ReceivableView};
use maud::{html, Markup};
use subsidy_core::Period;

/// Links to the programme's pages for `role`.
pub fn nav(role: &Role) -> Markup {
    html! { nav.programme {
        @match role {
            Role::Entity(code) => { a href={ "/portal/entities/" (code) } { (label("我的月度汇总", "My months")) } }
            _ => { a href="/portal/overview" { (label("概览", "Overview")) } }
        }
        a #nav-claims href="/portal/claims" { (label("申领", "Claims")) }
        a #nav-batches href="/portal/batches" { (label("拨付批次", "Batches")) }
        a #nav-receivables href="/portal/receivables" { (label("应退款项", "Receivables")) }
        @if role.sees_many() { a #nav-budget href="/portal/budget" { (label("年度预算", "Budget")) } }
    } }
}

fn status(s: &str) -> Markup {
    let zh = match s {
        "filed" => "已提交",
        "city_approved" => "市级已通过",
        "approved" => "省级已核准",
        "paid" => "已拨付",
        "rejected" => "已驳回",
        other => other,
    };
    html! { span.badge.(s) { (label(zh, &s.replace('_', " "))) } }
}

fn review_form(c: &ClaimSummary, stage: &str) -> Markup {
    html! {
        form.step method="post" action={ "/portal/claims/" (c.claim_id) "/review" } {
            input type="hidden" name="stage" value=(stage);
            input type="text" name="reason" required maxlength="500" placeholder="理由 · reason";
            button type="submit" name="verdict" value="approve" { (label("通过", "Approve")) }
            button type="submit" name="verdict" value="reject" { (label("驳回", "Reject")) }
        }
    }
}

/// What the reader does to a claim: review it at its stage, when it is theirs to.
fn action(role: &Role, c: &ClaimSummary) -> Markup {
    match (role, c.status.as_str()) {
        (Role::City(_), "filed") => review_form(c, "city"),
        (Role::Bureau, "city_approved") => review_form(c, "bureau"),
        _ => html! {},
    }
}

/// The claims page: closed months to claim (an entity) and the claims the reader sees.
pub fn claims(role: &Role, claimable: &[(i32, Vec<Period>)], list: &[ClaimSummary]) -> Markup {
    page("补贴申领", "Claims", true, html! {
        (nav(role))
        @if let Role::Entity(_) = role {
            h2 { (label("可申领的已结算月份", "Closed months not yet claimed")) }
            @if claimable.is_empty() { p #claimable { (label("暂无可申领的月份。", "No closed month is waiting to be claimed.")) } }
            @for (year, months) in claimable {
                form.step id={ "claim-" (year) } method="post" action="/portal/claims" {
                    strong { (year) }
                    @for m in months { label { input type="checkbox" name="months" value=(m) checked; " " (m) } }
                    button type="submit" { (label("提交申领", "Claim")) }
                }
            }
        }
        h2 { (label("申领进度", "Where each claim stands")) }
        div.scroll { table #claims {
            thead { tr { th { (label("编号", "Claim")) } th { (label("主体", "Entity")) } th { (label("城市", "City")) } th { (label("月份", "Months")) } th { (label("状态", "Status")) }
                th.num { (label("申请", "Asked")) } th.num { (label("核定", "Granted")) } th { (label("批次", "Batch")) } th { (label("操作", "Action")) } } }
            tbody { @for c in list { tr id={ "claim-" (c.claim_id) } {
                td { (c.claim_id) } td { code { (c.credit_code) } } td { (c.city) } td { (c.months.join(", ")) } td { (status(&c.status)) }
                td.num { (money_text(&c.asked)) } td.num { (money_text(&c.granted)) } td { (c.batch_id.as_deref().unwrap_or("-")) }
                td { (action(role, c)) }
            } } }
        } }
    })
}

fn batch_table(b: &BatchView, csv: bool) -> Markup {
    html! {
        h2 id={ "batch-" (b.batch_id) } { (b.batch_id) " · " (label("拨付日期", "payout date")) " " (b.payout_date) }
        @if csv { p { a.csv href={ "/portal/batches/" (b.batch_id) "/csv" } download { (label("下载财政 CSV", "Download the finance CSV")) } } }
        div.scroll { table.rows {
            thead { tr { th { (label("申领", "Claim")) } th { (label("主体", "Entity")) } th { (label("城市", "City")) } th.num { (label("省级", "Province")) } th.num { (label("市级", "City part")) }
                th.num { (label("核定", "Amount")) } th.num { (label("抵扣", "Recovered")) } th.num { (label("实拨", "Net paid")) } } }
            tbody { @for r in &b.rows { tr {
                td { (r.claim_id) } td { code { (r.credit_code) } } td { (r.city) } td.num { (money_text(&r.province_part)) } td.num { (money_text(&r.city_part)) }
                td.num { (money_text(&r.amount)) } td.num { (money_text(&r.recovered)) } td.num { (money_text(&r.net_paid)) }
            } } }
        } }
        h3 { (label("按城市合计", "Totals by city")) }
        div.scroll { table.totals {
            thead { tr { th { (label("城市", "City")) } th.num { (label("笔数", "Claims")) } th.num { (label("省级", "Province")) } th.num { (label("市级", "City part")) }
                th.num { (label("核定", "Amount")) } th.num { (label("抵扣", "Recovered")) } th.num { (label("实拨", "Net paid")) } } }
            tbody { @for t in &b.city_totals { tr {
            td { (t.city) } td.num { (t.claims) } td.num { (money_text(&t.province_part)) } td.num { (money_text(&t.city_part)) } td.num { (money_text(&t.amount)) } td.num { (money_text(&t.recovered)) } td.num { (money_text(&t.net_paid)) }
        } } } } }
    }
}

/// The batches page: the bureau's form over approved payable claims, and the batches.
pub fn batches(role: &Role, payable: &[ClaimSummary], list: &[BatchView]) -> Markup {
    page("拨付批次", "Payout batches", true, html! {
        (nav(role))
        @if matches!(role, Role::Bureau) {
            h2 { (label("生成批次", "Make a batch")) }
            @if payable.is_empty() { p { (label("没有可拨付的已核准申领。", "No approved claim is payable.")) } }
            @else {
                form.step #make-batch method="post" action="/portal/batches" {
                    @for c in payable { label { input type="checkbox" name="claim" value=(c.claim_id) checked; " " (c.claim_id) " " code { (c.credit_code) } " " (money_text(&c.granted)) } }
                    label { (label("拨付日期", "Payout date")) " " input type="date" name="payout_date" required; }
                    button type="submit" { (label("生成批次", "Make the batch")) }
                }
            }
        }
        @if list.is_empty() { p { (label("还没有批次。", "No batch yet.")) } }
        @for b in list { (batch_table(b, matches!(role, Role::Bureau))) }
    })
}

/// The receivables page, with the bureau's finding form.
pub fn receivables(role: &Role, list: &[ReceivableView]) -> Markup {
    page("应退款项", "Receivables", true, html! {
        (nav(role))
        @if matches!(role, Role::Bureau) {
            h2 { (label("录入核查结论", "Enter an audit finding")) }
            form.step #finding method="post" action="/portal/findings" {
                input type="text" name="case_id" required maxlength="500" placeholder="案件编号 · case id";
                input type="text" name="credit_code" required maxlength="18" placeholder="统一社会信用代码 · credit code";
                input type="text" name="months" required placeholder="月份 · months (2025-09, 2025-10)";
                input type="text" name="amount" required inputmode="decimal" placeholder="金额 · amount";
                input type="text" name="reason" required maxlength="500" placeholder="理由 · reason";
                button type="submit" { (label("录入", "Enter")) }
            }
        }
        div.scroll { table #receivables {
            thead { tr { th { (label("款项", "Receivable")) } th { (label("主体", "Entity")) } th { (label("来源", "Source")) } th { (label("产生于", "Arose")) }
                th.num { (label("应退", "Amount")) } th.num { (label("已抵扣", "Recovered")) } th.num { (label("未抵扣", "Outstanding")) } } }
            tbody { @for r in list { tr {
                td { code { (r.id) } } td { code { (r.credit_code) } }
                td { @if r.source == "finding" { (label("核查", "finding")) " " (r.reason.as_deref().unwrap_or("")) } @else { (label("退款调整", "refund adjustment")) " " (r.for_period.as_deref().unwrap_or("")) } }
                td { (r.arose) } td.num { (money_text(&r.amount)) } td.num { (money_text(&r.recovered)) } td.num { (money_text(&r.outstanding)) }
            } } }
        } }
    })
}

fn figures_row(name: &str, f: &FiguresView) -> Markup {
    html! { tr {
        td { @if name == "province" { (label("全省", "province")) } @else { (name) } } td.num { (money_text(&f.paid)) } td.num { (money_text(&f.approved_unpaid)) } td.num { (money_text(&f.under_review)) }
        td.num { (money_text(&f.claimable)) } td.num { (money_text(&f.accrued)) } td.num { (money_text(&f.committed)) }
    } }
}

/// A year's budget: figures, by city, the forecast, and the bureau's close-year form.
pub fn budget(role: &Role, view: &BudgetAnswer, years: &[i32], chart: Markup) -> Markup {
    page(&format!("{} 年度预算", view.year), &format!("Budget of {} ({})", view.year, view.scope), true, html! {
        (nav(role))
        nav.months { @for y in years { a href={ "/portal/budget?year=" (y) } { (y) } } }
        p #budget-head {
            (label("预算", "Budget")) ": " strong { (view.budget.as_deref().map_or_else(|| "-".to_string(), money_text)) } " · "
            (label("超额规则", "Over budget")) ": " (view.over_budget.as_deref().unwrap_or("-")) " · "
            (label("剩余额度", "Headroom")) ": " (view.headroom.as_deref().map_or_else(|| "-".to_string(), money_text)) " · "
            @if view.claims_closed { span.badge.closed { (label("申领已截止", "claims closed")) } } @else { span.badge { (label("申领中", "claims open")) } }
        }
        @if let Some(f) = &view.forecast {
            p #forecast { (label("预计用尽日期", "Runs out on")) ": " (f.runs_out_on.as_deref().unwrap_or("-")) " · " (label("日均", "per day")) " " (money_text(&f.per_day)) " (" (label("截至", "as of")) " " (f.as_of) ")" }
        }
        div.scroll { table #budget-figures {
            thead { tr { th { (label("范围", "Scope")) } th.num { (label("已拨付", "Paid")) } th.num { (label("已核准未拨付", "Approved, unpaid")) } th.num { (label("审核中", "Under review")) }
                th.num { (label("可申领", "Claimable")) } th.num { (label("暂估", "Accrued")) } th.num { (label("合计", "Committed")) } } }
            tbody {
                (figures_row(&view.scope, &view.figures))
                @if matches!(role, Role::Bureau) { @for (city, f) in &view.by_city { (figures_row(city, f)) } }
            }
        } }
        @if matches!(role, Role::Bureau) && !view.claims_closed {
            form.step #close-year method="post" action={ "/portal/years/" (view.year) "/close" } {
                button type="submit" { (label("截止本年度申领", "Close this year's claims")) }
            }
        }
        h2 { (label("逐月核算、确定与拨付", "Accrued, fixed and paid by month")) }
        (chart)
    })
}
