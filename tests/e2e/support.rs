//! Shared harness of the end-to-end tests (the `support` module of `tests/e2e/`).
//!
//! It runs real processes on loopback: an `s3s-fs` store ([`S3Store`]) and `wrangler dev`
//! serving the already built bundle in `build/` ([`Worker`]), each on a free port below the OS's
//! ephemeral range ([`free_port`]; started again on fresh ports if another process takes one
//! first, [`start_on_fresh_ports`]), each in its own temporary directory and process group.
//! Dropping a handle kills the whole group and removes the directory, so tests leak neither
//! processes nor ports, even when they panic.
//! For identity-provider tests, [`JwksServer`] serves a JWK set on loopback from a thread.
//!
//! Prerequisites (what `make test` does first): `scripts/setup.sh` (s3s-fs, npm packages) and
//! `scripts/build.sh` (the bundle). The harness never builds (cargo would wait on its own
//! lock), and fails when the bundle is older than `src/` or `Cargo.toml`, so that a test never
//! passes against old code (`PRESIGN_E2E_ALLOW_STALE=1` turns that into a warning).
//!
//! ```ignore
//! use crate::support::{http, TestEnv};
//!
//! #[test]
//! #[ignore = "end-to-end: needs s3s-fs/wrangler, run by make test"]
//! fn healthz() {
//!     let env = TestEnv::start(&[("URL_TTL", "60")]);
//!     let res = http("GET", &env.worker.url("/healthz"), &[], b"");
//!     assert_eq!(res.status, 200, "{}", res.text());
//! }
//! ```
#![allow(dead_code)] // a harness: not every test uses every part (create_bucket, header_all)

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::os::unix::process::CommandExt as _;

