//! Times each stage of the native scan over a repository's tracked files (read into memory first), to see where
//! the harvest's time goes (bench/harvest.mjs times the whole harvest):
//!   node bench/harvest-stages.mjs [--repo DIR]
//! which writes the gate's checks as the harvest builds them to a JSON file and runs
//!   cargo run --release --no-default-features --example stages -- <repo> <checks.json>
//! STAGE=<name> times one stage only; WHY=1 also counts the bytes each first yes of the gate sends to JavaScript.
use repotune_native::{gate, minhash};
use std::time::Instant;

/// `{"name": ["a", "b"], ...}` → pairs (keywords are plain ASCII, so no escapes to handle).
fn parse_checks(json: &str) -> Vec<(String, Vec<String>)> {
    let quoted: Vec<&str> = json.split('"').collect();
    let mut checks: Vec<(String, Vec<String>)> = Vec::new();
    // Odd pieces are strings; a string followed by ':' names a check, the others are its keywords.
    for i in (1..quoted.len()).step_by(2) {
        if quoted.get(i + 1).is_some_and(|rest| rest.trim_start().starts_with(':')) {
            checks.push((quoted[i].to_string(), Vec::new()));
        } else if let Some(last) = checks.last_mut() {
            last.1.push(quoted[i].to_string());
        }
    }
    checks
}

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
    // The gate's checks as server/src/harvest/native.ts builds them (gateChecks()), from a JSON file:
    //   {"check name": ["keyword", ...], ...}
    let checks_file = std::env::args().nth(2).expect("usage: stages <repo> <checks.json>");
    let g = gate::SecretGate::new(&parse_checks(
        &std::fs::read_to_string(checks_file).expect("checks file"),
    ))
    .expect("valid checks");
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
    stage("minhash", &|b| minhash::signature(b).is_some());
    if std::env::var("WHY").is_ok() {
        why_javascript(&g, &files, total);
    }
    stage("all", &|b| {
        matches!(repotune_native::settle(&g, b), repotune_native::Settled::Plain { .. })
    });
}

/// How the native scan settles the files, and the bytes each first yes of the gate (or decoding) sends to JavaScript.
fn why_javascript(g: &gate::SecretGate, files: &[Vec<u8>], total: usize) {
    use repotune_native::{decode, settle, Settled};
    let mut why = std::collections::BTreeMap::<String, usize>::new();
    let (mut plain, mut excluded, mut js, mut js_bytes) = (0, 0, 0, 0);
    for b in files {
        match settle(g, b) {
            Settled::Plain { .. } => plain += 1,
            Settled::Excluded(_) => excluded += 1,
            Settled::Js => {
                js += 1;
                js_bytes += b.len();
                let reason = match decode::decode(b) {
                    decode::Decoded::Kept(_) => g.first_reason(b).unwrap_or_default(),
                    _ => "decoding left to JavaScript (BOM, CR)".to_string(),
                };
                *why.entry(reason).or_default() += b.len();
            }
        }
    }
    let mut why: Vec<_> = why.into_iter().collect();
    why.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (reason, bytes) in why.iter().take(25) {
        println!("  {:>6.2} MB  {reason}", *bytes as f64 / 1e6);
    }
    let share = js_bytes as f64 * 100.0 / total.max(1) as f64;
    println!("settled: {plain} plain, {excluded} excluded; to JavaScript: {js} files ({share:.1}% of bytes)");
}
