//! Counts the module's Rust heap allocations in a build with the `count-allocations` feature,
//! so `make bench` can report allocations per record. Other builds do not wrap the allocator.

#[cfg(any(test, feature = "count-allocations"))]
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[cfg(any(test, feature = "count-allocations"))]
pub struct Counting<A>(pub A);

#[cfg(any(test, feature = "count-allocations"))]
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) since load; None when this build does not count them.
pub fn allocations() -> Option<u64> {
    cfg!(feature = "count-allocations").then(|| ALLOCATIONS.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_and_reallocations_not_frees() {
        let counting = Counting(std::alloc::System);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let layout = Layout::from_size_align(16, 8).unwrap();
        unsafe {
            let p = counting.alloc(layout);
            let p = counting.realloc(p, layout, 64);
            counting.dealloc(p, Layout::from_size_align(64, 8).unwrap());
        }
        assert!(ALLOCATIONS.load(Ordering::Relaxed) - before >= 2);
    }
}
