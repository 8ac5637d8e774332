//! Who owns a socket, as the core decides it from what a backend
//! enumerates.
//!
//! A backend lists sockets, processes and (where the OS tells) events
//! naming the process that used a socket. Everything above that is the
//! same on every OS and lives here: the cache of owners events told of
//! (`cache.rs`), the search of processes' descriptor tables over the
//! backend's [`ProcessSource`] (`search.rs`), and the merge of both into
//! a backend's socket dumps and lookup answers (`merge.rs`).

pub mod cache;
pub mod merge;
pub mod search;

pub use cache::{CachedOwner, Hit, OwnerCache, DEFAULT_CAPACITY, DEFAULT_MAX_AGE};
pub use merge::Owners;
pub use search::{OwnerIndex, ProcSockets, ProcessSource, ScanStats};
