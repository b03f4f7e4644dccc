/*
 * examples/c/bare_metal_client.c built for the host (with -DBARE_METAL_NO_MAIN) and linked
 * with this board, made of the sans-IO server in memory (in lent memory too, as a board
 * without an allocator would hold it): the board's TCP connection is a server stream, its
 * clock a virtual one. Checks what the firmware says and answers, and that it comes back
 * after the server closes its session and after a network outage. Also checks the
 * lent-memory constructors: sizes, alignment, too little memory.
 */
#include "siocore.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The firmware's entry points (examples/c/bare_metal_client.c). */
bool app_init(void);
void app_step(void);

int failures = 0;

/* ------------------------------------------------------------------ the board */

static sio_server *srv;
static uint64_t clock_now = 1000;
static bool net_up = true;
static bool stream_open = false;
static bool broken = false; /* the connection failed under the firmware */
static sio_stream stream;
static uint8_t c2s[4096]; /* sent by the firmware, not consumed by the server yet */
static size_t c2s_len;
static uint8_t s2c[8192]; /* written by the server, not read by the firmware yet */
static size_t s2c_len;

int board_tcp_connect(void) {
  if (!net_up) return -1;
  if (sio_server_open_stream(srv, clock_now, &stream) != SIO_OK) return -1;
  stream_open = true;
  c2s_len = s2c_len = 0;
  return 0;
}

long board_tcp_send(const uint8_t *buf, size_t len) {
  if (!stream_open || broken) return -1;
  size_t room = sizeof c2s - c2s_len;
  size_t n = len < room ? len : room;
  memcpy(c2s + c2s_len, buf, n);
  c2s_len += n;
  return (long)n;
}

long board_tcp_recv(uint8_t *buf, size_t cap) {
  if (broken || (!stream_open && s2c_len == 0)) return -1;
  size_t n = s2c_len < cap ? s2c_len : cap;
  memcpy(buf, s2c, n);
  memmove(s2c, s2c + n, s2c_len - n);
  s2c_len -= n;
  return (long)n;
}

void board_tcp_close(void) {
  if (stream_open) sio_server_reset(srv, stream, clock_now);
  stream_open = false;
  broken = false;
}

uint64_t board_millis(void) { return clock_now; }

void board_entropy(uint8_t seed[32]) { memset(seed, 3, 32); }

/* ------------------------------------------------------------------ the server side */

static char seen[64][96]; /* what the server's application got: "name args" */
static size_t seen_len;
static sio_socket device;
static sio_session device_session;
static size_t connects;
static bool ack_back;

static void record(const char *name, sio_bytes args) {
  if (seen_len == 64) return;
  int n = snprintf(seen[seen_len], sizeof seen[0], "%s %.*s", name, (int)args.len,
                   (const char *)args.ptr);
  (void)n;
  seen_len++;
}

static bool saw(const char *line) {
  for (size_t i = 0; i < seen_len; i++)
    if (strcmp(seen[i], line) == 0) return true;
  return false;
}

/* Moves bytes both ways and answers the server's events, until nothing moves. */
static void serve(void) {
  for (int round = 0; round < 50; round++) {
    bool progress = false;
    if (stream_open && c2s_len > 0) {
      size_t used = 0;
      if (sio_server_feed(srv, stream, clock_now, c2s, c2s_len, &used) == SIO_OK && used > 0) {
        memmove(c2s, c2s + used, c2s_len - used);
        c2s_len -= used;
        progress = true;
      }
    }
    static uint8_t out[4096];
    sio_transmit t;
    while (sio_server_poll_transmit(srv, out, sizeof out, &t) == SIO_OK) {
      progress = true;
      if (!stream_open || t.stream != stream) continue;
      CHECK(s2c_len + t.len <= sizeof s2c, "s2c overflow");
      memcpy(s2c + s2c_len, out, t.len);
      s2c_len += t.len;
      if (t.close) stream_open = false;
    }
    sio_event ev;
    while (sio_server_poll_event(srv, &ev) == SIO_OK) {
      progress = true;
      if (ev.kind == SIO_EVENT_CONNECT) {
        EXPECT(sio_server_accept(srv, ev.socket, NULL), SIO_OK);
        device = ev.socket;
        device_session = ev.session;
        connects++;
      } else if (ev.kind == SIO_EVENT_MESSAGE) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)ev.name.len, (const char *)ev.name.ptr);
        record(name, ev.data);
      } else if (ev.kind == SIO_EVENT_ACK) {
        record("ack", ev.data);
        ack_back = true;
      }
    }
    if (!progress) return;
  }
}

/* Runs the firmware and the server for `ms` of virtual time, 10 ms a turn. */
static void run_for(uint64_t ms) {
  uint64_t end = clock_now + ms;
  while (clock_now < end) {
    clock_now += 10;
    sio_server_handle_timeout(srv, clock_now);
    app_step();
    serve();
    app_step();
  }
}

/* ------------------------------------------------------------------ tests */

/* The server, in lent memory as the client is: small tables for a few devices. */
static uint64_t server_memory[1 << 16];

