//! The interactive monitor's screen: state and its update function, the
//! rows each view shows, and drawing. Nothing here touches the terminal or
//! the capture; `monitor.rs` connects them.

pub mod connection_view;
pub mod dns_view;
pub mod export;
pub mod format;
pub mod interface_view;
pub mod layout;
pub mod process_view;
pub mod render;
pub mod rows;
pub mod services;
pub mod state;
pub mod theme;

pub use render::render;
pub use state::{update, AppState, Effect, Event, OwnerMode, Settings, SortColumn};

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod render_power_tests;
#[cfg(test)]
mod render_tests;
