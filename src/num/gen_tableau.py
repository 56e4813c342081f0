#!/usr/bin/python3
"""gen_tableau.py: derive the dense-output coefficient tables of src/num/tableau.c.

Developer tool, not run by the build. Every method's continuous extension is
stored in tableau.c in one form, Bernstein coefficients:

    y(t + theta h) = y + h * sum_i b_i(theta) k_i,
    b_i(theta) = sum_{j=1..n} beta[i][j-1] * C(n,j) theta^j (1-theta)^(n-j)

(n = dense_degree; the j = 0 coefficient is b_i(0) = 0 and is not stored).
The Bernstein basis is well conditioned on [0, 1]: for DOP853 the rounding
error of the weights is ~25 ulp against ~11,000 ulp for the same polynomials
in powers of theta.

The script derives beta in exact rational arithmetic from the forms in which
the literature states the interpolants, checks b_i(1) = b_i (the interpolant
ends at y_{n+1}) and b_i'(0) = [i == 0] (it starts with slope f(t_n, y_n)),
and prints C initialisers (17 significant digits, exact round trip):

- Hermite cubic (euler, midpoint, rk4, bosh3): through y_n, f_n, y_{n+1},
  f_{n+1}, f_{n+1} being the FSAL stage (Hairer-Norsett-Wanner I, II.6).
- dopri5: Shampine's (1986) 4th-order extension in Hairer's DOPRI5 form
  y + th*(D + th1*(hk1 - D + th*(2D - hk1 - hk7 + th1*h sum d_i k_i))).
- tsit5: Tsitouras (2011), b_i(theta) given in powers of theta.
- dop853: Hairer's DOP853 7th-order extension (three extra stages), nested
  form y + th*(F0 + th1*(F1 + th*(F2 + th1*(F3 + th*(F4 + th1*(F5 + th*F6)))))).
  The DOP853 coefficients (A, B, C, E3, E5, D) are Hairer's published constants,
  read here from SciPy's copy (scipy.integrate._ivp.dop853_coefficients) and
  printed too.

Usage: src/num/gen_tableau.py > /tmp/tab.txt, then paste into tableau.c.
"""
from fractions import Fraction as Fr
from math import comb

from scipy.integrate._ivp import dop853_coefficients as d8

# ---- polynomials over the rationals: lists of coefficients, lowest first ----


def padd(a, b):
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n)]


