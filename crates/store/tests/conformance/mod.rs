//! The store conformance suite: one set of cases, run against every
//! `LedgerStore` (SQLite always, ClickHouse with one database per case).
//! Each case starts from an empty, unmigrated store.

#![allow(dead_code)]

pub mod fixtures;
mod changes;
mod completeness;
mod ledger;
mod policy;
mod programme;
mod reads;
mod statements;
mod tlog;

pub use changes::*;
pub use completeness::*;
pub use fixtures::{batch_of, code, line, pos};
pub use ledger::*;
pub use policy::*;
pub use programme::*;
pub use reads::*;
pub use statements::*;
pub use tlog::*;

/// Every case, by name, for the harness macros.
#[macro_export]
macro_rules! for_each_case {
    ($m:ident) => {
        $m!(
            migrate_is_idempotent,
            the_highest_version_stands,
            equal_versions_stand_by_the_core_order,
            replayed_batches_do_not_double,
            line_sums_follow_the_standing_lines,
            record_ids_cover_the_given_partitions,
            held_ids_follow_the_standing_line,
            affected_lines_by_user_or_center_in_owned_partitions,
            marks_keep_the_highest_position,
            rejections_are_counted_once,
            entity_reads_are_sorted_and_filtered,
            closes_commit_once_and_statements_read_back,
            decimals_stay_exact,
            unstorable_rows_write_nothing,
            copies_of_read_back_every_copy_in_bus_order,
            the_registry_of_the_highest_position_stands,
            settlements_of_one_user,
            the_generation_moves_with_every_write,
            month_sums_group_one_month_by_center_accelerator_reason_and_uplift,
            policy_documents_are_recorded_in_sequence,
            lines_are_read_by_the_document_they_name,
            programme_steps_are_recorded_in_sequence,
            steps_are_checked_appended_and_folded,
            log_checkpoints_are_recorded_once_per_size,
            usage_counts_keep_the_latest_and_reconcile_with_the_lines,
            a_forced_close_counts_once_its_closure_stands,
            changes_fold_to_what_a_full_read_gives,
            a_replayed_batch_moves_no_sum,
        );
    };
}
