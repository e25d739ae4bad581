//! The processes a bench run starts: one Tansu broker and fresh redis-servers. Each is owned by a
//! guard that kills it (SIGKILL) and removes its scratch directory when dropped, also while a
//! panic unwinds.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn scratch_dir(kind: &str, port: u16) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "redis-kafka-bench-{kind}-{}-{port}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A child process killed on drop, with its scratch directory.
struct Guard {
    child: Child,
    dir: PathBuf,
}

impl Guard {
    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Tansu broker with in-memory storage on 127.0.0.1.
pub struct Tansu {
    guard: Guard,
    pub port: u16,
}

impl Tansu {
    pub fn start(binary: &Path) -> Tansu {
        for _ in 0..5 {
            let port = free_port();
            let dir = scratch_dir("tansu", port);
            let url = format!("tcp://127.0.0.1:{port}");
            let log = std::fs::File::create(dir.join("tansu.log")).expect("tansu log file");
            let child = Command::new(binary)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "memory://tansu/"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
            let mut guard = Guard { child, dir };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && !guard.exited() {
                if port_open(port) {
                    return Tansu { guard, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start tansu ({})", binary.display());
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.guard.child.id()
    }
}

/// A redis-server on 127.0.0.1 without persistence; with the module when `module` is given
/// (`--loadmodule <path> kafka.brokers <brokers>`).
pub struct RedisServer {
    guard: Guard,
    pub port: u16,
}

pub struct ModuleLoad<'a> {
    pub path: &'a Path,
    pub brokers: &'a str,
    /// RedisJSON, loaded first when given (JSON sinks need it).
    pub rejson: Option<&'a Path>,
    /// `kafka.debug-command yes` (KAFKA.DEBUG ALLOCATIONS).
    pub debug_command: bool,
}

impl RedisServer {
    pub fn start(binary: &Path, module: Option<ModuleLoad<'_>>) -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = RedisServer::try_start(binary, module.as_ref()) {
                return server;
            }
        }
        panic!("could not start {}", binary.display());
    }

    fn try_start(binary: &Path, module: Option<&ModuleLoad<'_>>) -> Option<RedisServer> {
        let port = free_port();
        let dir = scratch_dir("redis", port);
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--logfile".into(),
            "server.log".into(),
        ];
        if let Some(rejson) = module.and_then(|m| m.rejson) {
            args.push("--loadmodule".into());
            args.push(rejson.display().to_string());
        }
        if let Some(module) = module {
            args.push("--loadmodule".into());
            args.push(module.path.display().to_string());
            args.push("kafka.brokers".into());
            args.push(module.brokers.into());
            if module.debug_command {
                args.push("kafka.debug-command".into());
                args.push("yes".into());
            }
        }
        let child = Command::new(binary)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut server = RedisServer {
            guard: Guard { child, dir },
            port,
        };
        server.wait_ready().then_some(server) // dropping `server` kills it
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.guard.exited() {
                return false; // port taken meanwhile: the caller retries on another port
            }
            if let Ok(mut conn) = self.try_conn() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?
            .get_connection_with_timeout(Duration::from_secs(5))
    }

    pub fn conn(&self) -> redis::Connection {
        self.try_conn()
            .unwrap_or_else(|e| panic!("connect to redis on port {}: {e}", self.port))
    }

    pub fn pid(&self) -> u32 {
        self.guard.child.id()
    }

    /// Peak resident set size of the process so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    pub fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    /// Sets the peak RSS back to the current RSS (`clear_refs` 5), so the next peak is of
    /// what follows.
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .expect("write /proc/<redis pid>/clear_refs");
    }

    fn status_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<redis pid>/status");
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"));
        kib / 1024.0
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.guard.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}
