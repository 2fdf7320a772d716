//! Orphaned partitions: a member that dies without leaving keeps its
//! partitions until the coordinator expires it. The broker used here only
//! re-examines membership when someone joins, so a survivor watches the
//! group's committed offsets: when a partition it does not own has a backlog
//! and its committed offset has not moved for a while, it rejoins the group,
//! which makes the coordinator rebalance and hand the orphans out.

use super::consumer::GroupConsumer;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Tracks the committed offsets of partitions this member does not own.
#[derive(Debug)]
pub struct Watchdog {
    every: Duration,
    stall: Duration,
    last_check: Instant,
    seen: BTreeMap<i32, (i64, Instant)>,
}

impl Watchdog {
    /// Checks every `every`; a partition is orphaned after `stall` without progress.
    pub fn new(every: Duration, stall: Duration) -> Watchdog {
        Watchdog { every, stall, last_check: Instant::now(), seen: BTreeMap::new() }
    }

    /// Forgets what was seen (after a rebalance).
    pub fn reset(&mut self) {
        self.seen.clear();
        self.last_check = Instant::now();
    }

    /// Whether some partition outside `owned` looks orphaned. Cheap when not yet due.
    pub fn orphaned(&mut self, consumer: &GroupConsumer, topic: &str, partitions: usize, owned: &BTreeSet<i32>) -> bool {
        if self.last_check.elapsed() < self.every || owned.len() == partitions {
            return false;
        }
        self.last_check = Instant::now();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions as i32 {
            if !owned.contains(&p) {
                tpl.add_partition(topic, p);
            }
        }
        let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else { return false };
        let now = Instant::now();
        let mut orphan = false;
        for e in committed.elements() {
            let p = e.partition();
            let offset = match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            };
            let Ok((_, high)) = consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) else { continue };
            let backlog = high > offset;
            let since = match self.seen.get(&p) {
                Some((o, t)) if *o == offset => *t,
                _ => now,
            };
            self.seen.insert(p, (offset, since));
            if backlog && now.duration_since(since) >= self.stall {
                tracing::warn!(partition = p, committed = offset, high, "partition owned by a silent member; rejoining the group to rebalance");
                orphan = true;
            }
        }
        orphan
    }
}
