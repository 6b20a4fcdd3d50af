//! Throughput of record sealing (SM4-GCM) and SM3 on 4 KiB inputs, plus the
//! two halves of GCM (the SM4 keystream and GHASH) to show where time goes.
//!
//! Compare with `openssl speed -evp sm4-ctr -bytes 4096` on the same machine.
use aes_gcm::aead::{AeadInOut, consts::U12};
use aes_gcm::{AesGcm, KeyInit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kefu_core::seal::{self, Key, RecordAad, Sm4Gcm};
use std::hint::black_box;

const LEN: usize = 4096;

fn aad() -> RecordAad<'static> {
    RecordAad {
        tenant: "acme-bank",
        conversation: "c-0001",
        seq: 42,
        key_version: 1,
        kind: "msg",
    }
}

fn records(c: &mut Criterion) {
    let key = Key::from_bytes([7; 16]);
    let nonce = [9; 12];
    let plaintext = vec![0x5a_u8; LEN];
    let sealed = seal::seal(&key, nonce, &aad(), &plaintext);

    let mut g = c.benchmark_group("seal_4k");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("seal", |b| {
        b.iter(|| seal::seal(&key, nonce, &aad(), black_box(&plaintext)))
    });
    g.bench_function("open", |b| {
        b.iter(|| seal::open(&key, &aad(), black_box(&sealed)))
    });
    g.bench_function("sm3", |b| b.iter(|| seal::sm3(black_box(&plaintext))));
    g.finish();
}

fn parts(c: &mut Criterion) {
    let gcm = Sm4Gcm::new(&Key::from_bytes([7; 16]));
    let nonce = [9; 12];
    let mut buf = vec![0x5a_u8; LEN];

    let mut g = c.benchmark_group("sm4_gcm_parts_4k");
    g.throughput(Throughput::Bytes(LEN as u64));
    // Full SM4-GCM in place, no allocation: keystream + GHASH.
    g.bench_function("gcm_in_place", |b| {
        b.iter(|| gcm.encrypt_in_place_detached(&nonce, b"", black_box(&mut buf)))
    });
    // GHASH alone: 4 KiB of AAD, empty message (2 SM4 blocks for J0 and H).
    g.bench_function("ghash_only", |b| {
        b.iter(|| gcm.encrypt_in_place_detached(&nonce, black_box(&buf), &mut []))
    });
    // The same GCM over RustCrypto `sm4` 0.6 (one block at a time): what
    // `seal` uses by default; with `--features sm4-par8` the rows above use
    // the 8-way backend and this row is the comparison.
    let reference = AesGcm::<sm4::Sm4, U12>::new(&[7; 16].into());
    g.bench_function("gcm_in_place_rustcrypto_sm4", |b| {
        b.iter(|| {
            reference.encrypt_inout_detached(&nonce.into(), b"", black_box(&mut buf[..]).into())
        })
    });
    g.finish();

    // Per-record key setup that `seal`/`open` pay: SM4 key schedule, H = E_K(0), GHASH init.
    let key = Key::from_bytes([7; 16]);
    c.bench_function("sm4_gcm_key_setup", |b| {
        b.iter(|| Sm4Gcm::new(black_box(&key)))
    });
}

criterion_group!(benches, records, parts);
criterion_main!(benches);
