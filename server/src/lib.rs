//! evcached: a memcached-compatible cache server on the `event-core` abstraction.

pub mod backend;
pub mod portfile;
pub mod settings;