static void test_the_firmware_against_a_server(void) {
  sio_capacity cap;
  EXPECT(sio_capacity_for_sessions(4, 16 * 1024, &cap), SIO_OK);
  cap.namespaces = 2;
  cap.rooms = 8;
  cap.events = 32;
  cap.nodes = 64;
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  config.max_payload = 4096;
  config.max_attachments = 2;
  config.max_http_body = 1024;
  size_t need = 0;
  EXPECT(sio_server_memory_size(&config, &cap, &need), SIO_OK);
  printf("ok a server for 4 clients with 4 KiB messages takes %zu bytes\n", need);
  static const uint8_t seed[32] = {1};
  EXPECT(sio_server_new_in(&config, &cap, server_memory, sizeof server_memory, seed, clock_now,
                           &srv),
         SIO_OK);
  if (!srv) return;

  CHECK(app_init(), "app_init: the client fits in the firmware's static memory");

  run_for(500);
  CHECK(connects == 1, "%zu connects", connects);
  CHECK(saw("hello {\"device\":\"sensor-1\"}"), "hello");
  run_for(3000);
  CHECK(saw("reading 1") && saw("reading 2") && saw("reading 3"), "three readings");
  printf("ok hello, then a reading a second\n");

  sio_args cfg = {(const uint8_t *)"{\"rate\":5}", 10, NULL, 0};
  uint64_t id = 0;
  EXPECT(sio_server_emit_with_ack(srv, device, "config", &cfg, 5000, &id), SIO_OK);
  run_for(200);
  CHECK(ack_back && saw("ack {\"rate\":5}"), "config acked with its arguments");
  printf("ok a config is acked\n");

  /* The server ends the session: the firmware comes back by itself. */
  EXPECT(sio_server_close(srv, device_session), SIO_OK);
  seen_len = 0;
  run_for(8000);
  CHECK(connects == 2, "%zu connects after the close", connects);
  CHECK(saw("hello {\"device\":\"sensor-1\"}"), "hello again");
  printf("ok back after the server closed the session\n");

  /* The link fails and the network stays down a while: the firmware comes back when the
   * network does. */
  net_up = false;
  broken = true;
  run_for(3000);
  net_up = true;
  seen_len = 0;
  run_for(10000);
  CHECK(connects == 3, "%zu connects after the outage", connects);
  CHECK(saw("hello {\"device\":\"sensor-1\"}"), "hello after the outage");
  CHECK(!saw("reading 1"), "the readings go on counting");
  printf("ok back after a network outage\n");
  sio_server_free(srv);
}

static void test_lent_memory(void) {
  sio_client_config config;
  sio_client_config_default(&config);
  config.host = "h:1";
  size_t need = 0;
  EXPECT(sio_client_memory_size(&config, &need), SIO_OK);
  EXPECT(sio_client_memory_size(NULL, &need), SIO_NULL_ARGUMENT);
  uint64_t *mem = malloc(need + 16);
  static const uint8_t seed[32] = {2};
  sio_client *c = NULL;
  EXPECT(sio_client_new_in(&config, mem, need - 1, seed, &c), SIO_BUFFER_TOO_SMALL);
  EXPECT(sio_client_new_in(&config, (uint8_t *)mem + 1, need, seed, &c), SIO_INVALID_ARGUMENT);
  EXPECT(sio_client_new_in(&config, NULL, need, seed, &c), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_new_in(&config, mem, need, seed, &c), SIO_OK);
  uint32_t ns = 0;
  EXPECT(sio_client_connect(c, "/", NULL, 0, &ns), SIO_OK);
  sio_client_free(c);
  free(mem);

  sio_capacity cap;
  EXPECT(sio_capacity_for_sessions(2, 4096, &cap), SIO_OK);
  EXPECT(sio_server_memory_size(NULL, NULL, &need), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_memory_size(NULL, &cap, &need), SIO_OK);
  mem = malloc(need);
  sio_server *s = NULL;
  EXPECT(sio_server_new_in(NULL, &cap, mem, need - 8, seed, 0, &s), SIO_BUFFER_TOO_SMALL);
  EXPECT(sio_server_new_in(NULL, &cap, mem, need, seed, 0, &s), SIO_OK);
  sio_stream st;
  EXPECT(sio_server_open_stream(s, 0, &st), SIO_OK);

  /* The server's part in a cluster, in lent memory too (small tables, a 4 KiB outbox). */
  sio_cluster_config cc;
  EXPECT(sio_cluster_config_default(&cc), SIO_OK);
  cc.prefix = "board";
  cc.pending = 4;
  cc.acks = 8;
  cc.outbox_bytes = 4096;
  cc.scratch_bytes = 4096;
  size_t cluster_need = 0;
  EXPECT(sio_server_cluster_memory_size(&cc, &cluster_need), SIO_OK);
  uint64_t *cluster_mem = malloc(cluster_need);
  EXPECT(sio_server_join_cluster_in(s, &cc, seed, 0, cluster_mem, cluster_need - 1), SIO_BUFFER_TOO_SMALL);
  EXPECT(sio_server_join_cluster_in(s, &cc, seed, 0, cluster_mem, cluster_need), SIO_OK);
  sio_args hi = {(const uint8_t *)"1", 1, NULL, 0};
  EXPECT(sio_server_broadcast(s, "/", NULL, "hi", &hi, NULL), SIO_OK);
  sio_publish p;
  EXPECT(sio_server_cluster_next_publish(s, &p), SIO_OK);
  CHECK(p.channel.len == 8 && memcmp(p.channel.ptr, "board#/#", 8) == 0, "published on %.*s",
        (int)p.channel.len, (const char *)p.channel.ptr);
  EXPECT(sio_server_cluster_pop_publish(s), SIO_OK);
  printf("ok a cluster member in lent memory: %zu bytes\n", cluster_need);
  sio_server_free(s);
  free(cluster_mem);
  free(mem);
  printf("ok lent memory: measured exactly, aligned, refused when short\n");
}

int main(void) {
  test_lent_memory();
  test_the_firmware_against_a_server();
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("bare-metal client checks passed\n");
  return 0;
}
