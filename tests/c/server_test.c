/*
 * C unit tests of the sans-IO server through include/siocore.h: no sockets, a fake clock.
 * Each check prints "ok ..." or "FAIL ..." and the program exits 1 when one failed. Built and
 * run (also under ASan+UBSan and valgrind) by scripts/c-tests.sh.
 */
#include "siocore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

int failures = 0;

static const uint8_t SEED[32] = {7};

/* ------------------------------------------------------------------ a fake client */

typedef struct {
  sio_server *srv;
  uint64_t now;
  /* Output of each stream (streams are few; ids compared). */
  sio_stream ids[16];
  unsigned char *out[16];
  size_t out_len[16];
  bool closed[16];
  size_t count;
} harness;

static int slot(harness *h, sio_stream s) {
  for (size_t i = 0; i < h->count; i++)
    if (h->ids[i] == s) return (int)i;
  h->ids[h->count] = s;
  h->out[h->count] = NULL;
  h->out_len[h->count] = 0;
  h->closed[h->count] = false;
  return (int)h->count++;
}

/* Drains the transmits into the per-stream outputs. */
static void drain(harness *h) {
  unsigned char buf[4096];
  sio_transmit t;
  while (sio_server_poll_transmit(h->srv, buf, sizeof buf, &t) == SIO_OK) {
    int i = slot(h, t.stream);
    h->out[i] = realloc(h->out[i], h->out_len[i] + t.len + 1);
    memcpy(h->out[i] + h->out_len[i], buf, t.len);
    h->out_len[i] += t.len;
    h->out[i][h->out_len[i]] = 0;
    if (t.close) h->closed[i] = true;
  }
}

static sio_stream open_stream(harness *h) {
  sio_stream s = 0;
  EXPECT(sio_server_open_stream(h->srv, h->now, &s), SIO_OK);
  slot(h, s);
  return s;
}

static void feed(harness *h, sio_stream s, const void *bytes, size_t len) {
  unsigned char *copy = malloc(len ? len : 1);
  memcpy(copy, bytes, len);
  size_t consumed = 0;
  EXPECT(sio_server_feed(h->srv, s, h->now, copy, len, &consumed), SIO_OK);
  CHECK(consumed == len, "consumed %zu of %zu", consumed, len);
  free(copy);
  drain(h);
}

static void feed_str(harness *h, sio_stream s, const char *text) { feed(h, s, text, strlen(text)); }

/* Takes the output of a stream (caller frees). */
static unsigned char *take(harness *h, sio_stream s, size_t *len) {
  int i = slot(h, s);
  unsigned char *o = h->out[i];
  *len = h->out_len[i];
  h->out[i] = NULL;
  h->out_len[i] = 0;
  return o;
}

static bool contains(const unsigned char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; hay && i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0) return true;
  return false;
}

/* A masked client WebSocket frame of `len` bytes; returns its length. */
static size_t ws_frame(unsigned char *out, int opcode, const void *payload, size_t len) {
  static const unsigned char key[4] = {1, 2, 3, 4};
  size_t n = 0;
  out[n++] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    out[n++] = (unsigned char)(0x80 | len);
  } else {
    out[n++] = 0x80 | 126;
    out[n++] = (unsigned char)(len >> 8);
    out[n++] = (unsigned char)len;
  }
  memcpy(out + n, key, 4);
  n += 4;
  for (size_t i = 0; i < len; i++) out[n + i] = ((const unsigned char *)payload)[i] ^ key[i % 4];
  return n + len;
}

static void ws_send(harness *h, sio_stream s, int opcode, const void *payload, size_t len) {
  unsigned char frame[2048];
  size_t n = ws_frame(frame, opcode, payload, len);
  feed(h, s, frame, n);
}

static void ws_text(harness *h, sio_stream s, const char *text) { ws_send(h, s, 1, text, strlen(text)); }

static const char *UPGRADE =
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* The next event; fails the test when there is none. */
static sio_event next_event(harness *h) {
  sio_event ev;
  memset(&ev, 0, sizeof ev);
  sio_result r = sio_server_poll_event(h->srv, &ev);
  CHECK(r == SIO_OK, "expected an event, got %s", sio_result_str(r));
  return ev;
}

static bool bytes_eq(sio_bytes b, const char *text) {
  return b.len == strlen(text) && (b.len == 0 || memcmp(b.ptr, text, b.len) == 0);
}

/* A WebSocket client joined to `/`; returns its stream, writes its socket. */
static sio_stream ws_client(harness *h, sio_socket *socket) {
  sio_stream s = open_stream(h);
  feed_str(h, s, UPGRADE);
  ws_text(h, s, "40");
  sio_event ev = next_event(h);
  CHECK(ev.kind == SIO_EVENT_CONNECT, "kind %u", (unsigned)ev.kind);
  CHECK(bytes_eq(ev.name, "/") && bytes_eq(ev.data, "{}"), "connect fields");
  uint32_t ns = 99;
  EXPECT(sio_server_accept(h->srv, ev.socket, &ns), SIO_OK);
  CHECK(ns == 0, "namespace %u", ns);
  drain(h);
  size_t len;
  free(take(h, s, &len));
  *socket = ev.socket;
  return s;
}

static harness new_harness(const sio_server_config *config) {
  harness h;
  memset(&h, 0, sizeof h);
  EXPECT(sio_server_new(config, SEED, 0, &h.srv), SIO_OK);
  return h;
}

static void free_harness(harness *h) {
  for (size_t i = 0; i < h->count; i++) free(h->out[i]);
  sio_server_free(h->srv);
}

/* ------------------------------------------------------------------ tests */

static void test_version_and_results(void) {
  CHECK(strcmp(sio_version(), SIOCORE_VERSION) == 0, "%s vs %s", sio_version(), SIOCORE_VERSION);
  CHECK(strcmp(sio_result_str(SIO_OK), "ok") == 0, "ok string");
  CHECK(sio_result_str(SIO_TABLE_FULL) != NULL, "table full string");
  printf("ok version and result strings\n");
}

