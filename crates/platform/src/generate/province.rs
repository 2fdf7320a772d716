//! The registry side of a generated province: entities with valid credit
//! codes, related-party groups, and compute centers with their owners,
//! accelerators and prices.

use super::names::{self, Place, ACCELERATORS, ANHUI, OUTSIDE};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashSet;
use subsidy_core::{CreditCode, EntityKind};

const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Share of entities registered outside Anhui.
const OUTSIDE_SHARE: f64 = 0.05;
/// Share of entities in a related-party group.
const GROUPED_SHARE: f64 = 0.15;

/// A generated entity.
#[derive(Debug, Clone)]
pub struct GenEntity {
    /// Credit code.
    pub code: CreditCode,
    /// Registered name.
    pub name: String,
    /// Kind.
    pub kind: EntityKind,
    /// Place of registration.
    pub place: Place,
    /// Related-party group number.
    pub group: Option<u32>,
    /// How much compute it uses, relative to others.
    pub weight: f64,
}

/// A generated compute center.
#[derive(Debug, Clone)]
pub struct GenCenter {
    /// Platform id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Index of the owning entity.
    pub owner: usize,
    /// Where it stands.
    pub place: Place,
    /// Accelerator models offered (index into `ACCELERATORS`) with the price in fen per card-hour.
    pub offers: Vec<(usize, u32)>,
}

/// Entities and centers, with the indexes record generation needs.
#[derive(Debug, Clone)]
pub struct Province {
    /// Entities.
    pub entities: Vec<GenEntity>,
    /// Centers.
    pub centers: Vec<GenCenter>,
    /// Per entity: centers it owns.
    pub own_centers: Vec<Vec<usize>>,
    /// Per entity: centers owned by another member of its group.
    pub group_centers: Vec<Vec<usize>>,
    /// Every credit code in use.
    pub codes: HashSet<CreditCode>,
}

fn pick_kind(rng: &mut ChaCha8Rng) -> EntityKind {
    let r = rng.random_range(0..100u32);
    match r {
        0..70 => EntityKind::Enterprise,
        70..79 => EntityKind::University,
        79..89 => EntityKind::ResearchInstitute,
        89..93 => EntityKind::Government,
        93..96 => EntityKind::Individual,
        _ => EntityKind::Other,
    }
}

fn code_prefix(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Enterprise => "91",
        EntityKind::University | EntityKind::ResearchInstitute => "12",
        EntityKind::Government => "11",
        EntityKind::Individual => "92",
        EntityKind::Other => "51",
    }
}

fn alphabet_char(rng: &mut ChaCha8Rng, digits_only: bool) -> char {
    let n = if digits_only { 10 } else { CODE_ALPHABET.len() };
    char::from(CODE_ALPHABET[rng.random_range(0..n)])
}

/// Seventeen characters in the GB 32100 layout: authority and type, division code, organisation code.
fn first17(rng: &mut ChaCha8Rng, kind: EntityKind, place: &Place) -> String {
    let mut s = String::with_capacity(17);
    s.push_str(code_prefix(kind));
    s.push_str(place.division);
    if kind == EntityKind::Enterprise {
        s.push_str("MA");
        for _ in 0..7 {
            s.push(alphabet_char(rng, false));
        }
    } else {
        for _ in 0..8 {
            s.push(alphabet_char(rng, true));
        }
        s.push(alphabet_char(rng, false));
    }
    s
}

