/* codec/codec_dataset.c: see codec_dataset.h. */
#include "codec/codec_dataset.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"

static const char *const series_keys[] = {"t", "y", "label", NULL};

const char *const codec_dataset_pack_keys[] = {"t", "y", "points", NULL};

static err_code decode_label(const json_t *v, const char *field, dataset *ds, dataset_series *x,
                             size_t s, err *e)
{
    dataset_label_kind k = !v                 ? DATASET_LABEL_NONE
                           : json_is_array(v) ? DATASET_LABEL_VECTOR
                                              : DATASET_LABEL_CLASS;
    if (s == 0) {
        ds->label_kind = k;
        ds->label_dim = json_is_array(v) ? json_array_size(v) : 0;
    } else if (k != ds->label_kind) {
        return err_set(e, ERR_INVALID, field, "series[0] has a %s label, this series %s",
                       dataset_label_kind_name(ds->label_kind),
                       k == DATASET_LABEL_NONE ? "has none" : "has another kind");
    }
    if (k == DATASET_LABEL_CLASS)
        return codec_json_get_long(v, field, 0, 1000000, &x->label_class, e);
    if (k != DATASET_LABEL_VECTOR) return ERR_OK;
    if (ds->label_dim == 0) return err_set(e, ERR_INVALID, field, "must not be empty");
    x->label_vec = malloc(ds->label_dim * sizeof *x->label_vec);
    if (!x->label_vec) return err_set(e, ERR_NOMEM, field, "out of memory");
    return codec_json_get_vector(v, field, ds->label_dim, x->label_vec, e);
}

static err_code decode_rows(const json_t *yv, const char *field, dataset *ds, dataset_series *x,
                            size_t s, err *e)
{
    char f[ERR_FIELD_MAX];
    if (!codec_json_is_array(yv) || codec_json_array_size(yv) != x->n)
        return err_set(e, ERR_INVALID, field, "must be an array of %zu rows (one per time)", x->n);
    json_t *row = NULL; /* a new reference: made on the spot when yv is packed */
    for (size_t i = 0; i < x->n; i++) {
        json_decref(row);
        row = codec_json_array_item(yv, i);
        codec_json_field_index(f, sizeof f, field, i);
        if (!row) {
            err_set(e, ERR_NOMEM, f, "out of memory");
            goto fail;
        }
        if (s == 0 && i == 0 && json_is_array(row)) ds->channels = json_array_size(row);
        if (ds->channels == 0) {
            err_set(e, ERR_INVALID, f, "must be a non-empty array");
            goto fail;
        }
        if (!x->y) x->y = malloc(x->n * ds->channels * sizeof *x->y);
        if (!x->y) {
            err_set(e, ERR_NOMEM, f, "out of memory");
            goto fail;
        }
        if (!json_is_array(row) || json_array_size(row) != ds->channels) {
            err_set(e, ERR_INVALID, f, "must be an array of %zu values (channels)", ds->channels);
            goto fail;
        }
        for (size_t k = 0; k < ds->channels; k++) {
            const json_t *v = json_array_get(row, k);
            char fk[ERR_FIELD_MAX];
            codec_json_field_index(fk, sizeof fk, f, k);
            if (json_is_null(v))
                x->y[i * ds->channels + k] = NAN;
            else if (codec_json_get_double(v, fk, &x->y[i * ds->channels + k], e) != ERR_OK)
                goto fail;
        }
    }
    json_decref(row);
    return ERR_OK;
fail:
    json_decref(row);
    return e->code;
}

static err_code decode_series(const json_t *sv, size_t s, dataset *ds, err *e)
{
    char f[ERR_FIELD_MAX], ft[ERR_FIELD_MAX];
    dataset_series *x = &ds->series[s];
    codec_json_field_index(f, sizeof f, "series", s);
    if (!json_is_object(sv)) return err_set(e, ERR_INVALID, f, "must be an object with t and y");
    if (codec_json_keys_check(sv, f, series_keys, e) != ERR_OK) return e->code;
    const json_t *tv = json_object_get(sv, "t");
    codec_json_field(ft, sizeof ft, f, "t");
    if (!codec_json_is_array(tv) || codec_json_array_size(tv) == 0)
        return err_set(e, ERR_INVALID, ft, "must be a non-empty array of times");
    x->n = codec_json_array_size(tv);
    x->t = malloc(x->n * sizeof *x->t);
    if (!x->t) return err_set(e, ERR_NOMEM, ft, "out of memory");
    if (codec_json_get_vector(tv, ft, x->n, x->t, e) != ERR_OK) return e->code;
    codec_json_field(ft, sizeof ft, f, "y");
    if (decode_rows(json_object_get(sv, "y"), ft, ds, x, s, e) != ERR_OK) return e->code;
    codec_json_field(ft, sizeof ft, f, "label");
    return decode_label(json_object_get(sv, "label"), ft, ds, x, s, e);
}

