//! What the Rust examples share: reading their flags (`--help`, a one-line error that names
//! the flag, exit status 2 for a usage error and 1 for a failure) and a logger that prints the
//! library's `log` output as `RUST_LOG` asks.
//!
//! Each example includes this file with `#[path = "common/cli.rs"] mod cli;` (Cargo does
//! not build a subfolder of `examples/` without a `main.rs` as an example of its own).

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;

/// Why the flags were not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `--help` or `-h`: the usage goes to stdout and the program exits 0.
    Help,
    /// A usage error, in one line (`--port: not a port number: abc`): exit status 2.
    Usage(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => f.write_str("--help"),
            Self::Usage(why) => f.write_str(why),
        }
    }
}

/// A usage error.
pub(crate) fn usage(why: impl Into<String>) -> Stop {
    Stop::Usage(why.into())
}

/// The command line, read one argument at a time.
#[derive(Debug)]
pub(crate) struct Flags {
    args: std::vec::IntoIter<String>,
}

impl Flags {
    /// The arguments after the program's name.
    pub(crate) fn new(args: impl IntoIterator<Item = String>) -> Self {
        Self {
            args: args.into_iter().collect::<Vec<_>>().into_iter(),
        }
    }

    /// The next argument, `None` at the end; `--help` and `-h` stop with [`Stop::Help`].
    pub(crate) fn next(&mut self) -> Result<Option<String>, Stop> {
        match self.args.next() {
            Some(a) if a == "--help" || a == "-h" => Err(Stop::Help),
            next => Ok(next),
        }
    }

    /// The value that follows `flag`: the next argument, unless there is none or it is a
    /// flag itself (`--port --bind …`).
    pub(crate) fn value(&mut self, flag: &str) -> Result<String, Stop> {
        match self.args.as_slice().first() {
            Some(v) if !v.starts_with("--") => Ok(self.args.next().unwrap_or_default()),
            _ => Err(usage(format!("{flag}: needs a value"))),
        }
    }

    /// The value of `flag` read as a `T`; `what` names what it must be ("a number of
    /// milliseconds") in the error.
    pub(crate) fn parse<T: FromStr>(&mut self, flag: &str, what: &str) -> Result<T, Stop> {
        let value = self.value(flag)?;
        value
            .parse()
            .map_err(|_| usage(format!("{flag}: not {what}: {value}")))
    }

    /// The value of `flag` as a TCP port (0 to 65535; 0 picks a free one).
    pub(crate) fn port(&mut self, flag: &str) -> Result<u16, Stop> {
        self.parse(flag, "a port number")
    }

    /// The value of `flag` as a cap on connections held at once (`--max-connections`): a
    /// whole number from 1 to [`MAX_CONNECTIONS`].
    pub(crate) fn connections(&mut self, flag: &str) -> Result<usize, Stop> {
        let value = self.value(flag)?;
        match value.parse::<usize>() {
            Ok(n) if (1..=MAX_CONNECTIONS).contains(&n) => Ok(n),
            _ => Err(usage(format!(
                "{flag}: not a number of connections from 1 to {MAX_CONNECTIONS}: {value}"
            ))),
        }
    }

    /// The value of `flag` as an IP address to listen on (`localhost` is 127.0.0.1).
    pub(crate) fn ip(&mut self, flag: &str) -> Result<IpAddr, Stop> {
        let value = self.value(flag)?;
        if value == "localhost" {
            return Ok([127, 0, 0, 1].into());
        }
        value
            .parse()
            .map_err(|_| usage(format!("{flag}: not an IP address: {value}")))
    }
}

/// The most `--max-connections` takes: the highest default the library derives from the
/// descriptor limit.
pub(crate) const MAX_CONNECTIONS: usize = siocore::driver::MAX_DEFAULT_SESSIONS;

/// The error for an argument the program does not know.
pub(crate) fn unknown(arg: &str) -> Stop {
    if arg.starts_with('-') {
        usage(format!("unknown flag: {arg} (see --help)"))
    } else {
        usage(format!("unexpected argument: {arg} (see --help)"))
    }
}

/// Ends the program on `stop`: `usage_text` on stdout and status 0 for `--help`, else
/// `<program>: <why>` on stderr and status 2.
pub(crate) fn exit(program: &str, usage_text: &str, stop: Stop) -> ! {
    match stop {
        Stop::Help => {
            println!("{usage_text}");
            std::process::exit(0)
        }
        Stop::Usage(why) => {
            eprintln!("{program}: {why}");
            std::process::exit(2)
        }
    }
}

/// Ends the program on a failure: `<program>: <why>` on stderr and status 1.
pub(crate) fn fail(program: &str, why: impl fmt::Display) -> ! {
    eprintln!("{program}: {why}");
    std::process::exit(1)
}

