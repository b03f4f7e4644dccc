//! The mirror client: the contract the client interop tests check, on the mio driver.
//!
//! ```sh
//! cargo run --release --features mio --example mirror_client -- [--transport websocket|polling] [--eio3] http://127.0.0.1:3000
//! ```
//!
//! `--eio3` speaks Engine.IO v3 / Socket.IO protocol v4, to a socket.io 2.x server.
//!
//! It joins `/` and, for every event `E` it receives, emits `E-back` with the same
//! arguments (binary stays binary), except that an event asking for an acknowledgement is
//! acknowledged with the same arguments instead. When the server disconnects it from `/`
//! it exits with status 0. Lost connections are retried with the default backoff; when the
//! server runs connection state recovery, the client comes back into its session (the same
//! socket id and rooms) and mirrors the events it missed meanwhile, as any other.

use std::process::ExitCode;

use siocore::client::{Args, Client, ClientConfig, DisconnectReason, Event, Transports};
use siocore::driver::{ClientDriver, ServerUrl, Wake, os_seed};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, flags) = match args.split_last() {
        Some((url, flags)) => (url.clone(), flags.to_vec()),
        None => {
            eprintln!("usage: mirror_client [--transport websocket|polling] URL");
            return ExitCode::from(2);
        }
    };
    let usage = || {
        eprintln!("usage: mirror_client [--transport websocket|polling] [--eio3] URL");
        ExitCode::from(2)
    };
    let mut transports = Transports::PollingThenWebSocket;
    let mut eio3 = false;
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match (flag.as_str(), flags.clone().next().map(String::as_str)) {
            ("--transport", Some("websocket")) => transports = Transports::WebSocket,
            ("--transport", Some("polling")) => transports = Transports::Polling,
            ("--eio3", _) => {
                eio3 = true;
                continue;
            }
            _ => return usage(),
        }
        flags.next();
    }
    match run(&url, transports, eio3) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mirror_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, transports: Transports, eio3: bool) -> Result<(), Box<dyn std::error::Error>> {
    let server = ServerUrl::parse(url)?;
    let mut config = ClientConfig::new(&server.host);
    config.transports = transports;
    config.eio3 = eio3;
    config.rx_capacity = 1 << 20;
    config.binary_capacity = 1 << 20;
    config.outbox_capacity = 1 << 20;
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, os_seed()?)?;
    client.connect("/", None)?;
    let mut driver = ClientDriver::new(client, server.addr)?;
    driver.run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, _now| {
        let Wake::Event(event) = wake else {
            return true;
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
    Ok(())
}
