#ifndef RERUN_VERSION_H
#define RERUN_VERSION_H
#include "errors.h"
#ifdef __cplusplus
extern "C" {
#endif
/* Our own version follows the Rerun release whose formats we write. */
#define RR_VERSION_MAJOR 0
#define RR_VERSION_MINOR 33
#define RR_VERSION_PATCH 0
#define RR_VERSION_HEX ((RR_VERSION_MAJOR << 16) | (RR_VERSION_MINOR << 8) | RR_VERSION_PATCH)
#define RR_VERSION_STRING "0.33.0"

RR_EXTERN unsigned rr_version(void);
RR_EXTERN const char *rr_version_string(void);
#ifdef __cplusplus
}
#endif
#endif
