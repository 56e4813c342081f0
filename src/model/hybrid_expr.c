/* model/hybrid_expr.c: see hybrid_expr.h. Three parts: the parser (text to
 * postfix nodes, iterative), the bridge to libmatheval (postfix to its
 * syntax, derivative strings back), and the compiler and evaluator of
 * postfix bytecode (structural-zero folding, integer powers). */
#include "model/hybrid_expr.h"

#include <ctype.h>
#include <math.h>
#include <matheval.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t lim_len = HYBRID_EXPR_MAX_LEN_DEFAULT;
static atomic_size_t lim_nodes = HYBRID_EXPR_MAX_NODES_DEFAULT;
static atomic_size_t lim_depth = HYBRID_EXPR_MAX_DEPTH_DEFAULT;

/* libmatheval's bison/flex parser and its symbol table are globals. */
static pthread_mutex_t matheval_lock = PTHREAD_MUTEX_INITIALIZER;

/* What a min/max expansion may grow one equation's libmatheval text to. */
#define EXPANDED_MAX (1u << 20)

void hybrid_expr_limits_set(size_t max_len, size_t max_nodes, size_t max_depth)
{
    atomic_store(&lim_len, max_len);
    atomic_store(&lim_nodes, max_nodes);
    atomic_store(&lim_depth, max_depth);
}

void hybrid_expr_limits_get(size_t *max_len, size_t *max_nodes, size_t *max_depth)
{
    *max_len = atomic_load(&lim_len);
    *max_nodes = atomic_load(&lim_nodes);
    *max_depth = atomic_load(&lim_depth);
}

/* ---- nodes ---- */

enum op {
    OP_NUM, OP_VAR, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_NEG, OP_POWI, OP_MIN, OP_MAX,
    OP_SIN, OP_COS, OP_TAN, OP_EXP, OP_LOG, OP_SQRT, OP_TANH, OP_SINH, OP_COSH, OP_ABS,
    OP_STEP, OP_DELTA, /* libmatheval's, in derivatives only */
};

typedef struct node {
    int op;
    long arg;   /* OP_VAR: slot; OP_POWI: exponent; OP_NUM from text: literal index */
    double num; /* OP_NUM */
} node;

static const struct fn {
    const char *name;
    int op, arity, internal;
} fns[] = {
    {"sin", OP_SIN, 1, 0},   {"cos", OP_COS, 1, 0},   {"tan", OP_TAN, 1, 0},
    {"exp", OP_EXP, 1, 0},   {"log", OP_LOG, 1, 0},   {"sqrt", OP_SQRT, 1, 0},
    {"tanh", OP_TANH, 1, 0}, {"sinh", OP_SINH, 1, 0}, {"cosh", OP_COSH, 1, 0},
    {"abs", OP_ABS, 1, 0},   {"pow", OP_POW, 2, 0},   {"min", OP_MIN, 2, 0},
    {"max", OP_MAX, 2, 0},   {"step", OP_STEP, 1, 1}, {"delta", OP_DELTA, 1, 1},
};

static const struct fn *fn_find(const char *s, size_t n, int internal)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].name) == n && memcmp(fns[i].name, s, n) == 0 &&
            (internal || !fns[i].internal))
            return &fns[i];
    return NULL;
}

static int is_nn_name(const char *s, size_t n)
{
    if (n < 4 || memcmp(s, "nn_", 3) != 0) return 0;
    for (size_t i = 3; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

int hybrid_expr_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > HYBRID_NAME_MAX) return 0;
    if (!isalpha((unsigned char)name[0]) && name[0] != '_') return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_') return 0;
    return strcmp(name, "t") != 0 && !is_nn_name(name, n) && !fn_find(name, n, 1);
}

/* ---- the parser ---- */

typedef struct nodes {
    node *v;
    size_t n, cap;
} nodes;

static int nodes_push(nodes *o, node x)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        node *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = x;
    return 0;
}

/* How names resolve: user text against the spec, or libmatheval's output
 * (v<slot>, k<literal>) against the literals of the equation. */
typedef struct resolver {
    const struct hybrid_sys_spec *spec; /* user mode */
    const double *lits;                 /* internal mode: literal values */
    size_t n_lits;
    int inexact; /* set when a derivative holds a number "%g" may have rounded */
} resolver;

enum { S_OPEN, S_FN, S_BIN, S_NEG };
typedef struct sitem {
    int kind, op;
    size_t pos, argc;
    const struct fn *fn;
} sitem;

