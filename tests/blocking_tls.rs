//! The blocking `embedded-io` driver over TLS, as `examples/blocking_tls.rs` plugs rustls in
//! under it: against the echo server serving wss with a CA and certificate made when the
//! test runs, and refused by a client that does not trust that CA.

mod common;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

#[path = "../examples/blocking_tls.rs"]
#[allow(dead_code, unreachable_pub)]
mod blocking_tls;

use common::Running;
use common::tls::{Pki, path};

fn start(pki: &Pki) -> Running {
    let options = echo_server::Options {
        port: 0,
        tls_cert: Some(path(&pki.cert()).to_string()),
        tls_key: Some(path(&pki.key()).to_string()),
        ..echo_server::Options::default()
    };
    Running::spawn(move || echo_server::bind(options).expect("bind"))
}

#[test]
fn echo_over_wss_through_the_blocking_driver() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let server = start(&pki);
    let ca = pki.ca();
    // By IP address and by name: the certificate is checked for each.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("wss://{host}:{}", server.addr.port());
        let answer = blocking_tls::run(&url, Some(path(&ca)), "over \"TLS\"").expect("the echo");
        assert_eq!(answer, r#""over \"TLS\"""#);
    }
}

#[test]
fn an_untrusted_certificate_is_a_failed_connection() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let other = Pki::new(&["localhost", "127.0.0.1"]);
    let server = start(&pki);
    let url = format!("wss://127.0.0.1:{}", server.addr.port());
    let err = blocking_tls::run(&url, Some(path(&other.ca())), "x").expect_err("refused");
    assert!(
        err.contains("UnknownIssuer") || err.contains("unknown issuer"),
        "{err}"
    );
}
