//! The mirror client: the contract the client interop tests check, on the mio driver.
//!
//! ```sh
//! cargo run --release --features mio --example mirror_client -- [--transport websocket|polling] http://127.0.0.1:3000
//! cargo run --release --features tls --example mirror_client -- [--ca FILE] https://127.0.0.1:3000
//! ```
//!
//! `--eio3` speaks Engine.IO v3 / Socket.IO protocol v4, to a socket.io 2.x server.
//! `--parser msgpack` speaks the msgpack parser, to a server started with
//! `socket.io-msgpack-parser`.
//!
//! It joins `/` and, for every event `E` it receives, emits `E-back` with the same
//! arguments (binary stays binary), except that an event asking for an acknowledgement is
//! acknowledged with the same arguments instead. When the server disconnects it from `/`
//! it exits with status 0. Lost connections are retried with the default backoff; when the
//! server runs connection state recovery, the client comes back into its session (the same
//! socket id and rooms) and mirrors the events it missed meanwhile, as any other.
//!
//! `https://` and `wss://` URLs (feature `tls`) are checked against Mozilla's roots, or with
//! `--ca FILE` against the certificate authorities of that PEM file only. A certificate the
//! client does not trust ends it with status 1 and the reason on stderr.
//!
//! `--help` prints the usage; a bad flag or URL ends it with one line that names it and
//! status 2. `RUST_LOG=debug` prints the library's log.

use std::process::ExitCode;

use siocore::client::{Args, Client, ClientConfig, DisconnectReason, Event, Parser, Transports};
use siocore::driver::{ServerUrl, Wake, os_seed};

// Tests that include two examples include this twice.
#[path = "common/cli.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod cli;

const USAGE: &str = "\
usage: mirror_client [--transport websocket|polling] [--eio3] [--parser json|msgpack]
                     [--ca FILE] URL

The client the interop tests check: joins / at URL (http://, ws://, or with the feature
tls https:// and wss://) and answers every event E with E-back, every ack request with an
ack; exits 0 when the server disconnects it.

  --transport T  websocket or polling only (default: polling, then the upgrade)
  --eio3         speak Engine.IO v3 to a socket.io 2.x server
  --parser P     json (the default) or msgpack (socket.io-msgpack-parser)
  --ca FILE      trust the certificate authorities of this PEM file only (feature tls)
  --help         this text

RUST_LOG=debug (or info, warn, siocore::driver=trace, ...) prints the library's log.";

/// The settings the arguments give.
#[derive(Debug)]
struct Options {
    url: String,
    transports: Transports,
    eio3: bool,
    parser: Parser,
    ca: Option<String>,
}

impl Options {
    fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, cli::Stop> {
        let mut flags = cli::Flags::new(args);
        let (mut url, mut transports, mut eio3, mut parser, mut ca) = (
            None,
            Transports::PollingThenWebSocket,
            false,
            Parser::Json,
            None,
        );
        while let Some(arg) = flags.next()? {
            match arg.as_str() {
                "--eio3" => eio3 = true,
                "--transport" => {
                    transports = match flags.value(&arg)?.as_str() {
                        "websocket" => Transports::WebSocket,
                        "polling" => Transports::Polling,
                        other => {
                            return Err(cli::usage(format!(
                                "--transport: websocket or polling, not {other}"
                            )));
                        }
                    }
                }
                "--parser" => {
                    parser = match flags.value(&arg)?.as_str() {
                        "json" => Parser::Json,
                        "msgpack" => Parser::MsgPack,
                        other => {
                            return Err(cli::usage(format!(
                                "--parser: json or msgpack, not {other}"
                            )));
                        }
                    }
                }
                "--ca" => ca = Some(flags.value(&arg)?),
                _ if arg.starts_with('-') || url.is_some() => return Err(cli::unknown(&arg)),
                _ => url = Some(arg),
            }
        }
        let url = url.ok_or_else(|| cli::usage("no server URL (see --help)"))?;
        Ok(Self {
            url,
            transports,
            eio3,
            parser,
            ca,
        })
    }
}

fn main() -> ExitCode {
    cli::init_logging();
    let o = Options::from_args(std::env::args().skip(1))
        .unwrap_or_else(|e| cli::exit("mirror_client", USAGE, e));
    let server = match ServerUrl::parse(&o.url) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            cli::exit("mirror_client", USAGE, cli::usage(e.to_string()))
        }
        Err(e) => cli::fail("mirror_client", format!("{}: {}", o.url, cli::plain(&e))),
    };
    if o.ca.is_some() && !server.tls {
        let why = format!("--ca: only for https:// and wss:// URLs, not {}", o.url);
        cli::exit("mirror_client", USAGE, cli::usage(why));
    }
    match run(&server, o.transports, o.eio3, o.parser, o.ca.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mirror_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    server: &ServerUrl,
    transports: Transports,
    eio3: bool,
    parser: Parser,
    ca: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ClientConfig::new(&server.host);
    config.transports = transports;
    config.eio3 = eio3;
    config.parser = parser;
    config.rx_capacity = 1 << 20;
    config.binary_capacity = 1 << 20;
    config.outbox_capacity = 1 << 20;
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, os_seed()?)?;
    client.connect("/", None)?;
    let mut driver = cli::client_driver(client, server, ca)?;
    // A certificate the client does not trust: retrying will not change that.
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut refused: Option<String> = None;
    driver.run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, _now| {
        let event = match wake {
            Wake::Event(event) => event,
            #[cfg(feature = "tls")]
            Wake::Tls(e) if e.is_certificate() => {
                refused = Some(e.to_string());
                return false;
            }
            #[cfg(feature = "tls")]
            Wake::Tls(e) => {
                eprintln!("mirror_client: {e}");
                return true;
            }
            Wake::Woken => return true,
        };
        match *event {
            Event::Message(m) => {
                let (blobs, n) = m.attachments.to_array::<16>().unwrap_or_default();
                let args = Args::binary(m.args, &blobs[..n]);
                let sent = match m.ack {
                    Some(id) => client.ack(m.namespace, id, args),
                    None => client.emit(m.namespace, &format!("{}-back", m.name), args),
                };
                if let Err(e) = sent {
                    eprintln!("mirror_client: cannot answer {}: {e}", m.name);
                }
                true
            }
            Event::Disconnect {
                reason: DisconnectReason::ServerDisconnect,
                ..
            } => false,
            Event::Closed { reason } => {
                eprintln!("mirror_client: session closed: {reason}");
                true
            }
            _ => true,
        }
    })?;
    match refused {
        Some(why) => Err(why.into()),
        None => Ok(()),
    }
}
