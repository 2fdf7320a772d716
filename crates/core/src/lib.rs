//! The settlement core of the compute-subsidy meter.
//!
//! Owns the domain model (usage records, entities, compute centers, money),
//! the policy versions, eligibility with reason codes, accrual and settlement.
//! Everything here is pure and deterministic: no IO, no async, no clock.
//! Every entry point (the file-driven `recompute`, the streaming aggregator,
//! the embedded demo) settles through these functions and nothing else.

pub mod accrual;
pub mod bounds;
pub mod budget;
pub mod classify;
pub mod close;
pub mod credit_code;
pub mod document;
pub mod fingerprint;
pub mod funding;
pub mod ledger;
pub mod money;
pub mod period;
pub mod place;
pub mod policy;
pub mod programme;
pub mod reason;
pub mod reconcile;
pub mod record;
pub mod registry;
pub mod report;
pub mod settle;
pub mod standing;
pub mod step;
pub mod tlog;

pub use accrual::{Accrual, AccrualKey, Accruals, Effect};
pub use classify::{classify, Assessment};
pub use close::{close_month, plan_close, standing_claims, statements_digest, CloseError, CloseInput, ClosePlan, CloseRequest, Statement, StatementKind};
pub use credit_code::{CodeError, CreditCode};
pub use document::PolicyDocument;
pub use fingerprint::Fingerprint;
pub use funding::{funding_exclusion, FundedEntry, FundedTarget, FundingExclusion, FundingLists, SupplierClaim};
pub use ledger::{Displaced, Ingested, Ledger, LedgerTotals};
pub use money::{round_down_to_fen, Money};
pub use period::Period;
pub use policy::{PolicyError, PolicySet, PolicyVersion};
pub use reason::{ReasonClass, ReasonCode};
pub use reconcile::{reconcile, DayCount, Gap, Reconciliation};
pub use record::{parse_record, PaymentStatus, Rejection, UsageRecord};
pub use registry::{Affected, ComputeCenter, Entity, EntityKind, Finding, Registry};
pub use settle::{settle, uplift_part, Settlement};
pub use standing::{line_order, line_version, replaces, version_registry_position, Facts, Line, LineRank, Standing};
pub use step::{step, step_with, Decision, Step};