static void test_misuse(void) {
  sio_server *srv = NULL;
  EXPECT(sio_server_new(NULL, NULL, 0, &srv), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_new(NULL, SEED, 0, NULL), SIO_NULL_ARGUMENT);
  sio_server_config bad;
  EXPECT(sio_server_config_default(&bad), SIO_OK);
  bad.ping_interval_ms = 0;
  EXPECT(sio_server_new(&bad, SEED, 0, &srv), SIO_INVALID_ARGUMENT);
  EXPECT(sio_server_config_default(NULL), SIO_NULL_ARGUMENT);
  sio_server_free(NULL);

  harness h = new_harness(NULL);
  sio_stream s = 0;
  size_t n = 0;
  unsigned char buf[16];
  sio_transmit t;
  sio_event ev;
  uint64_t ms;
  EXPECT(sio_server_open_stream(NULL, 0, &s), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_open_stream(h.srv, 0, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_feed(h.srv, 12345, 0, buf, 1, &n), SIO_UNKNOWN_STREAM);
  EXPECT(sio_server_feed(h.srv, 12345, 0, NULL, 1, &n), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_feed_eof(h.srv, 999, 0), SIO_UNKNOWN_STREAM);
  EXPECT(sio_server_reset(NULL, 999, 0), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_poll_transmit(h.srv, buf, sizeof buf, &t), SIO_EMPTY);
  EXPECT(sio_server_poll_transmit(h.srv, NULL, 4, &t), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_poll_event(h.srv, &ev), SIO_EMPTY);
  EXPECT(sio_server_poll_event(h.srv, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_poll_timeout(h.srv, &ms), SIO_EMPTY);
  EXPECT(sio_server_emit(h.srv, 42, "x", NULL), SIO_UNKNOWN_SOCKET);
  EXPECT(sio_server_emit(h.srv, 42, NULL, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_join(h.srv, 42, "room"), SIO_UNKNOWN_SOCKET);
  EXPECT(sio_server_close(h.srv, 42), SIO_UNKNOWN_SESSION);
  EXPECT(sio_server_broadcast(h.srv, "/nope", NULL, "x", NULL, NULL), SIO_UNKNOWN_NAMESPACE);
  /* Responding where no request waits. */
  s = open_stream(&h);
  EXPECT(sio_server_respond(h.srv, s, 200, NULL, 0, NULL, 0), SIO_WRONG_STATE);
  EXPECT(sio_server_respond(h.srv, s, 200, NULL, 1, NULL, 0), SIO_NULL_ARGUMENT);
  /* Invalid UTF-8 in a name. */
  EXPECT(sio_server_emit(h.srv, 42, "\xff", NULL), SIO_INVALID_ARGUMENT);
  char name[8];
  EXPECT(sio_server_namespace_name(h.srv, 0, name, 1, &n), SIO_BUFFER_TOO_SMALL);
  CHECK(n == 2, "needs %zu", n);
  EXPECT(sio_server_namespace_name(h.srv, 0, name, sizeof name, &n), SIO_OK);
  CHECK(strcmp(name, "/") == 0, "%s", name);
  EXPECT(sio_server_namespace_name(h.srv, 5, name, sizeof name, &n), SIO_UNKNOWN_NAMESPACE);
  free_harness(&h);
  printf("ok misuse gets the documented results\n");
}

static void test_polling_handshake_and_connect(void) {
  sio_server_config kept;
  EXPECT(sio_server_config_default(&kept), SIO_OK);
  CHECK(kept.handshake_head == 0, "none kept by default");
  kept.handshake_head = 1024;
  harness h = new_harness(&kept);
  sio_stream s = open_stream(&h);
  feed_str(&h, s, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t len;
  unsigned char *out = take(&h, s, &len);
  CHECK(contains(out, len, "HTTP/1.1 200 OK"), "status");
  CHECK(contains(out, len, "0{\"sid\":\""), "open packet");
  CHECK(contains(out, len, "\"upgrades\":[\"websocket\"],\"pingInterval\":25000"), "open fields");
  char sid[21] = {0};
  const unsigned char *at = out;
  for (size_t i = 0; i + 9 <= len; i++)
    if (memcmp(out + i, "0{\"sid\":\"", 9) == 0) at = out + i + 9;
  memcpy(sid, at, 20);
  free(out);

  char req[512];
  snprintf(req, sizeof req,
           "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 17\r\n\r\n40{\"token\":\"abc\"}",
           sid);
  feed_str(&h, s, req);
  out = take(&h, s, &len);
  CHECK(contains(out, len, "\r\n\r\nok"), "POST answered");
  free(out);
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_CONNECT && bytes_eq(ev.data, "{\"token\":\"abc\"}"), "auth");
  /* The session's opening request, kept (handshake_head): its headers through
   * sio_event_header on a sio_event holding it. */
  uint8_t head[1024];
  size_t head_len = 0;
  uint64_t issued = 99;
  EXPECT(sio_server_handshake(h.srv, ev.session, head, 4, &head_len, &issued),
         SIO_BUFFER_TOO_SMALL);
  CHECK(head_len > 4, "the length needed");
  EXPECT(sio_server_handshake(h.srv, ev.session, head, sizeof head, &head_len, &issued), SIO_OK);
  CHECK(head_len > 0 && memcmp(head, "GET /socket.io/?EIO=4&transport=polling", 39) == 0,
        "the request line");
  sio_event holder;
  memset(&holder, 0, sizeof holder);
  holder.http_head.ptr = head;
  holder.http_head.len = head_len;
  sio_bytes host;
  EXPECT(sio_event_header(&holder, "host", &host), SIO_OK);
  CHECK(bytes_eq(host, "x"), "its Host header");
  EXPECT(sio_server_accept(h.srv, ev.socket, NULL), SIO_OK);
  EXPECT(sio_server_accept(h.srv, ev.socket, NULL), SIO_WRONG_STATE);
  snprintf(req, sizeof req, "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n",
           sid);
  feed_str(&h, s, req);
  out = take(&h, s, &len);
  CHECK(contains(out, len, "40{\"sid\":\""), "CONNECT reply");
  free(out);
  /* The kept-alive connection has headers_timeout_ms for its next request; when it passes,
   * the connection closes and the session stays until its first ping. */
  uint64_t due = 0;
  EXPECT(sio_server_poll_timeout(h.srv, &due), SIO_OK);
  CHECK(due == 10000, "head deadline at %llu", (unsigned long long)due);
  EXPECT(sio_server_handle_timeout(h.srv, due), SIO_OK);
  drain(&h);
  CHECK(h.closed[slot(&h, s)], "idle connection closed");
  EXPECT(sio_server_poll_timeout(h.srv, &due), SIO_OK);
  CHECK(due == 25000, "first ping at %llu", (unsigned long long)due);
  free_harness(&h);
  printf("ok polling handshake and CONNECT\n");
}

static void test_events_acks_binary(void) {
  harness h = new_harness(NULL);
  sio_socket socket;
  sio_stream s = ws_client(&h, &socket);

  /* An event with an ack request, answered. */
  ws_text(&h, s, "427[\"sum\",1,2]");
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_MESSAGE && bytes_eq(ev.name, "sum") && bytes_eq(ev.data, "1,2"), "event");
  CHECK(ev.has_ack && ev.ack_id == 7, "ack id %llu", (unsigned long long)ev.ack_id);
  sio_args three = {(const uint8_t *)"3", 1, NULL, 0};
  EXPECT(sio_server_ack(h.srv, ev.socket, ev.ack_id, &three), SIO_OK);
  drain(&h);
  size_t len;
  unsigned char *out = take(&h, s, &len);
  CHECK(contains(out, len, "437[3]"), "ack sent");
  free(out);

  /* A binary event in, a binary emit out. */
  ws_text(&h, s, "451-[\"file\",{\"_placeholder\":true,\"num\":0}]");
  EXPECT(sio_server_poll_event(h.srv, &ev), SIO_EMPTY);
  const unsigned char blob[3] = {1, 2, 3};
  ws_send(&h, s, 2, blob, 3);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_MESSAGE && ev.attachments_len == 1, "attachments %zu", ev.attachments_len);
  CHECK(ev.attachments_len == 1 && ev.attachments[0].len == 3 && memcmp(ev.attachments[0].ptr, blob, 3) == 0,
        "attachment bytes");
  sio_bytes views[1] = {{blob, 3}};
  const char *json = "{\"_placeholder\":true,\"num\":0}";
  sio_args bin = {(const uint8_t *)json, strlen(json), views, 1};
  EXPECT(sio_server_emit(h.srv, socket, "file-back", &bin), SIO_OK);
  drain(&h);
  out = take(&h, s, &len);
  CHECK(contains(out, len, "451-[\"file-back\",{\"_placeholder\":true,\"num\":0}]"), "binary header");
  CHECK(len >= 5 && out[len - 5] == 0x82 && out[len - 4] == 3, "binary frame");
  free(out);

  /* An attachment sent on: given back as the event's own views, it is queued by reference
   * to the received packet (two blocks: the new packet's text and the view), not copied
   * (as the views' copy below is, into as many blocks as the attachment takes). */
  unsigned char big[1800];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + i / 251);
  ws_text(&h, s, "451-[\"file\",{\"_placeholder\":true,\"num\":0}]");
  ws_send(&h, s, 2, big, sizeof big);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_MESSAGE && ev.attachments_len == 1 && ev.attachments[0].len == sizeof big,
        "the large attachment");
  sio_usage u0, u1, u2;
  EXPECT(sio_server_usage(h.srv, &u0), SIO_OK);
  sio_bytes copied[1] = {ev.attachments[0]};
  sio_args by_copy = {ev.data.ptr, ev.data.len, copied, 1};
  EXPECT(sio_server_emit(h.srv, socket, "file-back", &by_copy), SIO_OK);
  EXPECT(sio_server_usage(h.srv, &u1), SIO_OK);
  sio_args same = {ev.data.ptr, ev.data.len, ev.attachments, ev.attachments_len};
  EXPECT(sio_server_emit(h.srv, socket, "file-back", &same), SIO_OK);
  EXPECT(sio_server_usage(h.srv, &u2), SIO_OK);
  CHECK(u1.blocks - u0.blocks >= 1 + sizeof big / 252, "copied: %zu blocks", u1.blocks - u0.blocks);
  CHECK(u2.blocks - u1.blocks == 2, "shared: %zu blocks", u2.blocks - u1.blocks);
  EXPECT(sio_server_usage(h.srv, NULL), SIO_NULL_ARGUMENT);
  drain(&h);
  out = take(&h, s, &len);
  /* Both binary frames carry the attachment (a 16-bit length: 0x82 0x7e 0x07 0x08). */
  size_t frames = 0;
  for (size_t i = 0; i + 4 + sizeof big <= len; i++)
    if (out[i] == 0x82 && out[i + 1] == 126 && out[i + 2] == 0x07 && out[i + 3] == 0x08 &&
        memcmp(out + i + 4, big, sizeof big) == 0)
      frames++;
  CHECK(frames == 2, "%zu frames with the attachment", frames);
  free(out);

  /* Bad arguments. */
  sio_args broken = {(const uint8_t *)"1,", 2, NULL, 0};
  EXPECT(sio_server_emit(h.srv, socket, "x", &broken), SIO_INVALID_JSON);
  sio_args mismatch = {(const uint8_t *)json, strlen(json), NULL, 0};
  EXPECT(sio_server_emit(h.srv, socket, "x", &mismatch), SIO_ATTACHMENT_MISMATCH);
  EXPECT(sio_server_emit(h.srv, socket, "connect", NULL), SIO_INVALID_NAME);

  /* The server asks; the answer comes; a second ask times out. */
  uint64_t id = 99;
  EXPECT(sio_server_emit_with_ack(h.srv, socket, "q", NULL, 500, &id), SIO_OK);
  CHECK(id == 0, "first ack id %llu", (unsigned long long)id);
  drain(&h);
  free(take(&h, s, &len));
  ws_text(&h, s, "430[\"yes\"]");
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_ACK && ev.ack_id == 0 && bytes_eq(ev.data, "\"yes\""), "ack event");
  EXPECT(sio_server_emit_with_ack(h.srv, socket, "q", NULL, 500, &id), SIO_OK);
  EXPECT(sio_server_emit_with_ack(h.srv, socket, "q", NULL, 500, NULL), SIO_NULL_ARGUMENT);
  h.now = 499;
  EXPECT(sio_server_handle_timeout(h.srv, h.now), SIO_OK);
  EXPECT(sio_server_poll_event(h.srv, &ev), SIO_EMPTY);
  h.now = 500;
  EXPECT(sio_server_handle_timeout(h.srv, h.now), SIO_OK);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_ACK_TIMEOUT && ev.ack_id == 1, "timeout event");

  /* A socket id as the client knows it. */
  char wire[21];
  EXPECT(sio_server_socket_id(h.srv, socket, wire), SIO_OK);
  CHECK(strlen(wire) == 20, "id %s", wire);

  /* The client leaves. */
  ws_text(&h, s, "41");
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_DISCONNECT && ev.reason == SIO_REASON_CLIENT_DISCONNECT, "disconnect");
  EXPECT(sio_server_emit(h.srv, socket, "x", NULL), SIO_UNKNOWN_SOCKET);
  free_harness(&h);
  printf("ok events, acks both ways, binary, timeouts\n");
}

