//! netop's operating-system-independent core.
//!
//! This crate owns everything between "a frame came off the wire" and "this
//! process moved this many bytes": the [`Capture`], [`SocketResolver`] and
//! [`HostInterfaces`] traits that backends implement, link-layer and IP
//! decoding, the flow table, attribution of flows to processes, and the
//! per-process and per-interface aggregates that the frontend prints.
//!
//! It never touches the OS: no files, no sockets, no clocks. Time arrives
//! with frames and with explicit calls, so every behaviour here is testable
//! with fakes (see the `testing` feature).

pub mod backend;
pub mod capture;
pub mod clock;
pub mod container;
pub mod decode;
pub mod delta;
pub mod direction;
pub mod dns;
pub mod engine;
pub mod flow;
pub mod history;
pub mod interfaces;
mod maps;
pub mod owners;
pub mod pktap;
pub mod rate;
pub mod socket;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tuples;
pub mod unknown;

pub use backend::{Backend, BackendOptions, CountingChoice, OpenError, OwnerMode, OwnersChoice};
pub use capture::{
    Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Counting, Frame, Gap, LinkType, Poll,
};
pub use clock::{Clock, SystemClock};
pub use delta::{DeltaTuple, FlowDelta, SeenFlags};
pub use engine::{
    Engine, EngineConfig, EngineReport, InterfaceShare, ProcessInterfaces, ProcessReport,
};
pub use flow::{FlowKey, Protocol};
pub use interfaces::{HostInterfaces, InterfaceInfo};
pub use socket::{
    Container, ProcessInfo, ResolveError, SocketEntry, SocketResolver, SocketTable, TcpState,
};
pub use unknown::UnknownReason;
