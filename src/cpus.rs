// SPDX-License-Identifier: MPL-2.0
//! How many CPUs this process may really use: what sizes the software converters' thread pools.
//!
//! The host's core count is the wrong answer in a container: one limited to 2 CPUs on a 64-core
//! host would start 64 threads per stream, which then fight over 2 CPUs' worth of time.
//! `std::thread::available_parallelism` reads the process's CPU affinity and its cgroup CPU
//! quota (cgroup v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us` and v2 `cpu.max`), which is what
//! the scheduler will actually give.

/// The CPUs this process may use (at least 1).
pub(crate) fn usable() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_least_one_and_at_most_the_online_cpus() {
        let usable = super::usable();
        assert!(usable >= 1);
        // SAFETY: sysconf has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        assert!(i64::from(usable) <= online.max(1) as i64);
    }
}