/// How long `s3s-fs` may take to accept connections.
pub const S3_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `wrangler dev` may take to serve the worker (`GET /healthz` answered with JSON).
pub const WORKER_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Worker::logs_when`] waits for the worker's console lines to be written.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one HTTP exchange made by [`http`].
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The bucket [`TestEnv`] creates.
pub const DEFAULT_BUCKET: &str = "uploads";
/// The target name [`TestEnv`] configures (the worker's default target).
pub const DEFAULT_TARGET: &str = "uploads";

/// The repository root (where `Cargo.toml`, `wrangler.toml` and `build/` are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `n` random bytes from the OS, hex-encoded (for test secrets and names).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh Ed25519 key made by `openssl genpkey`: its PKCS#8 PEM, and its public key as
/// openssl derives it (the end of its SubjectPublicKeyInfo, RFC 8410: a fixed 12-byte prefix,
/// then the 32 bytes).
pub fn openssl_ed25519_key() -> (String, [u8; 32]) {
    let run = |args: &[&str], input: &[u8]| {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run openssl (needed for test keys): {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to openssl");
        let out = child.wait_with_output().expect("openssl's output");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let pem = run(&["genpkey", "-algorithm", "ED25519"], b"");
    let spki = run(&["pkey", "-pubout", "-outform", "DER"], &pem);
    let prefix = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    assert!(
        spki.len() == 44 && spki.starts_with(&prefix),
        "unexpected Ed25519 SubjectPublicKeyInfo: {spki:02x?}"
    );
    let public = spki[12..].try_into().expect("32 bytes");
    (String::from_utf8(pem).expect("PEM is text"), public)
}

/// Lowest port [`free_port`] hands out: above the registered ports services usually listen on.
pub const PORT_FLOOR: u16 = 20_000;
/// Where the OS's ephemeral range starts when `/proc` does not say (Linux's default; the BSDs
/// and macOS start theirs at 49152).
const DEFAULT_EPHEMERAL_LOW: u16 = 32_768;
/// How many times a process that lost its port to another one is started again on fresh ports.
pub const PORT_ATTEMPTS: u32 = 4;

/// The first port of the OS's ephemeral range: `/proc/sys/net/ipv4/ip_local_port_range` when
/// present, else [`DEFAULT_EPHEMERAL_LOW`].
fn ephemeral_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_LOW)
}

/// A random number from the OS.
fn random_u64() -> u64 {
    u64::from_str_radix(&random_hex(8), 16).expect("hex")
}

/// A free TCP port on 127.0.0.1 for a process to listen on, below the OS's ephemeral range
/// (from [`PORT_FLOOR`] up to the range's first port, read from `/proc`), picked at random and
/// checked by binding it.
///
/// Why not `bind(0)`: a port from the ephemeral range is free only until the OS hands it out
/// again, as the source port of an outgoing connection or to another process's `bind(0)`
/// (workerd and wrangler bind their internal ports so), which happens often on a busy machine
/// in the seconds before `wrangler dev` binds the port it was given. Below the range the OS
/// hands out nothing by itself.
///
/// Never handed out twice, not even by two test processes at once (two worktrees' test runs):
/// this process keeps a UDP socket bound to every port it handed out (TCP ports are not
/// affected by it), which makes the others skip that port, until it exits. A process that
/// still loses its port (to something else that listens at a fixed port) exits with "address
/// already in use"; [`start_on_fresh_ports`] starts it again on new ones. (A test binding the
/// port itself at once uses [`listener`].)
///
/// Where the ephemeral range leaves fewer than 1000 ports above [`PORT_FLOOR`] (a tuned
/// `ip_local_port_range`), ports come from 1024 to 65535 instead, with a warning: the OS may
/// then hand one of them out.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashMap<u16, UdpSocket>>> = OnceLock::new();
    static WARNED: AtomicBool = AtomicBool::new(false);
    let low = ephemeral_low();
    let (first, end) = if low >= PORT_FLOOR.saturating_add(1000) {
        (PORT_FLOOR, low)
    } else {
        if !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "warning: the ephemeral port range starts at {low}, leaving no room below it: \
                 test ports come from 1024-65535, which the OS may hand out too"
            );
        }
        (1024, u16::MAX)
    };
    let mut given = GIVEN
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let span = u64::from(end - first);
    for _ in 0..1000 {
        let port = first + u16::try_from(random_u64() % span).expect("below the span");
        if given.contains_key(&port) || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        // Held until this process exits: the reservation other test processes see.
        if let Ok(held) = UdpSocket::bind(("127.0.0.1", port)) {
            given.insert(port, held);
            return port;
        }
    }
    panic!("no free port found on 127.0.0.1 in {first}..{end}");
}

/// A listener on 127.0.0.1 at a port from [`free_port`], for a test's own server.
///
/// Binding right after [`free_port`] checked the port can fail for a moment: a socket stays
/// open after this process closed it while a child process that another test is starting
/// holds a copy of every descriptor, until it execs (seen in 2 of 2000 binds with children
/// being started all along). So it is tried on other ports.
pub fn listener() -> TcpListener {
    let mut last = None;
    for _ in 0..20 {
        match TcpListener::bind(("127.0.0.1", free_port())) {
            Ok(listener) => return listener,
            Err(e) => last = Some(e),
        }
    }
    panic!("cannot listen on 127.0.0.1: {last:?}");
}

/// Whether 127.0.0.1:`port` refuses connections within `timeout` (polled). A listener this
/// process closed can accept a connection for a moment after (see [`listener`]), and a
/// process that exits closes its ports as it goes.
pub fn port_closes(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while port_open(port) {
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
    true
}

/// Whether a process's output says that it could not listen at a port because something else
/// does (`EADDRINUSE`: node says "address already in use", workerd and Rust programs
/// "Address already in use").
pub fn lost_its_port(output: &str) -> bool {
    output.contains("EADDRINUSE")
        || output
            .to_ascii_lowercase()
            .contains("address already in use")
}

/// A process that exited because it could not listen at its port ([`lost_its_port`]).
pub struct PortLost(pub Process);

/// Calls `start` (which starts a process on ports from [`free_port`] and waits until it
/// serves) until it does not return [`PortLost`], at most [`PORT_ATTEMPTS`] times; then
/// panics with the last process's output.
pub fn start_on_fresh_ports<T>(mut start: impl FnMut() -> Result<T, PortLost>) -> T {
    let mut attempt = 1;
    loop {
        match start() {
            Ok(started) => return started,
            Err(PortLost(mut process)) => {
                if attempt == PORT_ATTEMPTS {
                    process.fail(&format!(
                        "lost its port to another process {PORT_ATTEMPTS} times in a row"
                    ));
                }
                eprintln!(
                    "note: {} lost its port to another process (attempt {attempt} of \
                     {PORT_ATTEMPTS}); starting it again on fresh ports",
                    process.name
                );
                attempt += 1;
            }
        }
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Whether a process of the process group `pgid` listens at TCP `port`, from `/proc` (the
/// listening sockets of `/proc/net/tcp{,6}`, then the open files of the group's processes);
/// `None` where `/proc/net` cannot be read.
fn group_listens(pgid: u32, port: u16) -> Option<bool> {
    let mut sockets = Vec::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            // sl local_address rem_address st ... inode: the port in hex, 0A is LISTEN.
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if fields.len() > 9 && fields[3] == "0A" && local_port == Some(port) {
                sockets.push(format!("socket:[{}]", fields[9]));
            }
        }
    }
    if !readable {
        return None;
    }
    if sockets.is_empty() {
        return Some(false);
    }
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue; // not a process, or gone
        };
        // `pid (comm) state ppid pgrp ...`; the command name may hold spaces and parentheses.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(pgid) {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let target = fs::read_link(fd.path()).unwrap_or_default();
            if sockets.iter().any(|s| target.as_os_str() == s.as_str()) {
                return Some(true);
            }
        }
    }
    Some(false)
}

// ---------------------------------------------------------------------------------------------
// Temporary directories and processes

/// A directory under the system temp dir, removed (recursively) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/presign-worker-<label>-<pid>-<n>-<random>`.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "presign-worker-{label}-{}-{n}-{}",
            std::process::id(),
            random_hex(4)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A child process started in its own process group, output captured in a log file. Drop
