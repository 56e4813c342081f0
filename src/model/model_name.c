/* model/model_name.c: see model_name.h. */
#include "model/model_name.h"

#include <stdlib.h>
#include <string.h>

static bool name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool model_name_ok(const char *name)
{
    if (!name || !name[0]) return false;
    /* "." and ".." are dot-segments: clients remove them from URLs (RFC 3986
     * 5.2.4), so /v1/models/../versions would reach /v1/versions */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
    for (size_t i = 0; name[i]; i++)
        if (i >= MODEL_NAME_MAX || !name_char_ok(name[i])) return false;
    return true;
}

err_code model_name_check(const char *name, err *e)
{
    if (model_name_ok(name)) return ERR_OK;
    return err_set(e, ERR_INVALID, "name",
                   "a model name is 1 to %d characters, each a letter, a digit, '.', '_' or '-'",
                   MODEL_NAME_MAX);
}

bool model_alias_ok(const char *alias)
{
    if (!alias || !(alias[0] >= 'a' && alias[0] <= 'z')) return false;
    if (strcmp(alias, "latest") == 0) return false;
    for (size_t i = 0; alias[i]; i++) {
        char c = alias[i];
        if (i >= MODEL_ALIAS_MAX) return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

err_code model_alias_check(const char *alias, const char *field, err *e)
{
    if (model_alias_ok(alias)) return ERR_OK;
    return err_set(e, ERR_INVALID, field,
                   "an alias is 1 to %d characters of a-z, 0-9, '_' and '-', starting with a "
                   "letter, and not \"latest\"",
                   MODEL_ALIAS_MAX);
}

bool model_version_ref_parse(const char *text, model_version_ref *out)
{
    memset(out, 0, sizeof *out);
    if (!text) return false;
    if (strcmp(text, "latest") == 0) return true;
    size_t n = strspn(text, "0123456789");
    if (n > 0) {
        if (text[n] || n > 9 || text[0] == '0') return false;
        out->version = atoi(text);
        return true;
    }
    if (!model_alias_ok(text)) return false;
    memcpy(out->alias, text, strlen(text) + 1);
    return true;
}
