//! Text parsers and the terminal escaper on hostile strings: `text::escape` (names and messages
//! from the share), `PublicKey::parse_fingerprint` (typed or pasted by an operator), backup ids
//! and pack names found on storage, hex ids, age recipients.
#![no_main]

use cairn::crypto;
use cairn::id::{BackupId, ChunkId};
use cairn::index::pack_id_of;
use cairn::signing::PublicKey;
use cairn::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let e = text::escape_bytes(data);
    assert!(!e.chars().any(|c| c.is_control()), "control character left in {e:?}");
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let e = text::escape(s);
    assert!(!e.chars().any(|c| c.is_control()));
    assert!(!e.contains(['\u{202e}', '\u{2066}', '\u{200f}']));
    if let Ok(p) = PublicKey::parse_fingerprint(s) {
        assert_eq!(PublicKey::parse_fingerprint(&p.fingerprint()).ok(), Some(p));
    }
    if let Some(b) = BackupId::parse(s) {
        assert_eq!(b.as_str(), s);
        if let Some(ms) = b.millis() {
            assert_eq!(BackupId::from_millis(ms), b);
        }
    }
    if let Some(p) = pack_id_of(s) {
        assert_eq!(p.object_name(), s);
    }
    if let Some(c) = ChunkId::from_hex(s) {
        assert_eq!(c.to_hex(), s.to_ascii_lowercase());
    }
    let _ = crypto::parse_recipient(s);
});
