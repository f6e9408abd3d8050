//! Attacks on signing (see ../hostile.rs).