/// sends SIGTERM to the whole group, waits up to 5 s, then sends SIGKILL to whatever is left
/// (wrangler starts workerd and esbuild children).
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Spawns `cmd` (stdin closed, stdout and stderr appended to `log`) in a new process group.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Process {
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether this process (or one it started) listens at TCP `port` on loopback; where
    /// `/proc` does not tell, whether anything accepts connections there ([`port_open`]).
    /// Unlike [`port_open`], not fooled by another process that took the port.
    pub fn listens(&self, port: u16) -> bool {
        group_listens(self.pid(), port).unwrap_or_else(|| port_open(port))
    }

    /// Everything the process printed so far.
    pub fn logs(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// `None` while running, `Some(status text)` once exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// Waits until the process listens at `port` ([`Process::listens`]); panics with the
    /// process's output when it exits first or `timeout` passes.
    pub fn wait_listening(&mut self, port: u16, timeout: Duration) {
        self.await_port(port, timeout, false);
    }

    /// [`Process::wait_listening`], except that a process that exits because it lost its port
    /// ([`lost_its_port`]) comes back as [`PortLost`], to be started again on another port
    /// ([`start_on_fresh_ports`]).
    pub fn listening(mut self, port: u16, timeout: Duration) -> Result<Process, PortLost> {
        if self.await_port(port, timeout, true) {
            Ok(self)
        } else {
            Err(PortLost(self))
        }
    }

    /// Waits until the process listens at `port` ([`Process::listens`]): `true` then, `false`
    /// when it exited having lost its port and `may_lose` is set; panics with the process's
    /// output when it exits otherwise or `timeout` passes.
    fn await_port(&mut self, port: u16, timeout: Duration, may_lose: bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.listens(port) {
            if self.exited().is_some() {
                if may_lose && lost_its_port(&self.logs()) {
                    return false;
                }
                self.fail("exited before listening");
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "did not listen on 127.0.0.1:{port} within {timeout:?}"
                ));
            }
            sleep(Duration::from_millis(50));
        }
        true
    }

    /// Panics with the process's output.
    pub fn fail(&mut self, why: &str) -> ! {
        let status = self
            .exited()
            .map_or_else(|| "still running".to_owned(), |s| format!("exited: {s}"));
        panic!(
            "{} {why} ({status}).\n----- {} output -----\n{}\n----- end of {} output -----",
            self.name,
            self.name,
            tail(&self.logs(), 8000),
            self.name
        );
    }

    fn signal_group(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the whole process group (what `Drop` does).
    pub fn stop(&mut self) {
        if self.signal_group("-TERM") {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                // The group is gone when signal 0 finds nobody.
                if self.exited().is_some() && !self.signal_group("-0") {
                    break;
                }
                sleep(Duration::from_millis(50));
            }
        }
        if self.signal_group("-0") {
            self.signal_group("-KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// How long the CORS proxy may take to listen.
pub const PROXY_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `tests/browser/cors-proxy.mjs` (the README's bucket CORS rule for `origin`, in front of
/// the store at `upstream`, which has no CORS of its own) on a free port, output in `log`; waits
/// (at most [`PROXY_READY_TIMEOUT`]) until it listens. Returns the port and the process.
pub fn start_cors_proxy(upstream: &str, origin: &str, log: &Path) -> (u16, Process) {
    let root = repo_root();
    start_on_fresh_ports(|| {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.current_dir(&root)
            .arg(root.join("tests/browser/cors-proxy.mjs"))
            .args(["--port", &port.to_string()])
            .args(["--upstream", upstream])
            .args(["--origin", origin]);
        let proxy = Process::spawn("cors-proxy", cmd, log.to_path_buf());
        Ok((port, proxy.listening(port, PROXY_READY_TIMEOUT)?))
    })
}

// ---------------------------------------------------------------------------------------------
// s3s-fs

/// A running `s3s-fs` store on 127.0.0.1 with one bucket, in a temporary directory.
pub struct S3Store {
    /// Listening port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The bucket created at start.
    pub bucket: String,
    /// Access key id the store accepts.
    pub access_key: String,
    /// Secret key the store accepts.
    pub secret_key: String,
    /// The store's root directory (buckets are its sub-directories).
    pub root: PathBuf,
    process: Process,
    _dir: TempDir,
}

impl S3Store {
    /// Starts `s3s-fs` on a free port with `bucket` created and the given keys; waits (at
    /// most [`S3_READY_TIMEOUT`]) until it listens. Started again on another port
    /// when it lost its port to another process ([`start_on_fresh_ports`]).
    pub fn start(bucket: &str, access_key: &str, secret_key: &str) -> S3Store {
        let dir = TempDir::new("s3");
        let root = dir.path().join("data");
        fs::create_dir_all(root.join(bucket)).expect("create the bucket directory");
        let bin = find_s3s_fs();
        let (port, process) = start_on_fresh_ports(|| {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", access_key, "--secret-key", secret_key])
                .arg(&root)
                .env(
                    "RUST_LOG",
                    std::env::var("S3S_LOG").unwrap_or_else(|_| "warn".into()),
                );
            let process = Process::spawn("s3s-fs", cmd, dir.path().join("s3s-fs.log"));
            Ok((port, process.listening(port, S3_READY_TIMEOUT)?))
        });
        S3Store {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            root,
            process,
            _dir: dir,
        }
    }

    /// Starts a store with bucket [`DEFAULT_BUCKET`] and random keys.
    pub fn start_default() -> S3Store {
        let access_key = format!("AKTEST{}", random_hex(7).to_uppercase());
        S3Store::start(DEFAULT_BUCKET, &access_key, &random_hex(20))
    }

    /// Creates another bucket (a sub-directory of the root) and returns its path.
    pub fn create_bucket(&self, name: &str) -> PathBuf {
        let p = self.root.join(name);
        fs::create_dir_all(&p).expect("create a bucket directory");
        p
    }

    /// The directory of the start bucket.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.join(&self.bucket)
    }

    /// Where the object `key` of the start bucket is stored on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.bucket_dir().join(key)
    }

    /// The object's bytes, if stored.
    pub fn read_object(&self, key: &str) -> Option<Vec<u8>> {
        fs::read(self.object_path(key)).ok()
    }

    /// Everything s3s-fs printed so far.
    pub fn logs(&self) -> String {
        self.process.logs()
    }

    /// Stops the store (a store that is down, for the worker's own requests).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

fn find_s3s_fs() -> PathBuf {
    if let Some(p) = std::env::var_os("S3S_FS_BIN") {
        return PathBuf::from(p);
    }
    let in_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin"));
    in_path
        .into_iter()
        .chain(cargo_bin)
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "s3s-fs not found in PATH or ~/.cargo/bin: run scripts/setup.sh (make test does)"
            )
        })
}

