//! cairn: the backup controller for a private cloud's infrastructure services.
#![warn(missing_docs)]

pub mod backend;
pub mod error;
pub mod id;

pub use error::{Error, Result};
pub mod backup;
pub mod chunker;
pub mod compress;
pub mod controller;
pub mod crypto;
pub mod format;
pub mod fsutil;
pub mod index;
pub mod keyring;
pub mod locator;
pub mod progress;
pub mod repository;
pub mod restore;
pub mod service;
pub mod verify;
