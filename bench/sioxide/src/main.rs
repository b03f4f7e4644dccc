//! The benchmark contract of `examples/echo_server` on socketioxide: the reference the load
//! benchmark compares siocore with. One tokio worker thread, TCP_NODELAY on every connection,
//! a 1e6-byte max payload.
//!
//! On `/`: `echo` (args) → `echo` (the same args) to the sender; `broadcast` (args) →
//! `broadcast` (the same args) to every socket of `/`, the sender included. Binary stays
//! binary (`rmpv::Value` carries it).
//!
//! `sioxide-echo [--tls CERT KEY] [--ping-interval MS] [--ping-timeout MS] [PORT]` (default
//! 3000; 0 picks one); prints `listening on http://ADDR`. The ping flags set the Engine.IO
//! ping interval and timeout (socketioxide's defaults otherwise: 25 000 and 20 000 ms), as
//! the other two servers' flags of the same names do. With `--tls` it serves https and wss with the PEM certificate
//! chain CERT and key KEY through tokio-rustls (rustls with the *ring* provider, as
//! siocore's `tls` feature), and prints `https://ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use rmpv::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |socket: SocketRef, Data::<Value>(data)| {
        let _ = socket.emit("echo", &data);
    });
    socket.on("broadcast", async |io: SocketIo, Data::<Value>(data)| {
        let _ = io.emit("broadcast", &data).await;
    });
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut tls = None;
    if args.first().is_some_and(|a| a == "--tls") && args.len() >= 3 {
        tls = Some(acceptor(&args[1], &args[2]));
        args.drain(..3);
    }
    let mut ping = (None, None);
    for (flag, slot) in [("--ping-interval", 0), ("--ping-timeout", 1)] {
        if let Some(at) = args.iter().position(|a| a == flag) {
            let ms: u64 = args
                .get(at + 1)
                .and_then(|v| v.parse().ok())
                .expect("a number of milliseconds");
            let d = Some(Duration::from_millis(ms));
            if slot == 0 {
                ping.0 = d
            } else {
                ping.1 = d
            }
            args.drain(at..at + 2);
        }
    }
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(serve(port, tls, ping));
}

/// A TLS acceptor serving the PEM chain in `cert` with the key in `key`.
fn acceptor(cert: &str, key: &str) -> TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(key).expect("private key");
    // rustls 0.23.48 deprecated *ring* for its lack of post-quantum key exchange; it is
    // the provider of siocore's `tls` feature, so both servers do the same work.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

async fn serve(
    port: u16,
    tls: Option<TlsAcceptor>,
    (interval, timeout): (Option<Duration>, Option<Duration>),
) {
    let mut builder = SocketIo::builder().max_payload(1_000_000);
    if let Some(d) = interval {
        builder = builder.ping_interval(d);
    }
    if let Some(d) = timeout {
        builder = builder.ping_timeout(d);
    }
    let (svc, io) = builder.build_svc();
    io.ns("/", on_connect);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("bind");
    println!(
        "listening on {}://{}",
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                }
                Some(tls) => {
                    let Ok(stream) = tls.accept(stream).await else {
                        return;
                    };
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                }
            }
        });
    }
}