static int prec(int op)
{
    return op == OP_ADD || op == OP_SUB ? 1 : op == OP_MUL || op == OP_DIV ? 2 : op == OP_NEG ? 3 : 4;
}

/* Syntax errors: field, 1-based character position. */
static int syntax(err *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int syntax(err *e, const char *field, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(e, ERR_INVALID, field, "%s", msg);
    return -1;
}
#define SYNTAX(...) syntax(e, field, __VA_ARGS__)

static int resolve(resolver *r, const char *s, size_t n, size_t pos, node *out,
                   const char *field, err *e)
{
    memset(out, 0, sizeof *out);
    if (!r->spec) { /* v<slot> or k<i> */
        char *end;
        long i = strtol(s + 1, &end, 10);
        if (n < 2 || end != s + n || i < 0) return SYNTAX("internal: bad name in a derivative");
        if (s[0] == 'v') {
            out->op = OP_VAR;
            out->arg = i;
            return 0;
        }
        if (s[0] == 'k' && (size_t)i < r->n_lits) {
            out->op = OP_NUM;
            out->num = r->lits[i];
            return 0;
        }
        return SYNTAX("internal: bad name in a derivative");
    }
    for (size_t j = 0; j < r->spec->n_vars; j++)
        if (strlen(r->spec->vars[j]) == n && memcmp(r->spec->vars[j], s, n) == 0) {
            out->op = OP_VAR;
            out->arg = (long)j;
            return 0;
        }
    if (is_nn_name(s, n))
        return SYNTAX("%.*s at character %zu is beyond the network's outputs (%s)", (int)(n > 40 ? 40 : n),
                      s, pos + 1,
                      r->spec->nn_max ? "nn_0 .. nn_k-1 for its k outputs" : "the model has no network");
    return SYNTAX("unknown identifier \"%.*s\" at character %zu (not a state, parameter, t or nn_k)",
                  (int)(n > 64 ? 64 : n), s, pos + 1);
}

static const char *op_text(int op)
{
    return op == OP_ADD ? "+" : op == OP_SUB ? "-" : op == OP_MUL ? "*" : op == OP_DIV ? "/" : "^";
}

/* Pop the operator stack top into the output. */
static int pop_op(sitem *st, size_t *sp, nodes *o)
{
    sitem it = st[--*sp];
    node x = {.op = it.kind == S_FN ? it.fn->op : it.op};
    return nodes_push(o, x);
}

/* text -> postfix. Internal mode (r->spec NULL) skips the limits. On
 * failure e names `field` (ERR_INVALID, ERR_TOO_LARGE or ERR_NOMEM). */
static int parse(const char *text, resolver *r, const char *field, nodes *o, double **lits,
                 size_t *n_lits, err *e)
{
    const int user = r->spec != NULL;
    size_t max_len, max_nodes, max_depth;
    hybrid_expr_limits_get(&max_len, &max_nodes, &max_depth);
    size_t len = strlen(text);
    if (user && len > max_len)
        return err_set(e, ERR_TOO_LARGE, field, "is %zu bytes long; at most %zu allowed "
                       "(hybrid_max_expr_len)", len, max_len), -1;
    size_t count = 0, depth = 0, sp = 0;
    /* every operator stack entry is an open parenthesis, a pending binary
     * operator (at most one per open level plus a chain bounded by the
     * node count) or a unary minus: bounded by the text's length */
    sitem *st = malloc((len + 4) * sizeof *st);
    if (!st) return err_set(e, ERR_NOMEM, field, "out of memory"), -1;
    int expect = 1, rc = -1;
    size_t i = 0;
    while (i < len) {
        const char c = text[i];
        const size_t pos = i;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        if (user && ++count > max_nodes) {
            err_set(e, ERR_TOO_LARGE, field, "has more than %zu tokens (hybrid_max_nodes)", max_nodes);
            goto out;
        }
        if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)text[i + 1]))) {
            if (!expect) {
                SYNTAX("syntax error at character %zu: a number where an operator was expected", pos + 1);
                goto out;
            }
            size_t j = i;
            while (isdigit((unsigned char)text[j])) j++;
            if (text[j] == '.') {
                j++;
                while (isdigit((unsigned char)text[j])) j++;
            }
            if (text[j] == 'e' || text[j] == 'E') {
                size_t k = j + 1;
                if (text[k] == '+' || text[k] == '-') k++;
                if (isdigit((unsigned char)text[k])) {
                    while (isdigit((unsigned char)text[k])) k++;
                    j = k;
                }
            }
            char buf[64];
            if (j - i >= sizeof buf) {
                SYNTAX("syntax error at character %zu: number too long", pos + 1);
                goto out;
            }
            memcpy(buf, text + i, j - i);
            buf[j - i] = 0;
            double v = strtod(buf, NULL);
            if (!isfinite(v)) {
                SYNTAX("number at character %zu is out of range", pos + 1);
                goto out;
            }
            /* libmatheval prints with "%g": our literals reach it as names, so
             * a number in a derivative is one it made (n, n - 1, 2, ...);
             * refuse one "%g" may have rounded rather than compile a wrong
             * derivative */
            if (!user && !(v * 64 == floor(v * 64) && fabs(v) < 1e5)) {
                r->inexact = 1;
                SYNTAX("cannot be differentiated exactly (libmatheval folded a constant to %s); "
                       "write the constant part differently", buf);
                goto out;
            }
            node x = {.op = OP_NUM, .num = v, .arg = -1};
            if (lits) { /* user text: remember the literal for libmatheval */
                double *l = realloc(*lits, (*n_lits + 1) * sizeof *l);
                if (!l) goto nomem;
                *lits = l;
                l[*n_lits] = v;
                x.arg = (long)(*n_lits)++;
            }
            if (nodes_push(o, x)) goto nomem;
            expect = 0;
            i = j;
            continue;
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t j = i;
            while (isalnum((unsigned char)text[j]) || text[j] == '_') j++;
            size_t k = j;
            while (text[k] == ' ' || text[k] == '\t') k++;
            if (!expect) {
                SYNTAX("syntax error at character %zu: a name where an operator was expected", pos + 1);
                goto out;
            }
            if (text[k] == '(') {
                const struct fn *f = fn_find(text + i, j - i, !user);
                if (!f) {
                    SYNTAX("unknown function \"%.*s\" at character %zu", (int)(j - i > 40 ? 40 : j - i),
                           text + i, pos + 1);
                    goto out;
                }
                if (user && ++depth > max_depth) {
                    err_set(e, ERR_TOO_LARGE, field, "nests parentheses deeper than %zu (hybrid_max_depth)",
                            max_depth);
                    goto out;
                }
                st[sp++] = (sitem){S_FN, 0, pos, 1, f};
                i = k + 1;
                expect = 1;
                continue;
            }
            node x;
            if (resolve(r, text + i, j - i, pos, &x, field, e)) goto out;
            if (nodes_push(o, x)) goto nomem;
            expect = 0;
            i = j;
            continue;
        }
        i++;
        if (c == '(') {
            if (!expect) {
                SYNTAX("syntax error at character %zu: '(' where an operator was expected", pos + 1);
                goto out;
            }
            if (user && ++depth > max_depth) {
                err_set(e, ERR_TOO_LARGE, field, "nests parentheses deeper than %zu (hybrid_max_depth)",
                        max_depth);
                goto out;
            }
            st[sp++] = (sitem){S_OPEN, 0, pos, 0, NULL};
            continue;
        }
        if (c == ')' || c == ',') {
            if (expect) {
                SYNTAX("syntax error at character %zu: '%c' where an operand was expected", pos + 1, c);
                goto out;
            }
            while (sp && (st[sp - 1].kind == S_BIN || st[sp - 1].kind == S_NEG))
                if (pop_op(st, &sp, o)) goto nomem;
            if (!sp) {
                SYNTAX("syntax error at character %zu: '%c' without a matching '('", pos + 1, c);
                goto out;
            }
            sitem *top = &st[sp - 1];
            if (c == ',') {
                if (top->kind != S_FN || top->argc >= (size_t)top->fn->arity) {
                    SYNTAX("syntax error at character %zu: ',' %s", pos + 1,
                           top->kind == S_FN ? "beyond the function's arguments" : "outside a function call");
                    goto out;
                }
                top->argc++;
                expect = 1;
                continue;
            }
            if (top->kind == S_FN && top->argc != (size_t)top->fn->arity) {
                SYNTAX("%s at character %zu takes %d arguments, got %zu", top->fn->name, top->pos + 1,
                       top->fn->arity, top->argc);
                goto out;
            }
            if (top->kind == S_FN) {
                if (pop_op(st, &sp, o)) goto nomem;
            } else {
                sp--;
            }
            depth--;
            continue;
        }
        int op = c == '+' ? OP_ADD : c == '-' ? OP_SUB : c == '*' ? OP_MUL : c == '/' ? OP_DIV
                 : c == '^' ? OP_POW : -1;
        if (op < 0) {
            SYNTAX("syntax error at character %zu: unexpected '%c'", pos + 1,
                   isprint((unsigned char)c) ? c : '?');
            goto out;
        }
        if (expect) {
            if (op == OP_SUB) {
                st[sp++] = (sitem){S_NEG, OP_NEG, pos, 0, NULL};
                continue;
            }
            if (op == OP_ADD) continue; /* unary plus */
            SYNTAX("syntax error at character %zu: '%s' where an operand was expected", pos + 1,
                   op_text(op));
            goto out;
        }
        const int p = prec(op), left = op != OP_POW;
        while (sp && (st[sp - 1].kind == S_BIN || st[sp - 1].kind == S_NEG) &&
               (prec(st[sp - 1].op) > p || (prec(st[sp - 1].op) == p && left)))
            if (pop_op(st, &sp, o)) goto nomem;
        st[sp++] = (sitem){S_BIN, op, pos, 0, NULL};
        expect = 1;
    }
    if (expect) {
        SYNTAX("syntax error at character %zu: the expression ends where an operand was expected",
               len + 1);
        goto out;
    }
    while (sp) {
        if (st[sp - 1].kind == S_OPEN || st[sp - 1].kind == S_FN) {
            SYNTAX("syntax error at character %zu: '(' is never closed", st[sp - 1].pos + 1);
            goto out;
        }
        if (pop_op(st, &sp, o)) goto nomem;
    }
    rc = 0;
    goto out;
