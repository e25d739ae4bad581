//! TLS and SASL in front of Tansu for tests: certificates made with the `openssl` CLI in a
//! per-test directory, Debian's `stunnel4` terminating TLS (Tansu 0.6.0 parses `--cert/--key`
//! but never uses its acceptor), and Tansu's own SASL (`--authentication`, SCRAM users made
//! with `tansu user create`).
//!
//! A `SecureKafka` is two Tansu processes on one SQLite file: the secured one, which the module
//! connects to (through stunnel when TLS is on, advertising stunnel's port), and a plaintext
//! one without authentication, advertising its own port, through which the test produces,
//! reads and creates topics and users (Tansu's `user create` cannot log in itself).

use super::{free_port, port_open, scratch_dir, tansu_bin};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY_PASSWORD: &str = "client-key-pw-3b1f";

/// Files made by `Certs::generate`.
pub struct Certs {
    pub dir: PathBuf,
    /// The CA the module trusts.
    pub ca: PathBuf,
    /// A server certificate for 127.0.0.1 and localhost signed by `ca`, and its key.
    pub server: PathBuf,
    pub server_key: PathBuf,
    /// A server certificate for the same names signed by a CA nobody trusts.
    pub untrusted_server: PathBuf,
    /// A client certificate signed by `ca`, its key encrypted with KEY_PASSWORD.
    pub client: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    pub fn generate(dir: &Path) -> Certs {
        std::fs::create_dir_all(dir).expect("cert dir");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("ext file");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for (ca, cn) in [("ca", "redis-kafka test CA"), ("evil", "untrusted CA")] {
            let subject = format!("/CN={cn}");
            let (key, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
            let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &pem, "-subj", &subject]);
            openssl(dir, &args);
        }
        for (name, cn) in [("server", "localhost"), ("client", "redis-kafka")] {
            let subject = format!("/CN={cn}");
            let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
            let mut args = vec!["req", "-nodes"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
            openssl(dir, &args);
        }
        let sign = |csr: &str, ca: &str, out: &str, ext: bool| {
            let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
            let mut args = vec![
                "x509",
                "-req",
                "-in",
                csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                out,
            ];
            if ext {
                args.extend(["-extfile", "server.ext"]);
            }
            openssl(dir, &args);
        };
        sign("server.csr", "ca", "server.pem", true);
        sign("server.csr", "evil", "server-untrusted.pem", true);
        sign("client.csr", "ca", "client.pem", false);
        let pass = format!("pass:{KEY_PASSWORD}");
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                "client.key",
                "-aes256",
                "-passout",
                &pass,
                "-out",
                "client-encrypted.key",
            ],
        );
        Certs {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            server: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            untrusted_server: dir.join("server-untrusted.pem"),
            client: dir.join("client.pem"),
            client_key: dir.join("client-encrypted.key"),
        }
    }
}

