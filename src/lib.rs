//! cairn: the backup controller for a private cloud's infrastructure services.
#![warn(missing_docs)]

pub mod backend;
pub mod error;
pub mod id;

pub use error::{Error, Result};
pub mod jobs;
pub mod retention;
pub mod schedule;
