//! Place names and administrative division codes (GB/T 2260).
//!
//! The platform writes province and city names by hand: "安徽", "安徽省",
//! " 阜阳市 ", "阜阳" and full-width variants all name the same place. Every
//! name the rules compare (an entity's registration, the policy's province
//! and 皖北 cities) goes through [`province`] or [`city`] first, so they are
//! compared in one canonical form. The division code inside a credit code is
//! checked against the same tables ([`division_province`], [`division_city`]).

use unicode_normalization::UnicodeNormalization;

/// Province-level divisions: (two-digit code, full name, short name).
const PROVINCES: [(u32, &str, &str); 34] = [
    (11, "北京市", "北京"),
    (12, "天津市", "天津"),
    (13, "河北省", "河北"),
    (14, "山西省", "山西"),
    (15, "内蒙古自治区", "内蒙古"),
    (21, "辽宁省", "辽宁"),
    (22, "吉林省", "吉林"),
    (23, "黑龙江省", "黑龙江"),
    (31, "上海市", "上海"),
    (32, "江苏省", "江苏"),
    (33, "浙江省", "浙江"),
    (34, "安徽省", "安徽"),
    (35, "福建省", "福建"),
    (36, "江西省", "江西"),
    (37, "山东省", "山东"),
    (41, "河南省", "河南"),
    (42, "湖北省", "湖北"),
    (43, "湖南省", "湖南"),
    (44, "广东省", "广东"),
    (45, "广西壮族自治区", "广西"),
    (46, "海南省", "海南"),
    (50, "重庆市", "重庆"),
    (51, "四川省", "四川"),
    (52, "贵州省", "贵州"),
    (53, "云南省", "云南"),
    (54, "西藏自治区", "西藏"),
    (61, "陕西省", "陕西"),
    (62, "甘肃省", "甘肃"),
    (63, "青海省", "青海"),
    (64, "宁夏回族自治区", "宁夏"),
    (65, "新疆维吾尔自治区", "新疆"),
    (71, "台湾省", "台湾"),
    (81, "香港特别行政区", "香港"),
    (82, "澳门特别行政区", "澳门"),
];

/// Anhui's sixteen prefecture-level cities: (four-digit code, name).
const ANHUI_CITIES: [(u32, &str); 16] = [
    (3401, "合肥市"),
    (3402, "芜湖市"),
    (3403, "蚌埠市"),
    (3404, "淮南市"),
    (3405, "马鞍山市"),
    (3406, "淮北市"),
    (3407, "铜陵市"),
    (3408, "安庆市"),
    (3410, "黄山市"),
    (3411, "滁州市"),
    (3412, "阜阳市"),
    (3413, "宿州市"),
    (3415, "六安市"),
    (3416, "亳州市"),
    (3417, "池州市"),
    (3418, "宣城市"),
];

/// Suffixes that already end a prefecture-level name.
const CITY_SUFFIXES: [&str; 4] = ["市", "地区", "自治州", "盟"];

/// Compatibility forms folded (full-width letters, digits and spaces; compatibility
/// ideographs), then every whitespace character removed: place names have none.
pub fn clean(text: &str) -> String {
    text.nfkc().filter(|c| !c.is_whitespace() && !is_invisible(*c)).collect()
}

/// Zero-width characters that copy-and-paste leaves behind.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// The canonical name of a province: "安徽", "安徽省" and " 安徽省 " all give "安徽省".
/// A name outside the table is returned cleaned, as given.
pub fn province(text: &str) -> String {
    let name = clean(text);
    PROVINCES.iter().find(|(_, full, short)| name == *full || name == *short).map_or(name, |(_, full, _)| (*full).to_string())
}

/// The canonical name of a prefecture-level city: "阜阳" and "阜阳市" give "阜阳市".
/// A name without a prefecture suffix gets "市".
pub fn city(text: &str) -> String {
    let name = clean(text);
    if name.is_empty() || CITY_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return name;
    }
    format!("{name}市")
}

/// The province a six-digit division code belongs to (canonical name), if the code is known.
pub fn division_province(division: &str) -> Option<&'static str> {
    let code: u32 = division.get(..2)?.parse().ok()?;
    PROVINCES.iter().find(|(c, _, _)| *c == code).map(|(_, full, _)| *full)
}

/// Whether the first two digits of a division code name a province, or the
/// national level (`10`) used by centrally registered organisations.
pub fn is_known_division(division: &str) -> bool {
    division.len() == 6 && division.bytes().all(|b| b.is_ascii_digit()) && (division.starts_with("10") || division_province(division).is_some())
}

/// The Anhui city a division code belongs to, when it names one (not the province level `340000`).
pub fn division_city(division: &str) -> Option<&'static str> {
    let code: u32 = division.get(..4)?.parse().ok()?;
    ANHUI_CITIES.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_place_are_one_name() {
        for p in ["安徽", "安徽省", " 安徽省 ", "安徽\u{3000}", "安 徽", "\u{200B}安徽省"] {
            assert_eq!(province(p), "安徽省", "{p:?}");
        }
        assert_eq!(province("内蒙古"), "内蒙古自治区");
        assert_eq!(province("北京"), "北京市");
        assert_eq!(province("Atlantis"), "Atlantis");
        assert_eq!(province("ＡＢＣ"), "ABC", "full-width letters fold");
        for c in ["阜阳", "阜阳市", "阜阳市 ", "　阜阳市"] {
            assert_eq!(city(c), "阜阳市", "{c:?}");
        }
        assert_eq!(city("大兴安岭地区"), "大兴安岭地区");
        assert_eq!(city("延边朝鲜族自治州"), "延边朝鲜族自治州");
        assert_eq!(city("  "), "");
    }

    #[test]
    fn division_codes_name_provinces_and_anhui_cities() {
        assert_eq!(division_province("341200"), Some("安徽省"));
        assert_eq!(division_city("341202"), Some("阜阳市"));
        assert_eq!(division_city("340000"), None);
        assert_eq!(division_city("320100"), None);
        assert!(is_known_division("100000"));
        assert!(is_known_division("340100"));
        assert!(!is_known_division("000000"));
        assert!(!is_known_division("990000"));
        assert!(!is_known_division("34010A"));
    }
}
