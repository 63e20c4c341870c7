//! tracegate's SM2 signatures (the `sm2` crate, SM3 hashes, GB/T 32918.2) against gmssl
//! (PyPI, MIT), an implementation tracegate did not write: gmssl accepts what a gateway with
//! `[integrity] algorithm = "sm2"` signs and refuses it changed; tracegate accepts what gmssl
//! signs with the same key.
//!
//! `./scripts/test` installs gmssl into `target/interop-venv` (tests/interop/requirements.txt).

use crate::support::reference;

use tracegate::outbox::signing::chain;
use tracegate::outbox::signing::key::{self, GatewayKey, SM2};

fn gmssl(args: &[&str]) -> String {
    reference::run("gmssl", "gmssl_sm2.py", args)
        .trim()
        .to_string()
}

#[test]
fn gmssl_and_tracegate_accept_each_others_sm2_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.key");
    let (key, _) = GatewayKey::load_or_create_for(&path, SM2).unwrap();
    let secret = std::fs::read_to_string(&path).unwrap();
    let secret = secret.trim().strip_prefix("sm2:").unwrap().to_string();
    let public = key.public_hex();
    // gmssl takes the point without its SEC1 0x04 prefix.
    let point = public.strip_prefix("04").unwrap().to_string();
    let statement = chain::head_statement("gw-cn-1", 42, &chain::genesis("new outbox"));

    let ours = hex::encode(key.sign(&statement));
    assert_eq!(
        gmssl(&["verify", &point, &ours, &hex::encode(&statement)]),
        "ok",
        "gmssl accepts tracegate's signature"
    );
    let mut changed = statement.clone();
    changed[30] ^= 1;
    assert_eq!(
        gmssl(&["verify", &point, &ours, &hex::encode(&changed)]),
        "bad",
        "gmssl refuses it for a changed statement"
    );

    let theirs = gmssl(&["sign", &secret, &point, &hex::encode(&statement)]);
    let theirs = hex::decode(theirs).unwrap();
    key::verify(SM2, &public, &statement, &theirs).expect("tracegate accepts gmssl's signature");
    assert!(key::verify(SM2, &public, &changed, &theirs).is_err());
}