nomem:
    err_set(e, ERR_NOMEM, field, "out of memory parsing");
out:
    free(st);
    return rc;
}

/* ---- postfix to libmatheval text ---- */

typedef struct str {
    char *s;
    size_t n;
} str;

static char *cat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cat(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

/* Whether literal node k is an integer exponent libmatheval may see as
 * itself: its derivative rule for u^n then needs no log(u), and "%g"
 * prints small integers exactly. Every other literal becomes k<i>, so no
 * digit is lost to libmatheval's printing. */
static int exponent_literal(const nodes *o, size_t k)
{
    const double v = o->v[k].num;
    if (!(v == floor(v) && fabs(v) <= 999999)) return 0;
    if (k + 1 < o->n && o->v[k + 1].op == OP_POW) return 1;
    return k + 2 < o->n && o->v[k + 1].op == OP_NEG && o->v[k + 2].op == OP_POW;
}

static const char *fn_name(int op)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].op == op) return fns[i].name;
    return "?";
}

/* The equation as libmatheval text, into *out (malloc'd). min and max
 * become step() blends whose derivative picks the active branch (the
 * delta() terms of the product rule are folded to 0 when compiled). */
static int to_matheval(const nodes *o, const char *field, char **out, err *e)
{
    str *st = calloc(o->n + 1, sizeof *st);
    size_t sp = 0;
    int rc = -1;
    if (!st) goto nomem;
    for (size_t k = 0; k < o->n; k++) {
        const node *x = &o->v[k];
        char *s = NULL;
        if (x->op == OP_NUM) {
            s = exponent_literal(o, k) ? cat("%.0f", x->num) : cat("k%ld", x->arg);
        } else if (x->op == OP_VAR) {
            s = cat("v%ld", x->arg);
        } else if (x->op == OP_NEG) {
            s = cat("(-%s)", st[sp - 1].s);
            free(st[--sp].s);
        } else if (x->op >= OP_SIN) {
            s = cat("%s(%s)", fn_name(x->op), st[sp - 1].s);
            free(st[--sp].s);
        } else {
            const char *a = st[sp - 2].s, *b = st[sp - 1].s;
            if (x->op == OP_MIN || x->op == OP_MAX) {
                const char *p = x->op == OP_MIN ? b : a, *q = x->op == OP_MIN ? a : b;
                s = cat("((%s)*step((%s)-(%s))+(%s)*(1-step((%s)-(%s))))", a, p, q, b, p, q);
            } else {
                s = cat("(%s%s%s)", a, op_text(x->op), b);
            }
            free(st[--sp].s);
            free(st[--sp].s);
        }
        if (!s) goto nomem;
        st[sp].n = strlen(s);
        st[sp++].s = s;
        if (st[sp - 1].n > EXPANDED_MAX) {
            err_set(e, ERR_TOO_LARGE, field, "is too large once min and max are expanded for "
                    "differentiation (nest fewer of them)");
            goto out;
        }
    }
    *out = st[0].s;
    st[0].s = NULL;
    sp = 0;
    rc = 0;
    goto out;
nomem:
    err_set(e, ERR_NOMEM, field, "out of memory");
out:
    while (sp) free(st[--sp].s);
    free(st);
    return rc;
}