/* {"kind": "points", "points": [[...], ...]}: every row as wide as the
 * first, every value a finite number. */
static err_code decode_points(const json_t *doc, dataset *ds, err *e)
{
    static const char *const keys[] = {"kind", "points", NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return e->code;
    const json_t *pv = json_object_get(doc, "points");
    if (!codec_json_is_array(pv) || codec_json_array_size(pv) == 0)
        return err_set(e, ERR_INVALID, "points", "must be a non-empty array of points");
    const size_t n = codec_json_array_size(pv);
    json_t *row = codec_json_array_item(pv, 0);
    if (!row) return err_set(e, ERR_NOMEM, "points", "out of memory");
    size_t dim = json_is_array(row) ? json_array_size(row) : 0;
    char f[ERR_FIELD_MAX];
    if (dim == 0 || dim > CODEC_DATASET_MAX_DIM) {
        json_decref(row);
        return err_set(e, ERR_INVALID, "points[0]", "must be an array of 1 to %d numbers",
                       CODEC_DATASET_MAX_DIM);
    }
    if (dataset_points_alloc(ds, n, dim, e) != ERR_OK) goto fail;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            json_decref(row);
            row = codec_json_array_item(pv, i);
        }
        codec_json_field_index(f, sizeof f, "points", i);
        if (!row) {
            err_set(e, ERR_NOMEM, f, "out of memory");
            goto fail;
        }
        if (!json_is_array(row) || json_array_size(row) != dim) {
            err_set(e, ERR_INVALID, f, "must be an array of %zu numbers (as points[0])", dim);
            goto fail;
        }
        for (size_t k = 0; k < dim; k++) {
            char fk[ERR_FIELD_MAX];
            codec_json_field_index(fk, sizeof fk, f, k);
            const json_t *v = json_array_get(row, k);
            if (json_is_null(v)) {
                err_set(e, ERR_INVALID, fk, "a point set has no missing values");
                goto fail;
            }
            if (codec_json_get_double(v, fk, &ds->series[0].y[i * dim + k], e) != ERR_OK)
                goto fail;
        }
    }
    json_decref(row);
    return dataset_validate(ds, e);
fail:
    json_decref(row);
    return e->code;
}

err_code codec_dataset_json_decode(const json_t *doc, dataset *ds, err *e)
{
    static const char *const top[] = {"kind", "series", NULL};
    dataset_init(ds);
    if (!json_is_object(doc)) return err_set(e, ERR_INVALID, "", "the body must be an object");
    const json_t *kind = json_object_get(doc, "kind");
    if (kind && !(json_is_string(kind) && (strcmp(json_string_value(kind), "points") == 0 ||
                                           strcmp(json_string_value(kind), "series") == 0)))
        return err_set(e, ERR_INVALID, "kind", "must be \"series\" (the default) or \"points\"");
    if (kind && strcmp(json_string_value(kind), "points") == 0) {
        err_code rc = decode_points(doc, ds, e);
        if (rc != ERR_OK) dataset_free(ds);
        return rc;
    }
    if (json_object_get(doc, "points"))
        return err_set(e, ERR_INVALID, "points",
                       "a point set says \"kind\": \"points\"; time series use \"series\"");
    if (codec_json_keys_check(doc, "", top, e) != ERR_OK) return e->code;
    const json_t *arr = json_object_get(doc, "series");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return err_set(e, ERR_INVALID, "series", "must be a non-empty array of series");
    ds->n_series = json_array_size(arr);
    ds->series = calloc(ds->n_series, sizeof *ds->series);
    if (!ds->series) return err_set(e, ERR_NOMEM, "series", "out of memory");
    for (size_t s = 0; s < ds->n_series; s++)
        if (decode_series(json_array_get(arr, s), s, ds, e) != ERR_OK) goto fail;
    if (dataset_validate(ds, e) != ERR_OK) goto fail;
    return ERR_OK;
fail:
    dataset_free(ds);
    return e->code;
}

