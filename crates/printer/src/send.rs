//! The I/O edge: hand a job to a network printer over raw TCP (port 9100,
//! "JetDirect"). Blocking std sockets: a print is one short connection, and
//! the caller decides which thread waits for it.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use thiserror::Error;

/// The raw-printing port almost every network receipt printer listens on.
pub const DEFAULT_PORT: u16 = 9100;

/// Why a job did not reach the printer. Each message is a sentence that
/// support staff can read out to a cashier; [`PrintError::retryable`] says
/// whether trying again (after checking the printer) can help.
#[derive(Debug, Error)]
pub enum PrintError {
    #[error(
        "printer address \"{addr}\" is not host:port ({reason}); it should look like 192.168.1.50:9100"
    )]
    InvalidAddress { addr: String, reason: &'static str },
    #[error("the print timeout must be longer than zero")]
    ZeroTimeout,
    #[error("printer {addr} could not be found: the name does not resolve ({cause})")]
    Resolve { addr: String, cause: io::Error },
    #[error(
        "printer {addr} refused the connection (connection refused): check that it is switched on and that the port is right (usually 9100)"
    )]
    Refused { addr: String },
    #[error("printer {addr} did not answer within {}: check that it is switched on and on the network", human(*timeout))]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("could not connect to printer {addr}: {cause}")]
    Connect { addr: String, cause: io::Error },
    #[error(
        "printer {addr} stopped taking data within {} ({sent} of {total} bytes sent): check paper, cover and for a stuck job, then print again",
        human(*timeout)
    )]
    WriteTimeout {
        addr: String,
        timeout: Duration,
        sent: usize,
        total: usize,
    },
    #[error(
        "the connection to printer {addr} broke while printing ({sent} of {total} bytes sent): {cause}"
    )]
    Write {
        addr: String,
        sent: usize,
        total: usize,
        cause: io::Error,
    },
}

impl PrintError {
    /// `false` when only a configuration change can help (a malformed
    /// address or a zero timeout); `true` for everything the printer or the
    /// network might recover from.
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            PrintError::InvalidAddress { .. } | PrintError::ZeroTimeout
        )
    }
}

/// Sends `bytes` to the printer at `addr` (`host:port`, IPv6 in brackets)
/// and returns once every byte is handed to the operating system and the
/// sending side is shut down (`FIN`), which printers take as end of job.
///
/// `timeout` bounds the whole connect-and-write, not each step, so a stuck
/// printer (paper out, cover open, another job hung) costs at most about
/// `timeout`. The name lookup is not covered (the OS resolver has its own
/// limit); use an IP address for printers, as installers usually do.
/// `Ok` means the printer's TCP stack took the bytes, not that paper came
/// out: raw port 9100 has no acknowledgement. Never panics.
pub fn send(addr: &str, bytes: &[u8], timeout: Duration) -> Result<(), PrintError> {
    let addr = addr.trim();
    validate(addr)?;
    if timeout.is_zero() {
        return Err(PrintError::ZeroTimeout);
    }
    let deadline = Instant::now() + timeout;
    let name = addr.to_string();

    let targets: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|cause| PrintError::Resolve {
            addr: name.clone(),
            cause,
        })?
        .collect();
    if targets.is_empty() {
        return Err(PrintError::Resolve {
            addr: name,
            cause: io::Error::other("no address found"),
        });
    }

    let mut stream = connect(&name, &targets, deadline, timeout)?;
    let _ = stream.set_nodelay(true);

    let total = bytes.len();
    let mut sent = 0;
    let write_err = |sent: usize, cause: io::Error| match cause.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => PrintError::WriteTimeout {
            addr: name.clone(),
            timeout,
            sent,
            total,
        },
        _ => PrintError::Write {
            addr: name.clone(),
            sent,
            total,
            cause,
        },
    };
    while let Some(rest) = bytes.get(sent..).filter(|r| !r.is_empty()) {
        let Some(left) = remaining(deadline) else {
            return Err(write_err(sent, io::ErrorKind::TimedOut.into()));
        };
        stream
            .set_write_timeout(Some(left))
            .map_err(|e| write_err(sent, e))?;
        match stream.write(rest) {
            Ok(0) => return Err(write_err(sent, io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(write_err(sent, e)),
        }
    }
    stream.flush().map_err(|e| write_err(sent, e))?;
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| write_err(sent, e))?;
    Ok(())
}

fn connect(
    name: &str,
    targets: &[SocketAddr],
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, PrintError> {
    let mut last = io::Error::from(io::ErrorKind::TimedOut);
    for target in targets {
        let Some(left) = remaining(deadline) else {
            break;
        };
        match TcpStream::connect_timeout(target, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    let addr = name.to_string();
    Err(match last.kind() {
        io::ErrorKind::ConnectionRefused => PrintError::Refused { addr },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            PrintError::ConnectTimeout { addr, timeout }
        }
        _ => PrintError::Connect { addr, cause: last },
    })
}

/// Time left before `deadline`, at least 1 ms (a zero socket timeout means
/// "wait forever" on some platforms); `None` once it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| left.max(Duration::from_millis(1)))
}

fn validate(addr: &str) -> Result<(), PrintError> {
    let bad = |reason| {
        Err(PrintError::InvalidAddress {
            addr: addr.to_string(),
            reason,
        })
    };
    if addr.is_empty() {
        return bad("the address is empty");
    }
    if addr.contains('/') || addr.contains(char::is_whitespace) {
        return bad("only host:port is expected, without http://, a path or spaces");
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return bad("the port is missing");
    };
    if host.is_empty() || host == "[]" {
        return bad("the host is missing");
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return bad("an IPv6 address must be in brackets, e.g. [fd00::5]:9100");
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(()),
        _ => bad("the port must be a number from 1 to 65535"),
    }
}

/// `3 s`, `1.5 s`, `250 ms`: the way support staff say it.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_before_any_network() {
        for (addr, why) in [
            ("", "empty"),
            ("   ", "empty"),
            ("10.0.0.5", "port is missing"),
            (":9100", "host is missing"),
            ("10.0.0.5:", "port must be"),
            ("10.0.0.5:0", "port must be"),
            ("10.0.0.5:99999", "port must be"),
            ("10.0.0.5:print", "port must be"),
            ("http://10.0.0.5:9100", "without http://"),
            ("fd00::5:9100", "brackets"),
        ] {
            match validate(addr.trim()) {
                Err(e @ PrintError::InvalidAddress { .. }) => {
                    assert!(e.to_string().contains(why), "{addr:?}: {e}");
                    assert!(!e.retryable());
                }
                other => panic!("{addr:?} should be invalid, got {other:?}"),
            }
        }
        for addr in ["10.0.0.5:9100", "printer.local:9100", "[::1]:9100"] {
            assert!(validate(addr).is_ok(), "{addr}");
        }
    }

    #[test]
    fn messages_read_like_sentences() {
        let e = PrintError::ConnectTimeout {
            addr: "10.0.0.5:9100".into(),
            timeout: Duration::from_secs(3),
        };
        assert!(
            e.to_string()
                .starts_with("printer 10.0.0.5:9100 did not answer within 3 s"),
            "{e}"
        );
        assert!(e.retryable());
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }
}
