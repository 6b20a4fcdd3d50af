//! Signature and replay-guard tests.

use super::*;
use proptest::prelude::*;

const KEY: &[u8] = b"kefu-demo-key-0123456789abcdef!!";
const NONCE: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
const TS: u64 = 1_717_200_120_000;
// Computed with Python (see the module doc) over GOLDEN_REQUEST on /v1/turn.
const KNOWN_HEADER: &str = "v1,t=1717200120000,n=000102030405060708090a0b0c0d0e0f,\
s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8";
// The same key, time and nonce over an empty body on /v1/health.
const KNOWN_HEALTH_HEADER: &str = "v1,t=1717200120000,n=000102030405060708090a0b0c0d0e0f,\
s=4fe9e5be5b8416cfcf3ba4371b17dc5b5f17b9be51fd64e3437ff179eceac57a";

fn guard() -> ReplayGuard {
    ReplayGuard::new(DEFAULT_REPLAY_CAPACITY)
}

#[test]
fn sm3_matches_the_gmt_0004_vector() {
    // GM/T 0004-2012 (GB/T 32905-2016) Appendix A example 1: SM3("abc").
    assert_eq!(
        body_digest(b"abc"),
        hex!("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
}

#[test]
fn known_signatures_match_an_independent_implementation() {
    let sig = sign(KEY, TS, &NONCE, paths::TURN, GOLDEN_REQUEST).unwrap();
    assert_eq!(sig.to_header(), KNOWN_HEADER);
    assert_eq!(Signature::parse(KNOWN_HEADER).unwrap(), sig);
    let sig = sign(KEY, TS, &NONCE, paths::HEALTH, b"").unwrap();
    assert_eq!(sig.to_header(), KNOWN_HEALTH_HEADER);
    let mut g = guard();
    assert_eq!(
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g
        ),
        Ok(())
    );
}

#[test]
fn timestamps_outside_the_window_are_stale_both_ways() {
    let w = DEFAULT_WINDOW_MS;
    let check = |now| {
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            now,
            w,
            &mut guard(),
        )
    };
    assert_eq!(check(TS + w + 1), Err(Error::Stale)); // signed too long ago
    assert_eq!(check(TS - w - 1), Err(Error::Stale)); // signed in the future
    assert_eq!(check(TS + w), Ok(()));
    assert_eq!(check(TS - w), Ok(()));
    assert_eq!(check(0), Err(Error::Stale));
    assert_eq!(check(u64::MAX), Err(Error::Stale));
}

#[test]
fn a_replayed_request_is_refused() {
    let mut g = guard();
    let v = |g: &mut ReplayGuard, now| {
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            now,
            DEFAULT_WINDOW_MS,
            g,
        )
    };
    assert_eq!(v(&mut g, TS), Ok(()));
    assert_eq!(v(&mut g, TS + 1), Err(Error::Replay));
    assert_eq!(v(&mut g, TS + DEFAULT_WINDOW_MS), Err(Error::Replay));
    // Past the window it is stale, whatever the guard forgot.
    g.evict_expired(TS + DEFAULT_WINDOW_MS + 1);
    assert!(g.is_empty());
    assert_eq!(v(&mut g, TS + DEFAULT_WINDOW_MS + 1), Err(Error::Stale));
}