static void test_rooms_and_broadcast(void) {
  harness h = new_harness(NULL);
  sio_socket a, b, c;
  sio_stream sa = ws_client(&h, &a), sb = ws_client(&h, &b), sc = ws_client(&h, &c);
  EXPECT(sio_server_join(h.srv, a, "red"), SIO_OK);
  EXPECT(sio_server_join(h.srv, b, "red"), SIO_OK);
  const char *rooms[1] = {"red"};
  sio_socket except[1] = {a};
  sio_targets to = {rooms, 1, NULL, 0, except, 1, false};
  size_t sent = 0;
  sio_args args = {(const uint8_t *)"\"hi\"", 4, NULL, 0};
  EXPECT(sio_server_broadcast(h.srv, "/", &to, "news", &args, &sent), SIO_OK);
  CHECK(sent == 1, "sent %zu", sent);
  EXPECT(sio_server_broadcast(h.srv, "/", NULL, "all", NULL, &sent), SIO_OK);
  CHECK(sent == 3, "sent %zu", sent);
  drain(&h);
  size_t la, lb, lc;
  unsigned char *oa = take(&h, sa, &la), *ob = take(&h, sb, &lb), *oc = take(&h, sc, &lc);
  CHECK(!contains(oa, la, "news") && contains(ob, lb, "42[\"news\",\"hi\"]") && !contains(oc, lc, "news"),
        "room broadcast");
  CHECK(contains(oa, la, "42[\"all\"]") && contains(ob, lb, "42[\"all\"]") && contains(oc, lc, "42[\"all\"]"),
        "namespace broadcast");
  free(oa);
  free(ob);
  free(oc);
  EXPECT(sio_server_leave(h.srv, b, "red"), SIO_OK);
  EXPECT(sio_server_disconnect(h.srv, c), SIO_OK);
  drain(&h);
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_DISCONNECT && ev.reason == SIO_REASON_SERVER_DISCONNECT, "server disconnect");
  free_harness(&h);
  printf("ok rooms and broadcasts\n");
}

static void test_http_and_engine(void) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  config.engineio_path = "/engine.io/";
  harness h = new_harness(&config);
  sio_stream s = open_stream(&h);
  feed_str(&h, s, "GET /page?x=1 HTTP/1.1\r\nHost: example\r\nX-Test:  yes \r\n\r\n");
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_HTTP && bytes_eq(ev.name, "GET") && bytes_eq(ev.http_path, "/page") &&
            bytes_eq(ev.http_query, "x=1"),
        "http event");
  sio_bytes value;
  EXPECT(sio_event_header(&ev, "x-test", &value), SIO_OK);
  CHECK(bytes_eq(value, "yes"), "header value");
  EXPECT(sio_event_header(&ev, "missing", &value), SIO_EMPTY);
  sio_header headers[1] = {{"Content-Type", {(const uint8_t *)"text/plain", 10}}};
  EXPECT(sio_server_respond(h.srv, ev.stream, 200, headers, 1, (const uint8_t *)"hello", 5), SIO_OK);
  drain(&h);
  size_t len;
  unsigned char *out = take(&h, s, &len);
  CHECK(contains(out, len, "Content-Type: text/plain") && contains(out, len, "\r\n\r\nhello"), "response");
  free(out);

  /* Plain Engine.IO over WebSocket: binary stays binary. */
  sio_stream e = open_stream(&h);
  feed_str(&h, e,
           "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n");
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_ENGINE_OPEN, "engine open");
  sio_session session = ev.session;
  const unsigned char bytes[2] = {0xde, 0xad};
  ws_send(&h, e, 2, bytes, 2);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_ENGINE_MESSAGE && ev.binary && ev.data.len == 2, "engine message");
  EXPECT(sio_server_send(h.srv, session, ev.data.ptr, ev.data.len, true), SIO_OK);
  EXPECT(sio_server_send(h.srv, session, (const uint8_t *)"\xff", 1, false), SIO_INVALID_ARGUMENT);
  drain(&h);
  out = take(&h, e, &len);
  CHECK(len >= 4 && out[len - 4] == 0x82 && out[len - 2] == 0xde, "binary echo");
  free(out);
  EXPECT(sio_server_close(h.srv, session), SIO_OK);
  drain(&h);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_ENGINE_CLOSE && ev.reason == SIO_REASON_SERVER_CLOSE, "engine close");
  free_harness(&h);
  printf("ok plain HTTP and plain Engine.IO\n");
}

static void test_tiny_buffers_and_eof(void) {
  harness h = new_harness(NULL);
  sio_stream s = open_stream(&h);
  const char *req = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t consumed = 99;
  unsigned char part[8];
  memcpy(part, req, 8);
  EXPECT(sio_server_feed(h.srv, s, 0, part, 8, &consumed), SIO_OK);
  CHECK(consumed == 0, "a partial head is not consumed");
  /* One byte of output at a time. */
  unsigned char whole[512];
  memcpy(whole, req, strlen(req));
  EXPECT(sio_server_feed(h.srv, s, 0, whole, strlen(req), &consumed), SIO_OK);
  unsigned char one[1];
  sio_transmit t;
  size_t total = 0;
  while (sio_server_poll_transmit(h.srv, one, 1, &t) == SIO_OK) total += t.len;
  CHECK(total > 200, "total %zu", total);
  EXPECT(sio_server_feed_eof(h.srv, s, 0), SIO_OK);
  bool closed = false;
  while (sio_server_poll_transmit(h.srv, one, 1, &t) == SIO_OK) closed |= t.close;
  CHECK(closed, "closed after EOF");
  EXPECT(sio_server_feed_eof(h.srv, s, 0), SIO_UNKNOWN_STREAM);
  free_harness(&h);
  printf("ok partial input, one-byte output buffers, EOF\n");
}

