/* ws_semiprime_load: ws_load (same options, output and checks) sending
 * balanced 62-bit semiprimes instead of X, X+1, ...: number i of a connection
 * is sp_at(X+i) (semiprimes.h), so that a WebSocket load costs pfgate
 * factoring time and the client little CPU (bench/fair_workers.sh, scaling). */
#include "semiprimes.h"

#define WS_LOAD_NUMBER(i) sp_at(start_num + (i))
#include "ws_load.c"
