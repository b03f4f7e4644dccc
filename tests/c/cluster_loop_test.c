/*
 * Two C ready loops (sio_server_loop_*) in one cluster through a real Redis: the test starts
 * redis-server (Debian's package) on a free port without persistence, runs each loop on its
 * own thread joined to it, and talks to each with a raw WebSocket client. A broadcast on one
 * server reaches the other's client; a server-side emit with an ack is answered by the other
 * server; a fetch of the other server's sockets comes back. Every wait has a timeout. Built
 * and run (also under ASan+UBSan and valgrind) by scripts/c-tests.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include "siocore.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int failures = 0;

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* A TCP connection to 127.0.0.1:port, or -1. */
static int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A port nothing listens on (bound and let go). */
static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
    addr.sin_port = 0;
  close(fd);
  return ntohs(addr.sin_port);
}

/* ------------------------------------------------------------------ redis-server */

/* Starts redis-server on `port` without persistence; waits (10 s at most) until it takes
 * connections. Returns its pid, or -1. */
static pid_t start_redis(uint16_t port) {
  char p[8];
  snprintf(p, sizeof p, "%u", (unsigned)port);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly",
           "no", "--daemonize", "no", (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return -1;
  for (uint64_t start = now_ms(); now_ms() - start < 10000;) {
    int fd = connect_to(port);
    if (fd >= 0) {
      close(fd);
      return pid;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      printf("redis-server did not start (exit %d): install Debian's redis-server\n",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      return -1;
    }
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static void stop_redis(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* ------------------------------------------------------------------ a raw WebSocket client */

typedef struct {
  int fd;
  char buf[1 << 16];
  size_t len;
} raw_ws;

/* Sends one masked text frame (mask 0: the payload goes as it is). */
static void raw_send(raw_ws *c, const char *text) {
  unsigned char frame[256];
  size_t len = strlen(text);
  if (len >= 126) return;
  frame[0] = 0x81;
  frame[1] = (unsigned char)(0x80 | len);
  memset(frame + 2, 0, 4);
  memcpy(frame + 6, text, len);
  CHECK(write(c->fd, frame, 6 + len) == (ssize_t)(6 + len), "write");
}

/* Reads until the bytes received hold `needle` (server frames are not masked: a short text
 * payload shows as it is), within `timeout_ms`; consumes them up to its end. */
static bool raw_wait(raw_ws *c, const char *needle, int timeout_ms) {
  size_t n = strlen(needle);
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    for (size_t i = 0; i + n <= c->len; i++) {
      if (memcmp(c->buf + i, needle, n) == 0) {
        memmove(c->buf, c->buf + i + n, c->len - i - n);
        c->len -= i + n;
        return true;
      }
    }
    uint64_t now = now_ms();
    if (now >= deadline) return false;
    if (c->len == sizeof c->buf) c->len = 0; /* keep reading: nothing to find in old bytes */
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, (int)(deadline - now)) <= 0) continue;
    ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (got <= 0) return false;
    c->len += (size_t)got;
  }
}

static const char *UPGRADE =
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* A client joined to `/` of the server on `port`. */
static bool raw_connect(raw_ws *c, uint16_t port) {
  c->len = 0;
  c->fd = connect_to(port);
  if (c->fd < 0) return false;
  CHECK(write(c->fd, UPGRADE, strlen(UPGRADE)) == (ssize_t)strlen(UPGRADE), "write");
  raw_send(c, "40");
  return raw_wait(c, "40{\"sid\":\"", 10000);
}

/* ------------------------------------------------------------------ the servers */

typedef struct {
  sio_server_loop *lp;
  pthread_t thread;
  sio_result run;
  uint16_t port;
  /* What the cluster said last (written on the loop's thread, read after it ended). */
  char last[512];
  int answers, sockets, side_emits;
} node;

static void copy_view(char *out, size_t cap, sio_bytes b) {
  size_t n = b.len < cap - 1 ? b.len : cap - 1;
  if (n) memcpy(out, b.ptr, n);
  out[n] = 0;
}

static bool is(sio_bytes b, const char *text) {
  return b.len == strlen(text) && memcmp(b.ptr, text, b.len) == 0;
}

/* Emits `event` with `json` to this server's own sockets. */
static void tell_own(sio_server *srv, const char *event, const char *json) {
  sio_targets own = {NULL, 0, NULL, 0, NULL, 0, true};
  sio_args args = {(const uint8_t *)json, strlen(json), NULL, 0};
  EXPECT(sio_server_broadcast(srv, "/", &own, event, &args, NULL), SIO_OK);
}

/* The application of both servers: "go" broadcasts "news" to the whole cluster, "ask" asks
 * the other servers (a server-side emit with an ack), "fetch" fetches their sockets; the
 * answers and the end of each request go to this server's own clients. */
static void on_event(void *userdata, sio_server *srv, const sio_event *ev) {
  node *n = userdata;
  char request[SIO_REQUEST_LEN];
  switch (ev->kind) {
  case SIO_EVENT_CONNECT:
    EXPECT(sio_server_accept(srv, ev->socket, NULL), SIO_OK);
    break;
  case SIO_EVENT_MESSAGE: {
    if (is(ev->name, "go")) {
      sio_args news = {(const uint8_t *)"\"crossed\"", 9, NULL, 0};
      EXPECT(sio_server_broadcast(srv, "/", NULL, "news", &news, NULL), SIO_OK);
    } else if (is(ev->name, "ask")) {
      EXPECT(sio_server_server_side_emit(srv, "/", "hello", "\"who\"", true, request), SIO_OK);
    } else if (is(ev->name, "fetch")) {
      EXPECT(sio_server_fetch_sockets(srv, "/", NULL, request), SIO_OK);
    }
    break;
  }
  case SIO_EVENT_SERVER_SIDE_EMIT:
    n->side_emits++;
    CHECK(is(ev->name, "hello") && is(ev->data, "\"who\"") && ev->has_ack, "server-side emit");
    EXPECT(sio_server_cluster_answer(srv, ev->namespace_index, ev->request, "\"me\""), SIO_OK);
    break;
  case SIO_EVENT_CLUSTER_ANSWER:
    n->answers++;
    copy_view(n->last, sizeof n->last, ev->data);
    break;
  case SIO_EVENT_CLUSTER_SOCKETS:
    n->sockets++;
    copy_view(n->last, sizeof n->last, ev->data);
    break;
  case SIO_EVENT_CLUSTER_DONE: {
    char args[600];
    snprintf(args, sizeof args, "%u,%s,%s", (unsigned)ev->answers, ev->timed_out ? "true" : "false", n->last);
    tell_own(srv, "done", args);
    break;
  }
  default:
    break;
  }
}

static void *run(void *arg) {
  node *n = arg;
  n->run = sio_server_loop_run(n->lp, on_event, n);
  return NULL;
}

static bool start_node(node *n, const char *redis_url) {
  memset(n, 0, sizeof *n);
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &n->lp), SIO_OK);
  if (!n->lp) return false;
  EXPECT(sio_server_loop_port(n->lp, &n->port), SIO_OK);
  sio_cluster_config config;
  EXPECT(sio_cluster_config_default(&config), SIO_OK);
  config.prefix = "c-test";
  EXPECT(sio_server_loop_join_cluster(n->lp, redis_url, &config), SIO_OK);
  EXPECT(sio_server_loop_join_cluster(n->lp, redis_url, NULL), SIO_WRONG_STATE);
  bool up = true;
  EXPECT(sio_server_loop_cluster_connected(n->lp, &up), SIO_OK);
  CHECK(!up, "connected before it runs");
  return pthread_create(&n->thread, NULL, run, n) == 0;
}

