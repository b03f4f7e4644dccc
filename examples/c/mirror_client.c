/* The mirror client in C, on the ready client loop (sio_client_loop_*).
 *
 *   mirror_client [--transport websocket|polling] [--eio3] [--parser json|msgpack] [--ca FILE]
 *                 http://127.0.0.1:3000
 *
 * https:// and wss:// URLs are checked against Mozilla's roots, or with --ca against the
 * certificate authorities of that PEM file only (sio_client_loop_set_ca). A certificate the
 * client does not trust ends it with status 1 and the reason on stderr.
 *
 * It joins "/" and, for every event E it receives, emits "E-back" with the same arguments
 * (binary stays binary), except that an event asking for an acknowledgement is acknowledged
 * with the same arguments instead. When the server disconnects it from "/" it exits with
 * status 0. Lost connections are retried with the default backoff; when the server runs
 * connection state recovery, the client comes back into its session (the same socket id and
 * rooms) and mirrors the events it missed meanwhile, as any other. --eio3 speaks Engine.IO
 * v3 / Socket.IO protocol v4, to a socket.io 2.x server. --parser msgpack speaks the msgpack
 * parser, to a server started with socket.io-msgpack-parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siocore.h"

static int usage(void) {
  fprintf(stderr,
          "usage: mirror_client [--transport websocket|polling] [--eio3] [--parser json|msgpack] "
          "[--ca FILE] URL\n");
  return 2;
}

/* The loop's callback: answers events, ends the run on a server disconnect. */
static bool on_event(void *userdata, sio_client *client, const sio_client_event *ev,
                     uint64_t now_ms) {
  int *exit_code = userdata;
  (void)now_ms;
  switch (ev->kind) {
  case SIO_CLIENT_EVENT_MESSAGE: {
    sio_result r;
    /* The same arguments, binary included. */
    sio_args args = {ev->data.ptr, ev->data.len, ev->attachments, ev->attachments_len};
    if (ev->has_ack) {
      r = sio_client_ack(client, ev->namespace_index, ev->ack_id, &args);
    } else {
      char name[512];
      if (ev->name.len + sizeof "-back" > sizeof name) {
        fprintf(stderr, "mirror_client: event name too long\n");
        return true;
      }
      if (ev->name.len > 0) memcpy(name, ev->name.ptr, ev->name.len);
      memcpy(name + ev->name.len, "-back", sizeof "-back");
      r = sio_client_emit(client, ev->namespace_index, name, &args);
    }
    if (r != SIO_OK) fprintf(stderr, "mirror_client: cannot answer: %s\n", sio_result_str(r));
    return true;
  }
  case SIO_CLIENT_EVENT_DISCONNECT:
    if (ev->reason == SIO_CLIENT_REASON_SERVER_DISCONNECT) {
      *exit_code = 0;
      return false;
    }
    return true;
  case SIO_CLIENT_EVENT_CLOSED:
    fprintf(stderr, "mirror_client: session closed (reason %u)\n", (unsigned)ev->reason);
    return true;
  case SIO_CLIENT_EVENT_TLS_ERROR:
    fprintf(stderr, "mirror_client: %.*s\n", (int)ev->name.len, (const char *)ev->name.ptr);
    /* A refused certificate: retrying will not change that. */
    return !(ev->tls_error >= SIO_TLS_UNTRUSTED_CERTIFICATE &&
             ev->tls_error <= SIO_TLS_BAD_CERTIFICATE);
  default:
    return true;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  sio_client_config config;
  sio_client_config_default(&config);
  config.rx_capacity = 1 << 20;
  config.outbox_capacity = 1 << 20;
  config.binary_capacity = 1 << 20;
  const char *ca = NULL;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--eio3") == 0) {
      config.eio3 = true;
    } else if (i + 2 >= argc) {
      return usage(); /* a flag with a value needs it before the URL */
    } else if (strcmp(argv[i], "--transport") == 0 && strcmp(argv[i + 1], "websocket") == 0) {
      config.transports = SIO_TRANSPORTS_WEBSOCKET;
      i++;
    } else if (strcmp(argv[i], "--transport") == 0 && strcmp(argv[i + 1], "polling") == 0) {
      config.transports = SIO_TRANSPORTS_POLLING;
      i++;
    } else if (strcmp(argv[i], "--parser") == 0 && strcmp(argv[i + 1], "json") == 0) {
      config.msgpack_parser = false;
      i++;
    } else if (strcmp(argv[i], "--parser") == 0 && strcmp(argv[i + 1], "msgpack") == 0) {
      config.msgpack_parser = true;
      i++;
    } else if (strcmp(argv[i], "--ca") == 0) {
      ca = argv[i + 1];
      i++;
    } else {
      return usage();
    }
  }
  sio_client_loop *loop = NULL;
  sio_result r = sio_client_loop_new(&config, argv[argc - 1], NULL, 0, &loop);
  if (r != SIO_OK) {
    fprintf(stderr, "mirror_client: %s\n", sio_result_str(r));
    return 1;
  }
  if (ca) {
    r = sio_client_loop_set_ca(loop, ca);
    if (r != SIO_OK) {
      fprintf(stderr, "mirror_client: --ca: %s\n", sio_result_str(r));
      sio_client_loop_free(loop);
      return 1;
    }
  }
  int exit_code = 1;
  r = sio_client_loop_run(loop, on_event, &exit_code);
  sio_client_loop_free(loop);
  if (r != SIO_OK) {
    fprintf(stderr, "mirror_client: %s\n", sio_result_str(r));
    return 1;
  }
  return exit_code;
}