// ---------------------------------------------------------------------------------------------
// wrangler dev

/// A running `wrangler dev` serving the built bundle on 127.0.0.1.
pub struct Worker {
    /// Listening port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    process: Process,
    _dir: TempDir,
}

impl Worker {
    /// Starts `wrangler dev` on a free port with the repository's `wrangler.toml`, the bundle
    /// in `build/`, and `vars` added to (and overriding) its `[vars]` (`--var NAME:VALUE`).
    /// `.dev.vars` is ignored (an empty `--env-file` replaces it), state goes to a temporary
    /// directory. Waits (at most [`WORKER_READY_TIMEOUT`]) until the worker itself answers
    /// `GET /healthz` (a JSON response of any status: a misconfigured worker answers 500).
    /// Started again on other ports when it lost one of its ports to another process
    /// ([`start_on_fresh_ports`]).
    pub fn start(vars: &[(&str, &str)]) -> Worker {
        Worker::start_in(vars, None, None)
    }

    /// [`Worker::start`] with a copy of the repository's `wrangler.toml` changed by `edit` (for
    /// what `--var` cannot say: a `[vars]` value that is not text). The copy lives in a
    /// temporary directory, with `main` made absolute.
    pub fn start_with_toml(vars: &[(&str, &str)], edit: &dyn Fn(&str) -> String) -> Worker {
        Worker::start_in(vars, None, Some(edit))
    }

    /// [`Worker::start`] with the local state (the Cache API's content, ...) kept in `state`
    /// instead of a temporary directory: a second worker started on the same directory sees
    /// what the first one stored, as a new isolate would in production.
    pub fn start_persisting(vars: &[(&str, &str)], state: &Path) -> Worker {
        Worker::start_in(vars, Some(state), None)
    }

    fn start_in(
        vars: &[(&str, &str)],
        state: Option<&Path>,
        edit: Option<&dyn Fn(&str) -> String>,
    ) -> Worker {
        let root = repo_root();
        let shim = root.join("build/worker/shim.mjs");
        if !shim.is_file() {
            panic!(
                "{} is missing: build the worker first with scripts/build.sh (make test does)",
                shim.display()
            );
        }
        check_not_stale(&root);
        let wrangler = root.join("node_modules/.bin/wrangler");
        if !wrangler.is_file() {
            panic!(
                "{} is missing: run scripts/setup.sh (make test does)",
                wrangler.display()
            );
        }
        start_on_fresh_ports(|| Worker::try_start(&wrangler, vars, state, edit))
    }

