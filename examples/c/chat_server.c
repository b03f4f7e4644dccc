/*
 * The chat demo (examples/chat.rs) in C, on the ready loop (sio_server_loop): siocore owns the
 * sockets and the event loop; the program only reacts to events.
 *
 *   chat_server [--port 3000] [--bind 127.0.0.1] [--page examples/chat/index.html]
 *               [--tls-cert FILE --tls-key FILE] [--max-connections N] [--help]
 *
 * --max-connections N holds at most N users at once; by default the loop holds as many as
 * the process may open descriptors for, less 64 (max_sessions 0).
 *
 * A bad flag ends it with one line that names it and status 2; an address it cannot listen
 * on, with the address and the system's reason, and status 1. Like the server of Node's
 * tutorial it prints a line when a user connects and when one disconnects.
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

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A disconnect's reason as the Rust server says it (Node's names where Node has one). */
static const char *reason_text(sio_reason reason) {
  switch (reason) {
    case SIO_REASON_TRANSPORT_CLOSE: return "transport close";
    case SIO_REASON_TRANSPORT_ERROR: return "transport error";
    case SIO_REASON_PING_TIMEOUT: return "ping timeout";
    case SIO_REASON_PARSE_ERROR: return "parse error";
    case SIO_REASON_CLIENT_CLOSE: return "client close";
    case SIO_REASON_SERVER_CLOSE: return "server close";
    case SIO_REASON_UPGRADE_ABANDONED: return "upgrade abandoned";
    case SIO_REASON_CONNECT_TIMEOUT: return "connect timeout";
    case SIO_REASON_SLOW_READER: return "slow reader";
    case SIO_REASON_CLIENT_DISCONNECT: return "client namespace disconnect";
    case SIO_REASON_SERVER_DISCONNECT: return "server namespace disconnect";
    default: return "other";
  }
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
      printf("a user connected: %s\n", id);
      fflush(stdout);
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
          printf("user disconnected: %s (%s)\n", users[i].id, reason_text(ev->reason));
          fflush(stdout);
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

static const char usage_text[] =
    "usage: chat_server [--port N] [--bind ADDR] [--page FILE] [--tls-cert FILE --tls-key FILE]\n"
    "                   [--max-connections N]\n"
    "\n"
    "The chat demo of the Socket.IO tutorial: open the address it prints in two tabs.\n"
    "\n"
    "  --port N         TCP port (default 3000; 0 picks a free one)\n"
    "  --bind ADDR      IP address to listen on, or localhost (default 127.0.0.1)\n"
    "  --page FILE      the page to serve (default examples/chat/index.html)\n"
    "  --tls-cert FILE  serve https and wss with this PEM certificate chain...\n"
    "  --tls-key FILE   ...and this PEM private key\n"
    "  --max-connections N\n"
    "                   most users held at once (default: the descriptor limit, ulimit -n,\n"
    "                   less 64)\n"
    "  --help           this text\n";

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *flag, const char *why, const char *value) {
  if (value)
    fprintf(stderr, "chat_server: %s: %s: %s\n", flag, why, value);
  else
    fprintf(stderr, "chat_server: %s: %s\n", flag, why);
  return 2;
}

/* A TCP port: 1 to 5 digits, at most 65535. */
static bool parse_port(const char *text, unsigned *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 5 || strspn(text, "0123456789") != n) return false;
  unsigned long v = strtoul(text, NULL, 10);
  if (v > 65535) return false;
  *out = (unsigned)v;
  return true;
}

/* A cap on connections: 1 to 1048576 (the library's highest default), digits only. */
static bool parse_connections(const char *text, uint32_t *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 7 || strspn(text, "0123456789") != n) return false;
  unsigned long v = strtoul(text, NULL, 10);
  if (v < 1 || v > 1048576ul) return false;
  *out = (uint32_t)v;
  return true;
}

