//! Attacks on target (see ../hostile.rs).