/* ---- compile: folding and integer powers ---- */

typedef struct span {
    size_t start;
    int is_const;
    double c;
} span;

static double apply1(int op, double a)
{
    switch (op) {
    case OP_NEG: return -a;
    case OP_SIN: return sin(a);
    case OP_COS: return cos(a);
    case OP_TAN: return tan(a);
    case OP_EXP: return exp(a);
    case OP_LOG: return log(a);
    case OP_SQRT: return sqrt(a);
    case OP_TANH: return tanh(a);
    case OP_SINH: return sinh(a);
    case OP_COSH: return cosh(a);
    case OP_ABS: return fabs(a);
    case OP_STEP: return a < 0 ? 0 : 1;
    default: return 0; /* OP_DELTA: the a.e. derivative of step */
    }
}

static double powi(double x, long n)
{
    unsigned long m = n < 0 ? (unsigned long)-n : (unsigned long)n;
    double r = 1, b = x;
    while (m) {
        if (m & 1) r *= b;
        b *= b;
        m >>= 1;
    }
    return n < 0 ? 1 / r : r;
}

static double apply2(int op, double a, double b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_POW: return pow(a, b);
    case OP_MIN: return isnan(a) || isnan(b) ? NAN : a <= b ? a : b;
    default: return isnan(a) || isnan(b) ? NAN : a >= b ? a : b;
    }
}

