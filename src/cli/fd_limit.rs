//! The open-file limit: a switch relaying thousands of calls holds four sockets per
//! call, a simulator thousands of phones' sockets. Both raise the soft limit to the
//! hard one at start (what `ulimit -n` may do without privilege).

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The most asked for when the hard limit is unlimited (Linux's default `nr_open`).
const AT_MOST: u64 = 1 << 20;

/// Raises the soft open-file limit to the hard one; returns the limit now in force.
pub fn raise() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let want = hard.min(AT_MOST);
    if soft >= want {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
        Ok(()) => Some(want),
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
            Some(soft)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_reaches_the_hard_one() {
        let now = super::raise().expect("the limit is readable");
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(now, soft);
        assert!(soft >= hard.min(super::AT_MOST), "{soft} of {hard}");
    }
}
