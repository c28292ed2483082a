//! evcached: a memcached-compatible cache server on the `event-core` abstraction.

pub mod backend;
pub mod net;
pub mod portfile;
pub mod protocol;
pub mod server;
pub mod settings;
pub mod stats;
