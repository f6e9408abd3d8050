//! Attacks on backup (see ../hostile.rs).
