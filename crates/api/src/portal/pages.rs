//! The portal's pages, rendered from the API's answers.

use super::programme_pages::nav;
use super::shell::{kind_label, label, money_text, page};
use crate::auth::Role;
use crate::views::accruals::AccrualsView;
use crate::views::ledger::LedgerPage;
use crate::views::overview::{Group, Overview};
use crate::views::record::RecordHistory;
use crate::views::MonthStatus;
use maud::{html, Markup};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use subsidy_core::Period;

fn status(s: MonthStatus) -> Markup {
    match s {
        MonthStatus::Closed => html! { span.badge.closed { (label("已结算", "closed")) } },
        MonthStatus::Provisional => html! { span.badge { (label("暂估", "provisional")) } },
    }
}

/// A bar `value` of `max` wide.
fn bar(value: &str, max: Decimal) -> Markup {
    let v = Decimal::from_str(value).unwrap_or_default();
    let pct = if max > Decimal::ZERO { (v * Decimal::from(100) / max).round_dp(1) } else { Decimal::ZERO };
    html! { svg.bar xmlns="http://www.w3.org/2000/svg" { rect width={ (pct) "%" } height="100%" {} } }
}

fn back(role: &Role) -> Markup {
    match role {
        Role::Entity(code) => html! { p { a href={ "/portal/entities/" (code) } { (label("我的月度汇总", "My months")) } } },
        _ => html! { p { a href="/portal/overview" { (label("全省概览", "Overview")) } } },
    }
}

/// An entity's months: table, chart and CSV.
pub fn entity(role: &Role, view: &AccrualsView, chart: Markup) -> Markup {
    let e = &view.entity;
    let title = e.name.clone().unwrap_or_else(|| e.credit_code.clone());
    let max = view.months.iter().filter_map(|m| Decimal::from_str(&m.subsidy).ok()).max().unwrap_or_default();
    page(&title, &e.credit_code, true, html! {
        (nav(role))
        p { (label("城市", "City")) ": " (e.city.as_deref().unwrap_or("-")) " · " (label("类型", "Kind")) ": " span #kind { @if let Some(k) = &e.kind { (kind_label(k)) } @else { "-" } } " · " (label("政策文件", "Policy document")) " " code { (subsidy_core::document::short(&view.policy_document)) } }
        h2 { (label("月度补贴", "Subsidy by month")) }
        div.scroll { table.chart #months {
            thead { tr { th { (label("月份", "Month")) } th { (label("状态", "Status")) } th.num { (label("合格记录", "Eligible")) } th.num { (label("合格支出", "Eligible spend")) } th.num { (label("补贴", "Subsidy")) } th.num { (label("已确定", "Fixed")) } th { (label("图", "Chart")) } th { (label("日志证明", "Log proof")) } } }
            tbody { @for m in &view.months { tr {
                td { a href={ "/portal/entities/" (e.credit_code) "/ledger?period=" (m.period) } { (m.period) } }
                td { (status(m.status)) }
                td.num { (m.eligible_records) }
                td.num { (money_text(&m.eligible_base)) }
                td.num { (money_text(&m.subsidy)) }
                td.num { (money_text(m.fixed_total.as_deref().unwrap_or("-"))) }
                td { (bar(&m.subsidy, max)) }
                td { @if m.status == MonthStatus::Closed { a.proof href={ "/portal/entities/" (e.credit_code) "/proof?period=" (m.period) } download { (label("证明", "Proof")) } } }
            } } }
        } }
        h2 { (label("逐月核算、确定与拨付", "Accrued, fixed and paid by month")) }
        (chart)
        @let excluded: Vec<_> = view.months.iter().flat_map(|m| m.excluded.iter().map(move |x| (&m.period, x))).collect();
        @if !excluded.is_empty() {
            h2 { (label("未计入补贴的支出", "Spend that earned nothing")) }
            div.scroll { table #excluded {
                thead { tr { th { (label("月份", "Month")) } th { (label("原因", "Reason")) } th.num { (label("记录", "Records")) } th.num { (label("支出", "Spend")) } th { (label("说明", "Why")) } } }
                tbody { @for (p, x) in &excluded { tr { td { (p) } td { code { (x.reason) } } td.num { (x.records) } td.num { (money_text(&x.spend)) } td.why { (x.explanation) } } } }
            } }
        }
        p { a #csv href={ "/portal/entities/" (e.credit_code) "/settlements.csv" } download { (label("下载 CSV", "Download CSV")) } }
    })
}

