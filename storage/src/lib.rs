//! evcached's storage engine: memcached's slab allocator, items, hash table and segmented
//! LRU, with no knowledge of sockets or wire formats.