static void stop_node(node *n) {
  EXPECT(sio_server_loop_stop(n->lp), SIO_OK);
  pthread_join(n->thread, NULL);
  EXPECT(n->run, SIO_OK);
  bool up = false;
  EXPECT(sio_server_loop_cluster_connected(n->lp, &up), SIO_OK);
  CHECK(up, "the loop was connected to Redis");
  sio_server_loop_free(n->lp);
}

static void test_misuse(void) {
  sio_server_loop *lp = NULL;
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &lp), SIO_OK);
  EXPECT(sio_server_loop_join_cluster(NULL, "redis://127.0.0.1:1", NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_loop_join_cluster(lp, NULL, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_loop_join_cluster(lp, "http://127.0.0.1:1", NULL), SIO_INVALID_ARGUMENT);
  EXPECT(sio_server_loop_cluster_connected(lp, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_loop_cluster_connected(NULL, NULL), SIO_NULL_ARGUMENT);
  sio_server_loop_free(lp);
  printf("ok joining a cluster refuses NULL and other URLs\n");
}

static void test_two_loops_in_redis(void) {
  uint16_t port = free_port();
  pid_t redis = start_redis(port);
  CHECK(redis > 0, "redis-server on port %u", (unsigned)port);
  if (redis <= 0) return;
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)port);
  node a, b;
  bool started_a = start_node(&a, url), started_b = start_node(&b, url);
  bool started = started_a && started_b;
  CHECK(started, "two loops");
  static raw_ws ca, cb;
  bool joined = started && raw_connect(&ca, a.port) && raw_connect(&cb, b.port);
  CHECK(joined, "a client on each server");
  if (joined) {
    /* The loops subscribe as they start: "go" until the news crosses (20 s at most). */
    bool crossed = false;
    for (uint64_t start = now_ms(); !crossed && now_ms() - start < 20000;) {
      raw_send(&ca, "42[\"go\"]");
      crossed = raw_wait(&cb, "42[\"news\",\"crossed\"]", 250);
    }
    CHECK(crossed, "a broadcast on A reaches B's client");
    CHECK(raw_wait(&ca, "42[\"news\",\"crossed\"]", 5000), "and A's own");
    printf("ok a broadcast crosses from one C loop to the other through Redis\n");

    /* B asks the others; A answers; B's client hears how it ended. */
    raw_send(&cb, "42[\"ask\"]");
    CHECK(raw_wait(&cb, "42[\"done\",1,false,\"me\"]", 10000), "server-side emit answered by A");
    /* A fetches B's sockets. */
    raw_send(&ca, "42[\"fetch\"]");
    CHECK(raw_wait(&ca, "42[\"done\",1,false,[{\"id\":\"", 10000), "B's socket fetched by A");
    printf("ok a server-side emit answered and a fetch of sockets across the C loops\n");
  }
  if (ca.fd > 0) close(ca.fd);
  if (cb.fd > 0) close(cb.fd);
  if (started_a) stop_node(&a);
  if (started_b) stop_node(&b);
  if (started) {
    CHECK(a.answers == 0 && a.side_emits == 1 && a.sockets == 1, "A: %d answers, %d emits, %d sockets",
          a.answers, a.side_emits, a.sockets);
    CHECK(b.answers == 1 && b.side_emits == 0 && b.sockets == 0, "B: %d answers, %d emits, %d sockets",
          b.answers, b.side_emits, b.sockets);
  }
  stop_redis(redis);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  test_misuse();
  test_two_loops_in_redis();
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("all C cluster loop checks passed\n");
  return 0;
}
