/* codec/codec_token.c: see codec_token.h. */
#include "codec/codec_token.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec_json.h"

err_code codec_token_create_decode(const json_t *doc, codec_token_create *out, err *e)
{
    static const char *const keys[] = {"name", "scopes", "expires", NULL};
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc))
        return err_set(e, ERR_INVALID, "", "expected an object, got %s", codec_json_type_name(doc));
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return e->code;
    const char *name;
    json_t *v = json_object_get(doc, "name");
    if (!v) return err_set(e, ERR_INVALID, "name", "is required");
    if (codec_json_get_string(v, "name", &name, e) != ERR_OK) return e->code;
    if (strlen(name) > API_TOKEN_NAME_MAX)
        return err_set(e, ERR_INVALID, "name", "must be at most %d characters",
                       API_TOKEN_NAME_MAX);
    snprintf(out->name, sizeof out->name, "%s", name);
    json_t *sc = json_object_get(doc, "scopes");
    if (!sc) return err_set(e, ERR_INVALID, "scopes", "is required");
    if (!json_is_array(sc) || json_array_size(sc) == 0)
        return err_set(e, ERR_INVALID, "scopes",
                       "expected a non-empty list of read, write, train, admin; got %s",
                       codec_json_type_name(sc));
    for (size_t i = 0; i < json_array_size(sc); i++) {
        char field[32];
        const char *word;
        unsigned bit;
        codec_json_field_index(field, sizeof field, "scopes", i);
        if (codec_json_get_string(json_array_get(sc, i), field, &word, e) != ERR_OK ||
            strchr(word, ',') || api_token_scopes_parse(word, &bit, field, e) != ERR_OK)
            return err_set(e, ERR_INVALID, field, "expected one of read, write, train, admin, all");
        out->scopes |= bit;
    }
    json_t *ex = json_object_get(doc, "expires");
    if (ex && !json_is_null(ex)) {
        const char *text;
        if (codec_json_get_string(ex, "expires", &text, e) != ERR_OK) return e->code;
        /* lifetime_parse reads "" as never (an empty --expires); in a
         * document it is more likely a template's missing value, and a
         * token that never expires should be asked for by name */
        if (text[0] == '\0')
            return err_set(e, ERR_INVALID, "expires",
                           "expected a lifetime like 30d, 12h, 15m or 90s, or never (or null); "
                           "got an empty string");
        if (api_token_lifetime_parse(text, &out->lifetime_s, "expires", e) != ERR_OK)
            return e->code;
    }
    return ERR_OK;
}

static json_t *time_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

json_t *codec_token_info_json(const api_token_info *t)
{
    json_t *scopes = json_array();
    for (unsigned bit = 1; scopes && bit <= API_TOKEN_ADMIN; bit <<= 1)
        if (t->scopes & bit) json_array_append_new(scopes, json_string(api_token_scope_name(bit)));
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:b}", "id", t->id, "name", t->name,
                          "scopes", scopes, "created_at", t->created_at, "expires_at",
                          time_or_null(t->expires_at), "last_used_at",
                          time_or_null(t->last_used_at), "expired", t->expired);
    if (o && t->revoked_at[0]) json_object_set_new(o, "revoked_at", json_string(t->revoked_at));
    return o;
}
