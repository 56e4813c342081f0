/* core/clock.h: monotonic and wall-clock helpers. Thread-safe. */
#ifndef ODESERVE_CORE_CLOCK_H
#define ODESERVE_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Seconds on CLOCK_MONOTONIC (for durations and deadlines). */
double clock_mono(void);

/* Microseconds on CLOCK_MONOTONIC (the unit sd_notify's MONOTONIC_USEC wants). */
uint64_t clock_mono_usec(void);

/* Current UTC time as "2026-11-27T17:49:30.123Z" into buf (>= 32 bytes). */
const char *clock_wall_iso(char *buf, size_t n);

#endif
