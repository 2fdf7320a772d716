//! The usage-record stream: jobs over the month range, their later
//! revisions (payments, refunds, corrections), exact duplicates and bad
//! lines, ordered by `updated_at` as the platform serves them.

use super::clock::{cst_midnight, month_start};
use super::config::GenConfig;
use super::kinds::{LineKind, MalformedKind};
use super::line::{Rec, PAID, REFUNDED, UNPAID};
use super::malformed;
use super::names::{ACCELERATORS, CARD_COUNTS};
use super::province::Province;
use chrono::Datelike;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use subsidy_core::{CreditCode, PolicySet};

/// Share of first revisions that are unpaid.
const UNPAID_SHARE: f64 = 0.15;
/// Share of paid first revisions paid below the billed amount (a discount).
const DISCOUNT_SHARE: f64 = 0.05;
/// Share of jobs placed across a policy-version boundary.
const BOUNDARY_SHARE: f64 = 0.01;
/// Shortest and longest job, hundredths of an hour.
const DURATION_CH: (f64, f64) = (25.0, 9_600.0);

struct Item {
    updated: i64,
    seq: u32,
    kind: LineKind,
    text: String,
}

struct Gen<'a> {
    rng: ChaCha8Rng,
    province: &'a Province,
    users: Option<WeightedIndex<f64>>,
    cards: Option<WeightedIndex<u32>>,
    malformed: Option<WeightedIndex<u32>>,
    range: (i64, i64),
    boundaries: Vec<i64>,
    codes: HashSet<CreditCode>,
    items: Vec<Item>,
    limit: usize,
    duplicate_share: f64,
    next_id: u64,
}

impl<'a> Gen<'a> {
    fn push(&mut self, rec: &Rec<'_>, kind: LineKind, text: String) -> bool {
        if self.items.len() >= self.limit {
            return false;
        }
        let repeat = !matches!(kind, LineKind::Malformed(_))
            && self.items.len() + 1 < self.limit
            && self.rng.random_bool(self.duplicate_share);
        let copy = repeat.then(|| text.clone());
        self.items.push(Item { updated: rec.updated, seq: self.items.len() as u32, kind, text });
        if let Some(text) = copy {
            self.items.push(Item { updated: rec.updated, seq: self.items.len() as u32, kind: LineKind::Duplicate, text });
        }
        true
    }

    fn pick_center(&mut self, user: usize) -> usize {
        let p = self.province;
        let r: f64 = self.rng.random();
        let own = &p.own_centers[user];
        let group = &p.group_centers[user];
        if !own.is_empty() && r < 0.4 {
            *own.choose(&mut self.rng).unwrap_or(&0)
        } else if !group.is_empty() && r < 0.6 {
            *group.choose(&mut self.rng).unwrap_or(&0)
        } else {
            self.rng.random_range(0..p.centers.len())
        }
    }

    fn job(&mut self) -> Rec<'a> {
        let p = self.province;
        let user = self.users.as_ref().map_or(0, |d| d.sample(&mut self.rng));
        let center = &p.centers[self.pick_center(user)];
        let &(acc, price_fen) = center.offers.choose(&mut self.rng).unwrap_or(&(0, 1000));
        let cards = CARD_COUNTS[self.cards.as_ref().map_or(0, |d| d.sample(&mut self.rng))].0;
        let dur_ch = self.rng.random_range(DURATION_CH.0.ln()..DURATION_CH.1.ln()).exp().round().max(1.0) as u64;
        let dur_s = dur_ch as i64 * 36;
        let (t0, t1) = self.range;
        let start = if !self.boundaries.is_empty() && self.rng.random_bool(BOUNDARY_SHARE) {
            let b = *self.boundaries.choose(&mut self.rng).unwrap_or(&t0);
            (b - self.rng.random_range(0..2 * dur_s)).max(t0)
        } else {
            t0 + self.rng.random_range(0..(t1 - t0 - dur_s).max(1))
        };
        let start = start - start.rem_euclid(60);
        let end = start + dur_s;
        let card_hours_c = u64::from(cards) * dur_ch;
        let id = self.next_id;
        self.next_id += 1;
        let mut rec = Rec {
            id,
            revision: 1,
            user: p.entities[user].code,
            center_id: &center.id,
            accelerator: ACCELERATORS[acc].model,
            cards,
            card_hours_c,
            start,
            end,
            updated: end + self.rng.random_range(60..36 * 3600),
            price_fen,
            amount_fen: 0,
            paid_fen: 0,
            status: PAID,
        };
        rec.rebill();
        if self.rng.random_bool(UNPAID_SHARE) {
            rec.status = UNPAID;
        } else if self.rng.random_bool(DISCOUNT_SHARE) {
            rec.paid_fen = rec.amount_fen * 9 / 10;
        } else {
            rec.paid_fen = rec.amount_fen;
        }
        rec
    }

    /// Pushes the next revision of `rec` after changing it with `change`.
    fn revise(&mut self, rec: &mut Rec<'a>, change: fn(&mut Rec<'a>, &mut ChaCha8Rng)) -> bool {
        rec.revision += 1;
        rec.updated += self.rng.random_range(3600..20 * 86_400);
        change(rec, &mut self.rng);
        let line = rec.line();
        self.push(rec, LineKind::Revision, line)
    }

    fn record(&mut self, revise_unpaid: f64, revise_paid: f64) {
        let mut rec = self.job();
        let line = rec.line();
        if !self.push(&rec, LineKind::Original, line) {
            return;
        }
        if rec.status == UNPAID {
            if !self.rng.random_bool(revise_unpaid) {
                return;
            }
            if self.rng.random_bool(0.2) && !self.revise(&mut rec, correct) {
                return;
            }
            if self.revise(&mut rec, pay) && self.rng.random_bool(0.1) {
                self.revise(&mut rec, refund);
            }
        } else if self.rng.random_bool(revise_paid) {
            // Refunded outright, or corrected and sometimes refunded after that.
            let refund_now = self.rng.random_bool(0.3);
            if refund_now || (self.revise(&mut rec, correct) && self.rng.random_bool(0.15)) {
                self.revise(&mut rec, refund);
            }
        }
    }

    fn bad_line(&mut self) {
        let rec = self.job();
        let kind = MalformedKind::WEIGHTED[self.malformed.as_ref().map_or(0, |d| d.sample(&mut self.rng))].0;
        let text = malformed::render(kind, &rec, &mut self.rng, &mut self.codes);
        self.push(&rec, LineKind::Malformed(kind), text);
    }
}