/* ---- CSV ---- */

#define CSV_MAX_COLS 1024

typedef struct csv_row {
    size_t n;      /* cells; CSV_MAX_COLS + 1 = too many */
    int bad_quote; /* a quoted cell without its closing quote, or text after it */
    const char *cell[CSV_MAX_COLS];
    size_t len[CSV_MAX_COLS];
    char *scratch; /* the unquoted text of cells that had "" in them */
    size_t cap, used;
} csv_row;

/* A quoted cell starting at the quote p[i]: its text (RFC 4180: "" is a
 * quote) into the row, the index after the closing quote into *end;
 * -1 when the quote is not closed on this line. */
static int csv_quoted(const char *p, size_t len, size_t i, csv_row *r, size_t *end)
{
    size_t a = i + 1, j = a, escapes = 0;
    for (;; j++) {
        if (j >= len) return -1;
        if (p[j] != '"') continue;
        if (j + 1 < len && p[j + 1] == '"') {
            escapes++;
            j++;
            continue;
        }
        break;
    }
    *end = j + 1;
    if (!escapes) {
        r->cell[r->n] = p + a;
        r->len[r->n] = j - a;
        return 0;
    }
    char *o = r->scratch + r->used; /* the line's length bounds all of it */
    size_t n = 0;
    for (size_t k = a; k < j; k++) {
        o[n++] = p[k];
        if (p[k] == '"') k++;
    }
    r->cell[r->n] = o;
    r->len[r->n] = n;
    r->used += n;
    return 0;
}

/* Split one line into cells: trimmed, a cell may be quoted ("a,b", with ""
 * for a quote; RFC 4180, but not across lines). 0, or -1 out of memory. */
static int csv_split(const char *p, size_t len, csv_row *r)
{
    r->n = 0;
    r->bad_quote = 0;
    r->used = 0;
    if (len + 1 > r->cap) {
        char *s = realloc(r->scratch, len + 1);
        if (!s) return -1;
        r->scratch = s;
        r->cap = len + 1;
    }
    size_t i = 0;
    for (;;) {
        while (i < len && p[i] != ',' && isspace((unsigned char)p[i]))
            i++;
        if (r->n == CSV_MAX_COLS) {
            r->n = CSV_MAX_COLS + 1;
            return 0;
        }
        size_t a = i, b;
        if (i < len && p[i] == '"') {
            if (csv_quoted(p, len, i, r, &i) != 0) {
                r->bad_quote = 1;
                return 0;
            }
            while (i < len && p[i] != ',' && isspace((unsigned char)p[i]))
                i++;
            if (i < len && p[i] != ',') r->bad_quote = 1;
            r->n++;
        } else {
            while (i < len && p[i] != ',')
                i++;
            b = i;
            while (b > a && isspace((unsigned char)p[b - 1]))
                b--;
            r->cell[r->n] = p + a;
            r->len[r->n++] = b - a;
        }
        if (i >= len) return 0;
        i++; /* the comma */
    }
}

/* A row's shape problem (too many columns, a bad quote) as an error. */
static err_code csv_row_check(const csv_row *r, size_t line, err *e)
{
    char f[48];
    snprintf(f, sizeof f, "line[%zu]", line);
    if (r->n > CSV_MAX_COLS)
        return err_set(e, ERR_INVALID, f, "has more than %d columns", CSV_MAX_COLS);
    if (r->bad_quote)
        return err_set(e, ERR_INVALID, f,
                       "a quoted cell must end with a quote followed by a comma or the end "
                       "of the line (quoted cells do not span lines)");
    return ERR_OK;
}

static int cell_is(const csv_row *r, size_t i, const char *s)
{
    return r->len[i] == strlen(s) && strncasecmp(r->cell[i], s, r->len[i]) == 0;
}

