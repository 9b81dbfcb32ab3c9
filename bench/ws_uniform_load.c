/* ws_uniform_load: ws_load (same options, output and checks) sending numbers
 * uniform in [2, 2^40] instead of X, X+1, ...: number i of a connection is
 * u40_at(X+i) (uniform40.h). */
#include "uniform40.h"

#define WS_LOAD_NUMBER(i) u40_at(start_num + (i))
#include "ws_load.c"
