//! `Manifest::decode` (and the sealed `Definitions` blob). The signature stops almost every
//! mutation, so the input is also decoded as a body signed with the fuzzer's fixed key (the
//! repository key of the seeds): that reaches the postcard body and the checks after it (service
//! names, overflowing sums, chain links, repository id, name), and read as the backup reads the
//! chain's newest manifest (`Manifest::decode_head` and `decode_tail`).
#![no_main]

use cairn::format::manifest::{Definitions, Manifest};
use cairn::signing::SigningKey;
use libfuzzer_sys::fuzz_target;

const NAME: &str = "backups/20261122T053600.123Z";
const REPO: [u8; 16] = [6; 16];

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_seed(&[42; 32]);
    let public = key.public();
    let _ = Manifest::decode(data, NAME, &REPO, &public);
    let signed = key.sign_object(&REPO, NAME, data.to_vec());
    if let Ok(m) = Manifest::decode(&signed, NAME, &REPO, &public) {
        assert_eq!(
            Manifest::decode(&m.encode(&key), NAME, &REPO, &public)
                .ok()
                .as_ref(),
            Some(&m)
        );
        assert!(m
            .services
            .iter()
            .try_fold(0u64, |a, s| a.checked_add(s.bytes))
            .is_some());
        let _ = (m.bytes(), m.bytes_new());
    }
    // the streamed read of a backup's chain link (head, then the tail after the references)
    // accepts exactly what the whole decode accepts, and decodes the same fields
    if let Ok(Some((head, refs))) = Manifest::decode_head(data, data.len() as u64, NAME) {
        let tail = data.get(refs.end as usize..).unwrap_or_default();
        let streamed = head.decode_tail(tail, NAME, &REPO).ok();
        let whole = Manifest::decode(&signed, NAME, &REPO, &public).ok();
        if let (Some(_), Some(w)) = (&streamed, &whole) {
            // the references lie where the head says, 32 bytes each
            assert_eq!((refs.end - refs.start) / 32, w.refs.len() as u64);
            let at = refs.start as usize;
            assert_eq!(data.get(at..at + 32), w.refs.first().map(|r| &r.0[..]));
        }
        assert_eq!(
            streamed,
            whole.map(|m| Manifest {
                refs: Vec::new(),
                ..m
            })
        );
    }
    if let Ok(d) = Definitions::decode(data) {
        assert_eq!(Definitions::decode(&d.encode()).ok().as_ref(), Some(&d));
    }
});
