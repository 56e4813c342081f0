/* http/api.h: helpers shared by the route handlers (models.c, datasets.c,
 * jobs.c, trajectory.c): path names and numbers, the request's database
 * connection, JSON bodies. Private to the http layer.
 *
 * Their POST routes are not ROUTE_JSON: the body is parsed by codec_parse
 * (numbers as doubles, NaN/Infinity named as a 422 field) inside the
 * deferred work, off the HTTP threads (a small trajectory request of an idle
 * server is parsed and solved inline: trajectory.c). api_require_json gives
 * them the same 415 the server gives ROUTE_JSON routes, and stricter: the
 * header must be there.
 *
 * Threads: handler.h's rules. api_require_json reads a request header, so
 * it runs in the handler itself; the others may also run in deferred work.
 * Nothing here keeps state. */
#ifndef ODESERVE_HTTP_API_H
#define ODESERVE_HTTP_API_H

#include <jansson.h>

#include "codec/jbuf.h"
#include "http/api_db.h" /* api_db: the handlers' connection */
#include "http/handler.h"
#include "model/model_name.h"
#include "store/model_cache.h"

/* 1 when the request says Content-Type: application/json (parameters such
 * as charset allowed); otherwise replies 415 and returns 0. Handler thread. */
int api_require_json(http_req *r);

/* Parse the raw body (codec_parse). */
err_code api_body_parse(http_req *r, json_t **out, err *e);
/* As api_body_parse, with the arrays under `pack_keys` packed
 * (codec_parse_packed): for decoders that read packed arrays. */
err_code api_body_parse_packed(http_req *r, const char *const *pack_keys, json_t **out, err *e);

/* The {name} path segment when it is a valid model name
 * ([A-Za-z0-9._-]{1,64}); otherwise replies (422 invalid_argument with
 * field "name" when `creating`, else 404) and returns NULL. */
const char *api_model_name(http_req *r, int creating);

/* The {v} path segment: a positive integer, "latest" (0), or an alias of
 * model {name}, resolved to its version. Otherwise replies 404 and returns
 * -1. */
int api_path_version(http_req *r);

/* The served model `name` at `ref` (an alias resolved first) from the
 * model cache (model_cache_release it). An alias moved and its old version
 * deleted between the two steps is resolved again, so a request that names
 * an alias never fails for a change it raced with. Any thread. */
err_code api_model_handle(http_req *r, const char *name, const model_version_ref *ref,
                          const model_handle **out, err *e);

/* Who made this request, for audit trails: the name of the request's
 * token, or "anonymous". */
const char *api_actor(http_req *r);

/* Reply with the text in b (taken; b is empty afterwards). */
void api_reply_jbuf(http_req *r, unsigned status, jbuf *b);

/* An error reply through the one error builder (codec_err_json), with an
 * extra number in the error object (e.g. "t_reached") when key != NULL. */
void api_reply_error_with(http_req *r, const err *e, const char *key, double value);

/* The {name} path segment when it is a valid store name
 * ([A-Za-z0-9._-]{1,64}); otherwise replies, for `kind` "dataset" say,
 * 422 "invalid dataset name (...)" when `creating`, else 404 "no such
 * dataset (...)", both with field "name", and returns NULL. */
const char *api_path_name(http_req *r, const char *kind, int creating);

/* The path segment `param` when it is a positive integer of 1 to
 * `max_digits` digits (no sign, space or leading zero); otherwise 0. Does
 * not reply. */
long long api_path_number(http_req *r, const char *param, size_t max_digits);

#endif