static void test_limits(void) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  config.max_sessions = 1;
  config.max_queued_bytes = 256;
  config.max_pool_bytes = 64 * 1024;
  harness h = new_harness(&config);
  /* The stream table: room for a few streams per session. */
  sio_stream s;
  sio_result r = SIO_OK;
  size_t opened = 0;
  while ((r = sio_server_open_stream(h.srv, 0, &s)) == SIO_OK) opened++;
  CHECK(r == SIO_TABLE_FULL && opened > 0, "%s after %zu", sio_result_str(r), opened);
  free_harness(&h);

  h = new_harness(&config);
  sio_socket socket;
  ws_client(&h, &socket);
  /* A reply the client's queue cannot take: the session is closed as a slow reader. */
  static char big[600];
  memset(big, 'x', sizeof big);
  big[0] = '"';
  big[sizeof big - 1] = '"';
  sio_args args = {(const uint8_t *)big, sizeof big, NULL, 0};
  EXPECT(sio_server_emit(h.srv, socket, "big", &args), SIO_SLOW_READER);
  drain(&h);
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_DISCONNECT && ev.reason == SIO_REASON_SLOW_READER, "slow reader event");
  /* A response header that would inject a line. */
  sio_stream http = open_stream(&h);
  feed_str(&h, http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ev = next_event(&h);
  sio_header bad[1] = {{"X-Bad", {(const uint8_t *)"a\r\nb", 4}}};
  EXPECT(sio_server_respond(h.srv, ev.stream, 200, bad, 1, NULL, 0), SIO_INVALID_RESPONSE);
  EXPECT(sio_server_respond(h.srv, ev.stream, 200, NULL, 0, NULL, 0), SIO_OK);
  free_harness(&h);

  /* The byte pool. */
  config.max_queued_bytes = 1 << 20;
  config.max_pool_bytes = 1024;
  h = new_harness(&config);
  ws_client(&h, &socket);
  static char huge[4096];
  memset(huge, 'y', sizeof huge);
  huge[0] = '"';
  huge[sizeof huge - 1] = '"';
  sio_args large = {(const uint8_t *)huge, sizeof huge, NULL, 0};
  EXPECT(sio_server_emit(h.srv, socket, "huge", &large), SIO_POOL_FULL);
  EXPECT(sio_server_emit(h.srv, socket, "small", NULL), SIO_OK);
  free_harness(&h);

  /* The rooms one socket may join. */
  EXPECT(sio_server_config_default(&config), SIO_OK);
  config.max_rooms_per_socket = 1;
  h = new_harness(&config);
  ws_client(&h, &socket);
  EXPECT(sio_server_join(h.srv, socket, "a"), SIO_OK);
  EXPECT(sio_server_join(h.srv, socket, "b"), SIO_SOCKET_LIMIT);
  EXPECT(sio_server_leave(h.srv, socket, "a"), SIO_OK);
  EXPECT(sio_server_join(h.srv, socket, "b"), SIO_OK);
  free_harness(&h);
  printf("ok table, queue, pool, room and response limits\n");
}

/* A driver whose socket is full pauses the stream: nothing more comes for it until it
 * resumes, and then it comes in order. */
static void test_pause_and_resume(void) {
  harness h = new_harness(NULL);
  sio_socket socket;
  sio_stream s = ws_client(&h, &socket);
  EXPECT(sio_server_pause_transmit(h.srv, s), SIO_OK);
  EXPECT(sio_server_pause_transmit(h.srv, 12345), SIO_UNKNOWN_STREAM);
  EXPECT(sio_server_pause_transmit(NULL, s), SIO_NULL_ARGUMENT);
  sio_args one = {(const uint8_t *)"1", 1, NULL, 0};
  sio_args two = {(const uint8_t *)"2", 1, NULL, 0};
  EXPECT(sio_server_emit(h.srv, socket, "n", &one), SIO_OK);
  EXPECT(sio_server_emit(h.srv, socket, "n", &two), SIO_OK);
  drain(&h);
  size_t len;
  unsigned char *out = take(&h, s, &len);
  CHECK(len == 0, "%zu bytes for a paused stream", len);
  free(out);
  EXPECT(sio_server_resume_transmit(h.srv, s), SIO_OK);
  drain(&h);
  out = take(&h, s, &len);
  CHECK(contains(out, len, "42[\"n\",1]") && contains(out, len, "42[\"n\",2]"), "both after resume");
  free(out);
  free_harness(&h);
  printf("ok pause and resume a stream\n");
}

/* The ready loop lends its server to the callback: freeing that handle is a no-op (it lives
 * on the loop's stack; under ASan and valgrind a free of it would be reported), and the
 * handle keeps working for the rest of the call. */
typedef struct {
  sio_server_loop *lp;
  int calls;
  sio_result respond;
} lent_state;

static void lent_cb(void *userdata, sio_server *server, const sio_event *ev) {
  lent_state *st = userdata;
  if (ev->kind != SIO_EVENT_HTTP) return;
  st->calls++;
  sio_server_free(server);
  st->respond = sio_server_respond(server, ev->stream, 200, NULL, 0, (const uint8_t *)"still here", 10);
  sio_server_loop_stop(st->lp);
}

static void test_free_of_a_lent_handle(void) {
  lent_state st = {NULL, 0, SIO_PANIC};
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &st.lp), SIO_OK);
  uint16_t port = 0;
  EXPECT(sio_server_loop_port(st.lp, &port), SIO_OK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
  const char *req = "GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req), "write");
  EXPECT(sio_server_loop_run(st.lp, lent_cb, &st), SIO_OK);
  CHECK(st.calls == 1, "%d calls", st.calls);
  EXPECT(st.respond, SIO_OK);
  char buf[512];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
  buf[len] = 0;
  CHECK(strstr(buf, "200 OK") && strstr(buf, "still here"), "response: %s", buf);
  close(fd);
  sio_server_loop_free(st.lp);
  printf("ok freeing a lent handle is a no-op\n");
}

/* The ready loop hands a binary event's attachments to its callback, and the callback
 * sends them on by reference with its lent handle (the text and a view: two blocks). */
typedef struct {
  sio_server_loop *lp;
  size_t attachments;
  char blob[1000];
  size_t shared_blocks;
} binary_state;

static void binary_cb(void *userdata, sio_server *server, const sio_event *ev) {
  binary_state *st = userdata;
  if (ev->kind == SIO_EVENT_CONNECT) {
    sio_server_accept(server, ev->socket, NULL);
  } else if (ev->kind == SIO_EVENT_MESSAGE) {
    st->attachments = ev->attachments_len;
    if (ev->attachments_len == 1 && ev->attachments[0].len <= sizeof st->blob)
      memcpy(st->blob, ev->attachments[0].ptr, ev->attachments[0].len);
    sio_usage before, after;
    sio_server_usage(server, &before);
    sio_args same = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
    if (sio_server_emit(server, ev->socket, "b-back", &same) == SIO_OK && sio_server_usage(server, &after) == SIO_OK)
      st->shared_blocks = after.blocks - before.blocks;
    sio_server_loop_stop(st->lp);
  }
}

static void test_loop_binary_event(void) {
  static binary_state st;
  static char blob[1000];
  memset(blob, 'b', sizeof blob);
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &st.lp), SIO_OK);
  uint16_t port = 0;
  EXPECT(sio_server_loop_port(st.lp, &port), SIO_OK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
  unsigned char req[2048];
  size_t n = (size_t)snprintf((char *)req, sizeof req, "%s", UPGRADE);
  const char *event = "451-[\"b\",{\"_placeholder\":true,\"num\":0}]";
  n += ws_frame(req + n, 1, "40", 2);
  n += ws_frame(req + n, 1, event, strlen(event));
  n += ws_frame(req + n, 2, blob, sizeof blob);
  CHECK(write(fd, req, n) == (ssize_t)n, "write");
  EXPECT(sio_server_loop_run(st.lp, binary_cb, &st), SIO_OK);
  CHECK(st.attachments == 1 && memcmp(st.blob, blob, sizeof blob) == 0, "%zu attachments",
        st.attachments);
  /* A copy would take 6 (the text, and 1 000 bytes in 5 blocks of 252 less a header). */
  CHECK(st.shared_blocks == 2, "sent on in %zu blocks", st.shared_blocks);
  close(fd);
  sio_server_loop_free(st.lp);
  printf("ok the ready loop hands out attachments\n");
}