    /// One start of `wrangler dev` on fresh ports (see [`Worker::start`]): [`PortLost`] when it
    /// exited because another process took one of them.
    fn try_start(
        wrangler: &Path,
        vars: &[(&str, &str)],
        state: Option<&Path>,
        edit: Option<&dyn Fn(&str) -> String>,
    ) -> Result<Worker, PortLost> {
        let root = repo_root();
        let dir = TempDir::new("wrangler");
        let env_file = dir.path().join("empty.env");
        fs::write(&env_file, "").expect("write the empty env file");
        let config = match edit {
            None => root.join("wrangler.toml"),
            Some(edit) => {
                let toml =
                    fs::read_to_string(root.join("wrangler.toml")).expect("read wrangler.toml");
                let main = root.join("build/worker/shim.mjs");
                let toml = toml.replace(
                    "main = \"build/worker/shim.mjs\"",
                    &format!("main = {:?}", main.display().to_string()),
                );
                let path = dir.path().join("wrangler.toml");
                fs::write(&path, edit(&toml)).expect("write the changed wrangler.toml");
                path
            }
        };
        let port = free_port();
        let inspector_port = free_port();
        let mut cmd = Command::new(wrangler);
        cmd.current_dir(&root)
            .arg("dev")
            .arg("--config")
            .arg(&config)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector_port.to_string()])
            .arg("--persist-to")
            .arg(state.map_or_else(|| dir.path().join("state"), Path::to_path_buf))
            .arg("--env-file")
            .arg(&env_file)
            .arg("--show-interactive-dev-session=false");
        for (name, value) in vars {
            assert!(
                !name.is_empty() && !name.contains(':'),
                "bad variable name {name:?}"
            );
            cmd.arg("--var").arg(format!("{name}:{value}"));
        }
        cmd.env("WRANGLER_SEND_METRICS", "false")
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .env("CI", "true")
            .env_remove("CLOUDFLARE_INCLUDE_PROCESS_ENV")
            .env_remove("CLOUDFLARE_API_TOKEN")
            .env_remove("CLOUDFLARE_ACCOUNT_ID");
        let mut process = Process::spawn("wrangler dev", cmd, dir.path().join("wrangler.log"));
        let base_url = format!("http://127.0.0.1:{port}");
        let health = format!("{base_url}/healthz");
        let deadline = Instant::now() + WORKER_READY_TIMEOUT;
        loop {
            // Its own port, not one another process took (which it would answer for).
            if process.listens(port) {
                if let Ok(res) = try_http("GET", &health, &[], b"", Duration::from_secs(5)) {
                    // The worker itself answered (every answer of it is JSON; a misconfigured
                    // worker answers 500 `config_invalid`). wrangler's own error pages are not.
                    let json = res
                        .header("content-type")
                        .is_some_and(|v| v.starts_with("application/json"));
                    if json {
                        break;
                    }
                }
            }
            if process.exited().is_some() {
                if lost_its_port(&process.logs()) {
                    return Err(PortLost(process));
                }
                process.fail("exited before answering GET /healthz");
            }
            if Instant::now() > deadline {
                process.fail(&format!(
                    "did not answer GET {health} with JSON within {WORKER_READY_TIMEOUT:?}"
                ));
            }
            sleep(Duration::from_millis(250));
        }
        Ok(Worker {
            port,
            base_url,
            process,
            _dir: dir,
        })
    }

    /// `base_url` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Everything wrangler (and the worker's console) printed so far.
    ///
    /// The worker's console lines come a moment after its answers (workerd hands them to
    /// wrangler's node process, which formats each warning with esbuild before writing it),
    /// seconds later on a loaded machine: to check that something was logged, use
    /// [`Worker::logs_when`].
    pub fn logs(&self) -> String {
        self.process.logs()
    }

    /// [`Worker::logs`] once `logged` holds for them (polled until [`LOG_TIMEOUT`]), else the
    /// output at the deadline: the caller asserts `logged` (or more) on what it gets, and can
    /// check what must not be there on output that has caught up.
    pub fn logs_when(&self, logged: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LOG_TIMEOUT;
        loop {
            let logs = self.logs();
            if logged(&logs) || Instant::now() > deadline {
                return logs;
            }
            sleep(Duration::from_millis(50));
        }
    }
}