/// A valid credit code not yet in `codes`, which it is added to.
pub fn fresh_code(rng: &mut ChaCha8Rng, kind: EntityKind, place: &Place, codes: &mut HashSet<CreditCode>) -> CreditCode {
    loop {
        if let Some(code) = CreditCode::complete(&first17(rng, kind, place)) {
            if codes.insert(code) {
                return code;
            }
        }
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    // Only called on the non-empty constant tables.
    *items.choose(rng).unwrap_or(&items[0])
}

fn entity_name(rng: &mut ChaCha8Rng, kind: EntityKind, place: &Place) -> String {
    let city = names::short(place.city);
    match kind {
        EntityKind::Enterprise => format!(
            "{city}{}{}{}",
            pick(rng, &names::TRADE_NAMES),
            pick(rng, &names::BUSINESS),
            pick(rng, &names::COMPANY_FORMS)
        ),
        EntityKind::University => format!("{city}{}", pick(rng, &names::UNIVERSITIES)),
        EntityKind::ResearchInstitute => format!("{city}{}{}", pick(rng, &names::TRADE_NAMES), pick(rng, &names::INSTITUTES)),
        EntityKind::Government => format!("{}{}", place.city, pick(rng, &names::AGENCIES)),
        EntityKind::Individual => format!("{city}市{}{}数据服务部", pick(rng, &names::SURNAMES), pick(rng, &names::GIVEN)),
        EntityKind::Other => format!("{city}{}", pick(rng, &names::SOCIETIES)),
    }
}

fn weighted_place(rng: &mut ChaCha8Rng, places: &[Place]) -> Place {
    let total: u32 = places.iter().map(|p| p.weight).sum();
    let mut r = rng.random_range(0..total.max(1));
    for p in places {
        if r < p.weight {
            return *p;
        }
        r -= p.weight;
    }
    places[0]
}

fn eligible(kind: EntityKind) -> bool {
    matches!(kind, EntityKind::Enterprise | EntityKind::University | EntityKind::ResearchInstitute)
}

fn make_entities(rng: &mut ChaCha8Rng, count: usize, codes: &mut HashSet<CreditCode>) -> Vec<GenEntity> {
    (0..count)
        .map(|_| {
            let place = if rng.random_bool(OUTSIDE_SHARE) { weighted_place(rng, &OUTSIDE) } else { weighted_place(rng, &ANHUI) };
            let kind = pick_kind(rng);
            let code = fresh_code(rng, kind, &place, codes);
            let name = entity_name(rng, kind, &place);
            // Heavy-tailed usage: a few entities use most of the compute.
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let weight = (-u.ln()).powi(3) + 0.05;
            GenEntity { code, name, kind, place, group: None, weight }
        })
        .collect()
}

fn assign_groups(rng: &mut ChaCha8Rng, entities: &mut [GenEntity]) {
    let mut pool: Vec<usize> = (0..entities.len()).filter(|&i| eligible(entities[i].kind)).collect();
    pool.shuffle(rng);
    let target = (entities.len() as f64 * GROUPED_SHARE) as usize;
    let mut taken = 0;
    let mut group = 0u32;
    while taken < target && pool.len() - taken >= 2 {
        let size = rng.random_range(2..=4usize).min(pool.len() - taken);
        group += 1;
        for &i in &pool[taken..taken + size] {
            entities[i].group = Some(group);
        }
        taken += size;
    }
}

fn make_centers(rng: &mut ChaCha8Rng, count: usize, entities: &mut [GenEntity]) -> Vec<GenCenter> {
    let in_province = |e: &GenEntity| e.place.province == names::PROVINCE && eligible(e.kind);
    let grouped: Vec<usize> = (0..entities.len()).filter(|&i| in_province(&entities[i]) && entities[i].group.is_some()).collect();
    let single: Vec<usize> = (0..entities.len()).filter(|&i| in_province(&entities[i]) && entities[i].group.is_none()).collect();
    let any: Vec<usize> = (0..entities.len()).collect();
    let acc_weights = WeightedIndex::new(ACCELERATORS.iter().map(|a| a.weight)).ok();
    (0..count)
        .map(|i| {
            // 30% owned by a member of a related group, 20% by an ungrouped user
            // (both give self-built usage), the rest by operators that seldom use compute.
            let pool = match i % 10 {
                0..=2 if !grouped.is_empty() => &grouped,
                _ if !single.is_empty() => &single,
                _ => &any,
            };
            let owner = pick(rng, pool);
            if i % 10 >= 5 {
                entities[owner].weight *= 0.1;
            }
            let place = if entities[owner].place.province == names::PROVINCE { entities[owner].place } else { ANHUI[0] };
            let name = format!("{}{}{:02}", names::short(place.city), pick(rng, &names::CENTER_NAMES), i + 1);
            let mut offers: Vec<(usize, u32)> = Vec::new();
            let wanted = rng.random_range(1..=3usize);
            for _ in 0..wanted {
                let a = acc_weights.as_ref().map_or(0, |w| w.sample(rng));
                if offers.iter().all(|&(x, _)| x != a) {
                    let band = &ACCELERATORS[a];
                    offers.push((a, rng.random_range(band.min_fen..=band.max_fen)));
                }
            }
            GenCenter { id: format!("cc-{:03}", i + 1), name, owner, place, offers }
        })
        .collect()
}

impl Province {
    /// Generates `entities` entities and `centers` centers.
    pub fn generate(rng: &mut ChaCha8Rng, entities: usize, centers: usize) -> Province {
        let mut codes = HashSet::with_capacity(entities * 2);
        let mut list = make_entities(rng, entities, &mut codes);
        assign_groups(rng, &mut list);
        let centers = make_centers(rng, centers, &mut list);
        let mut own_centers = vec![Vec::new(); list.len()];
        let mut group_centers = vec![Vec::new(); list.len()];
        for (c, center) in centers.iter().enumerate() {
            own_centers[center.owner].push(c);
            if let Some(g) = list[center.owner].group {
                for (i, e) in list.iter().enumerate() {
                    if i != center.owner && e.group == Some(g) {
                        group_centers[i].push(c);
                    }
                }
            }
        }
        Province { entities: list, centers, own_centers, group_centers, codes }
    }

    /// The entities as the platform's JSON objects.
    pub fn entities_json(&self) -> Vec<Value> {
        self.entities
            .iter()
            .map(|e| {
                json!({
                    "credit_code": e.code.as_str(),
                    "name": e.name,
                    "kind": e.kind.as_str(),
                    "province": e.place.province,
                    "city": e.place.city,
                    "related_group": e.group.map(|g| format!("grp-{g:04}")),
                })
            })
            .collect()
    }

    /// The centers as the platform's JSON objects.
    pub fn centers_json(&self) -> Vec<Value> {
        self.centers
            .iter()
            .map(|c| {
                json!({
                    "center_id": c.id,
                    "name": c.name,
                    "owner_credit_code": self.entities[c.owner].code.as_str(),
                    "province": c.place.province,
                    "city": c.place.city,
                })
            })
            .collect()
    }
}
