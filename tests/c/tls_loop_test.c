/*
 * TLS in the C ready loops: a server loop serving https and wss with the certificate
 * scripts/c-tests.sh made for this run (openssl: a fresh CA, and a certificate it issued for
 * 127.0.0.1), a client loop trusting that CA joins "/" and gets its echo back over WebSocket
 * and over polling, a client loop trusting only Mozilla's roots gets
 * SIO_CLIENT_EVENT_TLS_ERROR with SIO_TLS_UNTRUSTED_CERTIFICATE and says why, and each
 * configuration failure has its own result code. The whole run is bounded by alarm(2).
 *
 *   tls_loop_test CA_PEM CHAIN_PEM KEY_PEM OTHER_KEY_PEM
 *
 * Built and run (also under ASan+UBSan and valgrind) by scripts/c-tests.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include "siocore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

int failures = 0;

static bool is(sio_bytes b, const char *text) {
  return b.len == strlen(text) && memcmp(b.ptr, text, b.len) == 0;
}

static bool contains(sio_bytes b, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= b.len; i++) {
    if (memcmp(b.ptr + i, needle, n) == 0) return true;
  }
  return false;
}

/* The server: accepts every namespace, answers "hello" with "hello-back", same arguments. */
static void on_server_event(void *userdata, sio_server *srv, const sio_event *ev) {
  (void)userdata;
  if (ev->kind == SIO_EVENT_CONNECT) {
    EXPECT(sio_server_accept(srv, ev->socket, NULL), SIO_OK);
  } else if (ev->kind == SIO_EVENT_MESSAGE && is(ev->name, "hello")) {
    sio_args same = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
    EXPECT(sio_server_emit(srv, ev->socket, "hello-back", &same), SIO_OK);
  }
}

typedef struct {
  sio_server_loop *lp;
  pthread_t thread;
  sio_result run;
} server;

static void *serve(void *arg) {
  server *s = arg;
  s->run = sio_server_loop_run(s->lp, on_server_event, NULL);
  return NULL;
}

/* What a client saw. */
typedef struct {
  bool connected;
  char back[64];
  sio_result tls_error;
  char message[512];
} seen;

static bool on_client_event(void *userdata, sio_client *c, const sio_client_event *ev,
                            uint64_t now_ms) {
  seen *s = userdata;
  (void)now_ms;
  switch (ev->kind) {
  case SIO_CLIENT_EVENT_CONNECT: {
    s->connected = true;
    sio_args args = {(const uint8_t *)"\"over tls\"", 10, NULL, 0};
    EXPECT(sio_client_emit(c, ev->namespace_index, "hello", &args), SIO_OK);
    return true;
  }
  case SIO_CLIENT_EVENT_MESSAGE:
    if (is(ev->name, "hello-back")) {
      snprintf(s->back, sizeof s->back, "%.*s", (int)ev->data.len, (const char *)ev->data.ptr);
      return false;
    }
    return true;
  case SIO_CLIENT_EVENT_TLS_ERROR:
    s->tls_error = ev->tls_error;
    snprintf(s->message, sizeof s->message, "%.*s", (int)ev->name.len, (const char *)ev->name.ptr);
    CHECK(contains(ev->name, "127.0.0.1"), "the message names the server: %s", s->message);
    return false;
  default:
    return true;
  }
}

/* Runs a client loop to `url` (trusting `ca`, or Mozilla's roots when NULL) until it got its
 * echo, a TLS error, or gave up. */
static seen client(const char *url, const char *ca, sio_transports transports) {
  seen s;
  memset(&s, 0, sizeof s);
  s.tls_error = SIO_OK;
  sio_client_config config;
  EXPECT(sio_client_config_default(&config), SIO_OK);
  config.transports = transports;
  config.reconnection = false;
  sio_client_loop *lp = NULL;
  EXPECT(sio_client_loop_new(&config, url, NULL, 0, &lp), SIO_OK);
  if (!lp) return s;
  if (ca) EXPECT(sio_client_loop_set_ca(lp, ca), SIO_OK);
  EXPECT(sio_client_loop_run(lp, on_client_event, &s), SIO_OK);
  sio_client_loop_free(lp);
  return s;
}

