//! The SM4 block cipher (GB/T 32907-2016 = GM/T 0002-2012; in English as
//! [draft-ribose-cfrg-sm4]), encryption direction only, as a `cipher` 0.5
//! backend that encrypts 8 blocks at a time.
//!
//! Why not RustCrypto `sm4` 0.6 directly: it encrypts one block at a time
//! (`ParBlocksSize = U1`) through a byte S-box and computes the linear map L
//! on every round, which left SM4-GCM at about half of OpenSSL's SM4-CTR
//! speed. Here the S-box and L are folded into one 256-entry `u32` table
//! (L commutes with rotation, so one table serves all four byte lanes), and
//! CTR mode gets 8 independent blocks per call, so their rounds overlap in
//! the CPU's pipeline. `sm4` stays the reference: the tests check this
//! backend against it on random keys and blocks.
//!
//! Like `sm4` and OpenSSL's SM4, this indexes tables with secret bytes, so it
//! is not constant-time against an attacker who can measure cache timing on
//! the same core. The table is 1 KiB (16 cache lines; OpenSSL 3.0 uses
//! 4 KiB). A bitsliced backend would remove that channel at some cost.
//!
//! [draft-ribose-cfrg-sm4]: https://datatracker.ietf.org/doc/draft-ribose-cfrg-sm4/

use core::fmt;

use cipher::consts::{U8, U16};
use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut,
    Key, KeyInit, KeySizeUser, ParBlocks, ParBlocksSizeUser,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Number of blocks encrypted together on the parallel path.
const PAR: usize = 8;

/// The SM4 S-box (GB/T 32907-2016).
const SBOX: [u8; 256] = [
    0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
    0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
    0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
    0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
    0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
    0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
    0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
    0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
    0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
    0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
    0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
    0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
    0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
    0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
    0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
    0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
];

/// The key-schedule system parameter FK (GB/T 32907-2016).
const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// The linear map L of the round function.
const fn l(b: u32) -> u32 {
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

/// The key-schedule linear map L'.
const fn l_prime(b: u32) -> u32 {
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// `L(S(x) << 24)` for every byte `x`. Because L is built from rotations,
/// `L(S(x) << k) = L(S(x) << 24).rotate_right(24 - k)`: one table serves all
/// four bytes of the round input.
const T: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = l((SBOX[i] as u32) << 24);
        i += 1;
    }
    t
};

/// The key-schedule constant CK_i: byte j of CK_i is (4i + j) * 7 mod 256.
const fn ck(i: usize) -> u32 {
    let mut v = 0u32;
    let mut j = 0;
    while j < 4 {
        v = (v << 8) | (((4 * i + j) * 7) % 256) as u32;
        j += 1;
    }
    v
}

/// The nonlinear map tau: the S-box on each byte.
fn tau(a: u32) -> u32 {
    u32::from_be_bytes(a.to_be_bytes().map(|b| SBOX[usize::from(b)]))
}

/// The round transform T = L(tau(x)), via the rotated table.
#[inline(always)]
fn round_t(x: u32) -> u32 {
    let [a, b, c, d] = x.to_be_bytes();
    T[usize::from(a)]
        ^ T[usize::from(b)].rotate_right(8)
        ^ T[usize::from(c)].rotate_right(16)
        ^ T[usize::from(d)].rotate_right(24)
}

/// SM4 with a 128-bit key: the expanded round keys, zeroized on drop.
#[derive(Clone)]
pub(crate) struct Sm4Cipher {
    rk: [u32; 32],
}

impl KeySizeUser for Sm4Cipher {
    type KeySize = U16;
}

impl KeyInit for Sm4Cipher {
    fn new(key: &Key<Self>) -> Self {
        let mut k = load(key.into());
        for (k, fk) in k.iter_mut().zip(FK) {
            *k ^= fk;
        }
        let mut rk = [0u32; 32];
        for (i, out) in rk.iter_mut().enumerate() {
            let next = k[0] ^ l_prime(tau(k[1] ^ k[2] ^ k[3] ^ ck(i)));
            k = [k[1], k[2], k[3], next];
            *out = next;
        }
        k.zeroize();
        Sm4Cipher { rk }
    }
}

impl BlockSizeUser for Sm4Cipher {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Sm4Cipher {
    type ParBlocksSize = U8;
}

impl BlockCipherEncrypt for Sm4Cipher {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Sm4Cipher {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut x = [load(block.get_in().into())];
        self.rounds(&mut x);
        store(&x[0], block.get_out().into());
    }