int main(int argc, char **argv) {
  unsigned port = 3000;
  const char *host = "127.0.0.1";
  const char *tls_cert = NULL, *tls_key = NULL;
  uint32_t max_connections = 0; /* 0: the loop's default, from the descriptor limit */
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
      fputs(usage_text, stdout);
      return 0;
    }
    bool known = strcmp(flag, "--port") == 0 || strcmp(flag, "--bind") == 0 ||
                 strcmp(flag, "--page") == 0 || strcmp(flag, "--tls-cert") == 0 ||
                 strcmp(flag, "--tls-key") == 0 || strcmp(flag, "--max-connections") == 0;
    if (!known) {
      fprintf(stderr, "chat_server: %s: %s (see --help)\n",
              flag[0] == '-' ? "unknown flag" : "unexpected argument", flag);
      return 2;
    }
    if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
      return usage_error(flag, "needs a value", NULL);
    const char *value = argv[++i];
    if (strcmp(flag, "--port") == 0) {
      if (!parse_port(value, &port)) return usage_error(flag, "not a port number", value);
    } else if (strcmp(flag, "--bind") == 0) {
      unsigned char probe[sizeof(struct in6_addr)];
      host = strcmp(value, "localhost") == 0 ? "127.0.0.1" : value;
      if (inet_pton(AF_INET, host, probe) != 1 && inet_pton(AF_INET6, host, probe) != 1)
        return usage_error(flag, "not an IP address", value);
    } else if (strcmp(flag, "--page") == 0) {
      page_path = value;
    } else if (strcmp(flag, "--max-connections") == 0) {
      if (!parse_connections(value, &max_connections))
        return usage_error(flag, "not a number of connections from 1 to 1048576", value);
    } else if (strcmp(flag, "--tls-cert") == 0) {
      tls_cert = value;
    } else {
      tls_key = value;
    }
  }
  if (tls_cert && !tls_key) return usage_error("--tls-cert", "needs --tls-key too", NULL);
  if (tls_key && !tls_cert) return usage_error("--tls-key", "needs --tls-cert too", NULL);
  FILE *page = fopen(page_path, "rb");
  if (!page) {
    fprintf(stderr, "chat_server: --page: cannot read %s: %s\n", page_path, strerror(errno));
    return 1;
  }
  fclose(page);
  bool v6 = strchr(host, ':') != NULL;
  char addr[80];
  snprintf(addr, sizeof addr, v6 ? "[%s]:%u" : "%s:%u", host, port);
  sio_server_config config;
  if (sio_server_config_default(&config) != SIO_OK) return 1;
  config.max_sessions = max_connections;
  sio_result r = sio_server_loop_new(&config, addr, &loop_handle);
  if (r != SIO_OK) {
    /* An operating-system failure leaves the system's code in errno. */
    int err = errno;
    bool os = r == SIO_IO_ERROR || r == SIO_ADDRESS_IN_USE || r == SIO_ADDRESS_NOT_AVAILABLE ||
              r == SIO_PERMISSION_DENIED;
    fprintf(stderr, "chat_server: cannot listen on %s: %s\n", addr,
            os ? strerror(err) : sio_result_str(r));
    return 1;
  }
  if (tls_cert) {
    r = sio_server_loop_set_tls(loop_handle, tls_cert, tls_key);
    if (r != SIO_OK) {
      fprintf(stderr, "chat_server: --tls-cert/--tls-key: %s\n", sio_result_str(r));
      sio_server_loop_free(loop_handle);
      return 1;
    }
  }
  uint16_t bound = 0;
  sio_server_loop_port(loop_handle, &bound);
  printf("chat: open %s://%s%s%s:%u in two tabs\n", tls_cert ? "https" : "http", v6 ? "[" : "", host,
         v6 ? "]" : "", (unsigned)bound);
  fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  r = sio_server_loop_run(loop_handle, on_event, NULL);
  sio_server_loop_free(loop_handle);
  return r == SIO_OK ? 0 : 1;
}
