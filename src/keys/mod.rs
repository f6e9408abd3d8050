//! Keys, in one place: what each key is, where it lives, and every operation on it.
//!
//! | key | secret held | where | module |
//! |-----|-------------|-------|--------|
//! | id key (one per epoch) | [`IdKey`](crate::crypto::IdKey) | wrapped in `keys/<epoch>`; plain in `local/keys.toml` | [`epoch`] |
//! | session key (one per backup) | [`SessionKey`](crate::crypto::SessionKey) | wrapped in `keys/<session>` | [`ring`] unwraps |
//! | signing key | [`SigningKey`](crate::signing::SigningKey) | `local/signing.key`; sealed in `signing/<epoch>` | [`sealed`] |
//! | age identity | [`Identity`](crate::crypto::Identity) | the operator's file, never the repository | [`identity`] |
//!
//! The primitives (age wrapping, sealing blobs, Ed25519) are in [`crate::crypto`] and
//! [`crate::signing`]; this module decides which key is made, wrapped, sealed or adopted when.
//! Reading key envelopes (signature and name checked) is [`Repository::envelope`] /
//! [`Repository::envelopes`](crate::repository::Repository::envelopes).
//!
//! [`Repository::envelope`]: crate::repository::Repository::envelope

pub mod epoch;
pub mod identity;
pub mod ring;
pub mod sealed;

pub use epoch::LocalKeys;
pub use ring::{KeyRing, Unlocked};
