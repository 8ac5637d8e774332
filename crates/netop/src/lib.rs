//! The monitor's screen and the service's counting as a library, so
//! benchmarks can build and draw frames, and count and export metrics,
//! exactly as the binary does. The binary (`main.rs`) holds everything
//! else: arguments, the backend, snapshot output, the service's threads.

pub mod config;
pub mod deltas;
pub mod service;
pub mod tui;
