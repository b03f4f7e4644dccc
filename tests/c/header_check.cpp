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
  sio_server_free(srv);
  return r == SIO_EMPTY ? 0 : 1;
}