/* ------------------------------------------------------------------ a cluster by hand */

/* What the cluster tests saw of the events `sio_server_cluster_receive` and
 * `sio_server_cluster_poll_done` handed out (copied: their views end with the message). */
typedef struct {
  int sockets, answers, side_emits, done;
  char sockets_data[1024];
  char answer_data[64];
  char side_name[32];
  char side_data[64];
  bool side_ack;
  char request[SIO_REQUEST_LEN];
  uint32_t done_answers;
  bool done_timed_out;
  /* Answer a server-side emit that waits for one with this JSON value (NULL: do not). */
  const char *answer_with;
} cluster_seen;

static void copy_view(char *out, size_t cap, sio_bytes b) {
  size_t n = b.len < cap - 1 ? b.len : cap - 1;
  if (n) memcpy(out, b.ptr, n);
  out[n] = 0;
}

static void on_cluster_event(harness *h, const sio_event *ev, cluster_seen *seen) {
  switch (ev->kind) {
  case SIO_EVENT_CLUSTER_SOCKETS:
    seen->sockets++;
    copy_view(seen->sockets_data, sizeof seen->sockets_data, ev->data);
    memcpy(seen->request, ev->request, SIO_REQUEST_LEN);
    break;
  case SIO_EVENT_CLUSTER_ANSWER:
    seen->answers++;
    copy_view(seen->answer_data, sizeof seen->answer_data, ev->data);
    memcpy(seen->request, ev->request, SIO_REQUEST_LEN);
    break;
  case SIO_EVENT_SERVER_SIDE_EMIT:
    seen->side_emits++;
    copy_view(seen->side_name, sizeof seen->side_name, ev->name);
    copy_view(seen->side_data, sizeof seen->side_data, ev->data);
    seen->side_ack = ev->has_ack;
    memcpy(seen->request, ev->request, SIO_REQUEST_LEN);
    if (ev->has_ack && seen->answer_with)
      EXPECT(sio_server_cluster_answer(h->srv, ev->namespace_index, ev->request, seen->answer_with), SIO_OK);
    break;
  case SIO_EVENT_CLUSTER_DONE:
    seen->done++;
    memcpy(seen->request, ev->request, SIO_REQUEST_LEN);
    seen->done_answers = ev->answers;
    seen->done_timed_out = ev->timed_out;
    break;
  default:
    CHECK(false, "unexpected cluster event kind %u", (unsigned)ev->kind);
  }
}

/* Hands one copied message to `h` as Redis would to a subscriber. */
static void deliver(harness *h, const unsigned char *channel, size_t channel_len, const unsigned char *msg,
                    size_t msg_len, cluster_seen *seen) {
  sio_event ev;
  sio_result r = sio_server_cluster_receive(h->srv, channel, channel_len, msg, msg_len, h->now, &ev);
  CHECK(r == SIO_OK || r == SIO_EMPTY, "receive: %s", sio_result_str(r));
  if (r == SIO_OK) on_cluster_event(h, &ev, seen);
  drain(h);
}

/* The pub/sub between two servers, by hand: each message one publishes goes to both (Redis
 * delivers to every subscriber, the publisher too, which ignores its own), and a request's
 * publisher hears that 2 subscribers got it. Runs until both outboxes are empty, then hands
 * out the requests that are over. */
static void pump(harness *a, cluster_seen *sa, harness *b, cluster_seen *sb) {
  harness *hs[2] = {a, b};
  cluster_seen *seen[2] = {sa, sb};
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < 2; i++) {
      sio_publish p;
      while (sio_server_cluster_next_publish(hs[i]->srv, &p) == SIO_OK) {
        moved = true;
        /* The views end with the next call on the server: copies, as a driver would send. */
        unsigned char *channel = malloc(p.channel.len), *msg = malloc(p.message.len ? p.message.len : 1);
        size_t channel_len = p.channel.len, msg_len = p.message.len;
        memcpy(channel, p.channel.ptr, channel_len);
        if (msg_len) memcpy(msg, p.message.ptr, msg_len);
        char request[SIO_REQUEST_LEN];
        memcpy(request, p.request, SIO_REQUEST_LEN);
        EXPECT(sio_server_cluster_pop_publish(hs[i]->srv), SIO_OK);
        if (request[0]) EXPECT(sio_server_cluster_receivers(hs[i]->srv, request, 2), SIO_OK);
        deliver(hs[1 - i], channel, channel_len, msg, msg_len, seen[1 - i]);
        deliver(hs[i], channel, channel_len, msg, msg_len, seen[i]);
        free(channel);
        free(msg);
      }
    }
  }
  for (int i = 0; i < 2; i++) {
    sio_event ev;
    while (sio_server_cluster_poll_done(hs[i]->srv, &ev) == SIO_OK) on_cluster_event(hs[i], &ev, seen[i]);
  }
}

static harness seeded_harness(uint8_t seed) {
  harness h;
  memset(&h, 0, sizeof h);
  uint8_t key[32] = {seed};
  EXPECT(sio_server_new(NULL, key, 0, &h.srv), SIO_OK);
  return h;
}

/* Takes a stream's output and says whether it holds `needle`. */
static bool got(harness *h, sio_stream s, const char *needle) {
  drain(h);
  size_t len;
  unsigned char *out = take(h, s, &len);
  bool found = contains(out, len, needle);
  free(out);
  return found;
}

