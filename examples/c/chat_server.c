/*
 * The chat demo (examples/chat.rs) in C, on the ready loop (sio_server_loop): siocore owns the
 * sockets and the event loop; the program only reacts to events.
 *
 *   chat_server [--port 3000] [--page examples/chat/index.html] [--tls-cert FILE --tls-key FILE]
 *
 * With --tls-cert and --tls-key (a PEM certificate chain and its private key) it serves https
 * and wss instead (sio_server_loop_set_tls).
 *
 * The page is read from --page; /socket.io/socket.io.js is the npm bundle when one is found
 * (tests/interop/node_modules after `npm ci --prefix tests/interop`, or ./node_modules),
 * else 404 and the page takes the CDN copy.
 *
 * Build (after `cargo build --release -p siocore-ffi`):
 *   cc -std=c99 -O2 -Iinclude examples/c/chat_server.c target/release/libsiocore.a \
 *      -lpthread -ldl -lm -o chat_server
 */
#define _POSIX_C_SOURCE 200809L
#include "siocore.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sio_server_loop *loop_handle = NULL;
static const char *page_path = "examples/chat/index.html";

/* The users connected, for the "user disconnected" notice. */
#define MAX_USERS 1024
static struct {
  sio_socket socket;
  char id[21];
} users[MAX_USERS];
static size_t nusers = 0;

/* The whole file at `path` (caller frees), or NULL. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      char *grown = realloc(buf, cap);
      if (!grown) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  *len = n;
  return buf;
}

static bool is(sio_bytes b, const char *text) {
  return b.len == strlen(text) && memcmp(b.ptr, text, b.len) == 0;
}

static void respond_file(sio_server *srv, sio_stream stream, const char *path, const char *type) {
  size_t len = 0;
  char *body = slurp(path, &len);
  if (!body) {
    sio_server_respond(srv, stream, 404, NULL, 0, (const uint8_t *)"Not Found", 9);
    return;
  }
  sio_header headers[1] = {{"Content-Type", {(const uint8_t *)type, strlen(type)}}};
  sio_server_respond(srv, stream, 200, headers, 1, (const uint8_t *)body, len);
  free(body);
}

/* The socket's id as a JSON string argument: "\"<id>\"". */
static sio_args id_arg(const char *id, char *buf, size_t cap) {
  snprintf(buf, cap, "\"%s\"", id);
  sio_args a = {(const uint8_t *)buf, strlen(buf), NULL, 0};
  return a;
}

static void on_event(void *userdata, sio_server *srv, const sio_event *ev) {
  (void)userdata;
  char json[64];
  switch (ev->kind) {
    case SIO_EVENT_HTTP:
      if (is(ev->http_path, "/") || is(ev->http_path, "/index.html")) {
        respond_file(srv, ev->stream, page_path, "text/html; charset=utf-8");
      } else if (is(ev->http_path, "/socket.io/socket.io.js")) {
        const char *bundles[2] = {"node_modules/socket.io/client-dist/socket.io.js",
                                  "tests/interop/node_modules/socket.io/client-dist/socket.io.js"};
        FILE *probe = fopen(bundles[0], "rb");
        const char *bundle = probe ? bundles[0] : bundles[1];
        if (probe) fclose(probe);
        respond_file(srv, ev->stream, bundle, "application/javascript; charset=utf-8");
      } else {
        sio_server_respond(srv, ev->stream, 404, NULL, 0, (const uint8_t *)"Not Found", 9);
      }
      break;
    case SIO_EVENT_CONNECT: {
      if (sio_server_accept(srv, ev->socket, NULL) != SIO_OK) break;
      char id[21] = "";
      sio_server_socket_id(srv, ev->socket, id);
      if (nusers < MAX_USERS) {
        users[nusers].socket = ev->socket;
        memcpy(users[nusers].id, id, sizeof id);
        nusers++;
      }
      sio_socket except[1] = {ev->socket};
      sio_targets others = {NULL, 0, NULL, 0, except, 1, false};
      sio_args who = id_arg(id, json, sizeof json);
      sio_server_broadcast(srv, "/", &others, "user connected", &who, NULL);
      break;
    }
    case SIO_EVENT_DISCONNECT:
      for (size_t i = 0; i < nusers; i++) {
        if (users[i].socket == ev->socket) {
          sio_args who = id_arg(users[i].id, json, sizeof json);
          sio_server_broadcast(srv, "/", NULL, "user disconnected", &who, NULL);
          users[i] = users[--nusers];
          break;
        }
      }
      break;
    case SIO_EVENT_MESSAGE:
      if (is(ev->name, "chat message")) {
        /* Everyone, the sender included. */
        sio_args args = {ev->data.ptr, ev->data.len, NULL, 0};
        sio_server_broadcast(srv, "/", NULL, "chat message", &args, NULL);
      } else if (is(ev->name, "typing")) {
        char id[21] = "";
        sio_server_socket_id(srv, ev->socket, id);
        sio_socket except[1] = {ev->socket};
        sio_targets others = {NULL, 0, NULL, 0, except, 1, false};
        sio_args who = id_arg(id, json, sizeof json);
        sio_server_broadcast(srv, "/", &others, "typing", &who, NULL);
      }
      break;
    default:
      break;
  }
}

static void on_signal(int sig) {
  (void)sig;
  if (loop_handle) sio_server_loop_stop(loop_handle);
}

int main(int argc, char **argv) {
  const char *port = "3000";
  const char *tls_cert = NULL, *tls_key = NULL;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) {
      argc = -1;
      break;
    } else if (strcmp(argv[i], "--port") == 0) {
      port = argv[i + 1];
    } else if (strcmp(argv[i], "--page") == 0) {
      page_path = argv[i + 1];
    } else if (strcmp(argv[i], "--tls-cert") == 0) {
      tls_cert = argv[i + 1];
    } else if (strcmp(argv[i], "--tls-key") == 0) {
      tls_key = argv[i + 1];
    } else {
      argc = -1;
      break;
    }
  }
  if (argc < 0 || (tls_cert == NULL) != (tls_key == NULL)) {
    fprintf(stderr, "usage: chat_server [--port N] [--page FILE] [--tls-cert FILE --tls-key FILE]\n");
    return 2;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
  sio_result r = sio_server_loop_new(NULL, addr, &loop_handle);
  if (r != SIO_OK) {
    fprintf(stderr, "chat_server: %s\n", sio_result_str(r));
    return 1;
  }
  if (tls_cert) {
    r = sio_server_loop_set_tls(loop_handle, tls_cert, tls_key);
    if (r != SIO_OK) {
      fprintf(stderr, "chat_server: TLS: %s\n", sio_result_str(r));
      sio_server_loop_free(loop_handle);
      return 1;
    }
  }
  uint16_t bound = 0;
  sio_server_loop_port(loop_handle, &bound);
  printf("chat: open %s://127.0.0.1:%u in two tabs\n", tls_cert ? "https" : "http", (unsigned)bound);
  fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  r = sio_server_loop_run(loop_handle, on_event, NULL);
  sio_server_loop_free(loop_handle);
  return r == SIO_OK ? 0 : 1;
}