static err_code cell_num(const csv_row *r, size_t i, int allow_missing, const char *field,
                         double *out, err *e)
{
    char buf[64];
    if (r->len[i] == 0 || cell_is(r, i, "NA") || cell_is(r, i, "NaN") || cell_is(r, i, "null")) {
        if (!allow_missing) return err_set(e, ERR_INVALID, field, "must not be empty");
        *out = NAN;
        return ERR_OK;
    }
    if (r->len[i] >= sizeof buf) return err_set(e, ERR_INVALID, field, "is not a number");
    memcpy(buf, r->cell[i], r->len[i]);
    buf[r->len[i]] = '\0';
    /* decimal only: strtod would also take hex ("0x10"), "infinity", "nan(1)" */
    int decimal = strspn(buf, "0123456789+-.eE") == r->len[i];
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    if (!decimal || *end || end == buf || !isfinite(*out))
        return err_set(e, ERR_INVALID, field, "\"%s\" is not a finite number", buf);
    return ERR_OK;
}

typedef struct csv_state {
    const char *text;
    size_t len, pos;
    size_t line;
} csv_state;

/* The next non-empty line; 0 at the end. */
static int csv_next(csv_state *c, const char **p, size_t *n)
{
    while (c->pos < c->len) {
        const char *s = c->text + c->pos;
        const char *nl = memchr(s, '\n', c->len - c->pos);
        size_t l = nl ? (size_t)(nl - s) : c->len - c->pos;
        c->pos += l + (nl ? 1 : 0);
        c->line++;
        if (l && s[l - 1] == '\r') l--;
        size_t blank = 0;
        while (blank < l && (s[blank] == ' ' || s[blank] == '\t'))
            blank++;
        if (blank == l) continue; /* empty, or only spaces */
        *p = s;
        *n = l;
        return 1;
    }
    return 0;
}

static err_code csv_header(csv_state *c, csv_row *r, int *has_label, size_t *channels, err *e)
{
    const char *p;
    size_t n;
    if (!csv_next(c, &p, &n))
        return err_set(e, ERR_INVALID, "line[1]", "empty CSV: a header is required");
    if (csv_split(p, n, r) != 0) return err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
    if (csv_row_check(r, c->line, e) != ERR_OK) return e->code;
    if (r->n < 3 || !cell_is(r, 0, "series") || !cell_is(r, 1, "t"))
        return err_set(e, ERR_INVALID, "line[1]",
                       "the header must be series,t,<channel...>[,label]");
    *has_label = cell_is(r, r->n - 1, "label");
    *channels = r->n - 2 - (size_t)*has_label;
    if (*channels == 0) return err_set(e, ERR_INVALID, "line[1]", "no channel columns");
    return ERR_OK;
}

static err_code grow(dataset_series *x, size_t *cap, size_t channels, err *e)
{
    if (x->n < *cap) return ERR_OK;
    *cap = *cap ? 2 * *cap : 64;
    double *t = realloc(x->t, *cap * sizeof *t);
    if (t) x->t = t;
    double *y = t ? realloc(x->y, *cap * channels * sizeof *y) : NULL;
    if (y) x->y = y;
    return t && y ? ERR_OK : err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
}

/* Start a new series; its id must not have been seen before (lines of a
 * series are consecutive). */
static err_code csv_new_series(dataset *ds, size_t *scap, char ***ids, const csv_row *r,
                               const char *field, err *e)
{
    for (size_t s = 0; s < ds->n_series; s++)
        if (strlen((*ids)[s]) == r->len[0] && strncmp((*ids)[s], r->cell[0], r->len[0]) == 0)
            return err_set(
                e, ERR_INVALID, field,
                "series \"%s\" appears again after other series: keep its lines together",
                (*ids)[s]);
    if (ds->n_series == *scap) {
        size_t cap = *scap ? 2 * *scap : 16;
        dataset_series *p = realloc(ds->series, cap * sizeof *p);
        if (p) ds->series = p;
        char **q = p ? realloc(*ids, cap * sizeof *q) : NULL;
        if (q) *ids = q;
        if (!p || !q) return err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
        *scap = cap;
    }
    memset(&ds->series[ds->n_series], 0, sizeof ds->series[0]);
    (*ids)[ds->n_series] = strndup(r->cell[0], r->len[0]);
    if (!(*ids)[ds->n_series]) return err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
    ds->n_series++;
    return ERR_OK;
}

