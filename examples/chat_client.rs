//! A terminal client for the chat demo (`examples/chat.rs`): every line typed on stdin is
//! sent as `chat message`; every `chat message` received is printed on its own line, and
//! the demo's notices (`user connected`, `user disconnected`) as `* …` lines, and `* joined`
//! once the chat is joined (again after a reconnection). End of input closes the session
//! and exits.
//!
//! ```sh
//! cargo run --release --features mio --example chat -- --port 3000 &
//! cargo run --release --features mio --example chat_client -- http://127.0.0.1:3000
//! ```
//!
//! With the feature `tls` it takes `https://` URLs too, checked against Mozilla's roots, or
//! with `--ca FILE` (before the URL) against the certificate authorities of that PEM file
//! only: `chat_client --ca ca.pem https://127.0.0.1:3000`.
//!
//! `--help` prints the usage; a bad flag or URL ends it with one line that names it and
//! status 2. `RUST_LOG=debug` prints the library's log.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use siocore::client::{Args, Client, ClientConfig, Event};
use siocore::driver::{ServerUrl, Wake, os_seed};
use siocore::json::{JsonStr, write_str};

// Tests that include two examples include this twice.
#[path = "common/cli.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod cli;

const USAGE: &str = "\
usage: chat_client [--ca FILE] URL

A terminal client for the chat demo at URL (http://, or with the feature tls https://):
each line typed is sent as a chat message, the messages and notices of the chat are
printed; the end of input leaves.

  --ca FILE  trust the certificate authorities of this PEM file only (feature tls)
  --help     this text

RUST_LOG=debug (or info, warn, siocore::driver=trace, ...) prints the library's log.";

/// The server URL and the `--ca` file the arguments give.
fn from_args(
    args: impl IntoIterator<Item = String>,
) -> Result<(String, Option<String>), cli::Stop> {
    let mut flags = cli::Flags::new(args);
    let (mut url, mut ca) = (None, None);
    while let Some(arg) = flags.next()? {
        match arg.as_str() {
            "--ca" => ca = Some(flags.value(&arg)?),
            _ if arg.starts_with('-') || url.is_some() => return Err(cli::unknown(&arg)),
            _ => url = Some(arg),
        }
    }
    let url = url.ok_or_else(|| cli::usage("no server URL (see --help)"))?;
    Ok((url, ca))
}

fn main() -> ExitCode {
    cli::init_logging();
    let (url, ca) =
        from_args(std::env::args().skip(1)).unwrap_or_else(|e| cli::exit("chat_client", USAGE, e));
    let server = match ServerUrl::parse(&url) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            cli::exit("chat_client", USAGE, cli::usage(e.to_string()))
        }
        Err(e) => cli::fail("chat_client", format!("{url}: {}", cli::plain(&e))),
    };
    if ca.is_some() && !server.tls {
        let why = format!("--ca: only for https:// and wss:// URLs, not {url}");
        cli::exit("chat_client", USAGE, cli::usage(why));
    }
    match run(&server, ca.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The text of a JSON string argument, or the raw JSON when it is something else.
fn text(arg: &[u8]) -> String {
    match JsonStr::parse(arg) {
        Ok(s) => {
            let mut buf = vec![0u8; s.unescaped_len()];
            match s.unescape_into(&mut buf) {
                Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(_) => String::new(),
            }
        }
        Err(_) => String::from_utf8_lossy(arg).into_owned(),
    }
}

fn run(server: &ServerUrl, ca: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let config = ClientConfig::new(&server.host);
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, os_seed()?)?;
    let root = client.connect("/", None)?;
    let mut driver = cli::client_driver(client, server, ca)?;

    // Lines come from a reader thread; `None` is the end of input.
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let waker = driver.waker();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
            let _ = waker.wake();
        }
        let _ = tx.send(None);
        let _ = waker.wake();
    });

    let mut stdout = std::io::stdout();
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut refused: Option<String> = None;
    driver.run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, now| {
        match wake {
            Wake::Woken => {
                while let Ok(line) = rx.try_recv() {
                    let Some(line) = line else {
                        client.close(now);
                        return true;
                    };
                    let mut json = vec![0u8; line.len() * 6 + 2];
                    let n = write_str(&mut json, &line).unwrap_or(0);
                    if let Err(e) = client.emit(root, "chat message", Args::json(&json[..n])) {
                        eprintln!("chat_client: not sent: {e}");
                    }
                }
            }
            Wake::Event(Event::Message(m)) => {
                let arg = m.args;
                let _ = match m.name {
                    "chat message" => writeln!(stdout, "{}", text(arg)),
                    "user connected" => writeln!(stdout, "* user connected {}", text(arg)),
                    "user disconnected" => writeln!(stdout, "* user disconnected {}", text(arg)),
                    _ => Ok(()),
                };
                let _ = stdout.flush();
            }
            Wake::Event(Event::Connect { .. }) => {
                let _ = writeln!(stdout, "* joined");
                let _ = stdout.flush();
            }
            Wake::Event(Event::Closed { reason }) => eprintln!("chat_client: {reason}"),
            Wake::Event(Event::Reconnecting { attempt, delay_ms }) => {
                eprintln!("chat_client: reconnecting (attempt {attempt}) in {delay_ms} ms");
            }
            Wake::Event(_) => {}
            #[cfg(feature = "tls")]
            Wake::Tls(e) => {
                // A certificate it does not trust: retrying will not change that.
                if e.is_certificate() {
                    refused = Some(e.to_string());
                    return false;
                }
                eprintln!("chat_client: {e}");
            }
        }
        true
    })?;
    match refused {
        Some(why) => Err(why.into()),
        None => Ok(()),
    }
}
