//! What mariadbd writes on our stdin.
//!
//! MariaDB 10.x passes the joiner's `user:secret` to the donor in the
//! `WSREP_SST_OPT_REMOTE_AUTH` environment variable and writes nothing on
//! stdin. MariaDB 11.x (and Codership's builds) write `key=value` lines on
//! stdin instead and close it: `sst_user`, `sst_password`, and, when the
//! joiner published a user, `sst_remote_user` and `sst_remote_password`.
//! So the donor reads stdin only when the variable is absent, bounded in
//! size and time (stdin may be mariadbd's own, a terminal or a pipe that
//! never ends), and keeps only the remote pair. Values are never logged.

use std::io::Read;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// The most we read from stdin.
const MAX_INPUT: usize = 64 << 10;

/// How long we wait for mariadbd to write and close stdin.
const WAIT: Duration = Duration::from_secs(3);

/// The joiner's published user and secret, as mariadbd wrote them.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct RemoteAuth {
    pub(crate) user: Option<String>,
    pub(crate) secret: Option<String>,
}

impl std::fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAuth")
            .field("user", &self.user)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Reads stdin (not a terminal) until end of file, at most [`MAX_INPUT`]
/// bytes and [`WAIT`], and returns the remote pair found in it.
pub(crate) fn read_remote_auth() -> RemoteAuth {
    let stdin = std::io::stdin();
    if nix::unistd::isatty(stdin.as_fd()).unwrap_or(true) {
        return RemoteAuth::default();
    }
    let deadline = Instant::now() + WAIT;
    let mut input = Vec::new();
    let mut chunk = [0u8; 4096];
    while input.len() < MAX_INPUT {
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(n) if n > 0 => {}
            // Timed out, or stdin cannot be polled: take what we have.
            _ => break,
        }
        match stdin.lock().read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => input.extend_from_slice(&chunk[..n]),
        }
    }
    parse(&input)
}

/// The remote pair from `key=value` lines; other keys are ignored.
fn parse(input: &[u8]) -> RemoteAuth {
    let mut auth = RemoteAuth::default();
    for line in String::from_utf8_lossy(input).lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "sst_remote_user" => auth.user = Some(value),
            "sst_remote_password" => auth.secret = Some(value),
            _ => {}
        }
    }
    auth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_remote_pair_and_nothing_else() {
        let input = b"sst_user=wsrep.sst.261121_node1\nsst_password=p@ss\n\
                      sst_remote_user=localhost\nsst_remote_password=0f3a9c\nnoise\n";
        let auth = parse(input);
        assert_eq!(auth.user.as_deref(), Some("localhost"));
        assert_eq!(auth.secret.as_deref(), Some("0f3a9c"));
        assert!(
            !format!("{auth:?}").contains("0f3a9c"),
            "no secret in Debug"
        );
        assert_eq!(parse(b"sst_user=x\n"), RemoteAuth::default());
    }

    /// The lines of a captured stdin fixture after its `# ` header.
    fn captured(text: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with("# "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn what_a_real_11_8_donor_got() {
        // Captured from MariaDB 11.8 with our joiner publishing
        // `rsrsync:<secret>@host`: the pair arrives (password redacted).
        let body = captured(include_str!("../tests/fixtures/argv/11.8-donor.stdin.txt"));
        let auth = parse(body.as_bytes());
        assert_eq!(auth.user.as_deref(), Some("rsrsync"));
        assert_eq!(auth.secret.as_deref(), Some("<redacted>"));
        // Captured while the joiner published no user: then 11.8 passes no
        // remote pair at all (hence our joiner always publishes one).
        let body = captured(include_str!(
            "../tests/fixtures/argv/11.8-donor-nouser.stdin.txt"
        ));
        assert_eq!(parse(body.as_bytes()), RemoteAuth::default());
        assert!(body.contains("sst_user="), "{body}");
    }
}
