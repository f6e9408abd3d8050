//! Deterministic test data shared by the benches: pseudo-random bytes, text-like bytes (config
//! files, logs), and a database dump with the edits the peer baseline describes.
#![allow(dead_code)]

/// xorshift64*: fast, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
}

/// `len` incompressible bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(len);
    v
}

const WORDS: &[&str] = &[
    "tenant",
    "subscription",
    "quota",
    "plan",
    "offer",
    "region",
    "enabled",
    "true",
    "false",
    "null",
    "identity",
    "vault",
    "secret",
    "certificate",
    "issuer",
    "thumbprint",
    "role",
    "assignment",
    "principal",
    "scope",
    "resource",
    "group",
    "deployment",
    "input",
    "version",
    "name",
    "value",
    "id",
    "type",
    "status",
    "Succeeded",
    "Running",
    "storage",
    "compute",
    "network",
    "cores",
    "memory",
    "disk",
    "contoso",
    "fabrikam",
    "northwind",
    "admin",
    "reader",
    "contributor",
    "owner",
    "created",
    "updated",
    "expires",
    "policy",
    "rule",
    "allow",
    "deny",
];

/// Text-like bytes (a config/log mix of words, numbers and punctuation; zstd -3 gets ~3-4x).
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut v = Vec::with_capacity(len + 256);
    while v.len() < len {
        let indent = r.below(4) as usize * 2;
        v.extend(std::iter::repeat_n(b' ', indent));
        let n = 2 + r.below(8);
        for i in 0..n {
            if i > 0 {
                v.extend_from_slice(if r.below(3) == 0 { b": " } else { b" " });
            }
            if r.below(5) == 0 {
                let digits = r.next().to_string();
                let k = (1 + r.below(10) as usize).min(digits.len());
                v.extend_from_slice(&digits.as_bytes()[..k]);
            } else {
                v.extend_from_slice(WORDS[r.below(WORDS.len() as u64) as usize].as_bytes());
            }
        }
        v.push(b'\n');
    }
    v.truncate(len);
    v
}

/// One row of the synthetic dump's `documents` table (tab-separated, like `COPY ... FROM stdin`).
fn row(id: u64, version: u64, r: &mut Rng, out: &mut Vec<u8>) {
    let body_len = 200 + r.below(1800) as usize;
    out.extend_from_slice(format!("{id}\t{}\tv{version}\t", id % 97).as_bytes());
    let body = text_bytes(body_len, id * 1_000_003 + version);
    for b in body {
        out.extend_from_slice(if b == b'\n' {
            b"\\n"
        } else {
            std::slice::from_ref(&b)
        });
    }
    out.extend_from_slice(
        format!("\t2026-11-{:02} 05:{:02}:00+00\n", 1 + id % 28, id % 60).as_bytes(),
    );
}

/// A synthetic `pg_dump` of about `len` bytes (version A) and the same dump after the baseline's
/// edits (version B): one row every ~260 KB updated (it moves to the end of the table, as an
/// UPDATE does in PostgreSQL's heap order), plus 1000 scattered single-value updates in place
/// (pgbench-style balance changes in a second table).
pub fn dump_pair(len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut r = Rng::new(42);
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let mut total = 0;
    let header = b"--\n-- PostgreSQL database dump\n--\n\nCOPY public.documents (id, tenant, rev, body, updated) FROM stdin;\n";
    let mut id = 0;
    while total < len * 9 / 10 {
        let mut v = Vec::new();
        row(id, 1, &mut r, &mut v);
        total += v.len();
        rows.push(v);
        id += 1;
    }
    // pgbench_accounts-like table: short fixed rows
    let accounts = (len / 10) / 90;
    let acct = |aid: usize, bal: i64| {
        format!("{aid}\t{}\t{bal}\t{:<60}\n", aid / 100_000 + 1, "").into_bytes()
    };
    let assemble = |rows: &[Vec<u8>], balances: &[i64]| {
        let mut out = header.to_vec();
        for x in rows {
            out.extend_from_slice(x);
        }
        out.extend_from_slice(
            b"\\.\n\nCOPY public.pgbench_accounts (aid, bid, abalance, filler) FROM stdin;\n",
        );
        for (aid, b) in balances.iter().enumerate() {
            out.extend_from_slice(&acct(aid, *b));
        }
        out.extend_from_slice(b"\\.\n");
        out
    };
    let balances = vec![0i64; accounts];
    let a = assemble(&rows, &balances);

    // B: every ~260 KB of the documents table, one row is rewritten and moves to the end
    let mut rows_b = Vec::with_capacity(rows.len());
    let mut moved = Vec::new();
    let (mut since, mut rr) = (0usize, Rng::new(7));
    for (i, x) in rows.iter().enumerate() {
        since += x.len();
        if since >= 260_000 {
            since = 0;
            let mut v = Vec::new();
            row(i as u64, 2, &mut rr, &mut v);
            moved.push(v);
        } else {
            rows_b.push(x.clone());
        }
    }
    rows_b.extend(moved);
    let mut balances_b = balances;
    for _ in 0..1000 {
        let aid = rr.below(accounts as u64) as usize;
        balances_b[aid] += rr.below(10_000) as i64 - 5_000;
    }
    let b = assemble(&rows_b, &balances_b);
    (a, b)
}
