/* rerun-c: the umbrella header. */
#ifndef RERUN_H
#define RERUN_H
#include "rerun/errors.h"
#include "rerun/version.h"
#include "rerun/common.h"
#include "rerun/arrow_c.h"
#include "rerun/components.h"
#include "rerun/archetypes.h"
#include "rerun/sdk.h"
#include "rerun/net.h"
#endif
