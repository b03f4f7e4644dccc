/*
 * The echo server of examples/echo_server.rs, in C, on plain POSIX sockets and poll(2) over
 * the sans-IO API: the program owns its sockets, its loop and its clock; siocore only turns
 * bytes into bytes and events. Same flags, same contract (see the Rust example's docs):
 *
 *   echo_server [--port 3000] [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
 *               [--max-connections N] [--help]
 *
 * --max-connections N holds at most N clients at once (and 2N + 16 connections: a polling
 * client may have two); by default, as the library's ready loop, as many as the process may
 * open descriptors for, less 64.
 *
 * A bad flag ends it with one line that names it and status 2; an address it cannot listen
 * on, with the address and the system's reason, and status 1.
 *
 * Build (after `cargo build --release -p siocore-ffi`):
 *   cc -std=c99 -O2 -Iinclude examples/c/echo_server.c target/release/libsiocore.a \
 *      -lpthread -ldl -lm -o echo_server
 */
#define _POSIX_C_SOURCE 200809L
#include "siocore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The most --max-connections takes (the library's highest default). */
#define MAX_CLIENTS 1048576ul
/* How long a closed connection may take to write what the kernel has not taken yet. */
#define CLOSE_LINGER_MS 5000
/* How often accepting is tried again while out of file descriptors. */
#define ACCEPT_RETRY_MS 100

typedef struct {
  int fd;
  sio_stream id;
  unsigned char *rx; /* received, not consumed yet */
  size_t rx_len, rx_cap;
  unsigned char *tx; /* not written yet */
  size_t tx_len, tx_cap;
  bool close_after;  /* close once tx is written */
  bool read_done;
  uint64_t close_by; /* closing with bytes unwritten: dropped with them at this time */
} conn;

static conn *conns = NULL; /* max_conns of them */
static size_t nconns = 0, max_conns = 0;
static sio_server *srv = NULL;
static size_t max_input = 0;
static volatile sig_atomic_t stopping = 0;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *what, sio_result r) {
  fprintf(stderr, "echo_server: %s: %s\n", what, sio_result_str(r));
  exit(1);
}

static conn *find(sio_stream id) {
  for (size_t i = 0; i < nconns; i++)
    if (conns[i].id == id) return &conns[i];
  return NULL;
}

static void drop_conn(conn *c) {
  close(c->fd);
  free(c->rx);
  free(c->tx);
  *c = conns[--nconns];
}

static void append(unsigned char **buf, size_t *len, size_t *cap, const unsigned char *bytes, size_t n) {
  if (n == 0) return; /* memcpy to a NULL buffer is undefined even for 0 bytes */
  if (*len + n > *cap) {
    size_t want = (*len + n) * 2;
    unsigned char *grown = realloc(*buf, want);
    if (!grown) {
      fprintf(stderr, "echo_server: out of memory\n");
      exit(1);
    }
    *buf = grown;
    *cap = want;
  }
  memcpy(*buf + *len, bytes, n);
  *len += n;
}

/* Writes what the socket takes; false when the connection failed. When bytes are left, the
 * server holds back the stream's next bytes (bounded by max_queued_bytes) until the socket
 * drains; a closing connection gets CLOSE_LINGER_MS to finish. */
static bool flush(conn *c) {
  if (c->tx_len == 0) return true;
  bool was_full = false;
  size_t done = 0;
  while (done < c->tx_len) {
    ssize_t n = send(c->fd, c->tx + done, c->tx_len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      was_full = true;
      break;
    } else {
      return false;
    }
  }
  memmove(c->tx, c->tx + done, c->tx_len - done);
  c->tx_len -= done;
  if (c->tx_len > 0 && was_full) {
    if (c->close_after) {
      if (c->close_by == 0) c->close_by = now_ms() + CLOSE_LINGER_MS;
    } else {
      sio_server_pause_transmit(srv, c->id);
    }
  } else if (c->tx_len == 0 && !c->close_after) {
    sio_server_resume_transmit(srv, c->id);
  }
  return true;
}

/* Offers a connection's unconsumed input again. */
static void feed(conn *c) {
  if (c->rx_len == 0) return;
  size_t used = 0;
  sio_result r = sio_server_feed(srv, c->id, now_ms(), c->rx, c->rx_len, &used);
  if (r != SIO_OK) return;
  memmove(c->rx, c->rx + used, c->rx_len - used);
  c->rx_len -= used;
}

/* ------------------------------------------------------------------ the contract */

static sio_args same_args(const sio_event *ev) {
  sio_args a = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
  return a;
}

