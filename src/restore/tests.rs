//! Unit tests of the confined restore.
