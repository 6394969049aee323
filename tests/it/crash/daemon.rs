//! One `convstore serve` process of the crash tests: started on a test database at a
//! free loopback port, ready once it sends READY=1 on its notify socket, stopped by
//! SIGKILL or SIGTERM. Its log goes to a file (a pipe nobody reads would fill up and
//! stall it), shown when something goes wrong.

use std::fs::File;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use convstore::db::DbTarget;

use crate::helpers::TestDb;

/// How long a start (open, migrate, bind) may take.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Where the daemons of one test run: their database and a folder for their logs and
/// notify sockets.
pub struct Site {
    dir: tempfile::TempDir,
    database: (&'static str, String),
    starts: u32,
}

impl Site {
    /// A site whose daemons use `db`: a SQLite file through `CONVERSATION_DATA_DIR`, a
    /// server database through `CONVERSATION_DB_URL`.
    pub fn new(db: &TestDb) -> Site {
        let database = match db.target() {
            DbTarget::Sqlite(file) => (
                "CONVERSATION_DATA_DIR",
                file.parent()
                    .expect("the SQLite file is in a folder")
                    .display()
                    .to_string(),
            ),
            DbTarget::Postgres(url) | DbTarget::Mysql(url) => ("CONVERSATION_DB_URL", url.clone()),
        };
        Site {
            dir: tempfile::tempdir().expect("temporary directory"),
            database,
            starts: 0,
        }
    }

    /// Starts a daemon and waits until it is ready.
    pub fn start(&mut self) -> Daemon {
        self.starts += 1;
        let n = self.starts;
        let port = free_port();
        let socket_path = self.dir.path().join(format!("notify-{n}.sock"));
        let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let log = self.dir.path().join(format!("daemon-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_convstore"))
            .arg("serve")
            .current_dir(self.dir.path())
            .env_remove("CONVERSATION_DB_URL")
            .env_remove("CONVERSATION_DATA_DIR")
            .env_remove("CONVSTORE_TOKEN")
            .env_remove("CONVSTORE_CONFIG")
            .env(self.database.0, &self.database.1)
            .env("CONVSTORE_BIND", format!("127.0.0.1:{port}"))
            .env("NOTIFY_SOCKET", &socket_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create the daemon's log"))
            .spawn()
            .expect("start convstore serve");
        let mut daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        daemon.wait_ready(&socket);
        daemon
    }
}

/// A running `convstore serve`; killed when dropped, so that a failing test leaves no
/// process behind.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl Daemon {
    /// Blocks until READY=1 arrives; fails if the process exits first or takes too long.
    fn wait_ready(&mut self, socket: &UnixDatagram) {
        let started = Instant::now();
        let mut buffer = [0u8; 1024];
        loop {
            if let Ok(n) = socket.recv(&mut buffer)
                && String::from_utf8_lossy(&buffer[..n])
                    .lines()
                    .any(|line| line == "READY=1")
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll convstore") {
                panic!("convstore exited before READY=1: {status}\n{}", self.log());
            }
            if started.elapsed() > START_LIMIT {
                panic!("no READY=1 within {START_LIMIT:?}\n{}", self.log());
            }
        }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL convstore");
        self.child.wait().expect("reap convstore");
    }

    /// Sends SIGTERM (graceful shutdown); see [`Daemon::wait_exit`].
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits (without blocking the test's runtime) for the process to exit, at most
    /// `limit`; fails the test if it does not.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll convstore") {
                return status;
            }
            if started.elapsed() > limit {
                panic!("convstore did not exit within {limit:?}\n{}", self.log());
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"))
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
