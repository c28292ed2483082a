//! The page table: page id → base address and slab class, readable without locks.
//!
//! Pages are `page_size`-byte zeroed allocations. A page id is stable for the life of the
//! allocation; the table is two-level (a directory of 1024-entry leaves allocated on
//! demand) so it costs nothing for ids never used.
//!
//! On Unix a page is its own anonymous `mmap`: `malloc` would put a 16-byte header in
//! front of each 1 MB page (and alignment padding), so every page would touch one extra
//! 4 KB OS page: 0.4 % of the cache, ~0.7 B per small item of RSS. `munmap` also gives a
//! freed page (lower `cache_memlimit`, rebalancer) back to the OS at once, whereas memory
//! from the `brk` heap often stays with the process.

use std::alloc::Layout;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};

const LEAF_BITS: u32 = 10;
const LEAF: usize = 1 << LEAF_BITS;

/// One page table entry.
pub(crate) struct PageSlot {
    base: AtomicPtr<u8>,
    class: AtomicU32,
    /// Chunk size of `class`, kept here so a handle lookup reads one slot only.
    size: AtomicU32,
    /// Chunks cut so far (the page is cut from chunk 0 up); page walkers stop here.
    cut: AtomicU32,
}

struct Leaf([PageSlot; LEAF]);

/// Maps page ids to their memory.
pub(crate) struct PageTable {
    dir: Box<[AtomicPtr<Leaf>]>,
    layout: Layout,
}

// The raw pointers are only dereferenced under the ownership rules documented on
// `PageTable::base`; the table itself is made of atomics.
impl PageTable {
    /// A table for up to `max_pages` pages of `page_size` bytes.
    pub(crate) fn new(max_pages: u32, page_size: usize) -> PageTable {
        let leaves = (max_pages as usize).div_ceil(LEAF);
        let dir = (0..leaves)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect();
        let layout = Layout::from_size_align(page_size, 4096).expect("page layout");
        PageTable { dir, layout }
    }

    fn slot(&self, page: u32) -> &PageSlot {
        let leaf = self.dir[(page >> LEAF_BITS) as usize].load(Acquire);
        debug_assert!(!leaf.is_null());
        // SAFETY: leaves are allocated by `ensure_leaf` before any page id in their range
        // is handed out and freed only in `Drop`, so a used page id's leaf is live.
        unsafe { &(*leaf).0[page as usize & (LEAF - 1)] }
    }

    fn ensure_leaf(&self, page: u32) {
        let cell = &self.dir[(page >> LEAF_BITS) as usize];
        if cell.load(Acquire).is_null() {
            let leaf = Box::new(Leaf(std::array::from_fn(|_| PageSlot {
                base: AtomicPtr::new(ptr::null_mut()),
                class: AtomicU32::new(0),
                size: AtomicU32::new(0),
                cut: AtomicU32::new(0),
            })));
            let p = Box::into_raw(leaf);
            if cell
                .compare_exchange(ptr::null_mut(), p, AcqRel, Acquire)
                .is_err()
            {
                // SAFETY: `p` came from Box::into_raw just above and was never shared.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }

    /// Allocates zeroed memory for `page`; false if the allocator refused.
    pub(crate) fn alloc(&self, page: u32) -> bool {
        self.ensure_leaf(page);
        let p = os::alloc_zeroed(self.layout);
        if p.is_null() {
            return false;
        }
        self.slot(page).base.store(p, Release);
        true
    }

    /// Frees `page`'s memory. The caller guarantees no chunk of the page is referenced.
    pub(crate) fn free(&self, page: u32) {
        let p = self.slot(page).base.swap(ptr::null_mut(), AcqRel);
        if !p.is_null() {
            // SAFETY: `p` came from `os::alloc_zeroed(self.layout)` and is no longer
            // reachable through the table.
            unsafe { os::dealloc(p, self.layout) };
        }
    }

    /// The slab class a page is cut for (0 = global pool).
    #[inline]
    pub(crate) fn class(&self, page: u32) -> u8 {
        self.slot(page).class.load(Acquire) as u8
    }

    /// Base address and chunk size of a live page (one slot read).
    #[inline]
    pub(crate) fn base_and_size(&self, page: u32) -> (NonNull<u8>, u32) {
        let slot = self.slot(page);
        let p = slot.base.load(Acquire);
        let base = NonNull::new(p).expect("handle into a page that is not allocated");
        (base, slot.size.load(Acquire))
    }

    /// Records the class a page is cut for, its chunk size (0 for the pool) and how many
    /// of its chunks are cut already.
    pub(crate) fn set_class(&self, page: u32, class: u8, size: u32, cut: u32) {
        let slot = self.slot(page);
        slot.size.store(size, Release);
        slot.cut.store(cut, Release);
        slot.class.store(u32::from(class), Release);
    }

    /// Chunks of `page` cut so far: those below are initialised (free or in use).
    #[inline]
    pub(crate) fn cut(&self, page: u32) -> u32 {
        self.slot(page).cut.load(Acquire)
    }

    /// Marks chunks below `cut` as cut (after initialising them).
    #[inline]
    pub(crate) fn set_cut(&self, page: u32, cut: u32) {
        self.slot(page).cut.store(cut, Release);
    }
}

impl Drop for PageTable {
    fn drop(&mut self) {
        for cell in self.dir.iter() {
            let leaf = cell.load(Acquire);
            if leaf.is_null() {
                continue;
            }
            // SAFETY: `&mut self` means no other user; the leaf came from Box::into_raw.
            let leaf = unsafe { Box::from_raw(leaf) };
            for slot in leaf.0.iter() {
                let p = slot.base.load(Acquire);
                if !p.is_null() {
                    // SAFETY: allocated in `alloc` with `self.layout`, freed once here.
                    unsafe { os::dealloc(p, self.layout) };
                }
            }
        }
    }
}

/// Page memory straight from the OS (Unix) or from the global allocator (elsewhere).
mod os {
    use std::alloc::Layout;

    /// Zeroed, page-aligned memory of `layout.size()` bytes, or null.
    #[cfg(unix)]
    pub(super) fn alloc_zeroed(layout: Layout) -> *mut u8 {
        // SAFETY: an anonymous private mapping of a non-zero length (page_size > 0 is
        // validated) with no address hint touches no existing memory; the kernel returns
        // zeroed pages aligned to the OS page size (≥ the layout's 4096).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// Returns memory from [`alloc_zeroed`].
    ///
    /// # Safety
    /// `p` came from `alloc_zeroed(layout)` and is not used afterwards.
    #[cfg(unix)]
    pub(super) unsafe fn dealloc(p: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a live mapping of exactly this length.
        let rc = unsafe { libc::munmap(p.cast(), layout.size()) };
        debug_assert_eq!(rc, 0, "munmap of a page");
    }

    /// Zeroed memory of `layout`, or null.
    #[cfg(not(unix))]
    pub(super) fn alloc_zeroed(layout: Layout) -> *mut u8 {
        // SAFETY: the layout has a non-zero size (page_size > 0 is validated).
        unsafe { std::alloc::alloc_zeroed(layout) }
    }

    /// Returns memory from [`alloc_zeroed`].
    ///
    /// # Safety
    /// `p` came from `alloc_zeroed(layout)` and is not used afterwards.
    #[cfg(not(unix))]
    pub(super) unsafe fn dealloc(p: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { std::alloc::dealloc(p, layout) }
    }
}