fn pay(rec: &mut Rec<'_>, _: &mut ChaCha8Rng) {
    rec.status = PAID;
    rec.paid_fen = rec.amount_fen;
}

fn refund(rec: &mut Rec<'_>, _: &mut ChaCha8Rng) {
    rec.status = REFUNDED;
    rec.paid_fen = 0;
}

fn correct(rec: &mut Rec<'_>, rng: &mut ChaCha8Rng) {
    let percent = rng.random_range(80..=110u64);
    rec.card_hours_c = (rec.card_hours_c * percent / 100).max(1);
    rec.rebill();
    if rec.status == PAID {
        rec.paid_fen = rec.amount_fen;
    }
}

/// Starts (epoch seconds) of the policy versions that fall strictly inside the range.
fn boundaries(t0: i64, t1: i64) -> Vec<i64> {
    PolicySet::builtin()
        .versions
        .iter()
        .map(|v| {
            let d = v.effective_from;
            cst_midnight(i64::from(d.year()), d.month(), d.day())
        })
        .filter(|&b| t0 < b && b < t1)
        .collect()
}

/// The record lines and what each is, in stream order.
pub fn generate(province: &Province, config: &GenConfig, rng: ChaCha8Rng) -> (Vec<String>, Vec<LineKind>) {
    let t0 = month_start(config.months.start);
    let t1 = month_start(config.months.end.next());
    let rs = config.revision_share;
    // Unpaid records are the likeliest to be revised (paid later); the rest
    // are revised just often enough that the overall share is `revision_share`.
    let revise_unpaid = (4.0 * rs).min(1.0);
    let revise_paid = ((rs - UNPAID_SHARE * revise_unpaid) / (1.0 - UNPAID_SHARE)).clamp(0.0, 1.0);
    // A record yields about `per_record` lines, so choose bad lines per event to hit the share of lines.
    let m = config.malformed_share;
    let per_record = (1.0 + 1.3 * rs) * (1.0 + config.duplicate_share);
    let malformed_p = (m * per_record / (1.0 - m + m * per_record)).clamp(0.0, 1.0);
    let mut g = Gen {
        users: WeightedIndex::new(province.entities.iter().map(|e| e.weight)).ok(),
        cards: WeightedIndex::new(CARD_COUNTS.iter().map(|c| c.1)).ok(),
        malformed: WeightedIndex::new(MalformedKind::WEIGHTED.iter().map(|k| k.1)).ok(),
        range: (t0, t1),
        boundaries: boundaries(t0, t1),
        codes: province.codes.clone(),
        items: Vec::with_capacity(config.records),
        limit: config.records,
        duplicate_share: config.duplicate_share,
        next_id: 1,
        province,
        rng,
    };
    while g.items.len() < g.limit {
        if g.rng.random_bool(malformed_p) {
            g.bad_line();
        } else {
            g.record(revise_unpaid, revise_paid);
        }
    }
    let mut items = g.items;
    items.sort_unstable_by_key(|i| (i.updated, i.seq));
    let mut lines = Vec::with_capacity(items.len());
    let mut kinds = Vec::with_capacity(items.len());
    for item in items {
        lines.push(item.text);
        kinds.push(item.kind);
    }
    (lines, kinds)
}
