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

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use siocore::client::{Args, Client, ClientConfig, Event};
use siocore::driver::{ClientDriver, ServerUrl, Wake, os_seed};
use siocore::json::{JsonStr, write_str};

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: chat_client URL");
        return ExitCode::from(2);
    };
    match run(&url) {
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

fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let server = ServerUrl::parse(url)?;
    let config = ClientConfig::new(&server.host);
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, os_seed()?)?;
    let root = client.connect("/", None)?;
    let mut driver = ClientDriver::new(client, server.addr)?;

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
        }
        true
    })?;
    Ok(())
}
