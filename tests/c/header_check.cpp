// The header compiles as C++ with every warning an error, and its types work from C++. Also
// compiled with SIOCORE_BARE_METAL (the declarations of the bare-metal build only).
#include "siocore.h"

#include <cstring>

static_assert(sizeof(sio_result) == 4, "sio_result is a 32-bit value");
static_assert(SIO_OK == 0, "SIO_OK is 0");

int main() {
  sio_server_config config;
  if (sio_server_config_default(&config) != SIO_OK) return 1;
  sio_server *srv = nullptr;
  const uint8_t seed[32] = {1};
#if defined(SIOCORE_BARE_METAL)
  static uint64_t memory[1 << 12];
  sio_capacity cap;
  if (sio_capacity_for_sessions(1, 1024, &cap) != SIO_OK) return 1;
  config.max_payload = 1024;
  if (sio_server_new_in(&config, &cap, memory, sizeof memory, seed, 0, &srv) != SIO_OK) return 1;
#else
  if (sio_server_new(&config, seed, 0, &srv) != SIO_OK) return 1;
#endif
  sio_event event;
  std::memset(&event, 0, sizeof event);
  sio_result r = sio_server_poll_event(srv, &event);
  // The cluster's part, in lent memory (both builds), and its enums from C++.
  sio_cluster_config cluster;
  if (sio_cluster_config_default(&cluster) != SIO_OK) return 1;
  cluster.pending = 4;
  cluster.acks = 4;
  cluster.outbox_bytes = 1024;
  cluster.scratch_bytes = 1024;
  static uint64_t cluster_memory[1 << 11];
  size_t need = 0;
  if (sio_server_cluster_memory_size(&cluster, &need) != SIO_OK || need > sizeof cluster_memory) return 1;
  if (sio_server_join_cluster_in(srv, &cluster, seed, 0, cluster_memory, need) != SIO_OK) return 1;
  char channel[64];
  size_t len = 0;
  if (sio_server_cluster_channel(srv, "/", SIO_CHANNEL_PATTERN, channel, sizeof channel, &len) != SIO_OK)
    return 1;
  static_assert(sizeof(event.request) == SIO_REQUEST_LEN, "request ids fit");
  sio_server_free(srv);
  return r == SIO_EMPTY && event.kind != SIO_EVENT_CLUSTER_DONE ? 0 : 1;
}
