/* http/framing.h: a request's message framing checked at its headers
 * (RFC 9112 6.1 and 6.3), before libmicrohttpd reads any body.
 *
 * libmicrohttpd 0.9.75 reads the first Content-Length header and ignores
 * any other, and treats any Transfer-Encoding other than exactly "chunked"
 * as a body that runs to the end of the connection. Either lets a request
 * be framed differently here than by a proxy in front (request smuggling),
 * so such requests are refused and their connection closed:
 *   - Content-Length given more than once (equal or not)   -> 400
 *   - Transfer-Encoding together with Content-Length        -> 400
 *   - Transfer-Encoding given more than once, empty, or
 *     "chunked" listed twice or not last                     -> 400
 *   - a transfer coding other than chunked (gzip, ...)      -> 501
 * A single malformed Content-Length ("abc", "-5", "30, 30") never reaches
 * us: libmicrohttpd answers it itself (docs/reliability.md).
 * Stateless; called on the HTTP thread of the request. */
#ifndef ODESERVE_HTTP_FRAMING_H
#define ODESERVE_HTTP_FRAMING_H

#include <microhttpd.h>

#include "core/err.h"

/* ERR_OK when the framing headers of the request on `c` are acceptable;
 * otherwise the error (ERR_BAD_REQUEST: 400, ERR_NOT_IMPLEMENTED: 501)
 * with the header's name as the field. */
err_code http_framing_check(struct MHD_Connection *c, err *e);

#endif
