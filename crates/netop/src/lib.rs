//! The monitor's screen as a library, so benchmarks can build and draw
//! frames exactly as the binary does. The binary (`main.rs`) holds
//! everything else: arguments, the backend, snapshot output.

pub mod config;
pub mod tui;
