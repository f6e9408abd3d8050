//! cairn: the backup controller for a private cloud's infrastructure services.
#![warn(missing_docs)]

pub mod backend;
pub mod error;
pub mod id;
pub mod replicate;
pub mod target;

pub use error::{Error, Result};
