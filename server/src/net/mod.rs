//! The network layer: the only code that knows sockets and the `EventBase`.
//!
//! * [`dispatcher`]: listeners, accept, maxconns, EMFILE back-off, handoff, clock, signals.
//! * [`worker`]: one event loop per thread, connections in a slab, fairness, idle kicks.
//! * [`conn`]: a connection's state machine, buffers and vectored writes.
//! * [`udp`]: datagram framing.
//! * [`listen`]: binding sockets and the port file.

pub mod conn;
pub mod dispatcher;
pub mod listen;
pub mod stream;
pub mod udp;
pub mod worker;