static err_code csv_line(dataset *ds, const csv_row *hdr, const csv_row *r, size_t line,
                         int has_label, size_t *cap, int new_series, err *e)
{
    char f[64];
    dataset_series *x = &ds->series[ds->n_series - 1];
    if (r->n != ds->channels + 2 + (size_t)has_label) {
        snprintf(f, sizeof f, "line[%zu]", line);
        return err_set(e, ERR_INVALID, f, "has %zu columns, the header %zu", r->n,
                       ds->channels + 2 + (size_t)has_label);
    }
    if (r->len[0] == 0) {
        snprintf(f, sizeof f, "line[%zu].series", line);
        return err_set(e, ERR_INVALID, f, "must not be empty");
    }
    if (new_series) *cap = 0;
    if (grow(x, cap, ds->channels, e) != ERR_OK) return e->code;
    snprintf(f, sizeof f, "line[%zu].t", line);
    if (cell_num(r, 1, 0, f, &x->t[x->n], e) != ERR_OK) return e->code;
    if (x->n > 0 && !(x->t[x->n] > x->t[x->n - 1]))
        return err_set(e, ERR_INVALID, f, "times of a series must be strictly increasing");
    for (size_t k = 0; k < ds->channels; k++) {
        snprintf(f, sizeof f, "line[%zu].%.*s", line,
                 (int)(hdr->len[k + 2] > 40 ? 40 : hdr->len[k + 2]), hdr->cell[k + 2]);
        if (cell_num(r, k + 2, 1, f, &x->y[x->n * ds->channels + k], e) != ERR_OK) return e->code;
    }
    if (has_label) {
        double v;
        snprintf(f, sizeof f, "line[%zu].label", line);
        if (cell_num(r, r->n - 1, 0, f, &v, e) != ERR_OK) return e->code;
        if (v < 0 || v != floor(v) || v > 1e6)
            return err_set(e, ERR_INVALID, f, "a label must be a class index (an integer >= 0)");
        if (!new_series && (long)v != x->label_class)
            return err_set(e, ERR_INVALID, f, "differs from the label on the series' first line");
        x->label_class = (long)v;
    }
    x->n++;
    return ERR_OK;
}

err_code codec_dataset_csv_decode(const char *text, size_t len, dataset *ds, err *e)
{
    dataset_init(ds);
    csv_row *hdr = calloc(2, sizeof *hdr), *r = hdr ? hdr + 1 : NULL;
    char **ids = NULL;
    size_t scap = 0, cap = 0;
    csv_state c = {.text = text, .len = len};
    int has_label = 0;
    if (!hdr) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) c.pos = 3; /* a UTF-8 byte order mark */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        char f[48];
        snprintf(f, sizeof f, "line[%zu]", line);
        err_set(e, ERR_INVALID, f, "holds a NUL byte: CSV is text");
        goto fail;
    }
    if (csv_header(&c, hdr, &has_label, &ds->channels, e) != ERR_OK) goto fail;
    ds->label_kind = has_label ? DATASET_LABEL_CLASS : DATASET_LABEL_NONE;
    const char *p;
    size_t n;
    while (csv_next(&c, &p, &n)) {
        if (csv_split(p, n, r) != 0) {
            err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
            goto fail;
        }
        if (csv_row_check(r, c.line, e) != ERR_OK) goto fail;
        dataset_series *last = ds->n_series ? &ds->series[ds->n_series - 1] : NULL;
        const char *id = ds->n_series ? ids[ds->n_series - 1] : NULL;
        int fresh = !last || strlen(id) != r->len[0] || strncmp(id, r->cell[0], r->len[0]) != 0;
        char f[64];
        snprintf(f, sizeof f, "line[%zu].series", c.line);
        if (fresh && csv_new_series(ds, &scap, &ids, r, f, e) != ERR_OK) goto fail;
        if (csv_line(ds, hdr, r, c.line, has_label, &cap, fresh, e) != ERR_OK) goto fail;
    }
    if (ds->n_series == 0) {
        err_set(e, ERR_INVALID, "line[2]", "no data lines after the header");
        goto fail;
    }
    if (dataset_validate(ds, e) != ERR_OK) goto fail;
    for (size_t s = 0; s < ds->n_series; s++)
        free(ids[s]);
    free(ids);
    free(hdr[0].scratch);
    free(hdr[1].scratch);
    free(hdr);
    return ERR_OK;
fail:
    for (size_t s = 0; ids && s < ds->n_series; s++)
        free(ids[s]);
    free(ids);
    if (hdr) {
        free(hdr[0].scratch);
        free(hdr[1].scratch);
    }
    free(hdr);
    dataset_free(ds);
    return e->code;
}