def pmul(a, b):
    out = [Fr(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def pscale(a, s):
    return [s * x for x in a]


def basis(p, q):
    """theta^p (1-theta)^q."""
    r = [Fr(1)]
    for _ in range(p):
        r = pmul(r, [Fr(0), Fr(1)])
    for _ in range(q):
        r = pmul(r, [Fr(1), Fr(-1)])
    return r


def combine(rows, nstages):
    """rows: (vector over stages, basis polynomial) -> per-stage polynomials."""
    polys = [[Fr(0)] for _ in range(nstages)]
    for vec, pol in rows:
        for i in range(nstages):
            if vec[i]:
                polys[i] = padd(polys[i], pscale(pol, Fr(vec[i])))
    return polys


def bernstein(poly, n):
    a = poly + [Fr(0)] * (n + 1 - len(poly))
    assert all(x == 0 for x in a[n + 1:]), "degree too high"
    assert a[0] == 0
    return [sum(Fr(comb(j, k), comb(n, k)) * a[k] for k in range(j + 1)) for j in range(1, n + 1)]


def check(polys, b, name, tol=Fr(1, 10**12)):
    for i, p in enumerate(polys):
        at1 = sum(p)
        want = Fr(b[i]) if i < len(b) else Fr(0)
        assert abs(at1 - want) <= tol, (name, i, float(at1), float(want))
        d0 = p[1] if len(p) > 1 else Fr(0)
        assert abs(d0 - (1 if i == 0 else 0)) <= tol, (name, i, float(d0))


def unit(n, i):
    v = [Fr(0)] * n
    v[i] = Fr(1)
    return v


def hermite(b):
    s = len(b)
    b = [Fr(x) for x in b]
    # y(th) - y = (3th^2 - 2th^3)(y1 - y) + (th - 2th^2 + th^3) h f0 + (th^3 - th^2) h f1
    rows = [(b, [0, 0, 3, -2]), (unit(s, 0), [0, 1, -2, 1]), (unit(s, s - 1), [0, 0, -1, 1])]
    return combine([(v, [Fr(x) for x in p]) for v, p in rows], s), b


def dopri5():
    b = [Fr(35, 384), 0, Fr(500, 1113), Fr(125, 192), Fr(-2187, 6784), Fr(11, 84), 0]
    d = [Fr(-12715105075, 11282082432), 0, Fr(87487479700, 32700410799),
         Fr(-10690763975, 1880347072), Fr(701980252875, 199316789632),
         Fr(-1453857185, 822651844), Fr(69997945, 29380423)]
    b = [Fr(x) for x in b]
    e1, e7 = unit(7, 0), unit(7, 6)
    rows = [(b, basis(1, 0)), ([e1[i] - b[i] for i in range(7)], basis(1, 1)),
            ([2 * b[i] - e1[i] - e7[i] for i in range(7)], basis(2, 1)), (d, basis(2, 2))]
    return combine(rows, 7), b


TSIT5_R = [
    ["0.999999999999999974283372471559910888475488471328",
     "-2.763706197274825911336735930481400260916070804192",
     "2.91325546182191274375068099306808", "-1.0530884977290216"],
    ["0", "0.13169999999999999727", "-0.22339999999999999818", "0.1017"],
    ["0", "3.93029623689475152850687446709813398", "-5.94103387213150473470249202589458001",
     "2.490627285651252793"],
    ["0", "-12.411077166933676983734381540685453484102414134010752",
     "30.3381886302823215981729903691836576", "-16.54810288924490272"],
    ["0", "37.50931341651103919496903965334519631242339792120440212",
     "-88.1789048947664011014276693541209817", "47.37952196281928122"],
    ["0", "-27.896526289197287805948263144598643896", "65.09189467479367152629021928716553658",
     "-34.87065786149660974"],
    ["0", "1.5", "-4", "2.5"],
]
TSIT5_B = ["0.09646076681806522951816731316512876333711995238157997181903319145764851595",
           "0.01", "0.4798896504144995747752495322905965199130404621990332488332634944254542060",
           "1.379008574103741893192274821856872770756462643091360525934940067397245698",
           "-3.290069515436080679901047585711363850115683290894936158531296799594813811",
           "2.324710524099773982415355918398765796109060233222962411944060046314465391", "0"]


def tsit5():
    polys = [[Fr(0)] + [Fr(x) for x in row] for row in TSIT5_R]
    return polys, [Fr(x) for x in TSIT5_B]


def dop853():
    ns, ne = d8.N_STAGES + 1, d8.N_STAGES_EXTENDED   # 13 (FSAL included), 16
    b = [Fr(0)] * ne
    for i in range(d8.N_STAGES):
        b[i] = Fr(float(d8.B[i]))
    e1, e13 = unit(ne, 0), unit(ne, ns - 1)
    F = [b, [e1[i] - b[i] for i in range(ne)], [2 * b[i] - e1[i] - e13[i] for i in range(ne)]]
    F += [[Fr(float(x)) for x in d8.D[r]] for r in range(4)]
    pq = [(1, 0), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (4, 3)]
    return combine([(F[r], basis(*pq[r])) for r in range(7)], ne), b[:ns]


def emit(name, rows, per_line=4):
    """One block per array row; 17 significant digits round-trip a double."""
    total = sum(len(r) for r in rows)
    print("static const double %s[%d] = {" % (name, total))
    for r, row in enumerate(rows):
        if len(rows) > 1:
            print("    /* %d */" % (r + 1))
        for i in range(0, len(row), per_line):
            print("    " + ", ".join("%.17g" % float(v) for v in row[i:i + per_line]) + ",")
    print("};")


def dense(name, polys, b, n):
    check(polys, b, name)
    emit(name + "_dense", [bernstein(p, n) for p in polys], per_line=n)


def main():
    for nm, b in [("euler", [1, 0]), ("midpoint", [0, 1, 0]),
                  ("rk4", [Fr(1, 6), Fr(1, 3), Fr(1, 3), Fr(1, 6), 0]),
                  ("bosh3", [Fr(2, 9), Fr(1, 3), Fr(4, 9), 0])]:
        polys, bb = hermite(b)
        dense(nm, polys, bb, 3)
    polys, b = dopri5()
    dense("dopri5", polys, b, 4)
    polys, b = tsit5()
    dense("tsit5", polys, b, 4)
    polys, b = dop853()
    n = d8.N_STAGES_EXTENDED
    emit("dop853_a", [[float(d8.A[i, j]) for j in range(n)] for i in range(n)])
    emit("dop853_b", [[float(x) for x in b]])
    emit("dop853_c", [[float(x) for x in d8.C]])
    emit("dop853_e5", [[float(x) for x in d8.E5]])
    emit("dop853_e3", [[float(x) for x in d8.E3]])
    dense("dop853", polys, b, 7)


if __name__ == "__main__":
    main()
