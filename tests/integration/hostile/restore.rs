//! Attacks on restore (see ../hostile.rs).
