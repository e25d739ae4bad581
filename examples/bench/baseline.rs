//! The hand-written bridge baseline: scripts/bench_baseline.py (confluent-kafka consumer +
//! redis-py pipelined SET) into a fresh redis-server without the module.

use crate::probes::user_keys;
use crate::servers::RedisServer;
use crate::Ctx;
use std::process::{Command, Stdio};

pub struct BaselineRun {
    pub rate: f64,
    pub rss_mib: f64,
}

pub fn hand_written(ctx: &Ctx) -> BaselineRun {
    let redis = RedisServer::start(&ctx.cfg.redis_server, None);
    let records = ctx.cfg.records.to_string();
    let keys = ctx.cfg.distinct_keys().to_string();
    let port = redis.port.to_string();
    let group = ctx.unique("bench-baseline");
    let mut command = Command::new(&ctx.cfg.python);
    command.arg(&ctx.cfg.baseline_script);
    // The same fetch settings as the tuned raw consumer and the module's sink: the comparison
    // is about the bridge, not about librdkafka's defaults.
    let config = ctx.cfg.consumer_config.iter();
    for (name, value) in config.chain(&ctx.cfg.tuned_consumer_config) {
        command.arg("--config").arg(format!("{name}={value}"));
    }
    // The script exits by itself (done, or after a minute without progress).
    let output = command
        .args(["--brokers", &ctx.tansu.bootstrap(), "--topic", crate::TOPIC])
        .args(["--group", &group, "--redis-port", &port])
        .args(["--records", &records, "--keys", &keys])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "run {} {}: {e}",
                ctx.cfg.python,
                ctx.cfg.baseline_script.display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "hand-written bridge failed ({}): {stdout}",
        output.status
    );
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("hand-written bridge printed no JSON report: {stdout}"));
    let rate = report["records_per_sec"]
        .as_f64()
        .unwrap_or_else(|| panic!("no records_per_sec in {report}"));
    let present = user_keys(&mut redis.conn());
    assert_eq!(
        present,
        ctx.cfg.distinct_keys(),
        "hand-written bridge left {present} keys"
    );
    BaselineRun {
        rate,
        rss_mib: redis.peak_rss_mib(),
    }
}
