/*
 * A Socket.IO client for a microcontroller, in C, on the sans-IO client API of a bare-metal
 * libsiocore: no operating system, no allocator, every byte in static memory. The board
 * gives it one TCP connection and a clock through the board_* functions below; the firmware
 * calls app_init() once and app_step() from its main loop (or a task).
 *
 * What it does: joins "/" over WebSocket and says "hello" with its device name; while
 * joined, emits "reading" with a counter every READING_MS; answers a "config" event that
 * asks for an ack with the same arguments. When the link drops, the client reconnects by
 * itself (backoff as the JavaScript client) and says "hello" again.
 *
 * Build for a Cortex-M4F (what CI does, see scripts/c-tests.sh):
 *   cargo build --release -p siocore-ffi --no-default-features --target thumbv7em-none-eabihf
 *   arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os \
 *     -ffunction-sections -fdata-sections -DSIOCORE_BARE_METAL -Iinclude \
 *     examples/c/bare_metal_client.c \
 *     target/thumbv7em-none-eabihf/release/libsiocore.a \
 *     -Wl,--gc-sections --specs=nosys.specs -o bare_metal_client.elf
 * tests/c/bare_metal_test.c builds this same file for the host with a board made of the
 * sans-IO server in memory.
 */
#include "siocore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ the board's part */

/* Connects the one TCP connection to the server: 0 when connected, -1 when it failed (the
 * client then waits and tries again). */
int board_tcp_connect(void);
/* Writes up to len bytes: how many were taken (0: none now), -1 when the connection
 * failed. */
long board_tcp_send(const uint8_t *buf, size_t len);
/* Reads up to cap bytes: how many (0: none now), -1 when the connection closed or failed. */
long board_tcp_recv(uint8_t *buf, size_t cap);
/* Closes the connection. */
void board_tcp_close(void);
/* Milliseconds on a monotonic clock. */
uint64_t board_millis(void);
/* 32 bytes from the board's entropy source (a TRNG), for the WebSocket masks. */
void board_entropy(uint8_t seed[32]);

/* The defaults a board without a network gets (they let the image link and run): replace
 * them with the board's TCP stack, clock and TRNG. */
#if defined(__GNUC__)
#define WEAK __attribute__((weak))
#else
#define WEAK
#endif
WEAK int board_tcp_connect(void) { return -1; }
WEAK long board_tcp_send(const uint8_t *buf, size_t len) {
  (void)buf;
  (void)len;
  return -1;
}
WEAK long board_tcp_recv(uint8_t *buf, size_t cap) {
  (void)buf;
  (void)cap;
  return -1;
}
WEAK void board_tcp_close(void) {}
WEAK uint64_t board_millis(void) {
  static uint64_t ticks = 0;
  return ticks++;
}
WEAK void board_entropy(uint8_t seed[32]) { memset(seed, 0x5a, 32); }

/* ------------------------------------------------------------------ the application */

#define SERVER_HOST "192.168.1.10:3000"
#define DEVICE "sensor-1"
#define READING_MS 1000

/* Everything the client has: about 5 KiB with these settings (app_init checks it fits). */
#define MEMORY_BYTES 8192
static uint64_t memory[MEMORY_BYTES / sizeof(uint64_t)]; /* aligned to SIO_MEMORY_ALIGN */
static uint8_t out[1536];                                /* what the client sends next */
static uint8_t in[512];                                  /* read, not taken yet */
static size_t in_len;

static sio_client *client;
static uint32_t ns;          /* the namespace "/" */
static bool joined;          /* "/" is joined */
static bool linked;          /* the TCP connection is up */
static uint64_t next_reading;
static uint32_t readings;

static bool named(const sio_client_event *ev, const char *name) {
  return ev->name.len == strlen(name) && memcmp(ev->name.ptr, name, ev->name.len) == 0;
}

static void emit_text(const char *name, const char *json) {
  sio_args args = {(const uint8_t *)json, strlen(json), NULL, 0};
  sio_client_emit(client, ns, name, &args);
}

