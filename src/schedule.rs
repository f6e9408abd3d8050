//! Schedule (in progress).
