/* model/model_name.c: see model_name.h. */
#include "model/model_name.h"

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