static void on_event(const sio_client_event *ev, uint64_t now) {
  switch (ev->kind) {
    case SIO_CLIENT_EVENT_CONNECT:
      joined = true;
      next_reading = now + READING_MS;
      emit_text("hello", "{\"device\":\"" DEVICE "\"}");
      break;
    case SIO_CLIENT_EVENT_DISCONNECT:
    case SIO_CLIENT_EVENT_CLOSED:
      joined = false;
      break;
    case SIO_CLIENT_EVENT_MESSAGE:
      if (named(ev, "config") && ev->has_ack) {
        sio_args same = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
        sio_client_ack(client, ev->namespace_index, ev->ack_id, &same);
      }
      break;
    default:
      break;
  }
}

/* Sets the client up; false when it does not fit in `memory`. */
bool app_init(void) {
  sio_client_config config;
  if (sio_client_config_default(&config) != SIO_OK) return false;
  config.host = SERVER_HOST;
  config.transports = SIO_TRANSPORTS_WEBSOCKET;
  config.rx_capacity = 1024;
  config.outbox_capacity = 512;
  config.binary_capacity = 0;
  config.namespace_capacity = 64;
  size_t need = 0;
  if (sio_client_memory_size(&config, &need) != SIO_OK || need > sizeof memory) return false;
  size_t out_len = 0;
  uint8_t seed[32];
  board_entropy(seed);
  if (sio_client_new_in(&config, memory, sizeof memory, seed, &client) != SIO_OK) return false;
  if (sio_client_out_len(client, &out_len) != SIO_OK || out_len > sizeof out) return false;
  if (sio_client_connect(client, "/", NULL, 0, &ns) != SIO_OK) return false;
  return sio_client_start(client, board_millis()) == SIO_OK;
}

/* One turn of the main loop: timers, what the client asks of the network, what came in,
 * the events, the application's own work. */
void app_step(void) {
  uint64_t now = board_millis();
  sio_client_handle_timeout(client, now);
  for (int turn = 0; turn < 8; turn++) {
    bool progress = false;
    sio_client_io io;
    while (sio_client_poll_io(client, out, sizeof out, &io) == SIO_OK) {
      progress = true;
      if (io.kind == SIO_IO_CONNECT) {
        linked = board_tcp_connect() == 0;
        if (linked) {
          sio_client_connected(client, io.stream, now);
        } else {
          sio_client_connect_failed(client, io.stream, now);
        }
      } else if (io.kind == SIO_IO_SEND && linked) {
        size_t sent = 0;
        while (sent < io.len) {
          long n = board_tcp_send(out + sent, io.len - sent);
          if (n < 0) break;
          sent += (size_t)n;
        }
        if (sent < io.len) {
          linked = false;
          in_len = 0;
          board_tcp_close();
          sio_client_closed(client, io.stream, now);
        }
      } else if (io.kind == SIO_IO_CLOSE && linked) {
        linked = false;
        in_len = 0;
        board_tcp_close();
      }
    }
    if (linked && in_len < sizeof in) {
      long n = board_tcp_recv(in + in_len, sizeof in - in_len);
      if (n < 0) {
        linked = false;
        in_len = 0;
        board_tcp_close();
        sio_client_closed(client, SIO_STREAM_WEBSOCKET, now);
        progress = true;
      } else {
        in_len += (size_t)n;
      }
    }
    if (linked && in_len > 0) {
      /* The client takes what fits; the rest waits until its events are taken. */
      size_t taken = 0;
      sio_client_recv(client, SIO_STREAM_WEBSOCKET, in, in_len, now, &taken);
      memmove(in, in + taken, in_len - taken);
      in_len -= taken;
      progress |= taken > 0;
    }
    sio_client_event ev;
    while (sio_client_poll_event(client, &ev) == SIO_OK) {
      on_event(&ev, now);
      progress = true;
    }
    if (!progress) break;
  }
  if (joined && now >= next_reading) {
    char json[16];
    uint32_t r = ++readings, len = 0;
    char digits[10];
    do {
      digits[len++] = (char)('0' + r % 10);
      r /= 10;
    } while (r);
    for (uint32_t k = 0; k < len; k++) json[k] = digits[len - 1 - k];
    json[len] = 0;
    emit_text("reading", json);
    next_reading = now + READING_MS;
  }
}

#if !defined(BARE_METAL_NO_MAIN)
int main(void) {
  if (!app_init()) return 1;
  for (;;) app_step();
}
#endif