static void test_cluster_by_hand(void) {
  sio_cluster_config config;
  EXPECT(sio_cluster_config_default(&config), SIO_OK);
  CHECK(config.prefix == NULL && config.request_timeout_ms == 5000 && config.pending == 64 &&
            config.acks == 1024 && config.outbox_bytes == (1u << 20) && config.scratch_bytes == 1000000,
        "defaults");
  config.outbox_bytes = 64 * 1024;
  config.scratch_bytes = 64 * 1024;
  const uint8_t seed_a[32] = {1}, seed_b[32] = {2};

  /* A joins on the heap, B in memory it lends. */
  harness a = seeded_harness(11), b = seeded_harness(12);
  cluster_seen sa, sb;
  memset(&sa, 0, sizeof sa);
  memset(&sb, 0, sizeof sb);
  char request[SIO_REQUEST_LEN] = "x";
  EXPECT(sio_server_fetch_sockets(a.srv, "/", NULL, request), SIO_WRONG_STATE);
  EXPECT(sio_server_server_side_emit(a.srv, "/", "e", "", false, NULL), SIO_WRONG_STATE);
  EXPECT(sio_server_cluster_next_publish(a.srv, &(sio_publish){{NULL, 0}, {NULL, 0}, {0}}), SIO_WRONG_STATE);
  EXPECT(sio_server_join_cluster(a.srv, &config, seed_a, 0), SIO_OK);
  EXPECT(sio_server_join_cluster(a.srv, &config, seed_a, 0), SIO_WRONG_STATE);
  size_t need = 0;
  EXPECT(sio_server_cluster_memory_size(&config, &need), SIO_OK);
  CHECK(need > config.outbox_bytes + config.scratch_bytes, "needs %zu", need);
  uint64_t *memory = malloc(need);
  EXPECT(sio_server_join_cluster_in(b.srv, &config, seed_b, 0, memory, need - 1), SIO_BUFFER_TOO_SMALL);
  EXPECT(sio_server_join_cluster_in(b.srv, &config, seed_b, 0, (uint8_t *)memory + 1, need - 8),
         SIO_INVALID_ARGUMENT);
  EXPECT(sio_server_join_cluster_in(b.srv, &config, seed_b, 0, memory, need), SIO_OK);
  EXPECT(sio_server_join_cluster_in(b.srv, &config, seed_b, 0, memory, need), SIO_WRONG_STATE);

  /* The channels to subscribe. */
  char name[64];
  size_t n = 0;
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_PATTERN, name, sizeof name, &n), SIO_OK);
  CHECK(strcmp(name, "socket.io#/#*") == 0 && n == 13, "pattern %s (%zu)", name, n);
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_REQUEST, name, sizeof name, &n), SIO_OK);
  CHECK(strcmp(name, "socket.io-request#/#") == 0, "request channel %s", name);
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_RESPONSE, name, sizeof name, &n), SIO_OK);
  CHECK(strcmp(name, "socket.io-response#/#") == 0, "response channel %s", name);
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_RESPONSE_SELF, name, sizeof name, &n), SIO_OK);
  CHECK(strncmp(name, "socket.io-response#/#", 21) == 0 && n == 28 && name[27] == '#', "own channel %s", name);
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_REQUEST, name, 5, &n), SIO_BUFFER_TOO_SMALL);
  CHECK(n == 21, "needs %zu", n);
  EXPECT(sio_server_cluster_channel(a.srv, "/", 99, name, sizeof name, &n), SIO_INVALID_ARGUMENT);
  EXPECT(sio_server_cluster_channel(a.srv, "/nope", SIO_CHANNEL_REQUEST, name, sizeof name, &n),
         SIO_UNKNOWN_NAMESPACE);

  sio_socket a1, b1, b2;
  sio_stream sa1 = ws_client(&a, &a1), sb1 = ws_client(&b, &b1), sb2 = ws_client(&b, &b2);

  /* A broadcast crosses; one leaving a socket out leaves it out everywhere. */
  sio_args hi = {(const uint8_t *)"\"hi\"", 4, NULL, 0};
  size_t sent = 0;
  EXPECT(sio_server_broadcast(a.srv, "/", NULL, "news", &hi, &sent), SIO_OK);
  CHECK(sent == 1, "sent %zu here", sent);
  pump(&a, &sa, &b, &sb);
  CHECK(got(&a, sa1, "42[\"news\",\"hi\"]"), "A's client");
  CHECK(got(&b, sb1, "42[\"news\",\"hi\"]") && got(&b, sb2, "42[\"news\",\"hi\"]"), "B's clients");
  sio_socket except[1] = {b1};
  sio_targets others = {NULL, 0, NULL, 0, except, 1, false};
  EXPECT(sio_server_broadcast(b.srv, "/", &others, "more", NULL, &sent), SIO_OK);
  CHECK(sent == 1, "sent %zu here", sent);
  pump(&a, &sa, &b, &sb);
  CHECK(got(&a, sa1, "42[\"more\"]") && got(&b, sb2, "42[\"more\"]") && !got(&b, sb1, "more"), "except");
  others.local = true;
  EXPECT(sio_server_broadcast(b.srv, "/", &others, "here", NULL, &sent), SIO_OK);
  sio_publish p;
  EXPECT(sio_server_cluster_next_publish(b.srv, &p), SIO_EMPTY);
  EXPECT(sio_server_cluster_pop_publish(b.srv), SIO_EMPTY);
  CHECK(got(&b, sb2, "42[\"here\"]") && !got(&a, sa1, "here"), "local");

  /* B puts every socket of the cluster in "blue". */
  const char *blue[1] = {"blue"};
  size_t count = 0;
  EXPECT(sio_server_sockets_join(b.srv, "/", NULL, blue, 1, &count), SIO_OK);
  CHECK(count == 2, "%zu of B's sockets", count);
  pump(&a, &sa, &b, &sb);
  sio_targets in_blue = {blue, 1, NULL, 0, NULL, 0, false};
  sio_socket found[4] = {0};
  EXPECT(sio_server_select(a.srv, "/", &in_blue, found, 4, &n), SIO_OK);
  CHECK(n == 1 && found[0] == a1, "A's socket joined blue remotely (%zu)", n);
  EXPECT(sio_server_select(b.srv, "/", &in_blue, found, 1, &n), SIO_BUFFER_TOO_SMALL);
  CHECK(n == 2, "%zu in blue on B", n);
  EXPECT(sio_server_select(b.srv, "/", &in_blue, NULL, 0, &n), SIO_BUFFER_TOO_SMALL);

  /* A fetches the others' sockets: B's two come, then the request is done. */
  char b1_id[21];
  EXPECT(sio_server_socket_id(b.srv, b1, b1_id), SIO_OK);
  EXPECT(sio_server_fetch_sockets(a.srv, "/", &in_blue, request), SIO_OK);
  CHECK(strlen(request) == 6, "request id %s", request);
  pump(&a, &sa, &b, &sb);
  CHECK(sa.sockets == 1 && strcmp(sa.request, request) == 0, "%d socket events", sa.sockets);
  CHECK(strstr(sa.sockets_data, b1_id) && strstr(sa.sockets_data, "\"blue\"") &&
            strstr(sa.sockets_data, "\"handshake\":{}"),
        "sockets %s", sa.sockets_data);
  CHECK(sa.done == 1 && sa.done_answers == 1 && !sa.done_timed_out && strcmp(sa.request, request) == 0,
        "done %d: %u answers", sa.done, sa.done_answers);

  /* A server-side emit with an ack: B answers. */
  sb.answer_with = "\"from B\"";
  EXPECT(sio_server_server_side_emit(a.srv, "/", "hello", "1,\"x\"", true, request), SIO_OK);
  pump(&a, &sa, &b, &sb);
  CHECK(sb.side_emits == 1 && strcmp(sb.side_name, "hello") == 0 && strcmp(sb.side_data, "1,\"x\"") == 0 &&
            sb.side_ack && strcmp(sb.request, request) == 0,
        "B got %s(%s)", sb.side_name, sb.side_data);
  CHECK(sa.answers == 1 && strcmp(sa.answer_data, "\"from B\"") == 0, "answer %s", sa.answer_data);
  CHECK(sa.done == 2 && sa.done_answers == 1 && !sa.done_timed_out, "done after the answer");
  /* Without an ack, with an escaped name and no arguments. */
  EXPECT(sio_server_server_side_emit(a.srv, "/", "tab\there", "", false, request), SIO_OK);
  CHECK(request[0] == 0, "no request: %s", request);
  pump(&a, &sa, &b, &sb);
  CHECK(sb.side_emits == 2 && strcmp(sb.side_name, "tab\there") == 0 && sb.side_data[0] == 0 && !sb.side_ack,
        "B got %s", sb.side_name);

  /* A request nobody answers ends at its deadline. */
  EXPECT(sio_server_fetch_sockets(b.srv, "/", NULL, request), SIO_OK);
  EXPECT(sio_server_cluster_next_publish(b.srv, &p), SIO_OK);
  CHECK(strcmp(p.request, request) == 0 && p.channel.len == 20, "publish of %s", p.request);
  EXPECT(sio_server_cluster_pop_publish(b.srv), SIO_OK);
  uint64_t due = 0;
  EXPECT(sio_server_cluster_poll_timeout(b.srv, &due), SIO_OK);
  CHECK(due == 5000, "due at %llu", (unsigned long long)due);
  EXPECT(sio_server_cluster_handle_timeout(b.srv, due - 1), SIO_OK);
  sio_event ev;
  EXPECT(sio_server_cluster_poll_done(b.srv, &ev), SIO_EMPTY);
  EXPECT(sio_server_cluster_handle_timeout(b.srv, due), SIO_OK);
  EXPECT(sio_server_cluster_poll_done(b.srv, &ev), SIO_OK);
  CHECK(ev.kind == SIO_EVENT_CLUSTER_DONE && ev.timed_out && ev.answers == 0 && strcmp(ev.request, request) == 0,
        "timed out");
  EXPECT(sio_server_cluster_poll_timeout(b.srv, &due), SIO_EMPTY);

  /* A disconnects blue everywhere: B's two sockets go. */
  EXPECT(sio_server_disconnect_sockets(a.srv, "/", &in_blue, false, &count), SIO_OK);
  CHECK(count == 1, "%zu of A's", count);
  pump(&a, &sa, &b, &sb);
  int gone = 0;
  while (sio_server_poll_event(b.srv, &ev) == SIO_OK) gone += ev.kind == SIO_EVENT_DISCONNECT;
  CHECK(gone == 2, "%d disconnected on B", gone);
  EXPECT(sio_server_leave(a.srv, a1, "blue"), SIO_UNKNOWN_SOCKET);
  /* Local leave and join without touching the others. */
  EXPECT(sio_server_sockets_leave(b.srv, "/", NULL, blue, 1, &count), SIO_OK);
  CHECK(count == 0, "%zu left on B", count);

  /* The counters, and a message that cannot be read. */
  const char *bad_channel = "socket.io#/#";
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)bad_channel, strlen(bad_channel),
                                    (const uint8_t *)"garbage", 7, 0, &ev),
         SIO_MALFORMED_MESSAGE);
  /* Another server's server-side emit that is not [name, ...], and one whose escaped name
   * does not fit SIO_MAX_CLUSTER_NAME once decoded. */
  const char *requests = "socket.io-request#/#";
  const char *not_named = "{\"uid\":\"zzzzzz\",\"type\":6,\"data\":[42,\"x\"]}";
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)requests, strlen(requests), (const uint8_t *)not_named,
                                    strlen(not_named), 0, &ev),
         SIO_MALFORMED_MESSAGE);
  static char long_name[2 * SIO_MAX_CLUSTER_NAME + 64];
  int at = snprintf(long_name, sizeof long_name, "{\"uid\":\"zzzzzz\",\"type\":6,\"data\":[\"");
  for (size_t i = 0; i < SIO_MAX_CLUSTER_NAME / 2 + 1; i++)
    at += snprintf(long_name + at, sizeof long_name - (size_t)at, "\\n");
  snprintf(long_name + at, sizeof long_name - (size_t)at, "\"]}");
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)requests, strlen(requests), (const uint8_t *)long_name,
                                    strlen(long_name), 0, &ev),
         SIO_OK);
  CHECK(ev.kind == SIO_EVENT_SERVER_SIDE_EMIT && ev.name.len == SIO_MAX_CLUSTER_NAME / 2 + 1 && !ev.has_ack,
        "an escaped name that fits: %zu", ev.name.len);
  for (size_t i = 0; i < SIO_MAX_CLUSTER_NAME / 2; i++)
    at += snprintf(long_name + at, sizeof long_name - (size_t)at, "\\n");
  snprintf(long_name + at, sizeof long_name - (size_t)at, "\"]}");
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)requests, strlen(requests), (const uint8_t *)long_name,
                                    strlen(long_name), 0, &ev),
         SIO_INVALID_NAME);
  const char *other = "elsewhere#/#";
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)other, strlen(other), (const uint8_t *)"x", 1, 0, &ev),
         SIO_EMPTY);
  sio_cluster_stats stats;
  EXPECT(sio_server_cluster_stats(a.srv, &stats), SIO_OK);
  CHECK(stats.queued == 5 && stats.received >= 7 && stats.ignored >= 1 && stats.malformed == 1 &&
            stats.dropped == 0,
        "stats %llu %llu %llu %llu", (unsigned long long)stats.queued, (unsigned long long)stats.received,
        (unsigned long long)stats.ignored, (unsigned long long)stats.malformed);

  /* NULL and bad arguments. */
  EXPECT(sio_server_join_cluster(NULL, &config, seed_a, 0), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_join_cluster(a.srv, &config, NULL, 0), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_join_cluster_in(b.srv, &config, seed_b, 0, NULL, need), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_memory_size(&config, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_cluster_config_default(NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_channel(a.srv, "/", SIO_CHANNEL_REQUEST, NULL, 4, &n), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_channel(a.srv, NULL, SIO_CHANNEL_REQUEST, name, sizeof name, &n), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_next_publish(a.srv, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_pop_publish(NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_receivers(a.srv, NULL, 2), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_receive(a.srv, NULL, 3, (const uint8_t *)"x", 1, 0, &ev), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_receive(a.srv, (const uint8_t *)"x", 1, (const uint8_t *)"x", 1, 0, NULL),
         SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_poll_timeout(a.srv, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_handle_timeout(NULL, 0), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_poll_done(a.srv, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_stats(a.srv, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_sockets_join(a.srv, "/", NULL, NULL, 1, &count), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_sockets_leave(a.srv, NULL, NULL, blue, 1, &count), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_disconnect_sockets(NULL, "/", NULL, false, &count), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_select(a.srv, "/", NULL, found, 4, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_fetch_sockets(a.srv, "/", NULL, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_fetch_sockets(a.srv, "/", &others, request), SIO_INVALID_ARGUMENT); /* local */
  EXPECT(sio_server_server_side_emit(a.srv, "/", NULL, "", false, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_server_side_emit(a.srv, "/", "e", NULL, false, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_server_side_emit(a.srv, "/", "e", "", true, NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_server_side_emit(a.srv, "/", "e", "1,", false, NULL), SIO_INVALID_JSON);
  EXPECT(sio_server_cluster_answer(a.srv, 0, NULL, "1"), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_answer(a.srv, 0, "abcdef", NULL), SIO_NULL_ARGUMENT);
  EXPECT(sio_server_cluster_answer(a.srv, 0, "abcdef", "1,2"), SIO_INVALID_JSON);
  EXPECT(sio_server_cluster_answer(a.srv, -1, "abcdef", "1"), SIO_UNKNOWN_NAMESPACE);
  EXPECT(sio_server_cluster_answer(a.srv, 0, "an id much too long for one", "1"), SIO_INVALID_ARGUMENT);
  EXPECT(sio_server_cluster_answer(a.srv, 0, "abcdef", "{}"), SIO_OK); /* goes out; nobody waits */

  free_harness(&a);
  free_harness(&b);
  free(memory);
  printf("ok two sans-IO servers in a cluster by hand: broadcasts, rooms, fetch, server-side emits\n");
}

/* A socket.io 2.x client (Engine.IO v3) on a server with allow_eio3: the length-prefixed
 * open packet, the implicit CONNECT for "/", and a refusal without the setting. */
static void test_eio3_client(void) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  CHECK(!config.allow_eio3, "off by default");
  harness plain = new_harness(&config);
  sio_stream s = open_stream(&plain);
  feed_str(&plain, s, "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t len;
  unsigned char *out = take(&plain, s, &len);
  CHECK(contains(out, len, "\"code\":5"), "refused without allow_eio3");
  free(out);
  free_harness(&plain);

  config.allow_eio3 = true;
  harness h = new_harness(&config);
  s = open_stream(&h);
  feed_str(&h, s, "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
  out = take(&h, s, &len);
  CHECK(contains(out, len, ":0{\"sid\":\""), "a length-prefixed open packet");
  free(out);
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_CONNECT && bytes_eq(ev.name, "/") && bytes_eq(ev.data, "{}"),
        "joined to / at once");
  /* Nothing of the opening request is kept by default. */
  size_t head_len = 0;
  uint64_t issued = 0;
  uint8_t head[256];
  EXPECT(sio_server_handshake(h.srv, ev.session, head, sizeof head, &head_len, &issued),
         SIO_EMPTY);
  free_harness(&h);
  printf("ok an Engine.IO v3 client\n");
}

/* The msgpack parser: a CONNECT as one binary WebSocket frame (a MessagePack map), the
 * answer one binary frame, an event's binary argument as an attachment; refused with
 * allow_eio3. */
static void test_msgpack_parser(void) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  CHECK(!config.msgpack_parser, "off by default");
  config.msgpack_parser = true;
  config.allow_eio3 = true;
  sio_server *refused = NULL;
  EXPECT(sio_server_new(&config, SEED, 0, &refused), SIO_INVALID_ARGUMENT);
  config.allow_eio3 = false;
  harness h = new_harness(&config);
  sio_stream s = open_stream(&h);
  feed_str(&h, s, UPGRADE);
  size_t len;
  free(take(&h, s, &len));
  /* {type: 0, nsp: "/"} */
  static const unsigned char connect[] = "\x82\xa4type\x00\xa3nsp\xa1/";
  ws_send(&h, s, 2, connect, sizeof connect - 1);
  sio_event ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_CONNECT && bytes_eq(ev.name, "/") && bytes_eq(ev.data, "{}"),
        "connect");
  EXPECT(sio_server_accept(h.srv, ev.socket, NULL), SIO_OK);
  drain(&h);
  unsigned char *out = take(&h, s, &len);
  /* A binary frame (0x82) holding {type: 0, data: {sid: ...}, nsp: "/"}. */
  CHECK(len > 2 && out[0] == 0x82 && contains(out, len, "\xa4" "data\x81\xa3sid\xb4"), "answer");
  free(out);
  /* {type: 2, data: ["m", bin [7, 8]], nsp: "/"} */
  static const unsigned char event[] =
      "\x83\xa4type\x02\xa4" "data\x92\xa1m\xc4\x02\x07\x08\xa3nsp\xa1/";
  ws_send(&h, s, 2, event, sizeof event - 1);
  ev = next_event(&h);
  CHECK(ev.kind == SIO_EVENT_MESSAGE && bytes_eq(ev.name, "m") &&
            bytes_eq(ev.data, "{\"_placeholder\":true,\"num\":0}") && ev.attachments_len == 1,
        "event");
  free_harness(&h);
  printf("ok the msgpack parser\n");
}

/* CORS: a list of origins with credentials on a heap server; a check callback, the
 * preflight's requested headers echoed, on a server in lent memory (its strings and the
 * callback copied there); two ways at once refused. */
static int checks_called;

static bool allow_example_com(void *user, const char *origin, size_t len) {
  checks_called++;
  const char *suffix = (const char *)user;
  size_t n = strlen(suffix);
  return len >= n && memcmp(origin + len - n, suffix, n) == 0;
}

static unsigned char *poll_from(harness *h, const char *origin, size_t *len) {
  char req[256];
  snprintf(req, sizeof req,
           "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\n\r\n",
           origin);
  sio_stream s = open_stream(h);
  feed_str(h, s, req);
  return take(h, s, len);
}

static void test_cors(void) {
  sio_server_config config;
  EXPECT(sio_server_config_default(&config), SIO_OK);
  CHECK(!config.cors_origin && !config.cors_origins && !config.cors_reflect && !config.cors_check,
        "off by default");
  char a[] = "https://a.example", b[] = "http://localhost:8080";
  const char *origins[] = {a, b};
  config.cors_origins = origins;
  config.cors_origins_len = 2;
  config.cors_credentials = true;
  harness h = new_harness(&config);
  /* Copied at creation: changing the caller's strings changes nothing. */
  a[0] = 'X';
  size_t len;
  unsigned char *out = poll_from(&h, "http://localhost:8080", &len);
  CHECK(contains(out, len, "Access-Control-Allow-Origin: http://localhost:8080\r\n") &&
            contains(out, len, "Access-Control-Allow-Credentials: true\r\n") &&
            contains(out, len, "Vary: Origin\r\n"),
        "a listed origin: %s", out);
  free(out);
  out = poll_from(&h, "https://a.example", &len);
  CHECK(contains(out, len, "Access-Control-Allow-Origin: https://a.example\r\n"), "%s", out);
  free(out);
  out = poll_from(&h, "https://evil.example", &len);
  CHECK(!contains(out, len, "Access-Control-Allow-Origin") && contains(out, len, "200 OK"),
        "another origin: %s", out);
  free(out);
  free_harness(&h);

  /* Two ways at once. */
  config.cors_reflect = true;
  sio_server *refused = NULL;
  EXPECT(sio_server_new(&config, SEED, 0, &refused), SIO_INVALID_ARGUMENT);

  sio_server_config lent;
  EXPECT(sio_server_config_default(&lent), SIO_OK);
  lent.cors_check = allow_example_com;
  static char suffix[] = ".example.com";
  lent.cors_check_user = suffix;
  lent.cors_max_age = 600;
  lent.cors_methods = "GET,POST";
  lent.max_payload = 4096;
  lent.max_attachments = 2;
  lent.max_http_body = 1024;
  sio_capacity cap;
  EXPECT(sio_capacity_for_sessions(4, 1 << 18, &cap), SIO_OK);
  size_t need = 0;
  EXPECT(sio_server_memory_size(&lent, &cap, &need), SIO_OK);
  static uint64_t memory[1 << 18]; /* 2 MiB, aligned for SIO_MEMORY_ALIGN */
  CHECK(need <= sizeof memory, "%zu bytes needed", need);
  harness l;
  memset(&l, 0, sizeof l);
  if (need > sizeof memory) return;
  EXPECT(sio_server_new_in(&lent, &cap, memory, sizeof memory, SEED, 0, &l.srv), SIO_OK);
  out = poll_from(&l, "https://shop.example.com", &len);
  CHECK(contains(out, len, "Access-Control-Allow-Origin: https://shop.example.com\r\n") &&
            !contains(out, len, "Access-Control-Allow-Credentials"),
        "the check allows it: %s", out);
  free(out);
  out = poll_from(&l, "https://example.org", &len);
  CHECK(!contains(out, len, "Access-Control-Allow-Origin"), "the check refuses it: %s", out);
  free(out);
  CHECK(checks_called == 2, "%d calls", checks_called);
  sio_stream s = open_stream(&l);
  feed_str(&l, s,
           "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
           "Origin: https://www.example.com\r\nAccess-Control-Request-Method: POST\r\n"
           "Access-Control-Request-Headers: x-token\r\n\r\n");
  out = take(&l, s, &len);
  CHECK(contains(out, len, "HTTP/1.1 204 ") &&
            contains(out, len, "Access-Control-Allow-Origin: https://www.example.com\r\n") &&
            contains(out, len, "Access-Control-Allow-Methods: GET,POST\r\n") &&
            contains(out, len, "Access-Control-Allow-Headers: x-token\r\n") &&
            contains(out, len, "Access-Control-Max-Age: 600\r\n"),
        "preflight: %s", out);
  free(out);
  free_harness(&l);
  printf("ok CORS: a list with credentials, a check in lent memory, a preflight\n");
}

/* The ready loops say why the system refused: a port in use (with errno), an address
 * that is not this machine's, a host name that does not resolve, a malformed URL. */
static void test_loop_errors(void) {
  sio_server_loop *first = NULL, *second = NULL;
  EXPECT(sio_server_loop_new(NULL, "127.0.0.1:0", &first), SIO_OK);
  uint16_t port = 0;
  EXPECT(sio_server_loop_port(first, &port), SIO_OK);
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
  errno = 0;
  EXPECT(sio_server_loop_new(NULL, addr, &second), SIO_ADDRESS_IN_USE);
  CHECK(errno == EADDRINUSE, "errno %d", errno);
  CHECK(strcmp(sio_result_str(SIO_ADDRESS_IN_USE), "address already in use") == 0, "str");
  sio_server_loop_free(first);
  /* TEST-NET-1 (RFC 5737) is no address of this machine. */
  EXPECT(sio_server_loop_new(NULL, "192.0.2.1:0", &second), SIO_ADDRESS_NOT_AVAILABLE);
  CHECK(errno == EADDRNOTAVAIL, "errno %d", errno);
  EXPECT(sio_server_loop_new(NULL, "not an address", &second), SIO_INVALID_ARGUMENT);

  sio_client_config config;
  EXPECT(sio_client_config_default(&config), SIO_OK);
  sio_client_loop *client = NULL;
  EXPECT(sio_client_loop_new(&config, "http://nohost.invalid:3000", NULL, 0, &client),
         SIO_UNRESOLVED_HOST);
  EXPECT(sio_client_loop_new(&config, "http://127.0.0.1:abc", NULL, 0, &client),
         SIO_INVALID_ARGUMENT);
  EXPECT(sio_client_loop_new(&config, "gopher://127.0.0.1", NULL, 0, &client),
         SIO_INVALID_ARGUMENT);
  printf("ok the ready loops say why: address in use, not available, host unresolved\n");
}

int main(void) {
  test_version_and_results();
  test_eio3_client();
  test_msgpack_parser();
  test_cors();
  test_loop_errors();
  test_misuse();
  test_polling_handshake_and_connect();
  test_events_acks_binary();
  test_rooms_and_broadcast();
  test_http_and_engine();
  test_tiny_buffers_and_eof();
  test_limits();
  test_pause_and_resume();
  test_free_of_a_lent_handle();
  test_loop_binary_event();
  test_cluster_by_hand();
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("all C checks passed\n");
  return 0;
}