#[test]
fn tampering_with_anything_signed_breaks_the_signature() {
    let ok = |h: &str, path: &str, body: &[u8]| {
        verify(KEY, h, path, body, TS, DEFAULT_WINDOW_MS, &mut guard())
    };
    assert_eq!(ok(KNOWN_HEADER, paths::TURN, GOLDEN_REQUEST), Ok(()));
    let mut body = GOLDEN_REQUEST.to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    assert_eq!(
        ok(KNOWN_HEADER, paths::TURN, &body),
        Err(Error::BadSignature)
    );
    assert_eq!(
        ok(KNOWN_HEADER, paths::REPORT, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    assert_eq!(
        ok(KNOWN_HEADER, "/v1/turn/", GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let moved_ts = KNOWN_HEADER.replace("t=1717200120000", "t=1717200120001");
    assert_eq!(
        ok(&moved_ts, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let other_nonce = KNOWN_HEADER.replace("n=00", "n=01");
    assert_eq!(
        ok(&other_nonce, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let other_mac = KNOWN_HEADER.replace("s=8e", "s=8f");
    assert_eq!(
        ok(&other_mac, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let wrong_key = verify(
        b"another-key-0123456789",
        KNOWN_HEADER,
        paths::TURN,
        GOLDEN_REQUEST,
        TS,
        DEFAULT_WINDOW_MS,
        &mut guard(),
    );
    assert_eq!(wrong_key, Err(Error::BadSignature));
}

#[test]
fn malformed_headers_and_short_keys_are_refused() {
    let bad = [
        "",
        "v2,t=1,n=000102030405060708090a0b0c0d0e0f,s=00",
        "v1,t=,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=-5,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=99999999999999999999,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=1717200120000,n=000102030405060708090A0B0C0D0E0F,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=1717200120000,n=0001,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,n=000102030405060708090a0b0c0d0e0f,t=1717200120000,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
    ];
    for h in bad {
        assert_eq!(Signature::parse(h).unwrap_err(), Error::BadSignature, "{h}");
    }
    assert_eq!(
        Signature::parse(&(KNOWN_HEADER.to_string() + ",x=1")).unwrap_err(),
        Error::BadSignature
    );
    assert!(matches!(
        sign(b"short", TS, &NONCE, paths::TURN, b""),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        verify(
            b"short",
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut guard()
        ),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn forged_requests_do_not_use_up_the_guard() {
    let mut g = ReplayGuard::new(1);
    let forged = KNOWN_HEADER.replace("s=8e", "s=8f");
    for _ in 0..10 {
        let r = verify(
            KEY,
            &forged,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g,
        );
        assert_eq!(r, Err(Error::BadSignature));
    }
    assert!(g.is_empty());
    assert_eq!(
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g
        ),
        Ok(())
    );
}

#[test]
fn a_full_guard_fails_closed_until_entries_expire() {
    let w = DEFAULT_WINDOW_MS;
    let mut g = ReplayGuard::new(2);
    let signed = |n: u8, ts: u64| {
        let mut nonce = [0u8; 16];
        nonce[15] = n;
        (
            sign(KEY, ts, &nonce, paths::TURN, b"body")
                .unwrap()
                .to_header(),
            ts,
        )
    };
    let (a, b, c) = (signed(1, TS), signed(2, TS + 10), signed(3, TS + 20));
    let v = |g: &mut ReplayGuard, h: &str, now| verify(KEY, h, paths::TURN, b"body", now, w, g);
    assert_eq!(v(&mut g, &a.0, TS + 20), Ok(()));
    assert_eq!(v(&mut g, &b.0, TS + 20), Ok(()));
    // Full of live nonces: refuse rather than forget one.
    assert_eq!(
        v(&mut g, &c.0, TS + 20),
        Err(Error::TooLarge("replay guard is full"))
    );
    assert_eq!(g.len(), 2);
    // Once `a` expires (TS + w), its slot is reclaimed and `c` goes through,
    // while `b` is still remembered.
    assert_eq!(v(&mut g, &c.0, TS + w + 1), Ok(()));
    assert_eq!(v(&mut g, &b.0, TS + w + 1), Err(Error::Replay));
    assert_eq!(g.len(), 2);
    assert_eq!(g.capacity(), 2);
}

#[test]
fn signing_a_frame_end_to_end() {
    let body = request().encode().unwrap();
    let header = sign(KEY, TS, &NONCE, paths::TURN, &body)
        .unwrap()
        .to_header();
    let mut g = guard();
    verify(
        KEY,
        &header,
        paths::TURN,
        &body,
        TS + 5,
        DEFAULT_WINDOW_MS,
        &mut g,
    )
    .unwrap();
    let got = TurnRequest::decode(&body).unwrap();
    assert_eq!(got, request());
    // Debug of a signature shows no key.
    let dbg = alloc::format!("{:?} {:?}", Signature::parse(&header).unwrap(), g);
    assert!(!dbg.contains("kefu-demo-key"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_headers_never_panic_or_verify(h in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert!(verify(KEY, &h, paths::TURN, &body, TS, DEFAULT_WINDOW_MS, &mut guard()).is_err());
    }
}