/// An I/O error as a person reads it: "Address already in use", without the
/// " (os error 98)" the standard library appends.
pub(crate) fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// What `listen` on `addr` failing means: the address in use, not on this machine or not
/// allowed says "cannot listen on <addr>: <why>"; another error (a refused setting) is
/// given as it is.
pub(crate) fn listen_error(addr: SocketAddr, e: &io::Error) -> String {
    use io::ErrorKind::{AddrInUse, AddrNotAvailable, PermissionDenied};
    match e.kind() {
        AddrInUse | AddrNotAvailable | PermissionDenied => {
            format!("cannot listen on {addr}: {}", plain(e))
        }
        _ => plain(e),
    }
}

/// The logger of [`init_logging`]: a default level and levels for targets.
#[derive(Debug)]
struct Filter {
    default: log::LevelFilter,
    /// `(target, level)`: the longest target that is the record's or a parent module of it
    /// wins.
    targets: Vec<(String, log::LevelFilter)>,
}

impl Filter {
    /// Reads `RUST_LOG`'s syntax: items separated by commas, each a level (`debug`), a
    /// `target=level` or a bare target (every level). Unset or empty: `error`.
    fn parse(spec: &str) -> (Self, Vec<String>) {
        let mut filter = Self {
            default: log::LevelFilter::Error,
            targets: Vec::new(),
        };
        let mut ignored = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((target, level)) => match level.parse() {
                    Ok(level) => filter.targets.push((target.to_string(), level)),
                    Err(_) => ignored.push(item.to_string()),
                },
                None => match item.parse() {
                    Ok(level) => filter.default = level,
                    Err(_) => filter
                        .targets
                        .push((item.to_string(), log::LevelFilter::Trace)),
                },
            }
        }
        (filter, ignored)
    }

    fn level(&self, target: &str) -> log::LevelFilter {
        self.targets
            .iter()
            .filter(|(t, _)| {
                target == t
                    || target
                        .strip_prefix(t.as_str())
                        .is_some_and(|rest| rest.starts_with("::"))
            })
            .max_by_key(|(t, _)| t.len())
            .map_or(self.default, |(_, level)| *level)
    }

    fn max(&self) -> log::LevelFilter {
        self.targets
            .iter()
            .map(|(_, level)| *level)
            .fold(self.default, Ord::max)
    }
}

static FILTER: OnceLock<Filter> = OnceLock::new();

#[derive(Debug)]
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        FILTER
            .get()
            .is_some_and(|f| m.level() <= f.level(m.target()))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs a logger that writes the `log` records `RUST_LOG` asks for to stderr, one line
/// each (`[DEBUG siocore::driver] stream 0 from 127.0.0.1:50412`): `RUST_LOG=debug` for
/// everything down to debug, `RUST_LOG=siocore::driver=trace,warn` for one module's
/// detail. Only errors when it is unset.
pub(crate) fn init_logging() {
    let (filter, ignored) = Filter::parse(&std::env::var("RUST_LOG").unwrap_or_default());
    for item in ignored {
        eprintln!("RUST_LOG: not a level: {item}");
    }
    let max = filter.max();
    if FILTER.set(filter).is_ok() && log::set_logger(&Logger).is_ok() {
        log::set_max_level(max);
    }
}

/// The loop for `client`: TLS for an `https://` or `wss://` URL, trusting the CAs of the
/// PEM file `ca`, or Mozilla's roots.
#[cfg(feature = "tls")]
pub(crate) fn client_driver<'a>(
    client: siocore::client::Client<'a>,
    server: &siocore::driver::ServerUrl,
    ca: Option<&str>,
) -> Result<siocore::driver::ClientDriver<'a>, Box<dyn std::error::Error>> {
    use siocore::driver::ClientTls;
    let driver = siocore::driver::ClientDriver::new(client, server.addr)?;
    if !server.tls {
        return Ok(driver);
    }
    let trust = match ca {
        Some(file) => ClientTls::from_ca_file(file).map_err(|e| format!("--ca: {e}"))?,
        None => ClientTls::webpki_roots(),
    };
    Ok(driver.tls(trust, &server.name)?)
}

#[cfg(not(feature = "tls"))]
pub(crate) fn client_driver<'a>(
    client: siocore::client::Client<'a>,
    server: &siocore::driver::ServerUrl,
    ca: Option<&str>,
) -> Result<siocore::driver::ClientDriver<'a>, Box<dyn std::error::Error>> {
    if ca.is_some() {
        return Err("--ca needs the feature tls (cargo run --features tls ...)".into());
    }
    Ok(siocore::driver::ClientDriver::new(client, server.addr)?)
}
