//! Orphaned partitions, a workaround for development brokers, on only with
//! `AggregatorConfig::rejoin_stalled` (a real Kafka expires a silent member
//! by its session timeout and needs none of this).
//!
//! A member that dies without leaving keeps its partitions until the
//! coordinator expires it. The development broker (tansu 0.6) only
//! re-examines membership when someone joins, so a survivor watches the
//! group's committed offsets (as the lag probe last read them, so the loop
//! never waits on the broker): when a partition it does not own has a
//! backlog and its committed offset has not moved for a while, it rejoins the
//! group, which makes the coordinator rebalance and hand the orphans out.
//!
//! A member that is to stop once everything is read ("exit when idle") only
//! stops when it owns every partition, so when it is idle it also rejoins
//! over partitions that are stalled without a visible backlog: the broker's
//! high watermark is not to be trusted to the last message.
//!
//! A rebalance waits up to the rebalance timeout (the members' max poll
//! interval) for every member to rejoin, and a new join restarts that wait;
//! so after rejoining, the watchdog keeps quiet for longer than that timeout,
//! or it would keep the group rebalancing for ever.

use super::consumer::Progress;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Tracks the committed offsets of partitions this member does not own.
#[derive(Debug)]
pub struct Watchdog {
    stall: Duration,
    cooldown: Duration,
    quiet_until: Instant,
    seen: BTreeMap<i32, (i64, Instant)>,
}

impl Watchdog {
    /// A partition is orphaned after `stall` without progress; after calling for a
    /// rejoin the watchdog keeps quiet for `cooldown`.
    pub fn new(stall: Duration, cooldown: Duration, now: Instant) -> Watchdog {
        Watchdog { stall, cooldown, quiet_until: now, seen: BTreeMap::new() }
    }

    /// Forgets what was seen (after a rebalance).
    pub fn reset(&mut self) {
        self.seen.clear();
    }

    /// Whether this member should rejoin the group, given the probe's latest reading.
    /// `idle_exit`: the member is idle and stops only once it owns every partition.
    pub fn should_rejoin(&mut self, view: &BTreeMap<i32, Progress>, partitions: usize, owned: &BTreeSet<i32>, idle_exit: bool, now: Instant) -> bool {
        if owned.len() == partitions {
            self.seen.clear();
            return false;
        }
        let mut orphan = None;
        for (&p, progress) in view.iter().filter(|(p, _)| !owned.contains(p)) {
            let since = match self.seen.get(&p) {
                Some((o, t)) if *o == progress.committed => *t,
                _ => now,
            };
            self.seen.insert(p, (progress.committed, since));
            let backlog = progress.high > progress.committed;
            if (backlog || idle_exit) && now.duration_since(since) >= self.stall {
                orphan.get_or_insert((p, *progress));
            }
        }
        let Some((partition, progress)) = orphan else { return false };
        if now < self.quiet_until {
            return false;
        }
        tracing::warn!(partition, committed = progress.committed, high = progress.high, "a partition owned by a silent member has not moved; rejoining the group to rebalance");
        self.seen.clear();
        self.quiet_until = now + self.cooldown;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(entries: &[(i32, i64, i64)]) -> BTreeMap<i32, Progress> {
        entries.iter().map(|&(p, committed, high)| (p, Progress { committed, high })).collect()
    }

    #[test]
    fn a_stalled_backlog_calls_for_one_rejoin_then_quiet() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = Watchdog::new(s(10), s(30), t0);
        let owned: BTreeSet<i32> = [0].into();
        let stalled = view(&[(0, 5, 9), (1, 3, 9)]);
        assert!(!w.should_rejoin(&stalled, 2, &owned, false, t0));
        assert!(!w.should_rejoin(&stalled, 2, &owned, false, t0 + s(5)));
        assert!(w.should_rejoin(&stalled, 2, &owned, false, t0 + s(11)));
        // Still stalled, but inside the cooldown: a new join would restart the rebalance.
        assert!(!w.should_rejoin(&stalled, 2, &owned, false, t0 + s(25)));
        assert!(!w.should_rejoin(&stalled, 2, &owned, false, t0 + s(35)));
        assert!(w.should_rejoin(&stalled, 2, &owned, false, t0 + s(45)));
    }

    #[test]
    fn progress_or_no_backlog_is_no_orphan_unless_waiting_to_exit() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = Watchdog::new(s(10), s(30), t0);
        let owned: BTreeSet<i32> = [0].into();
        assert!(!w.should_rejoin(&view(&[(1, 3, 9)]), 2, &owned, false, t0));
        assert!(!w.should_rejoin(&view(&[(1, 6, 9)]), 2, &owned, false, t0 + s(11)));
        assert!(!w.should_rejoin(&view(&[(1, 8, 9)]), 2, &owned, false, t0 + s(21)));
        let done = view(&[(1, 9, 9)]);
        assert!(!w.should_rejoin(&done, 2, &owned, false, t0 + s(40)));
        assert!(!w.should_rejoin(&done, 2, &owned, false, t0 + s(60)));
        assert!(w.should_rejoin(&done, 2, &owned, true, t0 + s(60)));
        // Owning everything: nothing to do.
        assert!(!w.should_rejoin(&done, 2, &[0, 1].into(), true, t0 + s(200)));
    }
}
