/*
 * C unit tests of the sans-IO client through include/siocore.h: the client and the sans-IO
 * server joined in memory (no sockets, a fake clock), over each transport mode, plus the
 * misuse results. Each check prints "FAIL ..." when it fails; the program exits 1 then.
 * Built and run (also under ASan+UBSan and valgrind) by scripts/c-tests.sh.
 */
#include "siocore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int failures = 0;

static const uint8_t SEED[32] = {9};
enum { CAP = 1 << 16, EVENTS = 64 };

/* What the client saw, copied out of the events. */
typedef struct {
  sio_client_event_kind kind;
  uint32_t ns;
  char name[64];
  char data[256];
  unsigned char blob[16];
  size_t blob_len;
  size_t attachments;
  uint64_t ack_id;
  sio_client_reason reason;
  bool recovered;
} seen;

typedef struct {
  sio_server *srv;
  sio_client *cl;
  uint64_t now;
  bool linked[3];
  sio_stream link[3];
  unsigned char *c2s[3];
  size_t c2s_len[3];
  unsigned char *s2c[3];
  size_t s2c_len[3];
  bool s_closed[3];
  unsigned char *buf;
  seen ev[EVENTS];
  size_t events;
  /* The server's CONNECT events: how many, the last socket and its `recovered`. */
  int connects;
  sio_socket socket;
  bool recovered;
} pair;

static void copy_bytes(char *dst, size_t cap, sio_bytes b) {
  size_t n = b.len < cap - 1 ? b.len : cap - 1;
  if (n > 0) memcpy(dst, b.ptr, n);
  dst[n] = 0;
}

static int link_of(pair *p, sio_stream s) {
  for (int i = 0; i < 3; i++)
    if (p->linked[i] && p->link[i] == s) return i;
  return -1;
}

/* Offers what waits for the server on link i. */
static void to_server(pair *p, int i) {
  if (!p->linked[i] || p->c2s_len[i] == 0) return;
  size_t used = 0;
  if (sio_server_feed(p->srv, p->link[i], p->now, p->c2s[i], p->c2s_len[i], &used) != SIO_OK)
    used = p->c2s_len[i];
  memmove(p->c2s[i], p->c2s[i] + used, p->c2s_len[i] - used);
  p->c2s_len[i] -= used;
}

/* The server's side of the test: accept, echo events back as "echo", ack with the same. */
static void server_app(pair *p, const sio_event *ev) {
  if (ev->kind == SIO_EVENT_CONNECT) {
    uint32_t ns = 0;
    p->connects++;
    p->socket = ev->socket;
    p->recovered = ev->recovered;
    EXPECT(sio_server_accept(p->srv, ev->socket, &ns), SIO_OK);
  } else if (ev->kind == SIO_EVENT_MESSAGE && ev->name.len == 4 &&
             memcmp(ev->name.ptr, "join", 4) == 0) {
    EXPECT(sio_server_join(p->srv, ev->socket, "room"), SIO_OK);
    EXPECT(sio_server_emit(p->srv, ev->socket, "joined", NULL), SIO_OK);
  } else if (ev->kind == SIO_EVENT_MESSAGE) {
    sio_args args = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
    if (ev->has_ack) {
      EXPECT(sio_server_ack(p->srv, ev->socket, ev->ack_id, &args), SIO_OK);
    } else {
      EXPECT(sio_server_emit(p->srv, ev->socket, "echo", &args), SIO_OK);
    }
  }
}