static bool named(const sio_event *ev, const char *name) {
  return ev->name.len == strlen(name) && memcmp(ev->name.ptr, name, ev->name.len) == 0;
}

/* The first argument of an event as a string (a room name); false when it is not one. */
static bool first_string(const sio_event *ev, char *out, size_t cap, sio_bytes *rest) {
  sio_bytes first, tail;
  if (sio_args_split_first(ev->data.ptr, ev->data.len, &first, &tail) != SIO_OK) return false;
  size_t len;
  if (sio_json_string(first.ptr, first.len, out, cap, &len) != SIO_OK) return false;
  if (rest) *rest = tail;
  return true;
}

static void on_event(const sio_event *ev) {
  sio_args args = same_args(ev);
  char room[128];
  switch (ev->kind) {
    case SIO_EVENT_CONNECT: {
      /* `/` and `/custom` exist (others were refused by the server already). */
      if (sio_server_accept(srv, ev->socket, NULL) != SIO_OK) return;
      sio_args auth = {ev->data.ptr, ev->data.len, NULL, 0};
      sio_server_emit(srv, ev->socket, "auth", &auth);
      return;
    }
    case SIO_EVENT_ENGINE_MESSAGE:
      sio_server_send(srv, ev->session, ev->data.ptr, ev->data.len, ev->binary);
      return;
    case SIO_EVENT_HTTP:
      sio_server_respond(srv, ev->stream, 404, NULL, 0, (const uint8_t *)"Not Found", 9);
      return;
    case SIO_EVENT_ACK:
      /* The answer to an `ack-request`: sent back as `ack-response`. */
      sio_server_emit(srv, ev->socket, "ack-response", &args);
      return;
    case SIO_EVENT_MESSAGE:
      break;
    default:
      return;
  }
  if (ev->namespace_index != 0) return; /* the contract's events are on `/` */
  if (named(ev, "message")) {
    sio_server_emit(srv, ev->socket, "message-back", &args);
  } else if (named(ev, "echo")) {
    sio_server_emit(srv, ev->socket, "echo", &args);
  } else if ((named(ev, "message-with-ack") || named(ev, "echo-ack")) && ev->has_ack) {
    sio_server_ack(srv, ev->socket, ev->ack_id, &args);
  } else if (named(ev, "broadcast")) {
    sio_server_broadcast(srv, "/", NULL, "broadcast", &args, NULL);
  } else if (named(ev, "join")) {
    if (!first_string(ev, room, sizeof room, NULL)) return;
    sio_result r = sio_server_join(srv, ev->socket, room);
    if (r != SIO_OK) {
      /* Refused (the socket is in max_rooms_per_socket rooms, a name too long): say why. */
      char json[160];
      int n = snprintf(json, sizeof json, "\"join: %s\"", sio_result_str(r));
      sio_args why = {(const uint8_t *)json, (size_t)n, NULL, 0};
      sio_server_emit(srv, ev->socket, "error", &why);
    }
  } else if (named(ev, "to-room")) {
    sio_bytes rest;
    if (!first_string(ev, room, sizeof room, &rest)) return;
    const char *rooms[1] = {room};
    sio_targets to = {rooms, 1, NULL, 0, NULL, 0, false};
    sio_args payload = {rest.ptr, rest.len, ev->attachments, ev->attachments_len};
    sio_server_broadcast(srv, "/", &to, "room-msg", &payload, NULL);
  } else if (named(ev, "request-ack")) {
    uint64_t id;
    sio_server_emit_with_ack(srv, ev->socket, "ack-request", &args, 10000, &id);
  }
}

