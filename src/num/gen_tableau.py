#!/usr/bin/python3
"""gen_tableau.py: derive the dense-output coefficient tables of src/num/tableau.c.

Developer tool, not run by the build. Every method's continuous extension is
stored in tableau.c in one form, the "P form":

    y(t + theta h) = y + h * sum_i b_i(theta) k_i,   b_i(theta) = sum_j P[i][j] theta^(j+1)

This script derives P from the forms in which the literature states them and
prints C initialisers, after checking b_i(1) = b_i (the interpolant ends at
y_{n+1}) and b_i'(0) = [i == 0] (it starts with slope f(t_n, y_n)):

- Hermite cubic (euler, midpoint, rk4, bosh3): through y_n, f_n, y_{n+1}, f_{n+1},
  where f_{n+1} is the FSAL stage (Hairer-Norsett-Wanner I, II.6).
- dopri5: Shampine's (1986) 4th-order extension, in Hairer's DOPRI5 form
  y + th*(D + th1*(hk1 - D + th*(2D - hk1 - hk7 + th1*h sum d_i k_i))).
- dop853: Hairer's DOP853 7th-order extension (three extra stages), nested
  form y + th*(F0 + th1*(F1 + th*(F2 + th1*(F3 + th*(F4 + th1*(F5 + th*F6)))))).
  The DOP853 coefficients (A, B, C, E3, E5, D) are Hairer's published constants,
  read here from SciPy's copy of them (scipy.integrate._ivp.dop853_coefficients).
- tsit5: Tsitouras (2011) gives the b_i(theta) already expanded; nothing to derive.

Usage: src/num/gen_tableau.py > /tmp/tab.txt, then paste into tableau.c.
"""
from fractions import Fraction as Fr
import numpy as np
from numpy.polynomial import polynomial as P
from scipy.integrate._ivp import dop853_coefficients as d8


def poly_pow(x, n):
    r = np.array([1.0])
    for _ in range(n):
        r = P.polymul(r, x)
    return r


TH = np.array([0.0, 1.0])      # theta
TH1 = np.array([1.0, -1.0])    # 1 - theta


def basis(p, q):
    """theta^p (1-theta)^q as coefficient array (lowest first)."""
    return P.polymul(poly_pow(TH, p), poly_pow(TH1, q))


def to_pform(rows, deg):
    """rows: list of (coefficient vector over stages, basis polynomial)."""
    ns = len(rows[0][0])
    out = np.zeros((ns, deg))
    for vec, pol in rows:
        pol = np.pad(pol, (0, deg + 1 - len(pol)))
        assert abs(pol[0]) < 1e-300
        for i in range(ns):
            out[i] += vec[i] * pol[1:]
    return out


def check(pf, b, name):
    b = np.asarray(b, dtype=float)
    at1 = pf.sum(axis=1)
    assert np.allclose(at1[:len(b)], b, atol=1e-13), (name, at1, b)
    assert np.allclose(at1[len(b):], 0, atol=1e-12), name
    d0 = pf[:, 0]
    assert abs(d0[0] - 1) < 1e-14 and np.allclose(d0[1:], 0), name


def hermite(b):
    s = len(b)
    e1 = np.eye(s)[0]
    es = np.eye(s)[s - 1]
    b = np.asarray(b, dtype=float)
    # y(th) - y = (3th^2 - 2th^3)(y1 - y) + (th - 2th^2 + th^3) h f0 + (th^3 - th^2) h f1
    rows = [(b, np.array([0, 0, 3.0, -2.0])), (e1, np.array([0, 1.0, -2.0, 1.0])),
            (es, np.array([0, 0, -1.0, 1.0]))]
    return to_pform(rows, 3)


def dopri5():
    b = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0])
    d = np.array([-12715105075 / 11282082432, 0, 87487479700 / 32700410799,
                  -10690763975 / 1880347072, 701980252875 / 199316789632,
                  -1453857185 / 822651844, 69997945 / 29380423])
    e1, e7 = np.eye(7)[0], np.eye(7)[6]
    rows = [(b, basis(1, 0)), (e1 - b, basis(1, 1)), (2 * b - e1 - e7, basis(2, 1)),
            (d, basis(2, 2))]
    return to_pform(rows, 4), b


def dop853():
    ns, ne = d8.N_STAGES + 1, d8.N_STAGES_EXTENDED   # 13 (FSAL included), 16
    b = np.zeros(ne)
    b[:d8.N_STAGES] = d8.B
    e1, e13 = np.eye(ne)[0], np.eye(ne)[ns - 1]
    F = [b, e1 - b, 2 * b - e1 - e13] + [d8.D[i] for i in range(4)]
    pq = [(1, 0), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (4, 3)]
    rows = [(F[r], basis(*pq[r])) for r in range(7)]
    return to_pform(rows, 7), b[:ns]


def tsit5():
    r = [[1.0, -2.763706197274825911336735930481400260916070804192,
          2.91325546182191274375068099306808, -1.0530884977290216],
         [0, 0.13169999999999999727, -0.22339999999999999818, 0.1017],
         [0, 3.93029623689475152850687446709813398, -5.94103387213150473470249202589458001,
          2.490627285651252793],
         [0, -12.411077166933676983734381540685453484102414134010752,
          30.3381886302823215981729903691836576, -16.54810288924490272],
         [0, 37.50931341651103919496903965334519631242339792120440212,
          -88.1789048947664011014276693541209817, 47.37952196281928122],
         [0, -27.896526289197287805948263144598643896, 65.09189467479367152629021928716553658,
          -34.87065786149660974],
         [0, 1.5, -4, 2.5]]
    return np.array(r)


def emit(name, arr):
    """One C row per array row; 17 significant digits round-trip a double."""
    arr = np.atleast_2d(np.asarray(arr, dtype=float))
    print("static const double %s[%d] = {" % (name, arr.size))
    for r, row in enumerate(arr):
        if arr.shape[0] > 1:
            print("    /* %d */" % (r + 1))
        for i in range(0, len(row), 4):
            print("    " + ", ".join("%.17g" % v for v in row[i:i + 4]) + ",")
    print("};")


def main():
    for nm, b in [("euler", [1, 0]), ("midpoint", [0, 1, 0]),
                  ("rk4", [1 / 6, 1 / 3, 1 / 3, 1 / 6, 0]),
                  ("bosh3", [2 / 9, 1 / 3, 4 / 9, 0])]:
        pf = hermite(b)
        check(pf, b, nm)
        emit(nm + "_p", pf)
    pf, b = dopri5()
    check(pf, b, "dopri5")
    emit("dopri5_p", pf)
    tb = np.array([0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742,
                   -3.290069515436081, 2.324710524099774, 0])
    pf = tsit5()
    check(pf, tb, "tsit5")
    pf, b = dop853()
    check(pf, b, "dop853")
    n = d8.N_STAGES_EXTENDED
    a = np.zeros((n, n))
    a[:, :] = d8.A
    a[d8.N_STAGES, :d8.N_STAGES] = d8.B     # FSAL row: stage 13 is f(t+h, y1)
    emit("dop853_a", a)
    emit("dop853_b", b)
    emit("dop853_c", d8.C)
    e5 = np.zeros(d8.N_STAGES + 1)
    e5[:] = d8.E5
    e3 = np.zeros(d8.N_STAGES + 1)
    e3[:] = d8.E3
    emit("dop853_e5", e5)
    emit("dop853_e3", e3)
    emit("dop853_p", pf)


if __name__ == "__main__":
    main()
