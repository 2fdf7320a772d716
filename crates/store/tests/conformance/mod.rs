//! The store conformance suite: one set of cases, run against every
//! `LedgerStore` (SQLite always, ClickHouse with one database per case).
//! Each case starts from an empty, unmigrated store.

#![allow(dead_code)]

pub mod fixtures;
mod ledger;
mod settle;

pub use fixtures::{code, line, pos};
pub use ledger::*;
pub use settle::*;

/// Every case, by name, for the harness macros.
#[macro_export]
macro_rules! for_each_case {
    ($m:ident) => {
        $m!(
            migrate_is_idempotent,
            standing_lines_keep_highest_revision,
            replayed_batches_do_not_double,
            accrual_sums_filter_partitions_and_sum_exactly,
            record_ids_cover_the_given_partitions,
            held_records_until_released,
            rejections_are_counted_once,
            settlements_highest_version_stands,
            close_period_freezes_and_refuses_twice,
            entity_reads_are_sorted_and_filtered,
            adjustments_round_trip,
            decimals_stay_exact,
            unstorable_rows_write_nothing,
        );
    };
}
