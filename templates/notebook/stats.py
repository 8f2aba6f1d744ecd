import math

def t975(df):
    """t(0.975, df): the Student-t quantile behind every 95% interval of the report (the same
    method as thaw's: bisection on the regularised incomplete beta function; no scipy)."""
    def fraction(a, b, x):
        g = lambda v: 1e-300 if abs(v) < 1e-300 else v
        c, d = 1.0, 1.0 / g(1.0 - (a + b) * x / (a + 1.0))
        h = d
        for m in range(1, 1001):
            e = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d, c = 1.0 / g(1.0 + e * d), g(1.0 + e / c)
            h *= d * c
            o = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d, c = 1.0 / g(1.0 + o * d), g(1.0 + o / c)
            h *= d * c
            if abs(d * c - 1.0) < 1e-16:
                break
        return h
    def ibeta(a, b, x):
        if x <= 0.0 or x >= 1.0:
            return 0.0 if x <= 0.0 else 1.0
        front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1.0 - x))
        if x < (a + 1.0) / (a + b + 2.0):
            return front * fraction(a, b, x) / a
        return 1.0 - front * fraction(b, a, 1.0 - x) / b
    upper = lambda t: 0.5 * ibeta(df / 2.0, 0.5, df / (df + t * t))
    lo, hi = 0.0, 1.0
    while upper(hi) > 0.025:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid <= lo or mid >= hi:
            break
        lo, hi = (mid, hi) if upper(mid) > 0.025 else (lo, mid)
    return (lo + hi) / 2.0

def ci95(g):
    """Half-width of the 95% confidence interval of the mean, per row of a frame with columns
    sem and count (agg(["mean", "sem", "count"])): t(0.975, n - 1) * sem; 0 where n = 1."""
    return (g["sem"] * g["count"].map(lambda n: t975(n - 1) if n > 1 else 0.0)).fillna(0)
