//! `netop serve`: placeholder, filled in below.
pub mod ledger;
pub mod metrics;
