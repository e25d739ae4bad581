//! Benchmark settings: environment variables, overridable by `--name value` arguments.

use std::path::{Path, PathBuf};

pub struct Config {
    /// Records in the sink topic, entries per source run (`BENCH_RECORDS`, `--records`).
    pub records: usize,
    /// Runs per measurement; each figure is their median (`BENCH_RUNS`, `--runs`).
    pub runs: usize,
    /// Distinct record keys: key = `k<i % keys>` (`BENCH_KEYS`, `--keys`).
    pub keys: usize,
    /// Partitions of every topic the bench creates (`BENCH_PARTITIONS`).
    pub partitions: i32,
    /// Size of one record's JSON value in bytes (`BENCH_VALUE_BYTES`).
    pub value_bytes: usize,
    /// Single XADD round trips per latency sample set (`BENCH_LATENCY_SAMPLES`).
    pub latency_samples: usize,
    /// Seconds of idle PING/GET probing before a sink is created (`BENCH_IDLE_MS`, in ms).
    pub idle_secs: f64,
    /// librdkafka properties for every consumer of the sink topic: the raw consumer, the
    /// hand-written bridge and the module's sinks (`CONFIG k v`). `BENCH_CONSUMER_CONFIG` as
    /// `name=value,name=value`; empty by default (librdkafka's defaults).
    pub consumer_config: Vec<(String, String)>,
    /// A second raw consumer with bigger fetches, so the sink is compared with what the broker
    /// can deliver and not with librdkafka's defaults. `BENCH_TUNED_CONSUMER_CONFIG`; by default
    /// the fetch settings the module's sink uses.
    pub tuned_consumer_config: Vec<(String, String)>,
    pub module: PathBuf,
    /// RedisJSON for the JSON sink (`REDIS_KAFKA_REJSON`, from scripts/deps.sh); without it
    /// the JSON sink is not measured.
    pub rejson: Option<PathBuf>,
    /// The module built with `--features count-allocations` (`REDIS_KAFKA_COUNTING_MODULE`,
    /// set by `make bench`); without it allocations are not measured.
    pub counting_module: Option<PathBuf>,
    pub redis_server: PathBuf,
    pub tansu: PathBuf,
    pub python: String,
    pub baseline_script: PathBuf,
}

impl Config {
    pub fn load() -> Config {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let records = number(&args, "--records", "BENCH_RECORDS", 1_000_000);
        let config = Config {
            records,
            runs: number(&args, "--runs", "BENCH_RUNS", 3).max(1),
            keys: number(&args, "--keys", "BENCH_KEYS", 100_000).max(1),
            partitions: number(&args, "--partitions", "BENCH_PARTITIONS", 4).max(1) as i32,
            value_bytes: number(&args, "--value-bytes", "BENCH_VALUE_BYTES", 100).max(40),
            latency_samples: number(&args, "--latency-samples", "BENCH_LATENCY_SAMPLES", 20_000)
                .max(100),
            idle_secs: number(&args, "--idle-ms", "BENCH_IDLE_MS", 2000) as f64 / 1000.0,
            consumer_config: properties("BENCH_CONSUMER_CONFIG", ""),
            tuned_consumer_config: properties(
                "BENCH_TUNED_CONSUMER_CONFIG",
                "fetch.min.bytes=1048576,fetch.wait.max.ms=50,max.partition.fetch.bytes=8388608",
            ),
            module: existing(
                env_path("REDIS_KAFKA_MODULE")
                    .unwrap_or_else(|| root.join("target/release/libredis_kafka.so")),
                "module (run `cargo build --release`)",
            ),
            rejson: env_path("REDIS_KAFKA_REJSON").filter(|p| p.exists()),
            counting_module: env_path("REDIS_KAFKA_COUNTING_MODULE")
                .filter(|p| p.exists())
                .map(|p| p.canonicalize().expect("canonical path")),
            redis_server: env_path("REDIS_SERVER").unwrap_or_else(|| "redis-server".into()),
            tansu: existing(
                env_path("TANSU_BIN").unwrap_or_else(default_tansu),
                "tansu (run scripts/deps.sh, or set TANSU_BIN)",
            ),
            python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
            baseline_script: existing(
                root.join("scripts/bench_baseline.py"),
                "hand-written bridge script",
            ),
        };
        assert!(config.records > 0, "BENCH_RECORDS must be at least 1");
        config
    }

    /// Keys actually present after all records are applied.
    pub fn distinct_keys(&self) -> usize {
        self.keys.min(self.records)
    }

    /// Record count of the smaller topic used for the RSS growth check.
    pub fn quarter(&self) -> usize {
        (self.records / 4).max(1)
    }
}

/// `--name value` wins over the environment variable, which wins over the default.
/// Accepts `1_000_000` and `1,000,000`.
fn number(args: &[String], flag: &str, var: &str, default: usize) -> usize {
    let from_args = args.iter().position(|a| a == flag).map(|i| {
        args.get(i + 1)
            .unwrap_or_else(|| panic!("{flag} needs a value"))
            .clone()
    });
    let Some(text) = from_args.or_else(|| std::env::var(var).ok()) else {
        return default;
    };
    let clean: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    clean
        .parse()
        .unwrap_or_else(|_| panic!("{flag} / {var}: '{text}' is not a whole number"))
}

/// `name=value,name=value` from an environment variable.
fn properties(var: &str, default: &str) -> Vec<(String, String)> {
    let text = std::env::var(var).unwrap_or_else(|_| default.into());
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("{var}: '{p}' is not name=value"));
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn default_tansu() -> PathBuf {
    let cache = env_path("XDG_CACHE_HOME").unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
    });
    cache.join("redis-kafka/tansu/bin/tansu")
}

fn existing(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        Path::new(&path).exists(),
        "{what}: {} not found",
        path.display()
    );
    path.canonicalize().expect("canonical path")
}