/* Moves bytes and events until nothing changes. */
static void drive(pair *p) {
  for (int round = 0; round < 200; round++) {
    bool progress = false;
    sio_client_io io;
    while (sio_client_poll_io(p->cl, p->buf, CAP, &io) == SIO_OK) {
      int i = (int)io.stream;
      progress = true;
      if (io.kind == SIO_IO_CONNECT) {
        EXPECT(sio_server_open_stream(p->srv, p->now, &p->link[i]), SIO_OK);
        p->linked[i] = true;
        p->c2s_len[i] = p->s2c_len[i] = 0;
        p->s_closed[i] = false;
        EXPECT(sio_client_connected(p->cl, io.stream, p->now), SIO_OK);
      } else if (io.kind == SIO_IO_SEND) {
        CHECK(p->c2s_len[i] + io.len <= CAP, "pipe full");
        memcpy(p->c2s[i] + p->c2s_len[i], p->buf, io.len);
        p->c2s_len[i] += io.len;
      } else {
        to_server(p, i);
        if (p->linked[i]) sio_server_feed_eof(p->srv, p->link[i], p->now);
        p->linked[i] = false;
      }
    }
    for (int i = 0; i < 3; i++) to_server(p, i);
    sio_transmit t;
    while (sio_server_poll_transmit(p->srv, p->buf, CAP, &t) == SIO_OK) {
      progress = true;
      int i = link_of(p, t.stream);
      if (i < 0) continue;
      memcpy(p->s2c[i] + p->s2c_len[i], p->buf, t.len);
      p->s2c_len[i] += t.len;
      if (t.close) p->s_closed[i] = true;
    }
    sio_event sev;
    while (sio_server_poll_event(p->srv, &sev) == SIO_OK) {
      progress = true;
      server_app(p, &sev);
    }
    for (int i = 0; i < 3; i++) {
      if (p->s2c_len[i] > 0) {
        size_t taken = 0;
        EXPECT(sio_client_recv(p->cl, (sio_client_stream)i, p->s2c[i], p->s2c_len[i], p->now,
                               &taken),
               SIO_OK);
        if (taken > 0) progress = true;
        memmove(p->s2c[i], p->s2c[i] + taken, p->s2c_len[i] - taken);
        p->s2c_len[i] -= taken;
      }
      if (p->s2c_len[i] == 0 && p->s_closed[i]) {
        p->s_closed[i] = false;
        p->linked[i] = false;
        EXPECT(sio_client_closed(p->cl, (sio_client_stream)i, p->now), SIO_OK);
        progress = true;
      }
    }
    sio_client_event ev;
    while (sio_client_poll_event(p->cl, &ev) == SIO_OK) {
      progress = true;
      if (p->events == EVENTS) continue;
      seen *s = &p->ev[p->events++];
      memset(s, 0, sizeof *s);
      s->kind = ev.kind;
      s->ns = ev.namespace_index;
      copy_bytes(s->name, sizeof s->name, ev.name);
      copy_bytes(s->data, sizeof s->data, ev.data);
      s->attachments = ev.attachments_len;
      if (ev.attachments_len > 0 && ev.attachments[0].len <= sizeof s->blob) {
        s->blob_len = ev.attachments[0].len;
        memcpy(s->blob, ev.attachments[0].ptr, s->blob_len);
      }
      s->ack_id = ev.ack_id;
      s->reason = ev.reason;
      s->recovered = ev.recovered;
    }
    if (!progress) return;
  }
  CHECK(0, "the pair never settled");
}

static const seen *find(pair *p, sio_client_event_kind kind, const char *name) {
  for (size_t i = 0; i < p->events; i++)
    if (p->ev[i].kind == kind && (name == NULL || strcmp(p->ev[i].name, name) == 0))
      return &p->ev[i];
  return NULL;
}

/* A pair whose client speaks the msgpack parser when `msgpack` (the server must too). */
static pair *new_pair_with(sio_transports transports, const sio_server_config *server,
                           bool msgpack) {
  pair *p = calloc(1, sizeof *p);
  p->buf = malloc(CAP);
  for (int i = 0; i < 3; i++) {
    p->c2s[i] = malloc(CAP);
    p->s2c[i] = malloc(CAP);
  }
  EXPECT(sio_server_new(server, SEED, 0, &p->srv), SIO_OK);
  sio_client_config cfg;
  EXPECT(sio_client_config_default(&cfg), SIO_OK);
  cfg.host = "localhost";
  cfg.transports = transports;
  cfg.msgpack_parser = msgpack;
  EXPECT(sio_client_new(&cfg, SEED, &p->cl), SIO_OK);
  return p;
}