/// Fails when a source file is newer than the built bundle (only warns with
/// `PRESIGN_E2E_ALLOW_STALE` set): the harness never builds it itself (see the module docs).
fn check_not_stale(root: &Path) {
    fn newest(dir: &Path) -> Option<SystemTime> {
        let mut best = None;
        for entry in fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let t = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok().and_then(|m| m.modified().ok())
            };
            best = best.max(t);
        }
        best
    }
    let built = fs::metadata(root.join("build/worker/index.wasm"))
        .or_else(|_| fs::metadata(root.join("build/worker/shim.mjs")))
        .and_then(|m| m.modified())
        .ok();
    let src = [root.join("src"), root.join("Cargo.toml")]
        .iter()
        .filter_map(|p| {
            if p.is_dir() {
                newest(p)
            } else {
                fs::metadata(p).and_then(|m| m.modified()).ok()
            }
        })
        .max();
    if let (Some(built), Some(src)) = (built, src) {
        if src > built {
            let msg = "the worker bundle in build/ is older than src/ or Cargo.toml: \
                       these end-to-end tests would test the old code; run scripts/build.sh \
                       (make test does)";
            if std::env::var_os("PRESIGN_E2E_ALLOW_STALE").is_some() {
                eprintln!("warning: {msg} (PRESIGN_E2E_ALLOW_STALE is set: going on)");
            } else {
                panic!("{msg}, or set PRESIGN_E2E_ALLOW_STALE=1 to go on anyway");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Store + worker together

/// An `s3s-fs` store and a `wrangler dev` worker configured to sign for it.
///
/// The worker gets target [`DEFAULT_TARGET`] (kind `custom`, path-style, the store's endpoint
/// and bucket), the store's keys as `S3_ACCESS_KEY_ID` / `S3_SECRET_ACCESS_KEY`, and a random
/// `JWT_SECRET`; then `extra_vars`, which override any of those.
pub struct TestEnv {
    /// The worker (dropped first).
    pub worker: Worker,
    /// The store.
    pub store: S3Store,
    /// The HMAC secret the worker verifies tokens with (`JWT_SECRET`).
    pub jwt_secret: String,
}

impl TestEnv {
    /// Starts a store and a worker (see the type's documentation).
    pub fn start(extra_vars: &[(&str, &str)]) -> TestEnv {
        TestEnv::start_with_store(S3Store::start_default(), extra_vars)
    }

    /// [`TestEnv::start`] with a store already started (so that what sits in front of it, a
    /// CORS proxy, can be started before the worker that signs for it).
    pub fn start_with_store(store: S3Store, extra_vars: &[(&str, &str)]) -> TestEnv {
        TestEnv::start_in(store, extra_vars, None)
    }

    /// [`TestEnv::start`] with `wrangler.toml` changed by `edit` (see
    /// [`Worker::start_with_toml`]).
    pub fn start_with_toml(extra_vars: &[(&str, &str)], edit: &dyn Fn(&str) -> String) -> TestEnv {
        TestEnv::start_in(S3Store::start_default(), extra_vars, Some(edit))
    }

    fn start_in(
        store: S3Store,
        extra_vars: &[(&str, &str)],
        edit: Option<&dyn Fn(&str) -> String>,
    ) -> TestEnv {
        let jwt_secret = random_hex(32);
        let mut vars = TestEnv::base_vars(&store, &jwt_secret);
        for (k, v) in extra_vars {
            vars.retain(|(name, _)| name != k);
            vars.push(((*k).to_owned(), (*v).to_owned()));
        }
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let worker = match edit {
            None => Worker::start(&refs),
            Some(edit) => Worker::start_with_toml(&refs, edit),
        };
        TestEnv {
            worker,
            store,
            jwt_secret,
        }
    }

    /// A [`TestEnv`] shared by the tests of one test binary that ask for the same
    /// `extra_vars`: started by the first caller, stopped when the last `Arc` is dropped (so
    /// nothing outlives the tests; tests that do not overlap in time each start their own).
    /// Tests sharing it must not depend on each other's objects in the store.
    pub fn shared(extra_vars: &[(&str, &str)]) -> Arc<TestEnv> {
        type Key = Vec<(String, String)>;
        static SHARED: OnceLock<Mutex<HashMap<Key, Weak<TestEnv>>>> = OnceLock::new();
        let key: Key = extra_vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        // Held while starting: concurrent callers wait for the same environment.
        let mut map = SHARED
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(env) = map.get(&key).and_then(Weak::upgrade) {
            return env;
        }
        let env = Arc::new(TestEnv::start(extra_vars));
        map.insert(key, Arc::downgrade(&env));
        env
    }

    /// The variables [`TestEnv::start`] gives the worker before `extra_vars`.
    pub fn base_vars(store: &S3Store, jwt_secret: &str) -> Vec<(String, String)> {
        let t = DEFAULT_TARGET.to_uppercase();
        [
            ("TARGETS".to_owned(), DEFAULT_TARGET.to_owned()),
            (format!("TARGET_{t}_KIND"), "custom".to_owned()),
            (format!("TARGET_{t}_BUCKET"), store.bucket.clone()),
            (format!("TARGET_{t}_ENDPOINT"), store.endpoint.clone()),
            ("S3_ACCESS_KEY_ID".to_owned(), store.access_key.clone()),
            ("S3_SECRET_ACCESS_KEY".to_owned(), store.secret_key.clone()),
            ("JWT_SECRET".to_owned(), jwt_secret.to_owned()),
        ]
        .into_iter()
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP client

/// A complete HTTP response (any status).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values, in order received.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the status and body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}); status {}, body: {}",
                self.status,
                self.text()
            )
        })
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .user_agent("presign-worker-tests")
        .build()
        .into()
}

/// One HTTP/1.1 exchange without redirects, proxies or retries; any status is returned.
/// An empty `body` on GET, HEAD, DELETE or OPTIONS sends no body at all; otherwise the body is
/// sent with its `content-length`. Panics on transport errors (connection refused, timeout).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    try_http(method, url, headers, body, HTTP_TIMEOUT)
        .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
}