/// One month's lines.
pub fn ledger(role: &Role, p: &LedgerPage) -> Markup {
    page(&format!("{} 明细", p.period), &format!("Ledger of {}", p.period), true, html! {
        p { a href={ "/portal/entities/" (p.credit_code) } { (p.credit_code) } " · " (status(p.status)) " · " (label("补贴", "Subsidy")) ": " strong { (money_text(&p.subsidy)) } " · " (p.total_lines) " " (label("条记录", "lines")) " · " (label("政策文件", "Policy document")) " " code { (subsidy_core::document::short(&p.policy_document)) } }
        div.scroll { table #ledger {
            thead { tr {
                th { (label("记录", "Record")) } th { (label("算力中心", "Center")) } th { (label("加速卡", "Accelerator")) } th.num { (label("卡时", "Card-hours")) }
                th.num { (label("支付", "Paid")) } th.num { (label("合格支出", "Base")) } th.num { (label("比例", "Rate")) } th.num { (label("系数", "Uplift")) }
                th.num { (label("补贴份额", "Share")) } th { (label("说明", "Why")) }
            } }
            tbody { @for l in &p.lines { tr.excluded[!l.eligible] {
                td { a href={ "/portal/records/" (crate::portal::pages::path_segment(&l.record_id)) } { (l.record_id) } }
                td { (l.center_name.as_deref().unwrap_or(&l.center_id)) }
                td { (if l.accelerator.is_empty() { "-" } else { l.accelerator.as_str() }) }
                td.num { (l.card_hours.as_deref().unwrap_or("-")) }
                td.num { (money_text(&l.paid_amount)) }
                td.num { (money_text(&l.base)) }
                td.num { (l.rate) }
                td.num { (l.uplift) }
                td.num { (l.subsidy_share) }
                td.why {
                    @if let Some(r) = &l.reason {
                        code { (r) } " " (l.explanation.as_deref().unwrap_or(""))
                        @if let Some(d) = &l.reason_detail { " (" (d) ")" }
                    }
                    @else if let Some(u) = &l.uplift_reason { (u) }
                    @else { (l.policy_version.as_deref().unwrap_or("")) }
                }
            } } }
        } }
        @if let Some(c) = &p.next_cursor { p { a #next href={ "/portal/entities/" (p.credit_code) "/ledger?period=" (p.period) "&cursor=" (c) } { (label("下一页", "Next page")) } } }
        (back(role))
    })
}

/// Percent-encodes a record id for a path.
pub fn path_segment(id: &str) -> String {
    id.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A record's copies and decisions.
pub fn record(role: &Role, h: &RecordHistory) -> Markup {
    page(&format!("记录 {}", h.record_id), "Record history", true, html! {
        @if let Some(s) = &h.standing {
            p #standing {
                (label("当前有效版本", "Standing revision")) ": " strong { (s.revision) } " · " (s.period) " · "
                @if s.eligible { span.badge.closed { (label("合格", "eligible")) } " " (label("合格支出", "base")) " " (s.base) }
                @else { span.badge.excluded { code { (s.reason.as_deref().unwrap_or("")) } } " " (s.explanation.as_deref().unwrap_or("")) }
            }
            p { a href={ "/portal/entities/" (s.user_credit_code) "/ledger?period=" (s.period) } { (label("所在月份明细", "Its month's ledger")) } }
        }
        h2 { (label("收到的每个副本", "Every copy received")) }
        div.scroll { table #copies {
            thead { tr { th { (label("位置", "Position")) } th.num { (label("版本", "Revision")) } th { (label("判定", "Decision")) } th { (label("原始记录", "As received")) } } }
            tbody { @for c in &h.copies { tr {
                td { (c.partition) ":" (c.offset) }
                td.num { (c.revision) }
                td { span.badge { (c.decision) } }
                td.why { pre { (serde_json::to_string_pretty(&c.record).unwrap_or_default()) } }
            } } }
        } }
        (back(role))
    })
}

