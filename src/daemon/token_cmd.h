/* daemon/token_cmd.h: `odeserved token create | list | revoke`, the
 * operator's side of the token table (store/tokens.h), on the database the
 * settings name (--db, --config, ODESERVE_DB: the same sources as the
 * daemon's).
 *
 *   token create --scope read,write --name ci [--expires 30d]
 *       prints the new token, alone on stdout, once (only its salted hash is
 *       stored); what it is, on stderr
 *   token list            one line per token not revoked (never a secret)
 *   token revoke NAME|ID  revokes it
 *
 * A running daemon holds the database (db_claim) and reads tokens afresh on
 * every request, so the command works beside it, without a lock of its own,
 * and the daemon sees the change at its next request. Without a daemon, the
 * command claims the file and migrates it first (a first `token create`
 * before the first start makes the database).
 *
 * Exit statuses as service.h: 0, 1 (database, not found, name taken),
 * 2 (bad arguments). Single-threaded; called from main. */
#ifndef ODESERVE_DAEMON_TOKEN_CMD_H
#define ODESERVE_DAEMON_TOKEN_CMD_H

#include "daemon/config.h"

int token_cmd_run(const config_cli *cli, const config *cfg);

#endif
