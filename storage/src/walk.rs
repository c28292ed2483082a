//! A resumable walk over the live items, for listings streamed in bounded pieces
//! (`lru_crawler metadump`): [`Engine::walk_items`] visits up to a given number of items
//! from where a [`WalkCursor`] stopped, so a caller can emit one batch, wait for its
//! client to read it, and go on, without holding locks or item references in between.
//!
//! # What the cursor guarantees
//!
//! The walk goes class by class, and within a class page by page (the class's page list,
//! re-read at every call, taking the first page not walked yet), and within a page chunk
//! by chunk up to the page's cut count. The cursor remembers the class, the pages of that
//! class already walked and the chunk index in the current page. Each chunk position is
//! therefore looked at no more than once per walk, and a page that left the class between
//! calls (the slab rebalancer moved it) is dropped from the class's walk; it is walked with
//! its new class if that class comes later.
//!
//! * An item that is linked and unexpired for the whole walk and stays in its chunk is
//!   listed **exactly once**. Items are only relocated by the slab rebalancer
//!   (`slab_reassign` / automove), so without page moves this holds for every such item.
//! * An item stored, replaced, deleted, expired or evicted during the walk is listed at
//!   most once, and only if it is linked and live when the walk reaches its chunk (a
//!   replaced key is a new item in another chunk, so the key may show up twice: old and new
//!   value).
//! * An item the rebalancer relocates during the walk (rescued from a draining page into a
//!   free chunk of its class) may be listed twice (its old chunk was walked, its new one
//!   not yet) or not at all (its old chunk was not walked yet, its new one was).
//!   memcached's LRU crawler gives no stronger promise for items that move during its walk.

use crate::engine::Engine;
use crate::item::ItemRef;

/// Upper bound on chunk positions looked at per requested item in one call, so a call over
/// sparse pages (mostly free chunks) stays short too.
const SCAN_PER_ITEM: usize = 16;

/// Where a resumable walk stopped; see the module docs for what it guarantees.
#[derive(Debug, Clone)]
pub struct WalkCursor {
    /// The classes to walk (None until the first call resolves "all").
    classes: Option<Vec<u8>>,
    /// Index into `classes` of the class being walked.
    class_pos: usize,
    /// Pages of the current class already walked completely.
    done_pages: Vec<u32>,
    /// The page being walked and the next chunk index in it.
    page: Option<(u32, u32)>,
    finished: bool,
}

impl WalkCursor {
    /// A cursor at the start of a walk over `classes` (ids of slab classes; ids out of
    /// range are skipped) or over every class (`None`).
    pub fn new(classes: Option<&[u8]>) -> WalkCursor {
        WalkCursor {
            classes: classes.map(<[u8]>::to_vec),
            class_pos: 0,
            done_pages: Vec::new(),
            page: None,
            finished: false,
        }
    }

    /// True once every class has been walked to its end.
    pub fn is_done(&self) -> bool {
        self.finished
    }

    fn next_class(&mut self) {
        self.class_pos += 1;
        self.done_pages.clear();
        self.page = None;
    }
}

impl Engine {
    /// Visits up to `max_items` live (linked, unexpired, not flushed) items from where
    /// `cursor` stopped and advances it; returns how many were visited. Fewer than
    /// `max_items` (even 0) does not mean the end: check [`WalkCursor::is_done`]. Each
    /// call also stops after looking at `16 × max_items` chunks, so it is short even over
    /// sparse pages. `f` runs after the page lock is dropped, with a reference that keeps
    /// the item readable. See the [`WalkCursor`] guarantees.
    pub fn walk_items(
        &self,
        cursor: &mut WalkCursor,
        max_items: usize,
        mut f: impl FnMut(&ItemRef),
    ) -> usize {
        let inner = &self.inner;
        let n = inner.slabs.class_count() as u8;
        let classes = cursor
            .classes
            .get_or_insert_with(|| (1..=n).collect())
            .clone();
        let max_items = max_items.max(1);
        let mut scan_left = max_items.saturating_mul(SCAN_PER_ITEM);
        let mut refs: Vec<ItemRef> = Vec::with_capacity(max_items.min(4096));
        while refs.len() < max_items && scan_left > 0 {
            let Some(&class) = classes.get(cursor.class_pos) else {
                cursor.finished = true;
                break;
            };
            if class == 0 || class > n {
                cursor.next_class();
                continue;
            }
            let (page, start) = match cursor.page {
                Some(p) => p,
                None => {
                    // The first page of the class not walked yet (pages may have come and
                    // gone since the last call).
                    let pages = inner.slabs.class_pages(class);
                    match pages.into_iter().find(|p| !cursor.done_pages.contains(p)) {
                        Some(p) => (p, 0),
                        None => {
                            cursor.next_class();
                            continue;
                        }
                    }
                }
            };
            let _walk = inner.slabs.walk_guard();
            if inner.slabs.page_class(page) != class {
                // Moved to another class (or the pool) since the last call.
                cursor.done_pages.push(page);
                cursor.page = None;
                continue;
            }
            let now = inner.now();
            let mut idx = start;
            let mut page_end = true;
            for h in inner.slabs.page_handles(page).skip(start as usize) {
                if refs.len() >= max_items || scan_left == 0 {
                    page_end = false;
                    break;
                }
                scan_left -= 1;
                idx += 1;
                refs.extend(self.live_ref(h, now));
            }
            if page_end {
                cursor.done_pages.push(page);
                cursor.page = None;
            } else {
                cursor.page = Some((page, idx));
            }
        }
        // Call back outside the walk lock: `f` may be slow (formatting for a client).
        refs.iter().for_each(&mut f);
        refs.len()
    }
}