/* Rewrite postfix `in` into `o`. structural: fold the chain rule's
 * zeros and ones (0*u = 0 whatever u: a derivative term that is absent,
 * not a product that might be NaN). *depth gets the stack depth. */
static int compile(const nodes *in, int structural, nodes *o, size_t *depth)
{
    span *sp = malloc((in->n + 1) * sizeof *sp);
    if (!sp) return -1;
    size_t n = 0, maxd = 0;
    o->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        node x = in->v[k];
        if (x.op == OP_NUM || x.op == OP_VAR) {
            sp[n++] = (span){o->n, x.op == OP_NUM, x.num};
            if (nodes_push(o, x)) goto nomem;
        } else if (x.op == OP_NEG || x.op >= OP_SIN) {
            span *a = &sp[n - 1];
            if (a->is_const || x.op == OP_DELTA) {
                double v = x.op == OP_DELTA ? 0 : apply1(x.op, a->c);
                o->n = a->start;
                *a = (span){o->n, 1, v};
                if (nodes_push(o, (node){OP_NUM, 0, v})) goto nomem;
            } else if (nodes_push(o, x)) {
                goto nomem;
            }
        } else {
            span *a = &sp[n - 2], b = sp[n - 1];
            n--;
            double r = 0;
            int to_const = 0, keep = 0; /* keep: 1 = only a, 2 = only b */
            if (a->is_const && b.is_const) {
                to_const = 1;
                r = apply2(x.op, a->c, b.c);
            } else if (structural) {
                const int a0 = a->is_const && a->c == 0, b0 = b.is_const && b.c == 0;
                const int a1 = a->is_const && a->c == 1, b1 = b.is_const && b.c == 1;
                if (x.op == OP_MUL && (a0 || b0)) to_const = 1, r = 0;
                else if (x.op == OP_MUL && a1) keep = 2;
                else if (x.op == OP_MUL && b1) keep = 1;
                else if (x.op == OP_ADD && a0) keep = 2;
                else if ((x.op == OP_ADD || x.op == OP_SUB) && b0) keep = 1;
                else if (x.op == OP_DIV && a0) to_const = 1, r = 0;
                else if (x.op == OP_DIV && b1) keep = 1;
                else if (x.op == OP_POW && b0) to_const = 1, r = 1;
                else if (x.op == OP_POW && b1) keep = 1;
                else if (x.op == OP_SUB && a0) {
                    memmove(o->v + a->start, o->v + b.start, (o->n - b.start) * sizeof *o->v);
                    o->n -= b.start - a->start;
                    a->is_const = 0;
                    if (nodes_push(o, (node){OP_NEG, 0, 0})) goto nomem;
                    continue;
                }
            }
            if (to_const) {
                o->n = a->start;
                *a = (span){o->n, 1, r};
                if (nodes_push(o, (node){OP_NUM, 0, r})) goto nomem;
            } else if (keep == 1) {
                o->n = b.start;
            } else if (keep == 2) {
                memmove(o->v + a->start, o->v + b.start, (o->n - b.start) * sizeof *o->v);
                o->n -= b.start - a->start;
                a->is_const = b.is_const;
                a->c = b.c;
            } else if (x.op == OP_POW && b.is_const && b.c == floor(b.c) && fabs(b.c) <= 64) {
                o->n = b.start; /* integer power: repeated squaring, defined for u < 0 */
                a->is_const = 0;
                if (nodes_push(o, (node){OP_POWI, (long)b.c, 0})) goto nomem;
            } else {
                a->is_const = 0;
                if (nodes_push(o, x)) goto nomem;
            }
        }
        if (n > maxd) maxd = n;
    }
    free(sp);
    *depth = maxd;
    return 0;
