//! `RepoConfig::decode` on a hostile `config` object: what it accepts must be usable.
#![no_main]

use cairn::format::config::RepoConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = RepoConfig::decode(data) {
        assert!(c.chunker.valid());
        assert_eq!(RepoConfig::decode(&c.encode()).ok().as_ref(), Some(&c));
    }
});