    #[inline]
    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let input = blocks.get_in();
        let mut x: [[u32; 4]; PAR] = core::array::from_fn(|n| load((&input[n]).into()));
        self.rounds(&mut x);
        let out = blocks.get_out();
        for (state, block) in x.iter().zip(out.iter_mut()) {
            store(state, block.into());
        }
    }
}

impl Sm4Cipher {
    /// The 32 rounds on `N` independent blocks, interleaved so that one
    /// block's table lookups overlap another's.
    #[inline(always)]
    fn rounds<const N: usize>(&self, x: &mut [[u32; 4]; N]) {
        for rk in self.rk.chunks_exact(4) {
            for s in x.iter_mut() {
                s[0] ^= round_t(s[1] ^ s[2] ^ s[3] ^ rk[0]);
            }
            for s in x.iter_mut() {
                s[1] ^= round_t(s[2] ^ s[3] ^ s[0] ^ rk[1]);
            }
            for s in x.iter_mut() {
                s[2] ^= round_t(s[3] ^ s[0] ^ s[1] ^ rk[2]);
            }
            for s in x.iter_mut() {
                s[3] ^= round_t(s[0] ^ s[1] ^ s[2] ^ rk[3]);
            }
        }
    }
}

/// A 16-byte block as four big-endian words.
#[inline(always)]
fn load(b: &[u8; 16]) -> [u32; 4] {
    core::array::from_fn(|i| {
        u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
    })
}

/// The reverse transform R: words written back in reverse order.
#[inline(always)]
fn store(x: &[u32; 4], out: &mut [u8; 16]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(x.iter().rev()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

impl Drop for Sm4Cipher {
    fn drop(&mut self) {
        self.rk.zeroize();
    }
}

impl ZeroizeOnDrop for Sm4Cipher {}

impl fmt::Debug for Sm4Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4Cipher { .. }")
    }
}

#[cfg(test)]
mod tests {
    //! Test vectors are from GB/T 32907-2016 Appendix A; the rest compares
    //! against RustCrypto `sm4` 0.6 as an independent implementation.
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    fn reference(key: [u8; 16], block: [u8; 16]) -> [u8; 16] {
        let c = <sm4::Sm4 as sm4::cipher::KeyInit>::new(&key.into());
        let mut b = block.into();
        BlockCipherEncrypt::encrypt_block(&c, &mut b);
        b.into()
    }

    #[test]
    fn gbt32907_example_1_single_and_parallel_paths() {
        // GB/T 32907-2016 Appendix A example 1: key = plaintext.
        let key = hex!("0123456789abcdeffedcba9876543210");
        let want = hex!("681edf34d206965e86b3e94f536e4246");
        let c = Sm4Cipher::new(&key.into());
        let mut one: Block<Sm4Cipher> = key.into();
        BlockCipherEncrypt::encrypt_block(&c, &mut one);
        assert_eq!(one.as_slice(), want);

        // Eight copies through the parallel path (CTR mode's hot loop).
        let mut many = [Block::<Sm4Cipher>::from(key); PAR];
        c.encrypt_blocks(&mut many);
        assert!(many.iter().all(|b| b.as_slice() == want));
    }

    #[test]
    fn gbt32907_example_2_one_million_encryptions() {
        // GB/T 32907-2016 Appendix A example 2: example 1 encrypted 1,000,000 times.
        let key = hex!("0123456789abcdeffedcba9876543210");
        let c = Sm4Cipher::new(&key.into());
        let mut b: Block<Sm4Cipher> = key.into();
        for _ in 0..1_000_000 {
            BlockCipherEncrypt::encrypt_block(&c, &mut b);
        }
        assert_eq!(b.as_slice(), hex!("595298c7c6fd271f0402f804c33d3f66"));
    }

    #[test]
    fn ck_matches_the_published_table() {
        // GB/T 32907-2016 key schedule: first, second and last CK values of its table.
        assert_eq!([ck(0), ck(1), ck(31)], [0x00070e15, 0x1c232a31, 0x646b7279]);
    }

    proptest! {
        #[test]
        fn agrees_with_rustcrypto_sm4(
            key in any::<[u8; 16]>(),
            blocks in prop::collection::vec(any::<[u8; 16]>(), 1..20),
        ) {
            let c = Sm4Cipher::new(&key.into());
            // encrypt_blocks takes the 8-way path for full groups and the
            // single-block path for the rest.
            let mut ours: alloc::vec::Vec<Block<Sm4Cipher>> =
                blocks.iter().map(|b| (*b).into()).collect();
            c.encrypt_blocks(&mut ours);
            for (got, block) in ours.iter().zip(&blocks) {
                prop_assert_eq!(got.as_slice(), reference(key, *block));
            }
        }
    }
}
