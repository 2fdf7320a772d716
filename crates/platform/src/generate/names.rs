//! Reference data the generator draws from: Anhui's sixteen cities with
//! their division codes, a few places outside the province, name parts and
//! accelerator models with their price bands.

/// A city of registration: province, city, administrative division code and a weight.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// Province, e.g. 安徽省.
    pub province: &'static str,
    /// City, e.g. 合肥市.
    pub city: &'static str,
    /// Six-digit division code, part of the credit code.
    pub division: &'static str,
    /// Relative share of entities registered there.
    pub weight: u32,
}

const fn place(province: &'static str, city: &'static str, division: &'static str, weight: u32) -> Place {
    Place { province, city, division, weight }
}

/// The province the policy serves.
pub const PROVINCE: &str = "安徽省";

/// Anhui's sixteen prefecture-level cities.
pub const ANHUI: [Place; 16] = [
    place(PROVINCE, "合肥市", "340100", 30),
    place(PROVINCE, "芜湖市", "340200", 10),
    place(PROVINCE, "蚌埠市", "340300", 5),
    place(PROVINCE, "淮南市", "340400", 4),
    place(PROVINCE, "马鞍山市", "340500", 5),
    place(PROVINCE, "淮北市", "340600", 3),
    place(PROVINCE, "铜陵市", "340700", 3),
    place(PROVINCE, "安庆市", "340800", 5),
    place(PROVINCE, "黄山市", "341000", 2),
    place(PROVINCE, "滁州市", "341100", 5),
    place(PROVINCE, "阜阳市", "341200", 5),
    place(PROVINCE, "宿州市", "341300", 4),
    place(PROVINCE, "六安市", "341500", 4),
    place(PROVINCE, "亳州市", "341600", 3),
    place(PROVINCE, "池州市", "341700", 2),
    place(PROVINCE, "宣城市", "341800", 3),
];

/// Places outside the province where some users are registered.
pub const OUTSIDE: [Place; 4] = [
    place("江苏省", "南京市", "320100", 4),
    place("浙江省", "杭州市", "330100", 3),
    place("上海市", "上海市", "310100", 2),
    place("北京市", "北京市", "110100", 1),
];

/// The city name without its 市 suffix, used to build organisation names.
pub fn short(city: &str) -> &str {
    city.strip_suffix('市').unwrap_or(city)
}

/// Trade-name parts of company names.
pub const TRADE_NAMES: [&str; 24] = [
    "星河", "智源", "云帆", "启明", "华擎", "科讯", "天枢", "量子", "灵犀", "博思", "数智", "恒信", "中科", "卓越", "未来", "深蓝",
    "长风", "锐思", "知行", "鸿图", "讯飞", "元象", "曦和", "墨子",
];

/// Business lines of company names.
pub const BUSINESS: [&str; 10] =
    ["智能科技", "信息技术", "数据科技", "人工智能", "软件", "生物科技", "新能源科技", "网络科技", "机器人", "医疗科技"];

/// Company-form suffixes.
pub const COMPANY_FORMS: [&str; 2] = ["有限公司", "股份有限公司"];

/// University name endings.
pub const UNIVERSITIES: [&str; 7] = ["大学", "理工学院", "师范学院", "职业技术学院", "科技学院", "医学院", "学院"];

/// Research-institute name endings.
pub const INSTITUTES: [&str; 5] = ["人工智能研究院", "先进技术研究院", "智能计算研究所", "数据科学研究院", "新材料研究所"];

/// Government body name endings (after the city name).
pub const AGENCIES: [&str; 4] = ["数据资源局", "大数据中心", "气象局", "自然资源和规划局"];

/// Social-organisation name endings.
pub const SOCIETIES: [&str; 3] = ["人工智能产业联盟", "计算机学会", "开源软件促进会"];

/// Surnames for individual businesses.
pub const SURNAMES: [&str; 10] = ["张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴"];

/// Given names for individual businesses.
pub const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "磊", "强", "洋"];

/// Compute-center name endings.
pub const CENTER_NAMES: [&str; 5] = ["智算中心", "人工智能计算中心", "先进计算中心", "超算中心", "云计算中心"];

/// An accelerator model and its price band, fen per card-hour.
#[derive(Debug, Clone, Copy)]
pub struct Accelerator {
    /// Model name as the platform writes it.
    pub model: &'static str,
    /// Lowest list price, fen per card-hour.
    pub min_fen: u32,
    /// Highest list price, fen per card-hour.
    pub max_fen: u32,
    /// How common the model is among centers.
    pub weight: u32,
}

const fn acc(model: &'static str, min_fen: u32, max_fen: u32, weight: u32) -> Accelerator {
    Accelerator { model, min_fen, max_fen, weight }
}

/// The accelerator models on the platform.
pub const ACCELERATORS: [Accelerator; 6] = [
    acc("Ascend-910B", 800, 1200, 35),
    acc("A800", 1500, 2000, 15),
    acc("H800", 2200, 3000, 8),
    acc("H20", 900, 1300, 10),
    acc("MLU370-X8", 400, 650, 12),
    acc("Hygon-DCU-K100", 350, 550, 20),
];

/// Cards per job and how often each count is used.
pub const CARD_COUNTS: [(u32, u32); 8] = [(1, 10), (2, 8), (4, 10), (8, 30), (16, 14), (32, 8), (48, 2), (64, 4)];
