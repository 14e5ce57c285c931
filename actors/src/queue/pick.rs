//! Which free agents a queue offers its longest-waiting call to, by its strategy.

use std::time::Instant;

use dialplan::plan::QueueStrategy;

/// What the choice needs to know of an agent.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Its place in the queue's member list.
    pub index: usize,
    /// Free since.
    pub idle_since: Instant,
    /// Calls it took.
    pub calls: u32,
    /// How well its skills match what the call needs (the sum of its levels in them).
    pub score: u32,
}

/// The agents to offer the call to (indices into the member list), given the free
/// ones that have the skills it needs, in member-list order, and the agent offered
/// last (round robin goes on after it). One agent is the best-matching one, the
/// strategy choosing among equals; ring-all offers every one. Empty only when `free`
/// is.
pub fn pick(strategy: QueueStrategy, free: &[Candidate], last: Option<usize>) -> Vec<usize> {
    if strategy == QueueStrategy::RingAll {
        return free.iter().map(|c| c.index).collect();
    }
    let best = free.iter().map(|c| c.score).max().unwrap_or(0);
    let free: Vec<Candidate> = free.iter().filter(|c| c.score == best).copied().collect();
    let free = &free[..];
    let longest_idle = |a: &&Candidate, b: &&Candidate| a.idle_since.cmp(&b.idle_since);
    let one = match strategy {
        QueueStrategy::RingAll => None,
        QueueStrategy::RoundRobin => {
            let after = |c: &&Candidate| last.is_none_or(|l| c.index > l);
            free.iter().find(after).or(free.first())
        }
        QueueStrategy::LongestIdle => free.iter().min_by(longest_idle),
        QueueStrategy::FewestCalls => free
            .iter()
            .min_by(|a, b| a.calls.cmp(&b.calls).then_with(|| longest_idle(a, b))),
    };
    one.map(|c| c.index).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn free() -> Vec<Candidate> {
        let t0 = Instant::now();
        // Agent 1 idle longest, agent 3 took the fewest calls.
        [(1, 5, 9), (2, 10, 4), (3, 20, 1)]
            .into_iter()
            .map(|(index, secs, calls)| Candidate {
                index,
                idle_since: t0 + Duration::from_secs(secs),
                calls,
                score: 0,
            })
            .collect()
    }

    #[test]
    fn each_strategy_picks_its_agent() {
        let f = free();
        assert_eq!(pick(QueueStrategy::RingAll, &f, None), [1, 2, 3]);
        assert_eq!(pick(QueueStrategy::LongestIdle, &f, None), [1]);
        assert_eq!(pick(QueueStrategy::FewestCalls, &f, None), [3]);
        assert_eq!(pick(QueueStrategy::RoundRobin, &f, None), [1]);
        assert_eq!(pick(QueueStrategy::RoundRobin, &f, Some(1)), [2]);
        assert_eq!(pick(QueueStrategy::RoundRobin, &f, Some(3)), [1], "wraps");
        assert!(pick(QueueStrategy::LongestIdle, &[], None).is_empty());
    }

    #[test]
    fn the_best_matching_agent_comes_first_whatever_the_strategy() {
        let mut f = free();
        f[2].score = 9;
        f[1].score = 5;
        assert_eq!(pick(QueueStrategy::LongestIdle, &f, None), [3]);
        assert_eq!(pick(QueueStrategy::RoundRobin, &f, Some(3)), [3]);
        assert_eq!(pick(QueueStrategy::RingAll, &f, None), [1, 2, 3]);
    }
}
