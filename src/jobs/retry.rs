//! Which failures are worth another attempt, and when.
//!
//! Transient: the network (connection refused or reset, timeouts, DNS, HTTP 408/429/5xx), a git
//! remote that cannot be reached, a repository or ref that is locked by another writer, a busy
//! store, and anything a step marks [`Transient`] itself (every push failure). Everything else is
//! permanent: retrying a bad configuration or a hostile payload only delays the report. The delay
//! doubles from `backoff_initial_ms` up to `backoff_max_ms`.

use std::time::Duration;

use super::JobsConfig;

/// An error a step knows to be transient.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

/// A reason to stop without an error: the job is `ignored`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Ignore(pub String);

pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        if e.downcast_ref::<Transient>().is_some() {
            return true;
        }
        if let Some(g) = e.downcast_ref::<git2::Error>() {
            return git_transient(g);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_transient(io);
        }
        if let Some(u) = e.downcast_ref::<ureq::Error>() {
            return match u {
                ureq::Error::Status(code, _) => matches!(code, 408 | 425 | 429 | 500..=599),
                ureq::Error::Transport(_) => true,
            };
        }
        if let Some(s) = e.downcast_ref::<rusqlite::Error>() {
            return matches!(
                s.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
        }
        false
    })
}

pub fn git_transient(e: &git2::Error) -> bool {
    use git2::{ErrorClass, ErrorCode};
    if matches!(e.code(), ErrorCode::Locked) {
        return true;
    }
    if matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Ssh | ErrorClass::Http
    ) {
        return true;
    }
    let msg = e.message().to_ascii_lowercase();
    msg.contains("failed to lock") || msg.contains(".lock") || msg.contains("locked")
}

fn io_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | AddrNotAvailable
            | BrokenPipe
            | TimedOut
            | Interrupted
            | WouldBlock
            | UnexpectedEof
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
            | ResourceBusy
    )
}

/// Delay before attempt `attempts + 1`, after `attempts` failed attempts (1-based).
pub fn backoff(cfg: &JobsConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let ms = cfg
        .backoff_initial_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.backoff_max_ms);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = JobsConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            ..Default::default()
        };
        let d: Vec<u64> = (1..=6)
            .map(|a| backoff(&cfg, a).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&cfg, 1000).as_millis(), 1000);
    }

    #[test]
    fn classification() {
        let locked = git2::Error::new(
            git2::ErrorCode::Locked,
            git2::ErrorClass::Reference,
            "failed to lock file",
        );
        assert!(is_transient(
            &anyhow::Error::new(locked).context("claiming the issue ref")
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_transient(&anyhow::Error::new(refused)));
        assert!(is_transient(&anyhow::Error::new(Transient("push".into()))));
        assert!(!is_transient(&anyhow::anyhow!("cannot tell the language")));
        let notfound = git2::Error::new(
            git2::ErrorCode::NotFound,
            git2::ErrorClass::Reference,
            "no such ref",
        );
        assert!(!is_transient(&anyhow::Error::new(notfound)));
    }
}
