// The header compiles as C++ with every warning an error, and its types work from C++.
#include "siocore.h"

#include <cstring>

static_assert(sizeof(sio_result) == 4, "sio_result is a 32-bit value");
static_assert(SIO_OK == 0, "SIO_OK is 0");

int main() {
  sio_config config;
  if (sio_config_default(&config) != SIO_OK) return 1;
  sio_server *srv = nullptr;
  const uint8_t seed[32] = {1};
  if (sio_server_new(&config, seed, 0, &srv) != SIO_OK) return 1;
  sio_event event;
  std::memset(&event, 0, sizeof event);
  sio_result r = sio_server_poll_event(srv, &event);
  sio_server_free(srv);
  return r == SIO_EMPTY ? 0 : 1;
}
