//! The benchmark contract of `examples/echo_server` on socketioxide: the reference the load
//! benchmark compares siocore with. One tokio worker thread, TCP_NODELAY on every connection,
//! a 1e6-byte max payload.
//!
//! On `/`: `echo` (args) → `echo` (the same args) to the sender; `broadcast` (args) →
//! `broadcast` (the same args) to every socket of `/`, the sender included. Binary stays
//! binary (`rmpv::Value` carries it).
//!
//! `sioxide-echo [PORT]` (default 3000; 0 picks one); prints `listening on http://ADDR`.

use std::net::SocketAddr;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use rmpv::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use tokio::net::TcpListener;

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |socket: SocketRef, Data::<Value>(data)| {
        let _ = socket.emit("echo", &data);
    });
    socket.on("broadcast", async |io: SocketIo, Data::<Value>(data)| {
        let _ = io.emit("broadcast", &data).await;
    });
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(serve(port));
}

async fn serve(port: u16) {
    let (svc, io) = SocketIo::builder().max_payload(1_000_000).build_svc();
    io.ns("/", on_connect);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