/* Transmits, events, leftovers, until nothing moves. */
static void drain(void) {
  static unsigned char out[65536];
  for (;;) {
    bool progress = false;
    sio_transmit t;
    while (sio_server_poll_transmit(srv, out, sizeof out, &t) == SIO_OK) {
      progress = true;
      conn *c = find(t.stream);
      if (!c) continue;
      if (t.close && c->tx_len > 0) {
        /* A close for a stream this program paused: the server gave up on it (a slow
         * reader, a deadline), so what is kept will not be written. */
        drop_conn(c);
        continue;
      }
      append(&c->tx, &c->tx_len, &c->tx_cap, out, t.len);
      c->close_after |= t.close;
      if (!flush(c)) {
        if (!c->close_after) sio_server_reset(srv, c->id, now_ms());
        drop_conn(c);
        continue;
      }
      if (c->close_after && c->tx_len == 0) drop_conn(c);
    }
    sio_event ev;
    while (sio_server_poll_event(srv, &ev) == SIO_OK) {
      progress = true;
      on_event(&ev);
    }
    for (size_t i = 0; i < nconns; i++) {
      size_t before = conns[i].rx_len;
      feed(&conns[i]);
      if (conns[i].rx_len != before) progress = true;
    }
    if (!progress) return;
  }
}

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static const char usage_text[] =
    "usage: echo_server [--port N] [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]\n"
    "                   [--max-connections N]\n"
    "\n"
    "The echo server the interop tests check (the contract of examples/echo_server.rs), on\n"
    "127.0.0.1, over the sans-IO API and poll(2).\n"
    "\n"
    "  --port N             TCP port (default 3000; 0 picks a free one, printed on start)\n"
    "  --ping-interval MS   milliseconds between pings (default 25000)\n"
    "  --ping-timeout MS    milliseconds to answer one (default 20000)\n"
    "  --max-payload BYTES  largest message (default 1000000)\n"
    "  --max-connections N  most clients held at once (default: the descriptor limit, ulimit -n,\n"
    "                       less 64)\n"
    "  --help               this text\n";

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *flag, const char *why, const char *value) {
  if (value)
    fprintf(stderr, "echo_server: %s: %s: %s\n", flag, why, value);
  else
    fprintf(stderr, "echo_server: %s: %s\n", flag, why);
  return 2;
}

/* A decimal number from `min` to `max`, nothing else. */
static bool parse_number(const char *text, unsigned long min, unsigned long max, unsigned long *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 10 || strspn(text, "0123456789") != n) return false;
  unsigned long v = strtoul(text, NULL, 10);
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

/* The clients a process may hold by default: its soft descriptor limit less 64 (less a
 * quarter of a limit under 256), at most MAX_CLIENTS; the library's ready loop takes the
 * same. */
static unsigned long default_clients(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 16384;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= MAX_CLIENTS + 64) return MAX_CLIENTS;
  unsigned long limit = (unsigned long)rl.rlim_cur;
  unsigned long reserve = limit / 4 < 64 ? limit / 4 : 64;
  return limit - reserve > 0 ? limit - reserve : 1;
}