static void free_pair(pair *p) {
  sio_client_free(p->cl);
  sio_server_free(p->srv);
  for (int i = 0; i < 3; i++) {
    free(p->c2s[i]);
    free(p->s2c[i]);
  }
  free(p->buf);
  free(p);
}

/* A session with events, binary and acks both ways; with the msgpack parser on both sides
 * when `msgpack`. */
static void test_session(sio_transports transports, bool msgpack) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  config.msgpack_parser = msgpack;
  pair *p = new_pair_with(transports, &config, msgpack);
  uint32_t ns = 99;
  EXPECT(sio_client_connect(p->cl, "/", NULL, 0, &ns), SIO_OK);
  CHECK(ns == 0, "ns %u", ns);
  EXPECT(sio_client_start(p->cl, p->now), SIO_OK);
  drive(p);
  const seen *c = find(p, SIO_CLIENT_EVENT_CONNECT, NULL);
  CHECK(c != NULL && strlen(c->name) == 20, "joined / (transports %u)", (unsigned)transports);

  const char *args = "1,\"x\",{\"y\":[true]}";
  sio_args text_args = {(const uint8_t *)args, strlen(args), NULL, 0};
  EXPECT(sio_client_emit(p->cl, ns, "hi", &text_args), SIO_OK);
  const uint8_t blob[3] = {1, 2, 255};
  sio_bytes att = {blob, sizeof blob};
  const char *bin = "{\"_placeholder\":true,\"num\":0}";
  sio_args bin_args = {(const uint8_t *)bin, strlen(bin), &att, 1};
  EXPECT(sio_client_emit(p->cl, ns, "bin", &bin_args), SIO_OK);
  uint64_t id = 0;
  sio_args seven = {(const uint8_t *)"7", 1, NULL, 0};
  EXPECT(sio_client_emit_with_ack(p->cl, ns, "ask", &seven, 5000, p->now, &id), SIO_OK);
  drive(p);
  bool got_text = false, got_bin = false;
  for (size_t i = 0; i < p->events; i++) {
    const seen *s = &p->ev[i];
    if (s->kind != SIO_CLIENT_EVENT_MESSAGE || strcmp(s->name, "echo") != 0) continue;
    got_text |= strcmp(s->data, args) == 0 && s->attachments == 0;
    got_bin |= strcmp(s->data, bin) == 0 && s->attachments == 1 && s->blob_len == 3 &&
               memcmp(s->blob, blob, 3) == 0;
  }
  CHECK(got_text, "text echo (transports %u)", (unsigned)transports);
  CHECK(got_bin, "binary echo (transports %u)", (unsigned)transports);
  const seen *a = find(p, SIO_CLIENT_EVENT_ACK, NULL);
  CHECK(a != NULL && a->ack_id == id && strcmp(a->data, "7") == 0, "ack");
  if (transports == SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET)
    CHECK(find(p, SIO_CLIENT_EVENT_UPGRADE, NULL) != NULL, "upgraded");

  /* Timers: a minute of pings keeps the session. */
  for (int i = 0; i < 60; i++) {
    p->now += 1000;
    EXPECT(sio_server_handle_timeout(p->srv, p->now), SIO_OK);
    EXPECT(sio_client_handle_timeout(p->cl, p->now), SIO_OK);
    drive(p);
  }
  CHECK(find(p, SIO_CLIENT_EVENT_CLOSED, NULL) == NULL, "still open after a minute");
  uint64_t due = 0;
  EXPECT(sio_client_poll_timeout(p->cl, &due), SIO_OK);
  CHECK(due > p->now, "next deadline %llu", (unsigned long long)due);

  EXPECT(sio_client_close(p->cl, p->now), SIO_OK);
  drive(p);
  const seen *d = find(p, SIO_CLIENT_EVENT_DISCONNECT, NULL);
  CHECK(d != NULL && d->reason == SIO_CLIENT_REASON_CLIENT_DISCONNECT, "left /");
  const seen *cl = find(p, SIO_CLIENT_EVENT_CLOSED, NULL);
  CHECK(cl != NULL && cl->reason == SIO_CLIENT_REASON_CLIENT_CLOSE, "closed");
  EXPECT(sio_client_poll_timeout(p->cl, &due), SIO_EMPTY);
  free_pair(p);
}

