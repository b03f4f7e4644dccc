/*
 * The checks the C unit tests share: CHECK prints "FAIL file:line: ..." and counts,
 * EXPECT compares a sio_result. Each test program defines `failures` once.
 */
#ifndef SIOCORE_TEST_CHECK_H
#define SIOCORE_TEST_CHECK_H

#include <stdio.h>

extern int failures;

#define CHECK(cond, ...)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                \
      printf(__VA_ARGS__);                                                                  \
      printf("\n");                                                                         \
      failures++;                                                                           \
    }                                                                                       \
  } while (0)

#define EXPECT(call, want)                                                                  \
  do {                                                                                      \
    sio_result r_ = (call);                                                                 \
    CHECK(r_ == (want), "%s -> %u (%s), want %u", #call, (unsigned)r_, sio_result_str(r_),   \
          (unsigned)(want));                                                                \
  } while (0)

#endif
