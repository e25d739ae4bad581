//! Property tests over random and half-valid input for everything that reads what users,
//! Kafka or the dataset hand the module: argument parsers, templates, globs, record mapping,
//! stored state. `FUZZ_CASES` sets the cases per property (default 50,000, so `make test`
//! stays quick; `make fuzz` runs millions). Seeds are printed on failure, and `FUZZ_SEED`
//! replays one.

mod gen;
mod mapping;
mod parsers;
mod state;

pub use gen::Gen;

/// Cases per property.
pub fn cases() -> u64 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(50_000)
}

/// Runs `property` on `cases()` generators, each from its own seed; a panic names the seed.
pub fn check(name: &str, mut property: impl FnMut(&mut Gen)) {
    let base = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok());
    let (first, count) = match base {
        Some(seed) => (seed, 1),
        None => (0x5eed_0000_u64, cases()),
    };
    for seed in first..first + count {
        let mut g = Gen::new(seed);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(&mut g)));
        if let Err(panic) = outcome {
            panic!(
                "property {name} failed with FUZZ_SEED={seed}: {}",
                crate::runtime::panic::panic_message(panic.as_ref())
            );
        }
    }
}
