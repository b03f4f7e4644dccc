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
 *
 * --help prints the usage; a bad flag or URL ends it with one line that names it and
 * status 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siocore.h"

static const char usage_text[] =
    "usage: mirror_client [--transport websocket|polling] [--eio3] [--parser json|msgpack]\n"
    "                     [--ca FILE] URL\n"
    "\n"
    "The client the interop tests check: joins / at URL (http://, ws://, https://, wss://)\n"
    "and answers every event E with E-back, every ack request with an ack; exits 0 when the\n"
    "server disconnects it.\n"
    "\n"
    "  --transport T  websocket or polling only (default: polling, then the upgrade)\n"
    "  --eio3         speak Engine.IO v3 to a socket.io 2.x server\n"
    "  --parser P     json (the default) or msgpack (socket.io-msgpack-parser)\n"
    "  --ca FILE      trust the certificate authorities of this PEM file only\n"
    "  --help         this text\n";

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
  sio_client_config config;
  sio_client_config_default(&config);
  config.rx_capacity = 1 << 20;
  config.outbox_capacity = 1 << 20;
  config.binary_capacity = 1 << 20;
  const char *ca = NULL, *url = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(usage_text, stdout);
      return 0;
    } else if (strcmp(arg, "--eio3") == 0) {
      config.eio3 = true;
    } else if (strcmp(arg, "--transport") == 0 || strcmp(arg, "--ca") == 0 ||
               strcmp(arg, "--parser") == 0) {
      if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
        fprintf(stderr, "mirror_client: %s: needs a value\n", arg);
        return 2;
      }
      const char *value = argv[++i];
      if (strcmp(arg, "--ca") == 0) {
        ca = value;
      } else if (strcmp(arg, "--parser") == 0) {
        if (strcmp(value, "json") == 0 || strcmp(value, "msgpack") == 0) {
          config.msgpack_parser = strcmp(value, "msgpack") == 0;
        } else {
          fprintf(stderr, "mirror_client: --parser: json or msgpack, not %s\n", value);
          return 2;
        }
      } else if (strcmp(value, "websocket") == 0) {
        config.transports = SIO_TRANSPORTS_WEBSOCKET;
      } else if (strcmp(value, "polling") == 0) {
        config.transports = SIO_TRANSPORTS_POLLING;
      } else {
        fprintf(stderr, "mirror_client: --transport: websocket or polling, not %s\n", value);
        return 2;
      }
    } else if (arg[0] == '-' || url) {
      fprintf(stderr, "mirror_client: %s: %s (see --help)\n",
              arg[0] == '-' ? "unknown flag" : "unexpected argument", arg);
      return 2;
    } else {
      url = arg;
    }
  }
  if (!url) {
    fprintf(stderr, "mirror_client: no server URL (see --help)\n");
    return 2;
  }
  sio_client_loop *loop = NULL;
  sio_result r = sio_client_loop_new(&config, url, NULL, 0, &loop);
  if (r == SIO_INVALID_ARGUMENT) {
    fprintf(stderr, "mirror_client: not an http://, ws://, https:// or wss:// URL: %s\n", url);
    return 2;
  } else if (r == SIO_UNRESOLVED_HOST) {
    fprintf(stderr, "mirror_client: %s: the host name does not resolve\n", url);
    return 1;
  } else if (r != SIO_OK) {
    fprintf(stderr, "mirror_client: %s: %s\n", url, sio_result_str(r));
    return 1;
  }
  if (ca) {
    r = sio_client_loop_set_ca(loop, ca);
    if (r != SIO_OK) {
      if (r == SIO_WRONG_STATE)
        fprintf(stderr, "mirror_client: --ca: only for https:// and wss:// URLs, not %s\n", url);
      else
        fprintf(stderr, "mirror_client: --ca: %s: %s\n", ca, sio_result_str(r));
      sio_client_loop_free(loop);
      return r == SIO_WRONG_STATE ? 2 : 1;
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
