//! `Tree::decode` on hostile plaintext (what a session key holder could have sealed).
#![no_main]

use cairn::format::tree::{safe_name, Tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tree::decode(data) {
        // what decodes re-encodes to something that decodes to the same tree
        assert_eq!(Tree::decode(&t.encode()).ok().as_ref(), Some(&t));
        for n in &t.nodes {
            let _ = safe_name(&n.name);
        }
    }
});