/* ---- CSV point sets ---- */

/* Start the NUL check and the header of a CSV upload (shared rules: a BOM
 * is skipped, a NUL byte is an error naming its line). */
static err_code csv_start(csv_state *c, err *e)
{
    if (c->len >= 3 && memcmp(c->text, "\xef\xbb\xbf", 3) == 0) c->pos = 3;
    const char *nul = memchr(c->text, '\0', c->len);
    if (!nul) return ERR_OK;
    size_t line = 1;
    for (const char *q = c->text; q < nul; q++)
        line += *q == '\n';
    char f[48];
    snprintf(f, sizeof f, "line[%zu]", line);
    return err_set(e, ERR_INVALID, f, "holds a NUL byte: CSV is text");
}

static err_code points_grow(dataset *ds, size_t *cap, err *e)
{
    dataset_series *x = &ds->series[0];
    if (x->n < *cap) return ERR_OK;
    *cap = *cap ? 2 * *cap : 256;
    double *y = realloc(x->y, *cap * ds->channels * sizeof *y);
    if (y) x->y = y;
    double *t = y ? realloc(x->t, *cap * sizeof *t) : NULL;
    if (t) x->t = t;
    return y && t ? ERR_OK : err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
}

err_code codec_dataset_csv_points_decode(const char *text, size_t len, dataset *ds, err *e)
{
    dataset_init(ds);
    csv_row *hdr = calloc(2, sizeof *hdr), *r = hdr ? hdr + 1 : NULL;
    csv_state c = {.text = text, .len = len};
    size_t cap = 0;
    const char *p;
    size_t n;
    char f[64];
    if (!hdr) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (csv_start(&c, e) != ERR_OK) goto fail;
    if (!csv_next(&c, &p, &n)) {
        err_set(e, ERR_INVALID, "line[1]", "empty CSV: a header naming the columns is required");
        goto fail;
    }
    if (csv_split(p, n, hdr) != 0) {
        err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
        goto fail;
    }
    if (csv_row_check(hdr, c.line, e) != ERR_OK) goto fail;
    for (size_t k = 0; k < hdr->n; k++)
        if (hdr->len[k] == 0) {
            snprintf(f, sizeof f, "line[1]");
            err_set(e, ERR_INVALID, f, "column %zu has no name", k + 1);
            goto fail;
        }
    ds->kind = DATASET_KIND_POINTS;
    ds->channels = hdr->n;
    ds->series = calloc(1, sizeof *ds->series);
    if (!ds->series) {
        err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
        goto fail;
    }
    ds->n_series = 1;
    dataset_series *x = &ds->series[0];
    while (csv_next(&c, &p, &n)) {
        if (csv_split(p, n, r) != 0) {
            err_set(e, ERR_NOMEM, NULL, "out of memory reading CSV");
            goto fail;
        }
        if (csv_row_check(r, c.line, e) != ERR_OK) goto fail;
        if (r->n != ds->channels) {
            snprintf(f, sizeof f, "line[%zu]", c.line);
            err_set(e, ERR_INVALID, f, "has %zu columns, the header %zu", r->n, ds->channels);
            goto fail;
        }
        if (points_grow(ds, &cap, e) != ERR_OK) goto fail;
        for (size_t k = 0; k < ds->channels; k++) {
            snprintf(f, sizeof f, "line[%zu].%.*s", c.line,
                     (int)(hdr->len[k] > 40 ? 40 : hdr->len[k]), hdr->cell[k]);
            if (cell_num(r, k, 0, f, &x->y[x->n * ds->channels + k], e) != ERR_OK) goto fail;
        }
        x->t[x->n] = (double)x->n;
        x->n++;
    }
    if (x->n == 0) {
        err_set(e, ERR_INVALID, "line[2]", "no data lines after the header");
        goto fail;
    }
    if (dataset_validate(ds, e) != ERR_OK) goto fail;
    free(hdr[0].scratch);
    free(hdr[1].scratch);
    free(hdr);
    return ERR_OK;
fail:
    if (hdr) {
        free(hdr[0].scratch);
        free(hdr[1].scratch);
    }
    free(hdr);
    dataset_free(ds);
    return e->code;
}
