//! Admission of new calls against a tenant's quotas (`store::TenantLimits`): calls at
//! once for the tenant and for the calling line, and calls started per second for
//! each. Counting is per whole second of a monotonic clock; time is an argument.

use std::collections::HashMap;

use crate::store::TenantLimits;

/// Calls started in one second.
#[derive(Debug, Clone, Copy, Default)]
struct Rate {
    second: u64,
    count: u32,
}

impl Rate {
    /// Counts one more call in `second` unless `max` were passed.
    fn take(&mut self, second: u64, max: Option<u32>) -> bool {
        if self.second != second {
            *self = Rate { second, count: 0 };
        }
        if max.is_some_and(|m| self.count >= m) {
            return false;
        }
        self.count += 1;
        true
    }
}

/// Why a call was refused (the `Warning` text of its 503).
pub type Refusal = &'static str;

/// The per-second counters of one tenant and its lines.
#[derive(Debug, Default)]
pub struct Quota {
    tenant: Rate,
    lines: HashMap<Box<str>, Rate>,
}

impl Quota {
    /// Admits a call placed by `line` when the tenant has `tenant_calls` calls and the
    /// line `line_calls`, at `second`.
    pub fn admit(
        &mut self,
        limits: &TenantLimits,
        tenant_calls: usize,
        line: Option<&str>,
        line_calls: usize,
        second: u64,
    ) -> Result<(), Refusal> {
        let over = |n: usize, max: Option<u32>| max.is_some_and(|m| n >= m as usize);
        if over(tenant_calls, limits.max_calls) {
            return Err("tenant call limit reached");
        }
        // A call from a trunk has no line of the tenant placing it.
        let Some(line) = line else {
            if !self.tenant.take(second, limits.max_cps) {
                return Err("tenant call rate reached");
            }
            return Ok(());
        };
        if over(line_calls, limits.line_max_calls) {
            return Err("line call limit reached");
        }
        if self.lines.len() > 4096 {
            self.lines.retain(|_, r| r.second == second);
        }
        let rate = self.lines.entry(Box::from(line)).or_default();
        let mut probe = *rate;
        if !probe.take(second, limits.line_max_cps) {
            return Err("line call rate reached");
        }
        if !self.tenant.take(second, limits.max_cps) {
            return Err("tenant call rate reached");
        }
        *rate = probe;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> TenantLimits {
        TenantLimits {
            max_calls: Some(3),
            max_cps: Some(4),
            line_max_calls: Some(2),
            line_max_cps: Some(2),
        }
    }

    #[test]
    fn concurrent_limits() {
        let mut q = Quota::default();
        assert!(q.admit(&limits(), 2, Some("100"), 1, 0).is_ok());
        assert_eq!(
            q.admit(&limits(), 3, Some("100"), 0, 1),
            Err("tenant call limit reached")
        );
        assert_eq!(
            q.admit(&limits(), 0, Some("100"), 2, 1),
            Err("line call limit reached")
        );
    }

    #[test]
    fn rates_per_second_for_line_and_tenant() {
        let mut q = Quota::default();
        assert!(q.admit(&limits(), 0, Some("100"), 0, 7).is_ok());
        assert!(q.admit(&limits(), 0, Some("100"), 0, 7).is_ok());
        assert_eq!(
            q.admit(&limits(), 0, Some("100"), 0, 7),
            Err("line call rate reached")
        );
        assert!(q.admit(&limits(), 0, Some("101"), 0, 7).is_ok());
        assert!(q.admit(&limits(), 0, Some("102"), 0, 7).is_ok());
        assert_eq!(
            q.admit(&limits(), 0, Some("103"), 0, 7),
            Err("tenant call rate reached")
        );
        // A new second starts over.
        assert!(q.admit(&limits(), 0, Some("100"), 0, 8).is_ok());
        assert!(q
            .admit(&TenantLimits::default(), 500, Some("100"), 0, 9)
            .is_ok());
    }

    #[test]
    fn a_call_from_a_trunk_counts_for_the_tenant_only() {
        let mut q = Quota::default();
        // No line limit applies (the caller is no line), the tenant's rate does.
        for _ in 0..4 {
            assert!(q.admit(&limits(), 0, None, 99, 11).is_ok());
        }
        assert_eq!(
            q.admit(&limits(), 0, None, 0, 11),
            Err("tenant call rate reached")
        );
        assert_eq!(
            q.admit(&limits(), 3, None, 0, 12),
            Err("tenant call limit reached")
        );
    }
}