/// [`http`] returning transport errors instead of panicking.
pub fn try_http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let no_body = body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS");
    let agent = agent(timeout);
    let result = if no_body {
        builder
            .body(())
            .map_err(|e| e.to_string())
            .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
    } else {
        builder
            .body(body)
            .map_err(|e| e.to_string())
            .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
    };
    let mut res = result?;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        res.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| format!("reading the body: {e}"))?
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// `GET url` with no headers.
pub fn get(url: &str) -> HttpResponse {
    http("GET", url, &[], b"")
}

/// `POST url` with a JSON body (`content-type: application/json`) plus `headers`.
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> HttpResponse {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http("POST", url, &all, body.to_string().as_bytes())
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A `multipart/form-data` body with `fields` in order and then `file` (an S3 POST upload);
/// returns the content type (with its boundary) and the body.
pub fn multipart_form(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----presign-worker-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// ---------------------------------------------------------------------------------------------
// A JWKS endpoint on loopback

/// The `Cache-Control` a [`JwksServer`] answers with unless told otherwise.
pub const JWKS_DEFAULT_CACHE_CONTROL: &str = "public, max-age=600";

/// A minimal HTTP/1.1 server on 127.0.0.1 serving one JWK set at `GET /jwks.json`, for the
/// worker's `ISSUER_<NAME>_JWKS_URL` (`http://` is accepted on loopback).
///
/// Every answer carries `connection: close`. `GET` (or `HEAD`) `/jwks.json` (a query string is
/// ignored) answers the current body ([`JwksServer::set_jwks`]) with `content-type:
/// application/json`, the current status ([`JwksServer::set_status`], 200 at start) and
/// `Cache-Control` ([`JwksServer::set_cache_control`], [`JWKS_DEFAULT_CACHE_CONTROL`] at start),
/// after the current delay ([`JwksServer::set_delay`], none at start); another path answers
/// 404, another method 405. [`JwksServer::fetches`] counts the requests
/// for `/jwks.json`. [`JwksServer::stop`] (and `Drop`) closes the port: connections are then
/// refused, as when the identity provider is down.
pub struct JwksServer {
    /// Listening port.
    pub port: u16,
    /// `http://127.0.0.1:<port>/jwks.json`.
    pub url: String,
    state: Arc<JwksState>,
    accept_thread: Mutex<Option<JoinHandle<()>>>,
}

struct JwksState {
    body: Mutex<String>,
    cache_control: Mutex<String>,
    status: AtomicU16,
    /// Milliseconds to wait before answering `/jwks.json`.
    delay_ms: AtomicU64,
    fetches: AtomicU64,
    requests: AtomicU64,
    stopped: AtomicBool,
}

impl JwksServer {
    /// How long one connection may take to send its request head.
    pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
    /// Largest request head read (larger ones get 431).
    pub const MAX_HEAD: usize = 16 * 1024;

    /// Starts serving `jwks` (the JSON text, served as given) on a free port.
    pub fn start(jwks: &str) -> JwksServer {
        let listener = listener();
        let port = listener
            .local_addr()
            .expect("the listener's address")
            .port();
        let state = Arc::new(JwksState {
            body: Mutex::new(jwks.to_owned()),
            cache_control: Mutex::new(JWKS_DEFAULT_CACHE_CONTROL.to_owned()),
            status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let accept_state = Arc::clone(&state);
        let accept_thread = std::thread::Builder::new()
            .name(format!("jwks-server-{port}"))
            .spawn(move || {
                for conn in listener.incoming() {
                    if accept_state.stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let conn_state = Arc::clone(&accept_state);
                    // One thread per connection: a client that connects and says nothing
                    // (a port probe) does not hold up the others.
                    let _ = std::thread::Builder::new()
                        .name("jwks-conn".to_owned())
                        .spawn(move || jwks_serve_connection(stream, &conn_state));
                }
                // `listener` is dropped here: the port refuses connections from now on.
            })
            .expect("spawn the JWKS server thread");
        JwksServer {
            port,
            url: format!("http://127.0.0.1:{port}/jwks.json"),
            state,
            accept_thread: Mutex::new(Some(accept_thread)),
        }
    }

    /// Replaces the served JWK set (the JSON text, served as given).
    pub fn set_jwks(&self, jwks: &str) {
        *self.state.body.lock().unwrap_or_else(|e| e.into_inner()) = jwks.to_owned();
    }

    /// The JWK set served now.
    pub fn jwks(&self) -> String {
        self.state
            .body
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the `Cache-Control` value of `/jwks.json` answers (an empty value sends none).
    pub fn set_cache_control(&self, value: &str) {
        *self
            .state
            .cache_control
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = value.to_owned();
    }

    /// Sets the status of `/jwks.json` answers (the body stays the JWK set).
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Makes `/jwks.json` answers wait `delay` after the request (a slow identity provider).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Requests for `/jwks.json` received so far (any method, any answer).
    pub fn fetches(&self) -> u64 {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Requests received so far, whatever their path (connections that sent no complete
    /// request head are not counted).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Whether [`JwksServer::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.state.stopped.load(Ordering::SeqCst)
    }

    /// Closes the port (later connections are refused) and waits for the accept loop to end.
    /// Requests already being answered are finished. Idempotent.
    pub fn stop(&self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        let thread = self
            .accept_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            // Wake the blocked accept(): the loop sees the flag and drops the listener.
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
            let _ = thread.join();
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one request head from `stream` and answers it (see [`JwksServer`]).
fn jwks_serve_connection(mut stream: TcpStream, state: &JwksState) {
    let _ = stream.set_read_timeout(Some(JwksServer::READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(JwksServer::READ_TIMEOUT));
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let complete = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break true;
        }
        if head.len() > JwksServer::MAX_HEAD {
            break false;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return, // closed (a port probe, the stop() wake-up) or too slow
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    if state.stopped.load(Ordering::SeqCst) {
        return;
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split('?').next().unwrap_or_default();
    let path = path
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(path);
    let mut cache_control = String::new();
    let (status, body) = if !complete {
        (431, r#"{"error":"request head too large"}"#.to_owned())
    } else if path != "/jwks.json" {
        state.requests.fetch_add(1, Ordering::SeqCst);
        (404, r#"{"error":"not found"}"#.to_owned())
    } else {
        state.requests.fetch_add(1, Ordering::SeqCst);
        state.fetches.fetch_add(1, Ordering::SeqCst);
        sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst)));
        if method == "GET" || method == "HEAD" {
            cache_control = state
                .cache_control
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let body = state.body.lock().unwrap_or_else(|e| e.into_inner()).clone();
            (state.status.load(Ordering::SeqCst), body)
        } else {
            (405, r#"{"error":"method not allowed"}"#.to_owned())
        }
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !cache_control.is_empty() {
        response.push_str(&format!("cache-control: {cache_control}\r\n"));
    }
    if status == 405 {
        response.push_str("allow: GET, HEAD\r\n");
    }
    response.push_str("connection: close\r\n\r\n");
    if method != "HEAD" {
        response.push_str(&body);
    }
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Drain what the client still sends (a request body) so that closing does not reset the
    // connection before the answer is read.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

// ---------------------------------------------------------------------------------------------
// The harness's own tests

#[test]
fn free_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() {
    let low = ephemeral_low();
    assert!(
        low >= PORT_FLOOR + 1000,
        "this machine's ephemeral range starts at {low}: no room below it"
    );
    let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
    let distinct: std::collections::HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ports.len(),
        "a port handed out twice: {ports:?}"
    );
    for &port in &ports {
        assert!(
            (PORT_FLOOR..low).contains(&port),
            "{port} is not in {PORT_FLOOR}..{low}"
        );
        // Free for the process it is meant for (TCP), reserved against other test processes
        // (UDP: what their free_port tries to bind).
        TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{port}: {e}"));
        assert!(
            UdpSocket::bind(("127.0.0.1", port)).is_err(),
            "{port} is not reserved"
        );
    }
}

#[test]
fn the_messages_of_a_lost_port_are_recognised() {
    for lost in [
        // node (the CORS proxy, the page servers)
        "Error: listen EADDRINUSE: address already in use 127.0.0.1:20001",
        // wrangler dev
        "✘ [ERROR] Address already in use (127.0.0.1:38123). Please check that you are not \
         already running a server on this address or specify a different port with --port.",
        // s3s-fs (Rust's io::Error)
        "Error: Address already in use (os error 98)",
    ] {
        assert!(lost_its_port(lost), "{lost}");
    }
    for other in [
        "Ready on http://127.0.0.1:20001",
        "Error: Permission denied (os error 13)",
    ] {
        assert!(!lost_its_port(other), "{other}");
    }
}

#[test]
#[ignore = "end-to-end: needs node; run by make test"]
fn a_process_that_lost_its_port_is_started_again_on_another() {
    let dir = TempDir::new("ports");
    // The first attempt gets a port that something else listens at already.
    let taken = TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let mut attempts = 0;
    let (port, mut process) = start_on_fresh_ports(|| {
        attempts += 1;
        let port = if attempts == 1 {
            taken_port
        } else {
            free_port()
        };
        let mut cmd = Command::new("node");
        cmd.arg("-e").arg(format!(
            "require('node:net').createServer().listen({port}, '127.0.0.1')"
        ));
        let log = dir.path().join(format!("node-{attempts}.log"));
        let process = Process::spawn("node", cmd, log);
        Ok((port, process.listening(port, Duration::from_secs(20))?))
    });
    assert_eq!(attempts, 2);
    assert_ne!(port, taken_port);
    assert!(port_open(port) && process.exited().is_none());
}
