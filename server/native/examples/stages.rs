//! Times each stage of the native scan over a repository's tracked files (read into memory first), to see where
//! the harvest's time goes (bench/harvest.mjs times the whole harvest):
//!   cargo run --release --no-default-features --example stages -- <repo>
use repotune_native::{gate, minhash};
use std::time::Instant;

fn main() {
    let root = std::env::args().nth(1).expect("usage: stages <repo>");
    let out = std::process::Command::new("git")
        .args(["-C", &root, "ls-files", "-z"])
        .output()
        .expect("git");
    let files: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| std::fs::read(format!("{}/{}", root, String::from_utf8_lossy(p))).ok())
        .collect();
    let total: usize = files.iter().map(Vec::len).sum();
    println!("{} files, {:.1} MB", files.len(), total as f64 / 1e6);
    // A copy of the keyword lists server/src/harvest/native.ts passes (gateKeywords()) on 2026-11-29.
    let anywhere: Vec<String> = [
        "secret",
        "private_key_id",
        "x-oauth-basic",
        "_authtoken=",
        "npm_",
        "xox",
        "xapp-",
        "hooks.slack.com",
        "://",
        "t3blbkfj",
        "lin_api_",
        "private key",
        "sg.",
        "shppa_",
        "shpca_",
        "shpat_",
        "shpss_",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "ops_ey",
        "akia",
        "asia",
        "abia",
        "acca",
        "agpa",
        "aida",
        "aroa",
        "a3t",
        "glpat-",
        "gldt-",
        "glrt-",
        "glptt-",
        "glcbt-",
        "gloas-",
        "_live_",
        "_test_",
        "sk-",
        "hf_",
        "accountkey=",
        "aiza",
        "eyj",
    ]
    .map(String::from)
    .to_vec();
    let assignment: Vec<String> = [
        "password",
        "passwd",
        "token",
        "api_key",
        "api-key",
        "apikey",
        "access_key",
        "access-key",
        "accesskey",
        "private_key",
        "private-key",
        "privatekey",
        "pwd",
        "auth_token",
        "auth-token",
        "authtoken",
        "access_token",
        "access-token",
        "accesstoken",
        "client_secret",
        "client-secret",
        "clientsecret",
        "credential",
    ]
    .map(String::from)
    .to_vec();
    let g = gate::SecretGate::new(&[
        ("anywhere".into(), anywhere),
        ("assignment".into(), assignment),
        ("url-credentials".into(), vec!["://".into()]),
    ])
    .unwrap();
    println!("keyword search on SIMD: {}", g.uses_simd());
    let only = std::env::var("STAGE").ok();
    let stage = |name: &str, f: &dyn Fn(&[u8]) -> bool| {
        if only.as_deref().is_some_and(|o| o != name) {
            return;
        }
        let t = Instant::now();
        let n = files.iter().filter(|b| f(b)).count();
        println!("{name:>8}: {:>7.1} ms ({n} true)", t.elapsed().as_secs_f64() * 1e3);
    };
    stage("decode", &|b| {
        matches!(
            repotune_native::decode::decode(b),
            repotune_native::decode::Decoded::Kept(_)
        )
    });
    stage("gate", &|b| g.may_match(b));
    stage("sha256", &|b| {
        use sha2::Digest;
        sha2::Sha256::digest(b)[0] == 0
    });
    stage("minhash", &|b| {
        std::str::from_utf8(b).map_or(false, |t| minhash::signature(t).is_some())
    });
    stage("all", &|b| {
        matches!(repotune_native::settle(&g, b), repotune_native::Settled::Plain { .. })
    });
}
