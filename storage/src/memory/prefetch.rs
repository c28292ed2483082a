//! Cache prefetch hints, for lookups the caller knows are coming (multi-key gets).

/// Asks the CPU to start loading the cache line holding `p`. A hint only: any address is
/// allowed (dangling, unmapped or null), nothing is read or written, it never faults.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: PREFETCHT0 has no effect but on caches and never faults, whatever the
        // address; SSE, which provides it, is part of the x86-64 baseline.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