fn groups(id: &str, head: Markup, rows: &[Group]) -> Markup {
    let max = rows.iter().filter_map(|g| g.subsidy.as_deref().and_then(|s| Decimal::from_str(s).ok())).max().unwrap_or_default();
    html! { div.scroll { table.chart id=(id) {
        thead { tr { th { (head) } th.num { (label("主体", "Entities")) } th.num { (label("合格支出", "Eligible spend")) } th.num { (label("补贴", "Subsidy")) } th { (label("图", "Chart")) } } }
        tbody { @for g in rows { tr {
            td { (g.name.as_deref().unwrap_or(&g.key)) }
            td.num { (g.entities) }
            td.num { (money_text(&g.eligible_base)) }
            td.num { (money_text(g.subsidy.as_deref().unwrap_or("-"))) }
            td { @if let Some(s) = &g.subsidy { (bar(s, max)) } }
        } } }
    } } }
}

/// The overview of a month, and subsidy by city and month.
pub fn overview(role: &Role, o: &Overview, months: &[Period], by_city_month: &BTreeMap<String, BTreeMap<Period, Decimal>>, chart: Markup) -> Markup {
    let max = by_city_month.values().flat_map(|m| m.values()).copied().max().unwrap_or_default();
    page(&format!("{} 概览", o.period), &format!("Overview of {} ({})", o.period, o.scope), true, html! {
        (nav(role))
        nav.months { @for m in months { a href={ "/portal/overview?period=" (m) } { (m) } } }
        p #totals { (label("补贴合计", "Subsidy")) ": " strong { (money_text(o.totals.subsidy.as_deref().unwrap_or("0.00"))) } " · "
            (label("合格支出", "Eligible spend")) ": " (money_text(&o.totals.eligible_base)) " · " (label("上浮部分", "Uplift part")) ": " (money_text(&o.uplift_contribution)) }
        h2 { (label("逐月核算、确定与拨付", "Accrued, fixed and paid by month")) }
        (chart)
        h2 { (label("按城市", "By city")) } (groups("by-city", label("城市", "City"), &o.by_city))
        h2 { (label("按主体类型", "By kind")) } (groups("by-kind", label("类型", "Kind"), &o.by_kind))
        h2 { (label("按算力中心", "By compute center")) } (groups("by-center", label("中心", "Center"), &o.by_center))
        h2 { (label("按加速卡型号", "By accelerator")) } (groups("by-accelerator", label("型号", "Accelerator"), &o.by_accelerator))
        h2 { (label("补贴最多的主体", "Top entities")) }
        div.scroll { table #top { tbody { @for t in &o.top_entities { tr {
            td { a href={ "/portal/entities/" (t.entity.credit_code) } { (t.entity.name.as_deref().unwrap_or(&t.entity.credit_code)) } }
            td { (t.entity.city.as_deref().unwrap_or("-")) }
            td.num { (money_text(&t.subsidy)) }
        } } } } }
        @if !o.excluded.is_empty() {
            h2 { (label("未计入补贴的支出", "Spend that earned nothing")) }
            div.scroll { table { tbody { @for x in &o.excluded { tr { td { code { (x.reason) } } td.num { (x.records) } td.num { (money_text(&x.spend)) } td.why { (x.explanation) } } } } } }
        }
        h2 { (label("各城市逐月补贴", "Subsidy by city and month")) }
        div.scroll { table.chart #city-months {
            thead { tr { th { (label("城市", "City")) } th { (label("月份", "Month")) } th.num { (label("补贴", "Subsidy")) } th { (label("图", "Chart")) } } }
            tbody { @for (city, per) in by_city_month { @for (m, v) in per { tr {
                td { (city) } td { (m) } td.num { (super::shell::money(*v)) } td { (bar(&v.to_string(), max)) }
            } } } }
        } }
        p { a #csv href={ "/portal/settlements.csv?period=" (o.period) } download { (label("下载本月 CSV", "Download this month's CSV")) } }
        @if matches!(role, Role::Bureau) { p { (label("无法读取的记录", "Unreadable records")) ": " (o.rejected.iter().map(|r| r.records).sum::<u64>()) } }
    })
}

/// The overview when the ledger has no lines yet.
pub fn empty_overview(_role: &Role) -> Markup {
    page("概览", "Overview", true, html! { p { (label("账本中还没有记录。", "The ledger has no lines yet.")) } })
}
