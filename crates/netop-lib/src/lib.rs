//! netop as a library.
#![warn(missing_docs)]

pub mod collect;
pub mod platform;