static void test_configuration_errors(const char *ca, const char *chain, const char *key,
                                      const char *other_key) {
  sio_server_loop *lp = NULL;
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &lp), SIO_OK);
  EXPECT(sio_server_loop_set_tls(NULL, chain, key), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_loop_set_tls(lp, NULL, key), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_loop_set_tls(lp, "/nonexistent/cert.pem", key), SIO_TLS_FILE);
  EXPECT(sio_server_loop_set_tls(lp, chain, "/nonexistent/key.pem"), SIO_TLS_FILE);
  EXPECT(sio_server_loop_set_tls(lp, key, key), SIO_TLS_CERTIFICATE);
  EXPECT(sio_server_loop_set_tls(lp, chain, chain), SIO_TLS_PRIVATE_KEY);
  EXPECT(sio_server_loop_set_tls(lp, chain, other_key), SIO_TLS_REJECTED);
  EXPECT(sio_server_loop_set_tls(lp, chain, key), SIO_OK);
  sio_server_loop_free(lp);

  sio_client_config config;
  EXPECT(sio_client_config_default(&config), SIO_OK);
  sio_client_loop *plain = NULL;
  EXPECT(sio_client_loop_new(&config, "http://127.0.0.1:1", NULL, 0, &plain), SIO_OK);
  EXPECT(sio_client_loop_set_ca(plain, ca), SIO_WRONG_STATE);
  sio_client_loop_free(plain);
  sio_client_loop *secure = NULL;
  EXPECT(sio_client_loop_new(&config, "https://127.0.0.1:1", NULL, 0, &secure), SIO_OK);
  EXPECT(sio_client_loop_set_ca(secure, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_loop_set_ca(secure, "/nonexistent/ca.pem"), SIO_TLS_FILE);
  EXPECT(sio_client_loop_set_ca(secure, key), SIO_TLS_CERTIFICATE);
  EXPECT(sio_client_loop_set_ca(secure, ca), SIO_OK);
  sio_client_loop_free(secure);
  CHECK(strlen(sio_result_str(SIO_TLS_UNTRUSTED_CERTIFICATE)) > 0, "a description");
  printf("ok every TLS configuration failure has its result code\n");
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: tls_loop_test CA_PEM CHAIN_PEM KEY_PEM OTHER_KEY_PEM\n");
    return 2;
  }
  const char *ca = argv[1], *chain = argv[2], *key = argv[3], *other_key = argv[4];
  alarm(60);
  test_configuration_errors(ca, chain, key, other_key);

  server s;
  memset(&s, 0, sizeof s);
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &s.lp), SIO_OK);
  if (!s.lp) return 1;
  EXPECT(sio_server_loop_set_tls(s.lp, chain, key), SIO_OK);
  uint16_t port = 0;
  EXPECT(sio_server_loop_port(s.lp, &port), SIO_OK);
  if (pthread_create(&s.thread, NULL, serve, &s) != 0) return 1;
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)port);

  const sio_transports modes[] = {SIO_TRANSPORTS_WEBSOCKET, SIO_TRANSPORTS_POLLING};
  for (size_t i = 0; i < 2; i++) {
    seen got = client(url, ca, modes[i]);
    CHECK(got.connected, "mode %zu: joined over TLS", i);
    CHECK(strcmp(got.back, "\"over tls\"") == 0, "mode %zu: echo %s", i, got.back);
    EXPECT(got.tls_error, SIO_OK);
  }
  printf("ok a client loop trusting the CA joins and gets its echo over wss and https\n");

  seen untrusted = client(url, NULL, SIO_TRANSPORTS_WEBSOCKET);
  CHECK(!untrusted.connected, "joined without trusting the CA");
  EXPECT(untrusted.tls_error, SIO_TLS_UNTRUSTED_CERTIFICATE);
  CHECK(strstr(untrusted.message, "not trusted") != NULL, "message: %s", untrusted.message);
  printf("ok a client loop that does not trust the CA is refused: %s\n", untrusted.message);

  EXPECT(sio_server_loop_stop(s.lp), SIO_OK);
  pthread_join(s.thread, NULL);
  EXPECT(s.run, SIO_OK);
  sio_server_loop_free(s.lp);
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("tls loop tests passed\n");
  return 0;
}
