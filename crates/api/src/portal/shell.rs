//! The page frame: head, styles for phones and desks (served as
//! `/portal/style.css`, so the pages' content security policy needs no
//! inline style), the sign-in form and the error page. No scripts and
//! nothing fetched from elsewhere.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use maud::{html, Markup, DOCTYPE};

const STYLE: &str = "
body{font-family:system-ui,'PingFang SC','Noto Sans CJK SC',sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#12436b;color:#fff;padding:.7rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
header a,header button{color:#fff}
header button{background:transparent;border:1px solid #cfe0ef;border-radius:4px;padding:.3rem .7rem}
main{padding:1rem;max-width:72rem;margin:auto}
h1{font-size:1.25rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.en{color:#5b6570;font-size:.85em;font-weight:normal}
header .en{color:#cfe0ef}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;background:#fff;border:1px solid #dde1e6;border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.45rem .6rem;border-bottom:1px solid #eceff2;text-align:left;white-space:nowrap;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.why{white-space:normal;min-width:14rem}
svg.bar{display:block;width:100%;height:.8rem}svg.bar rect{fill:#2f7bbf}
.chart td{width:60%}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.8rem;background:#e6eef6}
.closed{background:#dff3e4}.excluded{background:#fdecea}
form.inline{display:inline}
input[type=password]{font-size:1rem;padding:.5rem;width:100%;max-width:32rem;box-sizing:border-box}
button{font-size:1rem;padding:.45rem .9rem;cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;font-size:.8rem;margin:0}
nav.months a{margin-right:.6rem}
nav.programme{display:flex;flex-wrap:wrap;gap:.3rem .9rem;margin:.2rem 0 .8rem}
figure.chart{margin:.4rem 0 1rem}
svg.months{display:block;width:100%;max-height:12rem;background:#fff;border:1px solid #dde1e6;border-radius:6px}
svg.months text{font-size:7px;fill:#5b6570}
.s-accrued{fill:#9cc3e6;background:#9cc3e6}.s-fixed{fill:#2f7bbf;background:#2f7bbf}.s-paid{fill:#2e9d5b;background:#2e9d5b}
span.key{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:middle;margin-right:.2rem}
form.step{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.2rem 0}
form.step input[type=text],form.step input[type=date]{font-size:.95rem;padding:.35rem;min-width:10rem}
";

/// The stylesheet every page links.
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// An amount in yuan with two decimals and thousands separators: `1,234,567.89`.
pub fn money(amount: rust_decimal::Decimal) -> String {
    let text = subsidy_core::money::format_yuan(amount);
    let (sign, digits) = text.strip_prefix('-').map_or(("", text.as_str()), |d| ("-", d));
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{fraction}")
}

/// An amount the API gave as text (`"1234.50"`), with thousands separators; text that is
/// not an amount is shown as it is.
pub fn money_text(text: &str) -> String {
    text.parse::<rust_decimal::Decimal>().map_or_else(|_| text.to_string(), money)
}

/// An entity kind (`university`, …) in Chinese with the English beside it.
pub fn kind_label(kind: &str) -> Markup {
    let zh = match kind {
        "enterprise" => "企业",
        "university" => "高校",
        "research_institute" => "科研院所",
        "government" => "政府机关",
        "individual" => "个人",
        "other" => "其他",
        _ => return html! { (kind) },
    };
    label(zh, &kind.replace('_', " "))
}

/// A label in Chinese with the English beside it.
pub fn label(zh: &str, en: &str) -> Markup {
    html! { (zh) " " span.en { (en) } }
}

/// A whole page.
pub fn page(title_zh: &str, title_en: &str, signed_in: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title_zh) " · " (title_en) }
                link rel="stylesheet" href="/portal/style.css";
            }
            body {
                header {
                    a href="/portal" { strong { "算力补贴核算" } " " span.en { "Compute subsidy accruals" } }
                    @if signed_in {
                        form.inline method="post" action="/portal/sign-out" { button type="submit" id="sign-out" { (label("退出", "Sign out")) } }
                    }
                }
                main { h1 { (label(title_zh, title_en)) } (body) }
            }
        }
    }
}

/// The sign-in form, with a message after a failed attempt.
pub fn sign_in_page(message: Option<&str>) -> Markup {
    page("登录", "Sign in", false, html! {
        p { "请输入您的访问令牌。" br; span.en { "Enter the access token you were given." } }
        @if let Some(m) = message { p.badge.excluded id="sign-in-error" { (m) } }
        form method="post" action="/portal/sign-in" {
            p { input type="password" name="token" id="token" autocomplete="off" required placeholder="令牌 · token"; }
            p { button type="submit" id="sign-in" { (label("登录", "Sign in")) } }
        }
    })
}

/// An error page.
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let (zh, en) = match status {
        StatusCode::FORBIDDEN => ("无权查看", "Not yours to see"),
        StatusCode::NOT_FOUND => ("未找到", "Not found"),
        StatusCode::BAD_REQUEST => ("请求有误", "Bad request"),
        StatusCode::CONFLICT => ("无法办理", "Cannot be done now"),
        _ => ("暂时无法显示", "Cannot show this now"),
    };
    page(zh, en, true, html! { p { (message) } p { a href="/portal" { (label("返回首页", "Back to the start")) } } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_have_thousands_separators() {
        for (given, shown) in [("1234567.89", "1,234,567.89"), ("0", "0.00"), ("999.5", "999.50"), ("1000", "1,000.00"), ("-12345.6", "-12,345.60"), ("100000", "100,000.00")] {
            assert_eq!(money(rust_decimal::Decimal::from_str(given).unwrap_or_default()), shown, "{given}");
        }
        assert_eq!(money_text("2500.10"), "2,500.10");
        assert_eq!(money_text("-"), "-");
    }

    #[test]
    fn kinds_are_named_in_both_languages() {
        assert_eq!(kind_label("research_institute").into_string(), "科研院所 <span class=\"en\">research institute</span>");
        assert_eq!(kind_label("university").into_string(), "高校 <span class=\"en\">university</span>");
        assert_eq!(kind_label("enterprise").into_string(), "企业 <span class=\"en\">enterprise</span>");
    }
}