fn wait_port(child: &mut Child, port: u16, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if port_open(port) {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("{what} exited: {status}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A stunnel TLS terminator on `port` forwarding to `backend`.
pub struct Stunnel {
    child: Option<Child>,
    pub port: u16,
    backend: u16,
    dir: PathBuf,
}

fn stunnel_bin() -> &'static str {
    if Command::new("stunnel4")
        .arg("-version")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_ok()
    {
        "stunnel4"
    } else {
        "stunnel"
    }
}

impl Stunnel {
    /// Serves `cert`/`key`; with `client_ca`, requires a client certificate signed by it.
    pub fn start(
        dir: &Path,
        port: u16,
        backend: u16,
        cert: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Stunnel {
        let mut stunnel = Stunnel {
            child: None,
            port,
            backend,
            dir: dir.to_path_buf(),
        };
        stunnel.serve(cert, key, client_ca);
        stunnel
    }

    /// (Re)starts on the same port with this certificate and client policy.
    pub fn serve(&mut self, cert: &Path, key: &Path, client_ca: Option<&Path>) {
        stop(&mut self.child);
        let mut conf = format!(
            "foreground = yes\npid =\ndebug = 4\noutput = {}\n[kafka]\naccept = 127.0.0.1:{}\nconnect = 127.0.0.1:{}\ncert = {}\nkey = {}\n",
            self.dir.join("stunnel.log").display(),
            self.port,
            self.backend,
            cert.display(),
            key.display()
        );
        if let Some(ca) = client_ca {
            conf.push_str(&format!(
                "requireCert = yes\nverifyChain = yes\nCAfile = {}\n",
                ca.display()
            ));
        }
        let path = self.dir.join("stunnel.conf");
        std::fs::write(&path, conf).expect("stunnel conf");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new(stunnel_bin())
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn stunnel4 (apt-get install stunnel4)");
            if wait_port(&mut child, self.port, "stunnel") {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            // The old listener's port may still be held for a moment after a restart.
            assert!(Instant::now() < deadline, "stunnel did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// How the module reaches the broker.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Off,
    /// TLS with a server certificate signed by the trusted CA.
    On,
    /// TLS, and stunnel requires a client certificate signed by the trusted CA.
    Mutual,
    /// TLS with a server certificate no trusted CA signed.
    Untrusted,
}

/// A Tansu behind TLS and/or SASL, with a plaintext sibling for the test's own traffic.
pub struct SecureKafka {
    secured: Option<Child>,
    plain: Option<Child>,
    pub stunnel: Option<Stunnel>,
    pub certs: Certs,
    /// Where the module connects (stunnel, or the secured Tansu itself without TLS).
    pub port: u16,
    /// The plaintext, unauthenticated sibling: for producing, reading, topics and users.
    pub plain_port: u16,
    pub dir: PathBuf,
}

impl SecureKafka {
    pub fn start(tls: Tls, authentication: bool) -> SecureKafka {
        let plain_port = free_port();
        let dir = scratch_dir("secure-kafka", plain_port);
        let certs = Certs::generate(&dir.join("certs"));
        let spawn = |listen: u16, advertise: u16, auth: bool, log: &str| -> Child {
            let log = std::fs::File::create(dir.join(log)).expect("tansu log");
            let mut args = vec![
                "broker".to_string(),
                "--listener-url".to_string(),
                format!("tcp://127.0.0.1:{listen}"),
                "--advertised-listener-url".to_string(),
                format!("tcp://127.0.0.1:{advertise}"),
                "--storage-engine".to_string(),
                "sqlite://tansu.db".to_string(),
            ];
            if auth {
                args.push("--authentication".to_string());
            }
            let mut child = Command::new(tansu_bin())
                .args(&args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn tansu");
            assert!(
                wait_port(&mut child, listen, "tansu"),
                "tansu did not start"
            );
            child
        };
        // The plaintext sibling first: it makes the database the other one opens.
        let plain = spawn(plain_port, plain_port, false, "tansu-plain.log");
        let (secured, port, stunnel) = if tls == Tls::Off {
            let port = free_port();
            (spawn(port, port, authentication, "tansu.log"), port, None)
        } else {
            let (backend, port) = (free_port(), free_port());
            let secured = spawn(backend, port, authentication, "tansu.log");
            let cert = if tls == Tls::Untrusted {
                &certs.untrusted_server
            } else {
                &certs.server
            };
            let client_ca = (tls == Tls::Mutual).then_some(certs.ca.as_path());
            let stunnel = Stunnel::start(&dir, port, backend, cert, &certs.server_key, client_ca);
            (secured, port, Some(stunnel))
        };
        SecureKafka {
            secured: Some(secured),
            plain: Some(plain),
            stunnel,
            certs,
            port,
            plain_port,
            dir,
        }
    }

    /// The broker list the module is given.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The plaintext sibling's broker list, for the test's own clients.
    pub fn plain_bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.plain_port)
    }

    /// Serves the trusted server certificate from now on (same port, same client policy).
    pub fn trust(&mut self) {
        let (cert, key) = (self.certs.server.clone(), self.certs.server_key.clone());
        if let Some(stunnel) = self.stunnel.as_mut() {
            stunnel.serve(&cert, &key, None);
        }
    }

    /// `tansu user create` (SCRAM-SHA-256 or -512: `mechanism` is scram256 or scram512).
    pub fn create_user(&self, name: &str, password: &str, mechanism: &str) {
        let out = Command::new(tansu_bin())
            .args([
                "user",
                "create",
                name,
                password,
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.plain_port),
                "--mechanism",
                mechanism,
            ])
            .output()
            .expect("tansu user create");
        assert!(
            out.status.success(),
            "tansu user create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `CONFIG` words for the module's clients: TLS as set up here (`mutual`: with the client
    /// certificate and its encrypted key).
    pub fn tls_config(&self, mutual: bool) -> Vec<String> {
        let mut words = vec![
            "CONFIG".to_string(),
            "ssl.ca.location".to_string(),
            self.certs.ca.display().to_string(),
        ];
        if mutual {
            for (name, value) in [
                (
                    "ssl.certificate.location",
                    self.certs.client.display().to_string(),
                ),
                (
                    "ssl.key.location",
                    self.certs.client_key.display().to_string(),
                ),
                ("ssl.key.password", KEY_PASSWORD.to_string()),
            ] {
                words.extend(["CONFIG".to_string(), name.to_string(), value]);
            }
        }
        words
    }
}

/// `CONFIG` words for SASL with `mechanism` over `protocol` (sasl_plaintext or sasl_ssl).
pub fn sasl_config(protocol: &str, mechanism: &str, user: &str, password: &str) -> Vec<String> {
    [
        ("security.protocol", protocol),
        ("sasl.mechanism", mechanism),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
    .iter()
    .flat_map(|(name, value)| ["CONFIG".to_string(), name.to_string(), value.to_string()])
    .collect()
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        self.stunnel = None;
        stop(&mut self.secured);
        stop(&mut self.plain);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
