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

use std::process::ExitCode;

use siocore::client::{Args, Client, ClientConfig, DisconnectReason, Event, Parser, Transports};
use siocore::driver::{ClientDriver, ServerUrl, Wake, os_seed};

const USAGE: &str = "usage: mirror_client [--transport websocket|polling] [--eio3] [--parser json|msgpack] [--ca FILE] URL";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((url, mut flags)) = args.split_last().map(|(u, f)| (u.clone(), f.iter())) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut transports = Transports::PollingThenWebSocket;
    let mut ca = None;
    let mut eio3 = false;
    let mut parser = Parser::Json;
    while let Some(flag) = flags.next() {
        if flag == "--eio3" {
            eio3 = true;
            continue;
        }
        match (flag.as_str(), flags.next().map(String::as_str)) {
            ("--transport", Some("websocket")) => transports = Transports::WebSocket,
            ("--transport", Some("polling")) => transports = Transports::Polling,
            ("--ca", Some(file)) => ca = Some(file.to_string()),
            ("--parser", Some("json")) => parser = Parser::Json,
            ("--parser", Some("msgpack")) => parser = Parser::MsgPack,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&url, transports, eio3, parser, ca.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mirror_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The loop for `client`: TLS for an `https://` or `wss://` URL, trusting the CAs of the
/// PEM file `ca`, or Mozilla's roots.
#[cfg(feature = "tls")]
fn driver<'a>(
    client: Client<'a>,
    server: &ServerUrl,
    ca: Option<&str>,
) -> Result<ClientDriver<'a>, Box<dyn std::error::Error>> {
    use siocore::driver::ClientTls;
    let driver = ClientDriver::new(client, server.addr)?;
    if !server.tls {
        return Ok(driver);
    }
    let trust = match ca {
        Some(file) => ClientTls::from_ca_file(file)?,
        None => ClientTls::webpki_roots(),
    };
    Ok(driver.tls(trust, &server.name)?)
}

#[cfg(not(feature = "tls"))]
fn driver<'a>(
    client: Client<'a>,
    server: &ServerUrl,
    ca: Option<&str>,
) -> Result<ClientDriver<'a>, Box<dyn std::error::Error>> {
    if ca.is_some() {
        return Err("--ca needs the feature tls (cargo run --features tls ...)".into());
    }
    Ok(ClientDriver::new(client, server.addr)?)
}

fn run(
    url: &str,
    transports: Transports,
    eio3: bool,
    parser: Parser,
    ca: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let server = ServerUrl::parse(url)?;
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
    let mut driver = driver(client, &server, ca)?;
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