/* Moves the clock on by `ms` in steps of a second, running both sides' timers. */
static void pass_time(pair *p, uint64_t ms) {
  for (uint64_t t = 0; t < ms; t += 1000) {
    p->now += 1000;
    EXPECT(sio_server_handle_timeout(p->srv, p->now), SIO_OK);
    EXPECT(sio_client_handle_timeout(p->cl, p->now), SIO_OK);
    drive(p);
  }
}

/* Connection state recovery: the link drops, the server emits to the lost socket's room and
 * to the socket itself, and the client comes back into the same socket with what it missed,
 * once, in order; then its kept state resumes the session in a new client (a reboot). */
static void test_recovery(sio_transports transports, bool msgpack) {
  unsigned t = (unsigned)transports;
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  CHECK(config.recovery_ms == 0 && config.recovery_log_bytes == 1000000, "defaults");
  config.recovery_ms = 120000;
  config.msgpack_parser = msgpack;
  pair *p = new_pair_with(transports, &config, msgpack);
  uint32_t ns = 0;
  uint8_t state[SIO_RECOVERY_STATE_LEN];
  EXPECT(sio_client_connect(p->cl, "/", NULL, 0, &ns), SIO_OK);
  EXPECT(sio_client_recovery_state(p->cl, ns, state), SIO_EMPTY);
  EXPECT(sio_client_start(p->cl, p->now), SIO_OK);
  drive(p);
  EXPECT(sio_client_emit(p->cl, ns, "join", NULL), SIO_OK);
  drive(p);
  if (transports == SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET)
    CHECK(find(p, SIO_CLIENT_EVENT_UPGRADE, NULL) != NULL, "upgraded");
  const seen *c = find(p, SIO_CLIENT_EVENT_CONNECT, NULL);
  CHECK(c != NULL && !c->recovered, "first connect not recovered (transports %u)", t);
  CHECK(find(p, SIO_CLIENT_EVENT_MESSAGE, "joined") != NULL, "joined the room");
  CHECK(p->connects == 1 && !p->recovered, "server: a new socket");
  char sid[64] = {0};
  if (c) strcpy(sid, c->name);
  sio_socket socket = p->socket;
  EXPECT(sio_client_recovery_state(p->cl, ns, state), SIO_OK);
  CHECK(state[0] != 0, "a state to keep");

  /* The link drops: the server loses its streams (a WebSocket at once, polling at its ping
   * timeout) and parks the socket... */
  for (int i = 0; i < 3; i++) {
    if (p->linked[i]) EXPECT(sio_server_reset(p->srv, p->link[i], p->now), SIO_OK);
    p->linked[i] = false;
    p->c2s_len[i] = p->s2c_len[i] = 0;
    p->s_closed[i] = false;
  }
  for (int i = 0; i < 46; i++) {
    p->now += 1000;
    EXPECT(sio_server_handle_timeout(p->srv, p->now), SIO_OK);
    sio_transmit tx;
    while (sio_server_poll_transmit(p->srv, p->buf, CAP, &tx) == SIO_OK) {
    }
    sio_event sev;
    while (sio_server_poll_event(p->srv, &sev) == SIO_OK) server_app(p, &sev);
  }
  /* ...while the application emits to its room, to everyone and to it. */
  const char *room = "room";
  sio_targets to_room = {&room, 1, NULL, 0, NULL, 0, false};
  sio_args one = {(const uint8_t *)"1", 1, NULL, 0};
  size_t sent = 9;
  EXPECT(sio_server_broadcast(p->srv, "/", &to_room, "missed", &one, &sent), SIO_OK);
  CHECK(sent == 0, "nobody connected, sent %zu", sent);
  const uint8_t blob[3] = {1, 2, 3};
  sio_bytes att = {blob, sizeof blob};
  const char *ph = "2,{\"_placeholder\":true,\"num\":0}";
  sio_args two = {(const uint8_t *)ph, strlen(ph), &att, 1};
  EXPECT(sio_server_broadcast(p->srv, "/", NULL, "missed", &two, NULL), SIO_OK);
  EXPECT(sio_server_emit(p->srv, socket, "missed", NULL), SIO_UNKNOWN_SOCKET);

  /* The client notices and reconnects with its pid and offset. */
  size_t before = p->events;
  for (int i = 0; i < 3; i++) EXPECT(sio_client_closed(p->cl, (sio_client_stream)i, p->now), SIO_OK);
  pass_time(p, 8000);
  CHECK(p->connects == 2 && p->recovered && p->socket == socket, "server: recovered (%d, %d)",
        p->connects, p->recovered);
  const seen *m1 = NULL, *m2 = NULL, *back = NULL;
  int missed = 0;
  for (size_t i = before; i < p->events; i++) {
    const seen *s = &p->ev[i];
    if (s->kind == SIO_CLIENT_EVENT_MESSAGE && strcmp(s->name, "missed") == 0) {
      missed++;
      if (!m1) m1 = s;
      else if (!m2) m2 = s;
    }
    if (s->kind == SIO_CLIENT_EVENT_CONNECT) back = s;
  }
  CHECK(missed == 2, "each missed event once: %d (transports %u)", missed, t);
  CHECK(m1 && strcmp(m1->data, "1") == 0 && m1->attachments == 0, "first missed");
  CHECK(m2 && strcmp(m2->data, ph) == 0 && m2->blob_len == 3 && memcmp(m2->blob, blob, 3) == 0,
        "second missed, binary, without its offset");
  /* This server answers the CONNECT first and replays after it (Node replays first; the
   * client takes either order). */
  CHECK(back && back->recovered && strcmp(back->name, sid) == 0 && m1 && back < m1,
        "connect recovered, same id, then the missed events");
  sent = 0;
  EXPECT(sio_server_broadcast(p->srv, "/", &to_room, "after", &one, &sent), SIO_OK);
  CHECK(sent == 1, "back in its room: %zu", sent);
  EXPECT(sio_client_recovery_state(p->cl, ns, state), SIO_OK);

  /* A reboot: the link drops again and a new client resumes from the kept state. */
  for (int i = 0; i < 3; i++) {
    if (p->linked[i]) EXPECT(sio_server_reset(p->srv, p->link[i], p->now), SIO_OK);
    p->linked[i] = false;
    p->c2s_len[i] = p->s2c_len[i] = 0;
    p->s_closed[i] = false;
  }
  drive(p);
  EXPECT(sio_client_recovery_state(p->cl, ns, state), SIO_OK);
  sio_client_free(p->cl);
  sio_client_config cfg;
  EXPECT(sio_client_config_default(&cfg), SIO_OK);
  cfg.host = "localhost";
  cfg.transports = transports;
  cfg.msgpack_parser = msgpack;
  EXPECT(sio_client_new(&cfg, SEED, &p->cl), SIO_OK);
  EXPECT(sio_client_restore_recovery(p->cl, 0, state), SIO_UNKNOWN_NAMESPACE);
  EXPECT(sio_client_connect(p->cl, "/", NULL, 0, &ns), SIO_OK);
  uint8_t junk[SIO_RECOVERY_STATE_LEN];
  memset(junk, 0xff, sizeof junk);
  EXPECT(sio_client_restore_recovery(p->cl, ns, junk), SIO_INVALID_ARGUMENT);
  EXPECT(sio_client_restore_recovery(p->cl, ns, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_restore_recovery(p->cl, ns, state), SIO_OK);
  p->events = 0;
  pass_time(p, 46000);
  EXPECT(sio_client_start(p->cl, p->now), SIO_OK);
  drive(p);
  const seen *again = find(p, SIO_CLIENT_EVENT_CONNECT, NULL);
  CHECK(again && again->recovered && strcmp(again->name, sid) == 0, "resumed after a reboot");
  CHECK(p->connects == 3 && p->recovered && p->socket == socket, "server: recovered again");
  EXPECT(sio_client_restore_recovery(p->cl, ns, state), SIO_WRONG_STATE); /* joined */

  /* An explicit disconnect ends the session for good: a new socket next time. */
  EXPECT(sio_client_disconnect(p->cl, ns), SIO_OK);
  drive(p);
  EXPECT(sio_client_recovery_state(p->cl, ns, state), SIO_UNKNOWN_NAMESPACE); /* left */
  EXPECT(sio_client_recovery_state(NULL, ns, state), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_recovery_state(p->cl, ns, NULL), SIO_NULL_ARGUMENT);
  free_pair(p);
}

/* A driver that says why its connect failed: the attempt ends with that reason. */
static void test_connect_failure_reasons(void) {
  const sio_connect_failure why[4] = {SIO_CONNECT_FAILURE_REFUSED, SIO_CONNECT_FAILURE_UNREACHABLE,
                                      SIO_CONNECT_FAILURE_TLS, SIO_CONNECT_FAILURE_OTHER};
  const sio_client_reason want[4] = {SIO_CLIENT_REASON_CONNECT_REFUSED, SIO_CLIENT_REASON_UNREACHABLE,
                                     SIO_CLIENT_REASON_TLS, SIO_CLIENT_REASON_TRANSPORT_ERROR};
  for (int k = 0; k < 4; k++) {
    sio_client_config cfg;
    EXPECT(sio_client_config_default(&cfg), SIO_OK);
    cfg.host = "localhost";
    cfg.transports = SIO_TRANSPORTS_WEBSOCKET;
    cfg.reconnection = false;
    sio_client *cl = NULL;
    EXPECT(sio_client_new(&cfg, SEED, &cl), SIO_OK);
    uint32_t ns = 0;
    EXPECT(sio_client_connect(cl, "/", NULL, 0, &ns), SIO_OK);
    EXPECT(sio_client_start(cl, 0), SIO_OK);
    unsigned char buf[4096];
    sio_client_io io;
    EXPECT(sio_client_poll_io(cl, buf, sizeof buf, &io), SIO_OK);
    CHECK(io.kind == SIO_IO_CONNECT, "a connect first");
    EXPECT(sio_client_connect_failed_for(cl, io.stream, why[k], 1), SIO_OK);
    sio_client_event ev;
    bool closed = false;
    while (sio_client_poll_event(cl, &ev) == SIO_OK)
      if (ev.kind == SIO_CLIENT_EVENT_CLOSED) closed = ev.reason == want[k];
    CHECK(closed, "closed with reason %u (failure %d)", (unsigned)want[k], k);
    sio_client_free(cl);
  }
  EXPECT(sio_client_connect_failed_for(NULL, SIO_STREAM_WEBSOCKET, SIO_CONNECT_FAILURE_OTHER, 0),
         SIO_NULL_ARGUMENT);
}

static void test_misuse(void) {
  sio_client_config cfg;
  sio_client *cl = NULL;
  EXPECT(sio_client_config_default(NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_config_default(&cfg), SIO_OK);
  EXPECT(sio_client_new(&cfg, SEED, &cl), SIO_NULL_ARGUMENT); /* no host */
  cfg.host = "bad host";
  EXPECT(sio_client_new(&cfg, SEED, &cl), SIO_INVALID_ARGUMENT);
  cfg.host = "localhost";
  EXPECT(sio_client_new(NULL, SEED, &cl), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_new(&cfg, NULL, &cl), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_new(&cfg, SEED, &cl), SIO_OK);
  uint32_t ns = 0;
  EXPECT(sio_client_connect(cl, "chat", NULL, 0, &ns), SIO_INVALID_NAME);
  EXPECT(sio_client_connect(cl, "/", (const uint8_t *)"[1]", 3, &ns), SIO_INVALID_JSON);
  EXPECT(sio_client_connect(cl, NULL, NULL, 0, &ns), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_connect(cl, "/", NULL, 0, &ns), SIO_OK);
  sio_args bad = {(const uint8_t *)"1,", 2, NULL, 0};
  EXPECT(sio_client_emit(cl, ns, "x", &bad), SIO_INVALID_JSON);
  EXPECT(sio_client_emit(cl, ns, "connect", NULL), SIO_INVALID_NAME);
  EXPECT(sio_client_emit(cl, 7, "x", NULL), SIO_UNKNOWN_NAMESPACE);
  EXPECT(sio_client_emit(cl, 300, "x", NULL), SIO_UNKNOWN_NAMESPACE);
  sio_args null_json = {NULL, 3, NULL, 0};
  EXPECT(sio_client_emit(cl, ns, "x", &null_json), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_emit(cl, ns, NULL, NULL), SIO_NULL_ARGUMENT);
  const char *ph = "{\"_placeholder\":true,\"num\":0}";
  sio_args missing_blob = {(const uint8_t *)ph, strlen(ph), NULL, 0};
  EXPECT(sio_client_emit(cl, ns, "x", &missing_blob), SIO_ATTACHMENT_MISMATCH);
  EXPECT(sio_client_emit(cl, ns, "x", NULL), SIO_OK); /* waits in the outbox */
  EXPECT(sio_client_ack(cl, ns, 1, NULL), SIO_WRONG_STATE); /* not joined */
  sio_client_io io;
  EXPECT(sio_client_poll_io(cl, NULL, 0, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_poll_io(cl, NULL, 0, &io), SIO_EMPTY); /* not started */
  sio_client_event ev;
  EXPECT(sio_client_poll_event(cl, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_poll_event(cl, &ev), SIO_EMPTY);
  size_t taken = 0;
  EXPECT(sio_client_recv(cl, SIO_STREAM_WEBSOCKET, NULL, 4, 0, &taken), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_recv(NULL, SIO_STREAM_WEBSOCKET, NULL, 0, 0, &taken), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_start(NULL, 0), SIO_NULL_ARGUMENT);
  size_t out = 0;
  EXPECT(sio_client_out_len(cl, &out), SIO_OK);
  CHECK(out > 16 * 1024, "out len %zu", out);
  EXPECT(sio_client_disconnect(cl, ns), SIO_OK);
  sio_client_free(cl);
  sio_client_free(NULL);
  sio_client_loop *lp = NULL;
  EXPECT(sio_client_loop_new(&cfg, "ftp://x", NULL, 0, &lp), SIO_INVALID_ARGUMENT);
  EXPECT(sio_client_loop_new(&cfg, NULL, NULL, 0, &lp), SIO_NULL_ARGUMENT);
  EXPECT(sio_client_loop_run(NULL, NULL, NULL), SIO_NULL_ARGUMENT);
  sio_client_loop_free(NULL);
}

int main(void) {
  for (int msgpack = 0; msgpack < 2; msgpack++) {
    test_session(SIO_TRANSPORTS_WEBSOCKET, msgpack);
    test_session(SIO_TRANSPORTS_POLLING, msgpack);
    test_session(SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET, msgpack);
    test_recovery(SIO_TRANSPORTS_WEBSOCKET, msgpack);
    test_recovery(SIO_TRANSPORTS_POLLING, msgpack);
    test_recovery(SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET, msgpack);
  }
  test_connect_failure_reasons();
  test_misuse();
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("client C tests passed\n");
  return 0;
}