nomem:
    free(sp);
    return -1;
}

static double run(const node *p, size_t len, const double *vars, double *s)
{
    size_t n = 0;
    for (const node *x = p, *end = p + len; x < end; x++) {
        switch (x->op) {
        case OP_NUM: s[n++] = x->num; break;
        case OP_VAR: s[n++] = vars[x->arg]; break;
        case OP_ADD: n--; s[n - 1] += s[n]; break;
        case OP_SUB: n--; s[n - 1] -= s[n]; break;
        case OP_MUL: n--; s[n - 1] *= s[n]; break;
        case OP_DIV: n--; s[n - 1] /= s[n]; break;
        case OP_POWI: s[n - 1] = x->arg == 2 ? s[n - 1] * s[n - 1] : powi(s[n - 1], x->arg); break;
        case OP_POW: case OP_MIN: case OP_MAX: n--; s[n - 1] = apply2(x->op, s[n - 1], s[n]); break;
        default: s[n - 1] = apply1(x->op, s[n - 1]); break;
        }
    }
    return s[0];
}

/* ---- the system ---- */

typedef struct prog {
    size_t off, len;
} prog;

typedef struct part {
    size_t eq, var;
    prog p;
} part;

struct hybrid_sys {
    size_t n_eq, n_vars, scratch;
    nodes code;
    prog *val;
    part *parts;
    size_t n_parts, cap_parts;
    unsigned char *uses;
};

void hybrid_sys_free(hybrid_sys *s)
{
    if (!s) return;
    free(s->code.v);
    free(s->val);
    free(s->parts);
    free(s->uses);
    free(s);
}

/* Append compiled `in` to the system's code; p gets where. */
static int sys_add(hybrid_sys *s, const nodes *in, int structural, prog *p, int *zero)
{
    nodes o = {0};
    size_t depth = 0;
    if (compile(in, structural, &o, &depth)) {
        free(o.v);
        return -1;
    }
    *zero = o.n == 1 && o.v[0].op == OP_NUM && o.v[0].num == 0;
    p->off = s->code.n;
    p->len = o.n;
    for (size_t i = 0; i < o.n; i++)
        if (nodes_push(&s->code, o.v[i])) {
            free(o.v);
            return -1;
        }
    if (depth > s->scratch) s->scratch = depth;
    free(o.v);
    return 0;
}

static void eq_field(char *f, size_t n, const struct hybrid_sys_spec *sp, size_t i)
{
    snprintf(f, n, "%s[%zu]", sp->field ? sp->field : "equations", i);
}

/* Differentiate equation text `txt` (libmatheval syntax) by each used
 * variable; ders[j] gets a malloc'd string or stays NULL. */
static int differentiate(char *txt, const unsigned char *used, size_t n_vars, char **ders)
{
    int rc = 0;
    pthread_mutex_lock(&matheval_lock);
    void *f = evaluator_create(txt);
    if (!f) rc = -1;
    for (size_t j = 0; f && j < n_vars && rc == 0; j++) {
        if (!used[j]) continue;
        char name[32];
        snprintf(name, sizeof name, "v%zu", j);
        void *d = evaluator_derivative(f, name);
        if (!d || !(ders[j] = strdup(evaluator_get_string(d)))) rc = -1;
        if (d) evaluator_destroy(d);
    }
    if (f) evaluator_destroy(f);
    pthread_mutex_unlock(&matheval_lock);
    return rc;
}