int main(int argc, char **argv) {
  sio_server_config config;
  if (sio_server_config_default(&config) != SIO_OK) return 1;
  const char *namespaces[2] = {"/", "/custom"};
  config.engineio_path = "/engine.io/";
  config.namespaces = namespaces;
  config.namespaces_len = 2;
  config.max_pool_bytes = 512u << 20;
  unsigned long port = 3000;
  unsigned long clients = default_clients();
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
      fputs(usage_text, stdout);
      return 0;
    }
    uint32_t *target = NULL;
    const char *what = "not a number of milliseconds above 0";
    if (strcmp(flag, "--ping-interval") == 0) {
      target = &config.ping_interval_ms;
    } else if (strcmp(flag, "--ping-timeout") == 0) {
      target = &config.ping_timeout_ms;
    } else if (strcmp(flag, "--max-payload") == 0) {
      target = &config.max_payload;
      what = "not a number of bytes above 0";
    } else if (strcmp(flag, "--max-connections") == 0) {
      if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
        return usage_error(flag, "needs a value", NULL);
      const char *value = argv[++i];
      if (!parse_number(value, 1, MAX_CLIENTS, &clients))
        return usage_error(flag, "not a number of connections from 1 to 1048576", value);
      continue;
    } else if (strcmp(flag, "--port") != 0) {
      fprintf(stderr, "echo_server: %s: %s (see --help)\n",
              flag[0] == '-' ? "unknown flag" : "unexpected argument", flag);
      return 2;
    }
    if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
      return usage_error(flag, "needs a value", NULL);
    const char *value = argv[++i];
    unsigned long v = 0;
    if (!target) {
      if (!parse_number(value, 0, 65535, &port)) return usage_error(flag, "not a port number", value);
    } else if (!parse_number(value, 1, UINT32_MAX, &v)) {
      return usage_error(flag, what, value);
    } else {
      *target = (uint32_t)v;
    }
  }
  config.max_queued_bytes = config.max_payload * 4 > (1u << 20) ? config.max_payload * 4 : (1u << 20);
  config.max_sessions = (uint32_t)clients;

  uint8_t seed[32];
  FILE *urandom = fopen("/dev/urandom", "rb");
  if (!urandom || fread(seed, 1, sizeof seed, urandom) != sizeof seed) {
    fprintf(stderr, "echo_server: cannot read /dev/urandom\n");
    return 1;
  }
  fclose(urandom);
  sio_result r = sio_server_new(&config, seed, now_ms(), &srv);
  if (r != SIO_OK) die("server", r);
  sio_server_max_input(srv, &max_input);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1024) != 0) {
    fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%lu: %s\n", port, strerror(errno));
    sio_server_free(srv);
    close(lfd);
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  fcntl(lfd, F_SETFL, O_NONBLOCK);
  printf("echo server listening on http://127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
  fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  static unsigned char chunk[65536];
  max_conns = 2 * clients + 16;
  conns = calloc(max_conns, sizeof *conns);
  struct pollfd *fds = calloc(max_conns + 1, sizeof *fds);
  if (!conns || !fds) {
    fprintf(stderr, "echo_server: out of memory for %lu clients\n", clients);
    free(conns);
    free(fds);
    sio_server_free(srv);
    close(lfd);
    return 1;
  }
  uint64_t accept_at = 0; /* out of descriptors: when to try accepting again */
  unsigned long accept_failures = 0;
  while (!stopping) {
    uint64_t due = UINT64_MAX, at;
    if (sio_server_poll_timeout(srv, &at) == SIO_OK) due = at;
    if (accept_at && accept_at < due) due = accept_at;
    for (size_t i = 0; i < nconns; i++)
      if (conns[i].close_by && conns[i].close_by < due) due = conns[i].close_by;
    int timeout = -1;
    if (due != UINT64_MAX) {
      uint64_t now = now_ms();
      timeout = due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
    }
    /* While accepting fails, the listener stays out of the poll set (it would stay ready). */
    fds[0].fd = accept_at ? -1 : lfd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    for (size_t i = 0; i < nconns; i++) {
      fds[i + 1].fd = conns[i].fd;
      fds[i + 1].events = (short)((conns[i].read_done || conns[i].rx_len >= max_input ? 0 : POLLIN) |
                                  (conns[i].tx_len ? POLLOUT : 0));
      fds[i + 1].revents = 0;
    }
    size_t polled = nconns;
    int n = poll(fds, polled + 1, timeout);
    if (n < 0 && errno != EINTR) {
      perror("echo_server: poll");
      break;
    }
    uint64_t now = now_ms();
    /* Connections first, from the end: dropping one moves the last into its place. */
    for (size_t k = polled; n > 0 && k >= 1; k--) {
      size_t i = k - 1;
      if (i >= nconns || conns[i].fd != fds[k].fd) continue;
      conn *c = &conns[i];
      short ev = fds[k].revents;
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        for (;;) {
          ssize_t got = recv(c->fd, chunk, sizeof chunk, 0);
          if (got > 0) {
            append(&c->rx, &c->rx_len, &c->rx_cap, chunk, (size_t)got);
            feed(c);
            if (c->rx_len >= max_input) break;
          } else if (got == 0) {
            c->read_done = true;
            sio_server_feed_eof(srv, c->id, now);
            break;
          } else if (errno == EINTR) {
            continue;
          } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
          } else {
            sio_server_reset(srv, c->id, now);
            drop_conn(c);
            c = NULL;
            break;
          }
        }
      }
      if (c && (ev & POLLOUT) && !flush(c)) {
        if (!c->close_after) sio_server_reset(srv, c->id, now);
        drop_conn(c);
        continue;
      }
      if (c && c->close_after && c->tx_len == 0) drop_conn(c);
    }
    /* Closed connections whose peer stopped reading: dropped with what they still owed. */
    for (size_t k = nconns; k >= 1; k--)
      if (conns[k - 1].close_by && conns[k - 1].close_by <= now) drop_conn(&conns[k - 1]);
    if (accept_at && accept_at <= now) accept_at = 0;
    if (!accept_at && (fds[0].revents & POLLIN || accept_failures > 0)) {
      for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
          if (accept_failures++ == 0)
            fprintf(stderr, "echo_server: accept: %s; trying again every %d ms\n", strerror(errno),
                    ACCEPT_RETRY_MS);
          accept_at = now + ACCEPT_RETRY_MS;
          break;
        }
        if (accept_failures > 0) {
          fprintf(stderr, "echo_server: accepting again after %lu failed attempts\n", accept_failures);
          accept_failures = 0;
        }
        if (fd < 0) break;
        if (nconns == max_conns) {
          close(fd);
          continue;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sio_stream id;
        if (sio_server_open_stream(srv, now, &id) != SIO_OK) {
          close(fd);
          continue;
        }
        conn c = {fd, id, NULL, 0, 0, NULL, 0, 0, false, false, 0};
        conns[nconns++] = c;
      }
    }
    sio_server_handle_timeout(srv, now_ms());
    drain();
  }
  while (nconns) drop_conn(&conns[nconns - 1]);
  close(lfd);
  sio_server_free(srv);
  free(fds);
  free(conns);
  return 0;
}