static err_code sys_equation(hybrid_sys *s, const struct hybrid_sys_spec *sp, size_t i, err *e)
{
    char f[ERR_FIELD_MAX];
    eq_field(f, sizeof f, sp, i);
    resolver r = {sp, NULL, 0, 0};
    nodes o = {0}, d = {0};
    double *lits = NULL;
    size_t nl = 0;
    char *txt = NULL, **ders = calloc(s->n_vars, sizeof *ders);
    unsigned char *used = calloc(s->n_vars, 1);
    err_code rc = ERR_NOMEM;
    int zero;
    if (!ders || !used) goto nomem;
    if (parse(sp->eq[i], &r, f, &o, &lits, &nl, e) || to_matheval(&o, f, &txt, e)) {
        rc = e->code;
        goto out;
    }
    if (sys_add(s, &o, 0, &s->val[i], &zero)) goto nomem;
    for (size_t k = 0; k < o.n; k++)
        if (o.v[k].op == OP_VAR) used[o.v[k].arg] = 1;
    if (differentiate(txt, used, s->n_vars, ders)) {
        rc = err_set(e, ERR_INTERNAL, f, "libmatheval could not differentiate the equation");
        goto out;
    }
    resolver ri = {NULL, lits, nl, 0};
    for (size_t j = 0; j < s->n_vars; j++) {
        if (!ders[j]) continue;
        d.n = 0;
        if (parse(ders[j], &ri, f, &d, NULL, NULL, e)) {
            if (!ri.inexact)
                err_set(e, ERR_INTERNAL, f, "cannot read libmatheval's derivative: %s", e->message);
            rc = e->code;
            goto out;
        }
        part pt = {i, j, {0, 0}};
        if (sys_add(s, &d, 1, &pt.p, &zero)) goto nomem;
        if (zero) {
            s->code.n = pt.p.off;
            continue;
        }
        if (s->n_parts == s->cap_parts) {
            size_t cap = s->cap_parts ? 2 * s->cap_parts : 16;
            part *v = realloc(s->parts, cap * sizeof *v);
            if (!v) goto nomem;
            s->parts = v;
            s->cap_parts = cap;
        }
        s->parts[s->n_parts++] = pt;
        s->uses[j] = 1;
    }
    rc = ERR_OK;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, f, "out of memory compiling the equation");
out:
    for (size_t j = 0; ders && j < s->n_vars; j++)
        free(ders[j]);
    free(ders);
    free(used);
    free(txt);
    free(lits);
    free(o.v);
    free(d.v);
    return rc;
}

err_code hybrid_sys_new(hybrid_sys **out, const struct hybrid_sys_spec *sp, err *e)
{
    *out = NULL;
    hybrid_sys *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    s->n_eq = sp->n_eq;
    s->n_vars = sp->n_vars;
    s->scratch = 1;
    s->val = calloc(sp->n_eq ? sp->n_eq : 1, sizeof *s->val);
    s->uses = calloc(sp->n_vars ? sp->n_vars : 1, 1);
    if (!s->val || !s->uses) {
        hybrid_sys_free(s);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < sp->n_eq; i++) {
        err_code rc = sys_equation(s, sp, i, e);
        if (rc) {
            hybrid_sys_free(s);
            return rc;
        }
    }
    *out = s;
    return ERR_OK;
}

size_t hybrid_sys_scratch(const hybrid_sys *s)
{
    return s->scratch;
}

int hybrid_sys_uses(const hybrid_sys *s, size_t slot)
{
    return slot < s->n_vars && s->uses[slot];
}

void hybrid_sys_eval(const hybrid_sys *s, const double *vars, double *out, double *scratch)
{
    for (size_t i = 0; i < s->n_eq; i++)
        out[i] = run(s->code.v + s->val[i].off, s->val[i].len, vars, scratch);
}

void hybrid_sys_partials(const hybrid_sys *s, const double *vars, double *D, double *scratch)
{
    memset(D, 0, s->n_eq * s->n_vars * sizeof *D);
    for (size_t k = 0; k < s->n_parts; k++) {
        const part *p = &s->parts[k];
        D[p->eq * s->n_vars + p->var] = run(s->code.v + p->p.off, p->p.len, vars, scratch);
    }
}
